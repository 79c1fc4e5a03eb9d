"""The papers' models: builders for the MobileNetV2 and lightweight CNN classifiers, the
Table 6 baselines, cross-resolution transfer, and saving with a JSON metadata sidecar.

Importing this package imports Keras (TensorFlow backend); TensorFlow's C++ logging is quieted
to warnings-and-errors level unless ``TF_CPP_MIN_LOG_LEVEL`` is already set.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from mcc_core._io import LoadedModel, load_model, save_model, sidecar_path
from mcc_core._models import (
    PATCH_SIZES,
    BaselineName,
    build_baseline,
    build_mobilenet_classifier,
    build_shallow_cnn,
    transfer,
)

__all__ = [
    "PATCH_SIZES",
    "BaselineName",
    "LoadedModel",
    "build_baseline",
    "build_mobilenet_classifier",
    "build_shallow_cnn",
    "load_model",
    "save_model",
    "sidecar_path",
    "transfer",
]
