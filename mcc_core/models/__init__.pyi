from ._builders import (
    PATCH_SIZES as PATCH_SIZES,
)
from ._builders import (
    BaselineName as BaselineName,
)
from ._builders import (
    build_baseline as build_baseline,
)
from ._builders import (
    build_mobilenet_classifier as build_mobilenet_classifier,
)
from ._builders import (
    build_shallow_cnn as build_shallow_cnn,
)
from ._builders import (
    transfer as transfer,
)
from ._bundled import (
    bundled_model_path as bundled_model_path,
)
from ._bundled import (
    load_bundled_model as load_bundled_model,
)
from ._io import (
    LoadedModel as LoadedModel,
)
from ._io import (
    load_model as load_model,
)
from ._io import (
    save_model as save_model,
)
from ._io import (
    sidecar_path as sidecar_path,
)

__all__ = [
    "BaselineName",
    "LoadedModel",
    "PATCH_SIZES",
    "build_baseline",
    "build_mobilenet_classifier",
    "build_shallow_cnn",
    "bundled_model_path",
    "load_bundled_model",
    "load_model",
    "save_model",
    "sidecar_path",
    "transfer",
]
