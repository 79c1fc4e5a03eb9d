"""Reading and writing files, for every package of the toolkit: the one grey-image reader (PNG,
TIFF, DICOM), the PNG and DICOM encoders and the atomic, staged writers.

These are public so that `mcc_core`, `evalkit`, the CLI and the dashboard share them instead of
keeping copies: an image the CLI refuses the dashboard refuses too, with the same sentence, and
every file the toolkit writes appears complete or not at all.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> import numpy as np
>>> from synth import io
>>> out = Path(tempfile.mkdtemp()) / "patch.png"
>>> _ = io.write_atomic(out, io.encode_png(np.full((4, 4), 0.5, np.float32), 16))
>>> image = io.read_grey_image(out)
>>> image.bit_depth, image.pixels.dtype.name, int(image.pixels[0, 0])
(16, 'uint16', 32768)
"""

from ._atomic import (
    LOCK_NAME,
    HashedAtomicFile,
    check_empty_out,
    folder_lock,
    staging_folder,
    write_atomic,
    write_hashed,
)
from ._dataset import (
    DATASET_FORMATS,
    SHARD,
    SHARD_INDEX,
    STORAGE,
    check_space,
    encode_png,
    manifest_digest,
    shard_name,
)
from ._dicom import encode_dicom
from ._images import (
    FORMATS,
    MAX_PIXELS,
    GreyImage,
    ImageHeader,
    probe_grey_image,
    probe_image,
    read_grey_image,
)
from ._shards import is_sharded, iter_shard_patches, read_shard_index

__all__ = [
    "DATASET_FORMATS",
    "FORMATS",
    "SHARD",
    "SHARD_INDEX",
    "STORAGE",
    "shard_name",
    "LOCK_NAME",
    "MAX_PIXELS",
    "GreyImage",
    "HashedAtomicFile",
    "ImageHeader",
    "check_empty_out",
    "check_space",
    "encode_dicom",
    "folder_lock",
    "encode_png",
    "is_sharded",
    "iter_shard_patches",
    "read_shard_index",
    "manifest_digest",
    "probe_grey_image",
    "probe_image",
    "read_grey_image",
    "staging_folder",
    "write_atomic",
    "write_hashed",
]
