from ._data import (
    AUGMENTATIONS as AUGMENTATIONS,
)
from ._data import (
    Splits as Splits,
)
from ._data import (
    augment as augment,
)
from ._data import (
    prepare_splits as prepare_splits,
)
from ._data import (
    shard_dataset as shard_dataset,
)
from ._data import (
    split_indices as split_indices,
)
from ._data import (
    synthetic_arrays as synthetic_arrays,
)
from ._data import (
    synthetic_dataset as synthetic_dataset,
)
from ._data import (
    to_dataset as to_dataset,
)
from ._experiment import (
    ExperimentResult as ExperimentResult,
)
from ._experiment import (
    ExperimentScale as ExperimentScale,
)
from ._experiment import (
    paper_tables as paper_tables,
)
from ._experiment import (
    run_experiment as run_experiment,
)
from ._folders import (
    PatchSet as PatchSet,
)
from ._folders import (
    load_patch_folder as load_patch_folder,
)
from ._runs import (
    MODELS as MODELS,
)
from ._runs import (
    Run as Run,
)
from ._runs import (
    build_model as build_model,
)
from ._runs import (
    run_training as run_training,
)
from ._study import (
    STUDY_SCALES as STUDY_SCALES,
)
from ._study import (
    StudyBudget as StudyBudget,
)
from ._study import (
    StudyScale as StudyScale,
)
from ._study import (
    run_study as run_study,
)
from ._study_report import (
    render_study as render_study,
)
from ._train import (
    TrainResult as TrainResult,
)
from ._train import (
    train as train,
)
from ._tune import (
    PAPER_BEST as PAPER_BEST,
)
from ._tune import (
    TABLE2_SPACE as TABLE2_SPACE,
)
from ._tune import (
    TuneResult as TuneResult,
)
from ._tune import (
    count_params as count_params,
)
from ._tune import (
    distributed_role as distributed_role,
)
from ._tune import (
    tune as tune,
)

__all__ = [
    "AUGMENTATIONS",
    "ExperimentResult",
    "ExperimentScale",
    "MODELS",
    "PAPER_BEST",
    "PatchSet",
    "Run",
    "Splits",
    "TABLE2_SPACE",
    "TrainResult",
    "TuneResult",
    "augment",
    "build_model",
    "count_params",
    "load_patch_folder",
    "paper_tables",
    "prepare_splits",
    "run_experiment",
    "run_training",
    "shard_dataset",
    "split_indices",
    "synthetic_arrays",
    "synthetic_dataset",
    "to_dataset",
    "train",
    "tune",
    "distributed_role",
    "STUDY_SCALES",
    "StudyBudget",
    "StudyScale",
    "render_study",
    "run_study",
]
