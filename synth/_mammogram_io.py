"""Full-field synthetic mammograms on disk: PNGs or DICOM files, annotations.csv and a
manifest; atomic.

Layout::

    out/manifest.json          config, seed, resolution, size, format, counts, SHA-256 of every file
    out/annotations.csv        image, X1, Y1, X2, Y2, cluster, distribution, n_calcifications
    out/calcifications.csv     image, then one row per MC (`CALCIFICATION_COLUMNS`)
    out/mammogram_0000.png …   16-bit grayscale by default (0 = background); .dcm with DICOM

Everything is written into a hidden staging folder next to `out` (named by the set's recipe,
and locked), renamed to `out` at the end: an interrupted run leaves nothing under `out`, and
the same command run again resumes after its last finished mammogram.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ._atomic import LOCK_NAME, check_empty_out, folder_lock, remove_stale_stages, write_atomic
from ._config import SceneConfig, check_resolution
from ._dataset import _version, encode_png, manifest_digest
from ._dicom import encode_dicom
from ._generate import check_count, check_seed
from ._mammogram import (
    ANNOTATION_COLUMNS,
    CALCIFICATION_COLUMNS,
    Mammogram,
    image_shape,
    render_mammogram_scene,
)
from ._mammogram_scene import DEFAULT_SIZE_MM, check_size_mm, sample_mammogram
from ._phantom_mammogram import FINDING_COLUMNS

FORMAT_VERSION = 1
IMAGE_FORMATS = ("png", "dicom")
_SUFFIX = {"png": ".png", "dicom": ".dcm"}
_LATERALITY: dict[str, Literal["L", "R"]] = {"left": "L", "right": "R"}
"""DICOM's mammography convention: a left breast is stored with its chest wall at the image's
left edge (rows run towards the nipple), a right breast with it at the right edge."""


def write_mammograms(
    config: SceneConfig,
    out_dir: str | os.PathLike[str],
    n: int,
    *,
    resolution_um: int,
    seed: int,
    size_mm: tuple[float, float] | None = None,
    bit_depth: int = 16,
    format: str = "png",
    progress: Callable[[int], None] | None = None,
    anatomy: bool | None = None,
    view: str | None = None,
    density_category: str | None = None,
    lookalikes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Write `n` full-field synthetic mammograms with their MCC boxes; return the manifest.

    Mammogram i is ``render_mammogram_scene(sample_mammogram(config, size_mm=size_mm,
    rng=numpy.random.default_rng([seed, i])), resolution_um)``: any one can be rebuilt alone.

    Parameters
    ----------
    config : SceneConfig
    out_dir : path
        A missing or empty folder.
    n : int
    resolution_um : int
        50, 70 or 100.
    seed : int
    size_mm : (float, float), optional
        (height, width) in mm; default 240 × 300 mm.
    bit_depth : {8, 16}
        Image depth; 16 (default) keeps the detector's dynamic range, 8 is what the papers'
        patches use.
    format : {"png", "dicom"}
        ``"png"`` (default) or ``"dicom"``: ``mammogram_0000.dcm`` … written by
        `synth.io.encode_dicom` (Digital Mammography X-Ray Image, explicit VR little endian)
        with the pixel spacing, the laterality of the chest-wall side (left edge: "L"), no view,
        and the intent of the acquisition's `output` (attenuation model; else presentation).
        The UIDs derive from the set's identity and the image's index. Everything else is
        as for PNG; ``read_grey_image`` reads either back.
    progress : callable, optional
        Called with the number of mammograms written so far.
    anatomy, view, density_category, lookalikes
        Anatomical breasts (see `sample_mammogram`); off by default. With anatomy the set
        also has ``findings.csv`` (image, then `FINDING_COLUMNS`: every MCC, hard negative,
        benign look-alike and detector defect with its kind and label; look-alikes are in
        it only, not in calcifications.csv, which holds MCs and gains ``kind`` and
        ``finding``); the MCC boxes of annotations.csv are groups of at least
        `cluster_min_count` MCs within 1 cm (a finding may have several or none); the
        manifest records the options and counts the findings.

    Returns
    -------
    dict
        The manifest (also in ``out_dir/manifest.json``).

    Examples
    --------
    >>> import os
    >>> import tempfile
    >>> import pandas as pd
    >>> import synth
    >>> out = os.path.join(tempfile.mkdtemp(), "mammograms")
    >>> manifest = synth.write_mammograms(synth.SceneConfig(), out, 2, resolution_um=100,
    ...                                   seed=0, size_mm=(40.0, 50.0))
    >>> manifest["counts"]
    {'mammograms': 2, 'clusters': 4, 'calcifications': 31}
    >>> sorted(os.listdir(out))
    ['annotations.csv', 'calcifications.csv', 'mammogram_0000.png', 'mammogram_0001.png',
     'manifest.json']
    >>> boxes = pd.read_csv(os.path.join(out, "annotations.csv"))
    >>> print(boxes.head(3).to_string(index=False))
                 image  X1  Y1  X2  Y2  cluster distribution  n_calcifications
    mammogram_0000.png 235 135 310 192        0    segmental                10
    mammogram_0000.png 420 105 465 141        1    clustered                 3
    mammogram_0001.png 387 106 445 150        0    clustered                 9
    >>> synth.write_mammograms(synth.SceneConfig(), out, 2, resolution_um=100, seed=0)
    Traceback (most recent call last):
    ...
    ValueError: `out_dir` must be a missing or empty folder; got out_dir='...', a folder ...

    The same set as DICOM files, read back with their spacing:

    >>> out = os.path.join(tempfile.mkdtemp(), "dicom")
    >>> _ = synth.write_mammograms(synth.SceneConfig(), out, 1, resolution_um=100, seed=0,
    ...                            size_mm=(40.0, 50.0), format="dicom")
    >>> image = synth.read_grey_image(os.path.join(out, "mammogram_0000.dcm"))
    >>> image.format, image.pixels.shape, image.spacing_um, image.modality
    ('DICOM', (400, 500), 100.0, 'MG')
    """
    if not isinstance(config, SceneConfig):
        raise TypeError(f"`config` must be a SceneConfig; got {type(config).__name__}.")
    identity = {
        "format_version": FORMAT_VERSION,
        "config": config.to_dict(),
        "n": check_count("n", n),
        "resolution_um": check_resolution(resolution_um),
        "seed": check_seed(seed),
        "size_mm": list(check_size_mm(DEFAULT_SIZE_MM if size_mm is None else size_mm)),
        "bit_depth": _check_bit_depth(bit_depth),
        "image_format": _check_format(format),
        "seeding": "mammogram i: numpy.random.default_rng([seed, i])",
    }
    options = _anatomy_options(config, anatomy, view, density_category, lookalikes)
    if options:
        identity["anatomy"] = options
    height, width = check_size_mm(DEFAULT_SIZE_MM if size_mm is None else size_mm)
    image_shape((height, width), check_resolution(resolution_um))  # bounded, before any work
    out = check_empty_out(out_dir)
    if progress:
        progress(0)  # the inputs are accepted
    stage = out.parent / f".{out.name}.partial-{manifest_digest(identity)[:16]}"
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_other_stages(out, stage)
    with folder_lock(stage, "out_dir"):  # a second identical run is refused, not mixed in
        files, counts = _write_all(config, stage, identity, progress)
        manifest = {"tool": "mcc-toolkit synth mammogram", "version": _version(), **identity,
                    "counts": counts, "files": dict(sorted(files.items()))}
        manifest["digest"] = manifest_digest(manifest)
        write_atomic(stage / "manifest.json", json.dumps(manifest, indent=2).encode())
        shutil.rmtree(stage / _DONE)
        os.replace(stage, out)  # under the lock; POSIX rename replaces an empty folder
    (out / LOCK_NAME).unlink(missing_ok=True)  # the lock file moved with the folder
    return manifest


