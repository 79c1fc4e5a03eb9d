"""Stage two: render scenes into pixels at a resolution. Pure: same scene → same bytes."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._attenuation import render_attenuation
from ._background import (
    draw_coefficients,
    lump_spectrum,
    spectrum_amplitudes,
    synthesize,
    texture_level,
)
from ._calcifications import MC_COLUMNS, relative_dprime, render_calcifications
from ._config import Acquisition, check_resolution, patch_size_px
from ._detector import apply_noise, blur_mm, quantise
from ._scene import Scene

_SCENE: Any = object()


@dataclass(frozen=True, eq=False)
class Patch:
    """A rendered patch.

    Attributes
    ----------
    image : ndarray of shape (H, W), float32 in [0, 1]
    mask : ndarray of shape (H, W), bool — pixels where an MC reaches half its own peak
    label : int — 1 when at least `cluster_min_count` MC centres lie inside the patch (of
        d′ at least the scene's `label_dprime_threshold`, when it has one)
    calcifications : DataFrame — one row per MC (`MC_COLUMNS`): centre in mm (from the patch
        centre, x right, y down) and in px (pixel centres at integers), size, morphology,
        contrast, local tissue level and integrated signal (intensity × mm²)
    resolution_um : int
    scene : Scene — the record it was rendered from
    """

    image: np.ndarray
    mask: np.ndarray
    label: int
    calcifications: pd.DataFrame
    resolution_um: int
    scene: Scene = field(repr=False)


def render(scene: Scene, resolution_um: int, *, acquisition: Any = _SCENE) -> Patch:
    """Render one scene at `resolution_um` (50, 70 or 100 µm → 200, 144 or 100 px).

    Parameters
    ----------
    scene : Scene
    resolution_um : int
    acquisition : Acquisition or None, optional
        A detector to use instead of the scene's own; `None` renders an ideal image
        (pixel aperture only: no blur, noise or quantisation).

    Returns
    -------
    Patch

    Examples
    --------
    >>> import numpy as np
    >>> import synth
    >>> config = synth.SceneConfig(positive_fraction=1.0)
    >>> scene = synth.sample_scene(config, rng=np.random.default_rng(0))
    >>> patch = synth.render(scene, 100)
    >>> patch.image.shape, patch.image.dtype.name, patch.label, len(patch.calcifications)
    ((100, 100), 'float32', 1, 15)
    >>> bool(patch.mask.any()), np.array_equal(synth.render(scene, 100).image, patch.image)
    (True, True)
    >>> synth.render(scene, 50, acquisition=None).image.shape  # the same scene, ideal detector
    (200, 200)
    """
    if acquisition is not _SCENE:
        if acquisition is not None and not isinstance(acquisition, Acquisition):
            raise TypeError(f"`acquisition` must be an Acquisition or None; got {acquisition!r}.")
        scene = dataclasses.replace(scene, acquisition=acquisition)
    images, masks, mcs = render_arrays([scene], resolution_um)
    table = pd.DataFrame({k: mcs[k] for k in MC_COLUMNS})
    labels, _ = patch_labels([scene], mcs)
    return Patch(images[0], masks[0], int(labels[0]), table, check_resolution(resolution_um),
                 scene)


def patch_labels(scenes: Sequence[Scene], mcs: dict[str, np.ndarray]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Each patch's label and the d′ of its k-th most detectable MC inside (k =
    `cluster_min_count`; 0 with fewer MCs inside).

    The label is the scene's (MC centres inside >= k) unless the scene has a
    `label_dprime_threshold`, when only MCs of d′ at least that count.
    """
    labels = np.array([s.label for s in scenes], dtype=np.int64)
    kth = np.zeros(len(scenes))
    inside = mcs["inside"].astype(bool)
    for b, s in enumerate(scenes):
        d = np.sort(mcs["dprime"][(mcs["patch"] == b) & inside])[::-1]
        k = s.cluster_min_count
        kth[b] = d[k - 1] if len(d) >= k else 0.0
        if s.label_dprime_threshold is not None:
            labels[b] = int((d >= s.label_dprime_threshold).sum() >= k)
    return labels, kth


def render_arrays(
    scenes: Sequence[Scene], resolution_um: int
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Render a batch of scenes (each exactly as `render` would, whatever the batch).

    Returns
    -------
    images : ndarray of shape (B, N, N), float32 in [0, 1]
    masks : ndarray of shape (B, N, N), bool
    calcifications : dict of column arrays, one entry per MC, with "patch", the scene's
        position in `scenes`.
    """
    res = check_resolution(resolution_um)
    relative = np.array([s.contrast_model == "relative" for s in scenes], dtype=bool)
    if relative.all():
        return _render_relative(scenes, res)
    if not relative.any():
        return render_attenuation(scenes, res)
    n = patch_size_px(res)
    images = np.empty((len(scenes), n, n), dtype=np.float32)
    masks = np.empty(images.shape, dtype=bool)
    parts = []
    for rows, fn in ((np.flatnonzero(relative), _render_relative),
                     (np.flatnonzero(~relative), render_attenuation)):
        im, ma, mc = fn([scenes[int(i)] for i in rows], res)
        images[rows], masks[rows] = im, ma
        mc["patch"] = rows[mc["patch"]]
        parts.append(mc)
    order = np.argsort(np.concatenate([p["patch"] for p in parts]), kind="stable")
    mcs = {k: np.concatenate([p[k] for p in parts])[order] for k in parts[0]}
    return images, masks, mcs


def _render_relative(
    scenes: Sequence[Scene], res: int
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The first-wave model: contrast × local tissue level, noise in the log domain."""
    n = patch_size_px(res)
    px_mm = res / 1000.0
    acqs = [s.acquisition for s in scenes]
    blur = np.array([blur_mm(a) for a in acqs])
    density = np.array([s.density for s in scenes])
    level, std = texture_level(density)
    spectra = np.empty((len(scenes), n, n // 2 + 1), dtype=np.complex64)
    for b, s in enumerate(scenes):
        draw_coefficients(s.background_key, spectra[b])
    spectra *= spectrum_amplitudes(np.array([s.beta for s in scenes]), std, blur, res)
    for b, s in enumerate(scenes):
        if s.lumps is not None:
            amp = s.lumps.amplitude * 2.0 * std[b]
            spectra[b] += lump_spectrum(s.lumps.centres_mm, s.lumps.sigma_mm, amp, res, blur[b])
    images = synthesize(spectra, n)
    masks = np.zeros(images.shape, dtype=bool)
    images += level.astype(np.float32)[:, None, None]
    mcs = render_calcifications(scenes, images, masks, px_mm, blur)
    mcs["dprime"] = relative_dprime(scenes, mcs, px_mm)
    apply_noise(images, acqs, [s.noise_key for s in scenes], px_mm)
    np.clip(images, 0.0, 1.0, out=images)
    quantise(images, acqs)
    return images, masks, mcs
