from . import explain as explain
from . import models as models
from . import scanning as scanning
from . import training as training
from .explain import (
    FeatureMaps as FeatureMaps,
)
from .explain import (
    FilterSpectra as FilterSpectra,
)
from .explain import (
    feature_maps as feature_maps,
)
from .explain import (
    filter_frequency_response as filter_frequency_response,
)
from .explain import (
    grad_cam as grad_cam,
)
from .explain import (
    mc_band_cyc_per_mm as mc_band_cyc_per_mm,
)
from .explain import (
    mean_f2 as mean_f2,
)
from .explain import (
    plot_feature_maps as plot_feature_maps,
)
from .explain import (
    plot_filter_spectra as plot_filter_spectra,
)
from .explain import (
    plot_grad_cam as plot_grad_cam,
)
from .explain import (
    plot_mean_f2 as plot_mean_f2,
)
from .models import (
    PATCH_SIZES as PATCH_SIZES,
)
from .models import (
    BaselineName as BaselineName,
)
from .models import (
    LoadedModel as LoadedModel,
)
from .models import (
    build_baseline as build_baseline,
)
from .models import (
    build_mobilenet_classifier as build_mobilenet_classifier,
)
from .models import (
    build_shallow_cnn as build_shallow_cnn,
)
from .models import (
    bundled_model_path as bundled_model_path,
)
from .models import (
    load_bundled_model as load_bundled_model,
)
from .models import (
    load_model as load_model,
)
from .models import (
    save_model as save_model,
)
from .models import (
    sidecar_path as sidecar_path,
)
from .models import (
    transfer as transfer,
)
from .scanning import (
    SCAN_FILES as SCAN_FILES,
)
from .scanning import (
    AnnotatedMammogram as AnnotatedMammogram,
)
from .scanning import (
    ExtractedPatches as ExtractedPatches,
)
from .scanning import (
    ScanResult as ScanResult,
)
from .scanning import (
    extract_dataset as extract_dataset,
)
from .scanning import (
    extract_patches as extract_patches,
)
from .scanning import (
    load_mammogram_set as load_mammogram_set,
)
from .scanning import (
    read_annotations as read_annotations,
)
from .scanning import (
    render_case_study as render_case_study,
)
from .scanning import (
    render_heatmap as render_heatmap,
)
from .scanning import (
    render_scan_files as render_scan_files,
)
from .scanning import (
    scale_boxes as scale_boxes,
)
from .scanning import (
    scan as scan,
)
from .scanning import (
    scan_froc as scan_froc,
)
from .scanning import (
    scan_model_label as scan_model_label,
)
from .scanning import (
    scan_summary as scan_summary,
)
from .training import (
    AUGMENTATIONS as AUGMENTATIONS,
)
from .training import (
    MODELS as MODELS,
)
from .training import (
    PAPER_BEST as PAPER_BEST,
)
from .training import (
    STUDY_SCALES as STUDY_SCALES,
)
from .training import (
    TABLE2_SPACE as TABLE2_SPACE,
)
from .training import (
    ExperimentResult as ExperimentResult,
)
from .training import (
    ExperimentScale as ExperimentScale,
)
from .training import (
    PatchSet as PatchSet,
)
from .training import (
    Run as Run,
)
from .training import (
    Splits as Splits,
)
from .training import (
    StudyBudget as StudyBudget,
)
from .training import (
    StudyScale as StudyScale,
)
from .training import (
    TrainResult as TrainResult,
)
from .training import (
    TuneResult as TuneResult,
)
from .training import (
    augment as augment,
)
from .training import (
    build_model as build_model,
)
from .training import (
    count_params as count_params,
)
from .training import (
    distributed_role as distributed_role,
)
from .training import (
    load_patch_folder as load_patch_folder,
)
from .training import (
    paper_tables as paper_tables,
)
from .training import (
    prepare_splits as prepare_splits,
)
from .training import (
    render_study as render_study,
)
from .training import (
    run_experiment as run_experiment,
)
from .training import (
    run_study as run_study,
)
from .training import (
    run_training as run_training,
)
from .training import (
    shard_dataset as shard_dataset,
)
from .training import (
    split_indices as split_indices,
)
from .training import (
    synthetic_arrays as synthetic_arrays,
)
from .training import (
    synthetic_dataset as synthetic_dataset,
)
from .training import (
    to_dataset as to_dataset,
)
from .training import (
    train as train,
)
from .training import (
    tune as tune,
)

__all__ = [
    "AnnotatedMammogram",
    "load_mammogram_set",
    "scan_froc",
    "AUGMENTATIONS",
    "BaselineName",
    "ExperimentResult",
    "ExperimentScale",
    "ExtractedPatches",
    "FeatureMaps",
    "FilterSpectra",
    "LoadedModel",
    "MODELS",
    "PAPER_BEST",
    "PATCH_SIZES",
    "PatchSet",
    "Run",
    "ScanResult",
    "Splits",
    "TABLE2_SPACE",
    "TrainResult",
    "TuneResult",
    "augment",
    "build_baseline",
    "build_mobilenet_classifier",
    "build_model",
    "build_shallow_cnn",
    "bundled_model_path",
    "count_params",
    "explain",
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
    "models",
    "paper_tables",
    "plot_feature_maps",
    "plot_filter_spectra",
    "plot_grad_cam",
    "plot_mean_f2",
    "prepare_splits",
    "read_annotations",
    "render_case_study",
    "render_heatmap",
    "render_scan_files",
    "scan_model_label",
    "scan_summary",
    "run_experiment",
    "STUDY_SCALES",
    "StudyBudget",
    "StudyScale",
    "render_study",
    "run_study",
    "run_training",
    "save_model",
    "scale_boxes",
    "distributed_role",
    "scan",
    "SCAN_FILES",
    "scanning",
    "sidecar_path",
    "shard_dataset",
    "split_indices",
    "synthetic_arrays",
    "synthetic_dataset",
    "to_dataset",
    "train",
    "training",
    "transfer",
    "tune",
]