_DONE = ".done"
"""In a mammogram set's staging folder, one record per finished image, so a killed run's
rerun (the same command) resumes after the last finished image instead of restarting."""


def _record(frame: pd.DataFrame) -> dict[str, Any]:
    """A table as JSON with its dtypes, so a resumed run writes the same CSV bytes."""
    return {"columns": frame.to_dict(orient="list"),
            "dtypes": {c: str(t) for c, t in frame.dtypes.items()}}


def _frame(record: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(record["columns"]).astype(record["dtypes"])


def _remove_other_stages(out: Path, keep: Path) -> None:
    """Staging folders beside `out` that nothing can resume from: those of killed writers
    of other kinds (their process gone, `remove_stale_stages`) and those of mammogram sets of
    another recipe that no process holds."""
    remove_stale_stages(out)
    for other in out.parent.glob(f".{out.name}.partial-*"):
        tag = other.name[len(f".{out.name}.partial-"):]
        recipe = len(tag) == 16 and all(c in "0123456789abcdef" for c in tag)
        if other == keep or not recipe or not other.is_dir():
            continue
        try:
            with folder_lock(other, "out_dir"):
                pass
        except ValueError:  # held by a live run
            continue
        shutil.rmtree(other, ignore_errors=True)


def _write_all(config: SceneConfig, stage: Path, identity: dict[str, Any],
               progress: Callable[[int], None] | None) -> tuple[dict[str, str], dict[str, int]]:
    n, res = identity["n"], identity["resolution_um"]
    width = max(4, len(str(n - 1)))
    files: dict[str, str] = {}
    boxes, mcs, found = [], [], []
    done = stage / _DONE
    done.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        name = f"mammogram_{i:0{width}d}{_SUFFIX[identity['image_format']]}"
        record = done / f"{i:09d}.json"
        if record.exists() and (stage / name).exists():  # finished by a killed run: resume
            kept = json.loads(record.read_text())
            files[name] = kept["sha256"]
            boxes.append(_frame(kept["annotations"]))
            mcs.append(_frame(kept["calcifications"]))
            if "findings" in kept:
                found.append(_frame(kept["findings"]))
            if progress:
                progress(i + 1)
            continue
        rng = np.random.default_rng([identity["seed"], i])
        scene = sample_mammogram(config, size_mm=tuple(identity["size_mm"]), rng=rng,
                                 **identity.get("anatomy", {}))
        mammogram = render_mammogram_scene(scene, res)
        data = _encode(mammogram, identity, i, width)
        write_atomic(stage / name, data)
        files[name] = hashlib.sha256(data).hexdigest()
        boxes.append(mammogram.annotations.assign(image=name))
        mcs.append(mammogram.calcifications.assign(image=name))
        done_record = {"sha256": files[name], "annotations": _record(boxes[-1]),
                       "calcifications": _record(mcs[-1])}
        if mammogram.findings is not None:
            found.append(mammogram.findings.assign(image=name))
            done_record["findings"] = _record(found[-1])
        write_atomic(record, json.dumps(done_record).encode())  # last: the image is complete
        if progress:
            progress(i + 1)
    tables = {
        "annotations.csv": pd.concat(boxes)[["image", *ANNOTATION_COLUMNS]],
        "calcifications.csv": _image_first(pd.concat(mcs), CALCIFICATION_COLUMNS),
    }
    if found:
        tables["findings.csv"] = _image_first(pd.concat(found), FINDING_COLUMNS)
    for name, table in tables.items():
        data = table.to_csv(index=False, float_format="%.6g").encode()
        write_atomic(stage / name, data)
        files[name] = hashlib.sha256(data).hexdigest()
    counts = {"mammograms": n, "clusters": len(tables["annotations.csv"]),
              "calcifications": len(tables["calcifications.csv"])}
    if found:  # anatomy: every finding (MCCs, hard negatives, look-alikes, defects)
        counts["findings"] = len(tables["findings.csv"])
    return files, counts


def _image_first(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """`frame` with the image column, then `columns`, then any other (anatomy's) columns."""
    rest = [c for c in frame.columns if c != "image" and c not in columns]
    return frame[["image", *columns, *rest]]


def _anatomy_options(config: SceneConfig, anatomy: Any, view: Any, density_category: Any,
                     lookalikes: Any) -> dict[str, Any]:
    """The anatomy keywords for `sample_mammogram` (empty when anatomy is off), checked with
    the config before any work (nothing is written for a config anatomy cannot render)."""
    from ._lookalikes import check_lookalikes
    from ._phantom_mammogram import check_anatomy_config
    from ._phantom_sample import check_density_category, check_view

    check_view(view)
    check_density_category(density_category)
    kinds = None if lookalikes is None else list(check_lookalikes(lookalikes))
    if anatomy is None:
        anatomy = (view, density_category, kinds) != (None, None, None)
    if anatomy is not True:
        if anatomy is not False:
            raise TypeError(f"`anatomy` must be True, False or None; got anatomy={anatomy!r}.")
        if (view, density_category, kinds) != (None, None, None):
            raise ValueError("`anatomy` must be on to set view, density_category or "
                             f"lookalikes; got anatomy={anatomy!r}.")
        return {}
    check_anatomy_config(config)
    return {"anatomy": True, "view": view, "density_category": density_category,
            "lookalikes": kinds}


def _encode(mammogram: Mammogram, identity: dict[str, Any], i: int, width: int) -> bytes:
    if identity["image_format"] == "png":
        return encode_png(mammogram.image, identity["bit_depth"])
    scene = mammogram.scene
    processing = (scene.contrast_model == "attenuation" and scene.acquisition is not None
                  and scene.acquisition.output == "processing")
    return encode_dicom(mammogram.image, spacing_um=mammogram.resolution_um,
                        bit_depth=identity["bit_depth"],
                        intent="processing" if processing else "presentation",
                        laterality=_LATERALITY[scene.chest_wall],
                        patient_id=f"SYNTHETIC-{i:0{width}d}",
                        uid_seed=f"{manifest_digest(identity)}/{i}")


def _check_format(image_format: Any) -> str:
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"`format` must be 'png' or 'dicom'; got format={image_format!r}.")
    return str(image_format)


def _check_bit_depth(bit_depth: Any) -> int:
    if isinstance(bit_depth, bool) or bit_depth not in (8, 16):
        raise ValueError(f"`bit_depth` must be 8 or 16; got bit_depth={bit_depth!r}.")
    return int(bit_depth)
