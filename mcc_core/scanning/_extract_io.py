"""Whole mammograms on disk → a patch dataset in the `synth` layout (`extract_dataset`).

Reads grayscale PNG mammograms and an annotations CSV, cuts patches with `extract_patches`,
balances the classes (over the whole dataset by default, as the papers did) and writes
``class_0/``, ``class_1/``, ``patches.csv`` and ``manifest.json`` into a staging folder renamed
into place at the end, so `synth.verify_dataset` checks the result and `load_patch_folder` reads
it. Pure numpy, pandas and Pillow.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import synth
from mcc_core.scanning._extract import STEP_PX, _check_boxes, _pick, extract_patches
from synth.io import (
    check_empty_out,
    encode_png,
    probe_image,
    read_grey_image,
    staging_folder,
    write_hashed,
)

__all__ = ["extract_dataset", "read_annotations", "scale_boxes"]

_IMAGE_ALIASES = ("image", "filename", "file_name", "file", "image_name", "name")
_BALANCE = ("dataset", "image", "none")
_PATCH_COLUMNS = ("index", "path", "label", "image", "x1", "y1", "x2", "y2", "box", "order",
                  "resolution_um")


def read_annotations(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read MCC boxes: one row per box with the columns image, X1, Y1, X2, Y2.

    Column names are matched case-insensitively; the image column may also be called filename,
    file_name, file, image_name or name; the separator (comma, semicolon or tab) is detected.
    Other columns are kept. Coordinates are half-open pixel corners (``image[Y1:Y2, X1:X2]``).

    Parameters
    ----------
    path : str or path-like
        The CSV file.

    Returns
    -------
    pandas.DataFrame
        The table with its columns renamed to image, X1, Y1, X2, Y2 (image names stripped).

    Raises
    ------
    ValueError
        If the file is missing or unreadable, or lacks one of the columns.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> table = Path(tempfile.mkdtemp()) / "boxes.csv"
    >>> boxes = pd.DataFrame({"Filename": ["case1.png"], "x1": [150], "y1": [120], "x2": [180],
    ...                       "y2": [160], "birads": [4]})
    >>> boxes.to_csv(table, sep=";", index=False)
    >>> read_annotations(table)
           image   X1   Y1   X2   Y2  birads
    0  case1.png  150  120  180  160       4
    """
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"`annotations`: there is no file {file}.")
    try:
        table = pd.read_csv(file, sep=None, engine="python")
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise ValueError(f"`annotations`: cannot read {file} ({err}).") from None
    upper = {str(c).strip().upper(): c for c in table.columns}
    image = next((upper[a.upper()] for a in _IMAGE_ALIASES if a.upper() in upper), None)
    missing = [c for c in ("X1", "Y1", "X2", "Y2") if c not in upper]
    if image is None or missing:
        need = (["image"] if image is None else []) + missing
        raise ValueError(f"`annotations`: {file} needs the columns image, X1, Y1, X2, Y2 "
                         f"(missing {', '.join(need)}); got columns {list(table.columns)}.")
    renamed = table.rename(columns={image: "image", **{upper[c]: c for c in
                                                       ("X1", "Y1", "X2", "Y2")}})
    renamed["image"] = renamed["image"].astype(str).str.strip()
    return renamed


