"""Folders of annotated mammograms, and their FROC: what `mcc probe --mammograms` does, callable.

`load_mammogram_set` is TensorFlow-free (it reads the annotations and checks the images'
headers); `scan_froc` scans each mammogram with a Keras model and scores its cluster detections with
`evalkit.compute_detection_froc`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import evalkit
import synth
from mcc_core.scanning._extract_io import read_annotations, scale_boxes

__all__ = ["AnnotatedMammogram", "load_mammogram_set", "scan_froc"]

BOX_COLUMNS = ["X1", "Y1", "X2", "Y2"]
IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".dcm", ".dicom")


@dataclass(frozen=True)
class AnnotatedMammogram:
    """One mammogram file and its cluster boxes.

    Attributes
    ----------
    path : Path
        The grey image (PNG, TIFF or DICOM; read with `synth.read_grey_image`).
    boxes : pandas.DataFrame
        One row per cluster, columns ``X1``, ``Y1``, ``X2``, ``Y2`` (``image[Y1:Y2, X1:X2]``,
        in the image's own pixels); empty for a mammogram without clusters.
    spacing_um : float or None
        The image's own pixel spacing (given, or its DICOM header's); None: the model's
        resolution (a PNG or TIFF without a spacing given).
    """

    path: Path
    boxes: pd.DataFrame
    spacing_um: float | None = None


def load_mammogram_set(mammograms: str | os.PathLike[str],
                       annotations: str | os.PathLike[str] | None = None, *,
                       spacing_um: float | None = None) -> list[AnnotatedMammogram]:
    """The mammograms of a folder (PNG, TIFF, DICOM) with their cluster boxes from an
    annotations CSV.

    Parameters
    ----------
    mammograms : path
        Folder of grey PNG mammograms (as `synth.write_mammograms` writes them).
    annotations : path, optional
        CSV read by :func:`read_annotations` (one row per cluster: ``image`` (file name in
        the folder), ``X1``, ``Y1``, ``X2``, ``Y2``); default ``mammograms/annotations.csv``.
        Images without rows have no clusters.
    spacing_um : float, optional
        The images' pixel spacing; default: each DICOM's header (read here, without the
        pixels), and the model's resolution for PNG and TIFF.

    Returns
    -------
    list of AnnotatedMammogram
        In file-name order.

    Raises
    ------
    ValueError
        If the folder is missing or holds no PNG, the CSV names an image not in the folder, or
        a box is inverted.

    Examples
    --------
    >>> import tempfile
    >>> import synth
    >>> folder = tempfile.mkdtemp() + "/set"
    >>> _ = synth.write_mammograms(synth.SceneConfig(), folder, 2, resolution_um=100, seed=0,
    ...                            size_mm=(60.0, 80.0))
    >>> cases = load_mammogram_set(folder)
    >>> [case.path.name for case in cases], list(cases[0].boxes.columns)
    (['mammogram_000000.png', 'mammogram_000001.png'], ['X1', 'Y1', 'X2', 'Y2'])
    """
    folder = Path(mammograms)
    if not folder.is_dir():
        raise ValueError(f"`mammograms` must be a folder; got {str(folder)!r}.")
    if spacing_um is not None:
        synth.check_spacing(spacing_um, "spacing_um")
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise ValueError(f"`mammograms` must hold PNG, TIFF or DICOM mammograms; got "
                         f"{str(folder)!r} without any {', '.join(IMAGE_SUFFIXES)} file.")
    source = Path(annotations) if annotations is not None else folder / "annotations.csv"
    table = read_annotations(source)  # the reader `mcc extract` uses
    unknown = sorted(set(table["image"].astype(str)) - {p.name for p in images})
    if unknown:
        raise ValueError(f"`annotations` names images that are not in {str(folder)!r}: "
                         f"{unknown[:3]}.")
    corners = table[BOX_COLUMNS].apply(pd.to_numeric, errors="coerce")
    inverted = ~((corners.X1 < corners.X2) & (corners.Y1 < corners.Y2))
    if inverted.any():
        row = int(np.flatnonzero(inverted.to_numpy())[0])
        raise ValueError(f"`annotations` boxes must have X1 < X2 and Y1 < Y2; got row {row} "
                         f"of {str(source)!r}: {table.iloc[row].to_dict()}.")
    names = table["image"].astype(str)
    return [AnnotatedMammogram(p, table.loc[names == p.name, BOX_COLUMNS].reset_index(drop=True),
                               _own_spacing(p, spacing_um)) for p in images]


def _own_spacing(path: Path, spacing_um: float | None) -> float | None:
    """The given spacing, else a DICOM's own (one without a usable one is refused, asking for
    it); None for PNG and TIFF, which are taken at the model's resolution."""
    if spacing_um is not None:
        return spacing_um
    header = synth.io.probe_image(path, field="mammograms", name=path.name)
    if header.format != "DICOM":
        return None
    return synth.image_spacing(header, None, field="--spacing-um")


