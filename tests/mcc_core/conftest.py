"""Shared fixtures and markers for the mcc_core tests."""

import numpy as np
import pytest

import mcc_core  # noqa: F401  (imported first so that it sets TF_CPP_MIN_LOG_LEVEL before Keras)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: builds large Keras models (deselect: -m 'not slow')")
    # Raised inside Keras 3.15's TensorFlow backend under NumPy 2, hundreds of times per run.
    config.addinivalue_line(
        "filterwarnings",
        "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning",
    )


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded NumPy generator; TensorFlow is seeded here too, so weight init is repeatable."""
    import keras

    keras.utils.set_random_seed(1234)
    return np.random.default_rng(1234)
