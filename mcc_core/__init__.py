"""The papers' models and protocols: builders for the MobileNetV2 and lightweight CNN
classifiers and the Table 6 baselines, cross-resolution transfer, saving with a JSON sidecar,
patch folders and splits, on-the-fly synthetic data, training with the papers' metrics,
the explainability views, and whole-mammogram scanning (`scan`, with the case-study overlay
and heat map).

Importing this package imports Keras (TensorFlow backend); TensorFlow's C++ logging is quieted
to warnings-and-errors level unless ``TF_CPP_MIN_LOG_LEVEL`` is already set.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from mcc_core._bundled import bundled_model_path, load_bundled_model
from mcc_core._data import (
    AUGMENTATIONS,
    Splits,
    augment,
    prepare_splits,
    split_indices,
    synthetic_arrays,
    synthetic_dataset,
    to_dataset,
)
from mcc_core._experiment import ExperimentResult, ExperimentScale, paper_tables, run_experiment
from mcc_core._explain import (
    FeatureMaps,
    FilterSpectra,
    feature_maps,
    filter_frequency_response,
    grad_cam,
    mc_band_cyc_per_mm,
    mean_f2,
)
from mcc_core._explain_plots import (
    plot_feature_maps,
    plot_filter_spectra,
    plot_grad_cam,
    plot_mean_f2,
)
from mcc_core._extract import ExtractedPatches, extract_patches
from mcc_core._extract_io import extract_dataset, read_annotations
from mcc_core._folders import PatchSet, load_patch_folder
from mcc_core._io import LoadedModel, load_model, save_model, sidecar_path
from mcc_core._metrics import compute_confusion_metrics
from mcc_core._models import (
    PATCH_SIZES,
    BaselineName,
    build_baseline,
    build_mobilenet_classifier,
    build_shallow_cnn,
    transfer,
)
from mcc_core._runs import MODELS, Run, build_model, run_training
from mcc_core._scan import scan
from mcc_core._scan_grid import ScanResult
from mcc_core._scan_views import render_case_study, render_heatmap
from mcc_core._train import TrainResult, train
from mcc_core._tune import PAPER_BEST, TABLE2_SPACE, TuneResult, count_params, tune

__all__ = [
    "AUGMENTATIONS",
    "MODELS",
    "PAPER_BEST",
    "PATCH_SIZES",
    "BaselineName",
    "ExperimentResult",
    "ExperimentScale",
    "ExtractedPatches",
    "FeatureMaps",
    "FilterSpectra",
    "LoadedModel",
    "PatchSet",
    "Run",
    "ScanResult",
    "Splits",
    "TABLE2_SPACE",
    "TrainResult",
    "TuneResult",
    "augment",
    "build_baseline",
    "build_model",
    "bundled_model_path",
    "build_mobilenet_classifier",
    "build_shallow_cnn",
    "compute_confusion_metrics",
    "count_params",
    "extract_dataset",
    "extract_patches",
    "feature_maps",
    "filter_frequency_response",
    "grad_cam",
    "load_bundled_model",
    "load_model",
    "load_patch_folder",
    "mc_band_cyc_per_mm",
    "mean_f2",
    "plot_feature_maps",
    "plot_filter_spectra",
    "plot_grad_cam",
    "plot_mean_f2",
    "paper_tables",
    "prepare_splits",
    "read_annotations",
    "run_experiment",
    "render_case_study",
    "render_heatmap",
    "run_training",
    "save_model",
    "scan",
    "sidecar_path",
    "split_indices",
    "synthetic_arrays",
    "synthetic_dataset",
    "to_dataset",
    "train",
    "transfer",
    "tune",
]