def extract_dataset(
    images_dir: str | os.PathLike[str],
    annotations: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    resolution_um: int,
    bit_depth: int = 8,
    balance: str = "dataset",
    progress: Callable[[int], None] | None = None,
    spacing_um: float | None = None,
) -> dict[str, Any]:
    """Extract the papers' patches from every mammogram named in `annotations`.

    Parameters
    ----------
    images_dir : path
        Folder of grey mammograms: DICOM, or 8- or 16-bit PNG or TIFF (RGB is refused:
        convert it first).
    annotations : path
        CSV read by `read_annotations`; only the images it names are read.
    out_dir : path
        A missing or empty folder; receives the `synth` dataset layout.
    resolution_um : int
        50, 70 or 100: the model resolution the patches are cut at.
    bit_depth : {8, 16}
        Depth of the patch PNGs (8, the default, is what the papers use).
    balance : {"dataset", "image", "none"}
        "dataset" (default, as the papers did): every patch of every mammogram is cut, then the
        larger class is cut down to the smaller's count, evenly along its order (mammograms in
        CSV order, windows in scan order). "image": each mammogram's class 0 is balanced to its
        own class 1 (`extract_patches` with ``balance=True``). "none": keep everything.
    progress : callable, optional
        Called with the number of mammograms done so far.
    spacing_um : float, optional
        The mammograms' own pixel spacing; default: each DICOM's header, and `resolution_um`
        for PNG and TIFF (which declare none). A mammogram of another spacing is resampled
        to `resolution_um` first (`synth.at_resolution`) and its boxes scaled with it; the
        windows of ``patches.csv`` are then in the resampled pixels.

    Returns
    -------
    dict
        The manifest (also in ``out_dir/manifest.json``).

    Raises
    ------
    ValueError
        Before anything is written: a missing folder or annotations file, an image named in
        the CSV but missing, a non-grayscale PNG, a box outside its image, an unknown
        resolution, a non-empty `out_dir`; after extraction (still writing nothing), when one
        class has no patch.

    Examples
    --------
    Two synthetic 60 × 80 mm mammograms at 100 µm with their ``annotations.csv``:

    >>> import tempfile
    >>> from mcc_core import load_patch_folder
    >>> folder = tempfile.mkdtemp() + "/mammograms"
    >>> _ = synth.write_mammograms(synth.SceneConfig(), folder, 2, resolution_um=100, seed=0,
    ...                            size_mm=(60.0, 80.0))
    >>> out = tempfile.mkdtemp() + "/patches"
    >>> manifest = extract_dataset(folder, folder + "/annotations.csv", out, resolution_um=100)
    >>> manifest["n"], manifest["counts"], manifest["source"]["n_images"]
    (34, {'class_0': 17, 'class_1': 17}, 2)
    >>> load_patch_folder(out, input_size=100).images.shape
    (34, 100, 100, 1)
    """
    size = synth.patch_size_px(resolution_um)
    if isinstance(bit_depth, bool) or bit_depth not in (8, 16):
        raise ValueError(f"`bit_depth` must be 8 or 16; got bit_depth={bit_depth!r}.")
    if balance not in _BALANCE:
        raise ValueError(f"`balance` must be one of {_BALANCE}; got balance={balance!r}.")
    folder = Path(images_dir)
    if not folder.is_dir():
        raise ValueError(f"`images_dir`: there is no folder {folder}.")
    table = read_annotations(annotations)
    names = list(dict.fromkeys(table["image"]))
    if spacing_um is not None:
        synth.check_spacing(spacing_um, "spacing_um")
    spacings = _check_images(folder, names, table, size, int(resolution_um), spacing_um)
    out = check_empty_out(out_dir)
    if progress:
        progress(0)  # the inputs are accepted
    with staging_folder(out) as stage:
        rows, files = _write_patches(folder, names, table, stage, int(resolution_um),
                                     bit_depth, balance, progress, spacings)
        frame = pd.DataFrame(rows, columns=list(_PATCH_COLUMNS))
        files["patches.csv"] = write_hashed(stage / "patches.csv",
                                            frame.to_csv(index=False).encode())
        manifest = _manifest(folder, Path(annotations), frame, files, int(resolution_um),
                             bit_depth, len(names), balance)
        manifest["source"]["spacing_um"] = spacings
        manifest["digest"] = synth.io.manifest_digest(manifest)
        (stage / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def _check_images(folder: Path, names: list[str], table: pd.DataFrame, size: int,
                  resolution_um: int, spacing_um: float | None) -> dict[str, float]:
    """Every named image lies inside `folder`, exists, is a grey image at least one patch
    wide at `resolution_um` and holds its boxes; returns each image's own spacing."""
    root = folder.resolve()
    outside = [name for name in names if not (folder / name).resolve().is_relative_to(root)]
    if outside:
        raise ValueError(f"`annotations` must name images inside `images_dir` ({folder}); got "
                         f"{outside[0]!r}, which lies outside it.")
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        listed = ", ".join(missing[:3]) + (" …" if len(missing) > 3 else "")
        raise ValueError(f"`annotations` names {len(missing)} image(s) missing from "
                         f"{folder}: {listed}.")
    spacings = {}
    for name in names:
        header = probe_image(folder / name, field="images_dir", name=name)
        spacing = synth.image_spacing(  # PNG/TIFF declare none: taken at the model's
            header, spacing_um, field="--spacing-um",
            fallback=None if header.format == "DICOM" else resolution_um)
        spacings[name] = spacing
        h, w = header.shape
        try:
            _check_boxes(table.loc[table["image"] == name, ["X1", "Y1", "X2", "Y2"]], (h, w))
        except ValueError as err:
            raise ValueError(f"`annotations`, {name}: {err}") from None
        h, w = scaled_shape((h, w), spacing / resolution_um)
        if h < size or w < size:
            raise ValueError(f"`images_dir`: {name} is {w} × {h} px at {resolution_um} µm, "
                             f"smaller than one {size} px patch.")
    return spacings


def _write_patches(folder: Path, names: list[str], table: pd.DataFrame, stage: Path,
                   resolution_um: int, bit_depth: int, balance: str,
                   progress: Callable[[int], None] | None, spacings: dict[str, float]
                   ) -> tuple[list[tuple], dict[str, str]]:
    """Cut and encode every patch into ``stage/.pending``, balance, then move the kept ones to
    ``class_<label>/<index>.png`` (indices contiguous, in image order)."""
    pending = stage / ".pending"
    cut: list[tuple] = []  # (label, sha256, name, x1, y1, x2, y2, box, order)
    for done, name in enumerate(names, start=1):
        boxes = table.loc[table["image"] == name, ["X1", "Y1", "X2", "Y2"]]
        ready = synth.at_resolution(read_grey_image(folder / name, field="images_dir"),
                                    resolution_um, spacing_um=spacings[name])
        pixels = ready.pixels
        if ready.resampled:
            boxes = scale_boxes(boxes, ready.scale, pixels.shape)
        patches = extract_patches(pixels, boxes, resolution_um=resolution_um,
                                  balance=balance == "image")
        for k, w in enumerate(patches.windows.itertuples(index=False)):
            digest = write_hashed(pending / f"{len(cut):08d}.png",
                                  encode_png(patches.images[k], bit_depth))
            cut.append((int(w.label), digest, name, w.x1, w.y1, w.x2, w.y2, w.box, w.order))
        if progress:
            progress(done)
    labels = np.array([c[0] for c in cut], dtype=np.int64)
    keep = _balanced(labels) if balance == "dataset" else np.arange(len(cut))
    counts = np.bincount(labels[keep], minlength=2)
    if counts.min() == 0:
        raise ValueError(f"the mammograms gave {counts[1]} class-1 and {counts[0]} class-0 "
                         f"patches (balance={balance!r}); a dataset needs both classes, so "
                         "nothing was written.")
    rows, files = [], {}
    for index, k in enumerate(keep):
        label, digest, *rest = cut[k]
        rel = f"class_{label}/{index:06d}.png"
        (stage / rel).parent.mkdir(exist_ok=True)
        os.replace(pending / f"{k:08d}.png", stage / rel)
        files[rel] = digest
        rows.append((index, rel, label, *rest, resolution_um))
    shutil.rmtree(pending, ignore_errors=True)
    return rows, files


def scaled_shape(shape: tuple[int, int], scale: float) -> tuple[int, int]:
    """An image's (height, width) after resampling by `scale` (`synth.resample`'s rule)."""
    return int(shape[0] * scale + 1e-9), int(shape[1] * scale + 1e-9)


def scale_boxes(boxes: pd.DataFrame, scale: float, shape: tuple[int, ...]) -> pd.DataFrame:
    """Boxes (X1, Y1, X2, Y2, half-open pixel corners) in the pixels of an image resampled by
    `scale`: corners scaled, widened outward to whole pixels, kept inside `shape`.

    Examples
    --------
    >>> import pandas as pd
    >>> from mcc_core.scanning import scale_boxes
    >>> boxes = pd.DataFrame({"X1": [10], "Y1": [20], "X2": [31], "Y2": [41]})
    >>> scale_boxes(boxes, 0.7, (100, 100)).to_dict("records")
    [{'X1': 7, 'Y1': 14, 'X2': 22, 'Y2': 29}]
    """
    h, w = shape[:2]
    out = boxes[["X1", "Y1", "X2", "Y2"]].astype(float) * scale
    result = pd.DataFrame({
        "X1": np.floor(out["X1"] + 1e-9).clip(0, w - 1),
        "Y1": np.floor(out["Y1"] + 1e-9).clip(0, h - 1),
        "X2": np.ceil(out["X2"] - 1e-9).clip(1, w),
        "Y2": np.ceil(out["Y2"] - 1e-9).clip(1, h)}, index=boxes.index).astype(np.int64)
    result["X2"] = np.maximum(result["X2"], result["X1"] + 1)
    result["Y2"] = np.maximum(result["Y2"], result["Y1"] + 1)
    return result


def _balanced(labels: np.ndarray) -> np.ndarray:
    """Indices kept when the larger class is cut to the smaller's size, evenly along its order."""
    by_class = [np.flatnonzero(labels == c) for c in (0, 1)]
    n = min(len(c) for c in by_class)
    kept = [c[_pick(len(c), n, None)] if len(c) > n else c for c in by_class]
    return np.sort(np.concatenate(kept))


def _manifest(folder: Path, annotations: Path, frame: pd.DataFrame, files: dict[str, str],
              resolution_um: int, bit_depth: int, n_images: int, balance: str
              ) -> dict[str, Any]:
    try:
        version = importlib.metadata.version("mcc-toolkit")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return {
        "tool": "mcc-toolkit extract",
        "version": version,
        "format_version": 1,
        "resolution_um": resolution_um,
        "bit_depth": bit_depth,
        "n": len(frame),
        "counts": {f"class_{c}": int((frame["label"] == c).sum()) for c in (0, 1)},
        "source": {
            "images_dir": str(folder.resolve()),
            "annotations": str(annotations.resolve()),
            "annotations_sha256": hashlib.sha256(annotations.read_bytes()).hexdigest(),
            "n_images": n_images,
        },
        "protocol": {
            "patch_px": synth.patch_size_px(resolution_um),
            "class_1_step_px": STEP_PX[resolution_um],
            "scan_orders": ["LR-TB", "RL-TB", "LR-BT", "RL-BT"],
            "class_0": "non-overlapping grid, no box overlap, no background pixel (== 0)",
            "balance": balance,
        },
        "files": dict(sorted(files.items())),
    }