def scan_froc(model: Any, cases: Sequence[AnnotatedMammogram], *, resolution_um: int,
              stride_mm: float = 1.5, fp_rates: Sequence[float] | None = None,
              rule: evalkit.DetectionRule | None = None, n_bootstrap: int = 1000,
              progress: Callable[[int, int], None] | None = None) -> evalkit.FROCResult:
    """Scan every mammogram with `model` and compute the FROC of its cluster *detections*
    (`evalkit.compute_detection_froc`: false positives are detected clusters, not windows; the
    window-level FROC is kept as ``.windows``).

    Parameters
    ----------
    model : keras.Model or LoadedModel
        A patch classifier at `resolution_um` (see :func:`mcc_core.scan`).
    cases : sequence of AnnotatedMammogram
        From :func:`load_mammogram_set`; at least one must hold a cluster.
    resolution_um : int
        The model's resolution (50, 70 or 100); a mammogram of another `spacing_um` is
        resampled to it first and its boxes scaled with it.
    stride_mm : float
        Window step (1.5 mm, the papers').
    fp_rates : sequence of float, optional
        Operating points of the FROC table (default: `evalkit.compute_froc`'s).
    rule : evalkit.DetectionRule, optional
        How windows become detections and what a hit is (default: NMS within 10 mm, the
        detection's centre within 5 mm of the cluster's).
    n_bootstrap : int
        Resamples of the images for the intervals.
    progress : callable, optional
        Called with (mammograms done, total) after each scan.

    Returns
    -------
    evalkit.FROCResult

    Examples
    --------
    The bundled 100 µm model on two synthetic mammograms holding five clusters:

    >>> import tempfile
    >>> from mcc_core import load_bundled_model
    >>> folder = tempfile.mkdtemp() + "/set"
    >>> _ = synth.write_mammograms(synth.SceneConfig(), folder, 2, resolution_um=100, seed=0,
    ...                            size_mm=(60.0, 80.0))
    >>> froc = scan_froc(load_bundled_model(100), load_mammogram_set(folder), resolution_um=100,
    ...                  n_bootstrap=50)
    >>> froc.unit, froc.n_images, froc.n_clusters, froc.fp_rates
    ('detections', 2, 5, (0.25, 0.5, 1.0, 2.0, 4.0, 8.0))
    >>> list(froc.table.columns)
    ['fp_per_image', 'sensitivity', 'ci_low', 'ci_high', 'threshold', 'achieved_fp_per_image']
    >>> froc.windows.unit  # the window-level diagnostic
    'windows'

    """
    from mcc_core.scanning._scan import scan  # Keras: imported only when scanning

    synth.check_resolution(resolution_um)
    if not any(len(case.boxes) for case in cases):
        raise ValueError(f"`cases` must hold at least one cluster for an FROC; got none in "
                         f"{len(cases)} mammograms.")
    scored = []
    for done, case in enumerate(cases, start=1):
        ready = synth.at_resolution(synth.read_grey_image(case.path, field="cases"),
                                    resolution_um, spacing_um=case.spacing_um,
                                    fallback_spacing_um=resolution_um)
        boxes = (scale_boxes(case.boxes, ready.scale, ready.pixels.shape) if ready.resampled
                 else case.boxes)
        result = scan(model, ready.pixels, resolution_um=resolution_um, stride_mm=stride_mm)
        scored.append(evalkit.ScoredImage(result.windows, boxes, name=case.path.name))
        if progress is not None:
            progress(done, len(cases))
    return evalkit.compute_detection_froc(
        scored, resolution_um=resolution_um, rule=rule, n_bootstrap=n_bootstrap, seed=0,
        fp_rates=evalkit.DEFAULT_FP_RATES if fp_rates is None else fp_rates)
