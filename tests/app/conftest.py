from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "streamlit_app.py"


@pytest.fixture
def app():
    """The dashboard under AppTest, on its first page (TensorFlow makes first runs slow)."""
    from streamlit.testing.v1 import AppTest

    def start(page: str | None = None):
        at = AppTest.from_file(str(APP), default_timeout=120).run()
        if page is not None:
            at.switch_page(f"mcc_app/pages/{page}.py").run()
        return at

    return start


@pytest.fixture(scope="session")
def odd_model(tmp_path_factory):
    """A Keras model whose 64 px input matches no resolution (200, 144 or 100 px)."""
    keras = pytest.importorskip("keras")
    inp = keras.Input((64, 64, 1))
    x = keras.layers.GlobalMaxPooling2D()(keras.layers.Conv2D(2, 3)(inp))
    model = keras.Model(inp, keras.layers.Dense(1, activation="sigmoid")(x), name="odd")
    path = tmp_path_factory.mktemp("models") / "odd64.keras"
    model.save(path)
    return path
