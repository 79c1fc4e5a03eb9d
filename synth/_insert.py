"""Synthetic MCs inserted into a user's own MC-free patches or mammograms, with the physics.

The MC arrangement comes from a `SceneConfig` exactly as for synthetic patches (distribution,
count, size, morphology, material, fill fraction); only the tissue is the user's. Each MC adds
ΔA(x, y) = f (μ_mineral - μ_glandular) t(x, y) to the log attenuation (t the projected
thickness of its solid, pixel-integrated and blurred by the chosen acquisition's PSF: the
detector's MTF), as in `synth.render`. How ΔA enters the image depends on what the pixels are:

- *for processing* (linear in the transmitted fluence q): the fluence behind the MC is
  q exp(-ΔA), so v' = v exp(-ΔA); quantum noise of variance ∝ q then needs extra variance
  σ²(e^-ΔA - e^-2ΔA) (the background's own noise, scaled by e^-ΔA, is σ² e^-2ΔA);
- *for presentation* (a log-like display of the fluence, v = c - G ln q locally): v' = v + G ΔA
  with G the local gain, and the log-domain noise variance G²/q grows by e^ΔA, so the extra
  variance is σ²(e^ΔA - 1).

σ² is the background's own local noise variance, estimated from its pixels (Immerkær's
Laplacian-difference estimator, averaged over a 1 mm window) at the image's own spacing and
carried to the model's by what the resampler passes of white noise, so the inserted MC carries
the noise it would have had. The extra noise is white, blurred like the quanta for an indirect
(CsI) converter. The estimator is blind to smooth tissue but assumes near-white noise: noise
correlated by the detector or by processing is underestimated (measured: Gaussian-correlated
noise of σ 0.5 px gives 0.43 of its variance, of σ 1 px under 0.1), and the MCs then get too
little extra noise and too high a d′, unless the correlation is declared
(``noise_correlation_um``: the estimate is then made on a binned copy and corrected, within
2 % for a Gaussian of σ 0.8 px with or without a white part, and the extra noise correlated
the same way). The extra noise's spectrum is the background's at the image's own spacing; an
upsampled background's noise is smoother than the extra noise added to it.

G, by default, is the toolkit's own presentation window (1/W: all-glandular tissue of 50 mm
spans 0.6 of the grey range; exact for `synth`'s presentations); a user who knows their
display's slope (from a step wedge, or their processing's LUT) gives it (``gain=``), and
``gain="estimate"`` estimates it from the backgrounds' noise: for quantum-limited log images
the local variance grows as exp(v / G), so the slope of ln σ² against the local mean, at least
`GAIN_EDGE_MM` inside the breast, gives 1/G (the window when that fit is not trustworthy).
That estimate is exact on a pure quantum-limited log image (tests/synth/test_insert.py) but
not robust to the rest of a detector: on `synth`'s own mammograms it measured +3 to +32 % off
at 70 µm and +20 to +150 % at 100 µm (indirect converter, electronic noise and scatter
flatten the variance's growth), so it is not the default. The gain used and its source are
recorded in the manifest.

Patch i of seed s uses ``numpy.random.default_rng([s, i])`` alone: first the background and
the crop, then the scene, then (through the scene's noise key) the extra noise, so any patch
can be rebuilt alone given the same backgrounds.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.ndimage import (
    convolve,
    distance_transform_edt,
    maximum_filter,
    minimum_filter,
    uniform_filter,
)

from ._attenuation import add_mc_line_integrals
from ._calcifications import MC_COLUMNS, _columns
from ._config import SceneConfig, check_resolution, patch_size_px
from ._detector import blur_mm
from ._generate import Batch, check_seed
from ._images import GreyImage, read_grey_image
from ._physics import energy_kev, psf_kernel, window_width
from ._random import raw_normals_many
from ._render import patch_labels
from ._scene import sample_scenes
from ._spacing import image_spacing, nearest_resolution, resample

__all__ = ["INTENTS", "REGIONS", "Backgrounds", "backgrounds_from_arrays", "insert",
           "insert_indices", "load_backgrounds"]

INTENTS = ("processing", "presentation")
REGIONS = ("breast", "dense", "fatty", "any")
"""Where crops may lie: wholly inside the breast (no exactly-black pixel; the default), and
there in the denser or fattier half (by the crop's mean against the background's median
breast crop), or anywhere."""
SUFFIXES = (".png", ".tif", ".tiff", ".dcm", ".dicom")
NOISE_WINDOW_MM = 1.0
GAIN_MIN_SPREAD = 0.05
GAIN_EDGE_MM = 10.0
"""The local means of the gain fit must span at least this much of the [0, 1] range."""
INSERT_COLUMNS = ("index", "seed", "label", "kind", "distribution", "n_mcs", "n_inside",
                  "background", "row_px", "col_px", "intent", "gain", "noise_sd",
                  "dprime_k", "resolution_um")
"""Columns of the per-patch table of inserted patches: ``background`` is the file's name,
``row_px``/``col_px`` the crop's top-left pixel at the model resolution, ``noise_sd`` the
background's mean local noise σ there."""

_LAPLACE = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)


@dataclass(frozen=True, eq=False)
class Backgrounds:
    """MC-free backgrounds, resampled to one model resolution, ready for insertion.

    Attributes
    ----------
    images : tuple of float32 arrays in [0, 1], at `resolution_um`
    names, sha256 : tuple of str — each file's name (relative to its folder) and digest
    spacing_um : tuple of float — each file's own pixel spacing
    intents : tuple of str — "processing" or "presentation" per background
    origins : tuple of int arrays (K, 2) — the crop corners allowed by `region`
    noise_var : tuple of float32 arrays — the local noise variance of each image
    gain : float — presentation gain G (pixel units per unit of log attenuation)
    gain_source : str — "given", "estimated", or "window" (the toolkit's presentation
        window: the default, and the fallback of an estimate that cannot be trusted)
    resolution_um : int
    region : str
    noise_correlation_um : float — σ of the Gaussian that correlates the backgrounds' noise
        (declared by the user, e.g. a CsI detector's PSF; 0: white)
    """

    images: tuple[np.ndarray, ...]
    names: tuple[str, ...]
    sha256: tuple[str, ...]
    spacing_um: tuple[float, ...]
    intents: tuple[str, ...]
    origins: tuple[np.ndarray, ...]
    noise_var: tuple[np.ndarray, ...]
    gain: float
    gain_source: str
    resolution_um: int
    region: str
    noise_correlation_um: float = 0.0

    def __len__(self) -> int:
        return len(self.images)

    def record(self) -> dict[str, Any]:
        """What a manifest keeps: every background by name and SHA-256, and the settings."""
        return {
            "files": [{"name": n, "sha256": h, "spacing_um": s, "intent": i}
                      for n, h, s, i in zip(self.names, self.sha256, self.spacing_um,
                                            self.intents, strict=True)],
            "region": self.region,
            "gain": round(self.gain, 9),
            "gain_source": self.gain_source,
            **({"noise_correlation_um": self.noise_correlation_um}
               if self.noise_correlation_um else {}),
        }


def list_images(folder: str | os.PathLike[str], field: str = "backgrounds") -> list[Path]:
    """The image files (PNG, TIFF, DICOM) under `folder`, sorted; a ValueError if none."""
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"`{field}` must be an existing folder of images; got {str(root)!r}.")
    found = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not found:
        raise ValueError(f"`{field}` must hold PNG, TIFF or DICOM images; got {str(root)!r}, "
                         "which holds none.")
    return found


def load_backgrounds(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    resolution_um: int | None = None,
    spacing_um: float | None = None,
    intent: str | None = None,
    gain: float | str | None = None,
    region: str = "breast",
    field: str = "backgrounds",
    noise_correlation_um: float | None = None,
) -> Backgrounds:
    """Read MC-free backgrounds (a folder, or a list of files) for `insert`.

    Parameters
    ----------
    source : path or sequence of paths
        A folder (searched recursively for .png, .tif, .tiff, .dcm) or image files. They must
        be negatives: MCs already present stay, unlabelled.
    resolution_um : int, optional
        The model resolution the patches are made at (50, 70, 100); each background is
        resampled to it from its own spacing (`synth.resample`). Default: the resolution
        nearest the first background's spacing (`synth.nearest_resolution`).
    spacing_um : float, optional
        The backgrounds' pixel spacing; default: each DICOM's own (required for PNG/TIFF).
    intent : {"processing", "presentation"}, optional
        What the pixels are; default: each DICOM's PresentationIntentType, else presentation.
    gain : float or "estimate", optional
        Presentation gain G (pixel units per unit of log attenuation); default: the toolkit's
        presentation window; "estimate": from the backgrounds' noise (see the module text).
    region : {"breast", "dense", "fatty", "any"}
    field : str
        Name used in messages.
    noise_correlation_um : float, optional
        σ in µm of the Gaussian that correlates the backgrounds' noise, when it is known (an
        indirect CsI detector's PSF, about 40–60 µm; default 0: white, as a direct a-Se
        detector's). The local noise estimate is corrected for it, and the extra noise is
        correlated the same way, so its NPS matches the background's.

    Raises
    ------
    ValueError
        No images; an unreadable, colour or DICOM-without-pixels file; no spacing; a
        background smaller than a patch or with no crop inside its breast region.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from PIL import Image
    >>> import synth
    >>> folder = Path(tempfile.mkdtemp())
    >>> noise = np.random.default_rng(0).normal(30000, 600, (400, 300))
    >>> Image.fromarray(noise.astype(np.uint16)).save(folder / "negative.png")
    >>> bg = synth.load_backgrounds(folder, spacing_um=85)  # → the nearest model: 100 µm
    >>> bg.resolution_um, bg.images[0].shape, bg.names, bg.intents
    (100, (340, 255), ('negative.png',), ('presentation',))
    """
    if resolution_um is not None:
        check_resolution(resolution_um)
    _check_options(intent, gain, region)
    ok = noise_correlation_um is None or (
        isinstance(noise_correlation_um, (int, float)) and not isinstance(
            noise_correlation_um, bool) and 0 <= noise_correlation_um <= 1000)
    if not ok:
        raise ValueError(f"`noise_correlation_um` must be a σ from 0 to 1000 µm; got "
                         f"noise_correlation_um={noise_correlation_um!r}.")
    corr = 0.0 if noise_correlation_um is None else float(noise_correlation_um)
    if isinstance(source, (str, os.PathLike)):
        root = Path(source)
        paths = list_images(root, field)
        names = [p.relative_to(root).as_posix() for p in paths]
    else:
        paths = [Path(p) for p in source]
        if not paths:
            raise ValueError(f"`{field}` must name at least one image; got none.")
        names = [p.name for p in paths]
    res = 0
    items = []
    for path, name in zip(paths, names, strict=True):
        if not path.is_file():
            raise ValueError(f"`{field}` must be an existing image file; got {str(path)!r}.")
        data = path.read_bytes()  # read once: the pixels and the SHA-256 of the same bytes
        grey = read_grey_image(data, field=field, name=name)
        kind = intent or grey.intent or "presentation"
        if kind == "processing" and grey.format == "DICOM":
            if grey.photometric == "MONOCHROME1":
                raise ValueError(f"`{field}` images for processing must be MONOCHROME2 (pixels "
                                 f"that grow with the fluence); got {name}, MONOCHROME1.")
            # linear in the fluence: the display window must not be applied
            grey = read_grey_image(data, field=field, name=name, voi=False)
        spacing = image_spacing(grey, spacing_um, field="--spacing-um")
        if corr / spacing > MAX_CORRELATION_PX:
            raise ValueError(f"`noise_correlation_um` must be at most {MAX_CORRELATION_PX:g} "
                             f"pixels of the image ({MAX_CORRELATION_PX * spacing:g} µm for "
                             f"{name}); got noise_correlation_um={corr:g}.")
        if not res:
            res = check_resolution(resolution_um if resolution_um is not None
                                   else nearest_resolution(spacing))
        pixels, inside, var = _at_resolution(grey, spacing, res, corr / spacing)
        items.append((pixels, inside, name, hashlib.sha256(data).hexdigest(),
                      spacing, kind, f" (from {spacing:g} µm)", var))
    return dataclasses.replace(_assemble(items, res, gain, region, field),
                               noise_correlation_um=corr)


def backgrounds_from_arrays(images: Sequence[np.ndarray] | np.ndarray, names: Sequence[str], *,
                            resolution_um: int, intent: str = "presentation",
                            gain: float | str | None = None, region: str = "any",
                            field: str = "images") -> Backgrounds:
    """`Backgrounds` from images already in memory at `resolution_um` (float in [0, 1]), such
    as the negatives of a training split; each is named by `names` and by the SHA-256 of its
    float32 bytes.

    Examples
    --------
    >>> import numpy as np
    >>> import synth
    >>> patches = np.random.default_rng(0).normal(0.4, 0.01, (3, 100, 100)).astype(np.float32)
    >>> bg = synth.backgrounds_from_arrays(patches, ["a", "b", "c"], resolution_um=100)
    >>> len(bg), bg.names, [len(o) for o in bg.origins]  # one crop each: the patch itself
    (3, ('a', 'b', 'c'), [1, 1, 1])
    """
    res = check_resolution(resolution_um)
    _check_options(intent, gain, region)
    if len(images) != len(names) or not len(images):
        raise ValueError(f"`{field}` must be one or more images with a name each; got "
                         f"{len(images)} images and {len(names)} names.")
    items = []
    for image, name in zip(images, names, strict=True):
        pixels = np.ascontiguousarray(np.squeeze(np.asarray(image, dtype=np.float32)))
        if pixels.ndim != 2:
            raise ValueError(f"`{field}` must hold 2-D grey images; got {name} of shape "
                             f"{np.shape(image)}.")
        items.append((pixels, pixels > 0, str(name), hashlib.sha256(pixels.tobytes()).hexdigest(),
                      float(res), intent, "", None))
    return _assemble(items, res, gain, region, field)


def _check_options(intent: str | None, gain: float | str | None, region: str) -> None:
    if intent is not None and intent not in INTENTS:
        raise ValueError(f"`intent` must be one of {INTENTS}; got intent={intent!r}.")
    if region not in REGIONS:
        raise ValueError(f"`region` must be one of {REGIONS}; got region={region!r}.")
    if gain is not None and gain != "estimate" and not (
            isinstance(gain, (int, float)) and not isinstance(gain, bool) and np.isfinite(gain)
            and gain > 0):
        raise ValueError(f"`gain` must be a number > 0 or 'estimate'; got gain={gain!r}.")


def _assemble(items: list[tuple], res: int, gain: float | str | None, region: str, field: str
              ) -> Backgrounds:
    """Check each (pixels, inside, name, sha256, spacing, intent, note) at `res` µm and build
    the `Backgrounds`: crops allowed by `region`, local noise, the presentation gain."""
    n = patch_size_px(res)
    images, names, digests, spacings, intents, origins, noise = [], [], [], [], [], [], []
    masks = []
    for pixels, inside, name, digest, spacing, kind, note, var in items:
        if min(pixels.shape) < n:
            raise ValueError(f"`{field}` images must be at least one patch (1 cm: {n} × {n} "
                             f"px at {res} µm); got {name}, {pixels.shape[0]} × "
                             f"{pixels.shape[1]} px there{note}.")
        corners = _corners(pixels, inside, n, region, kind)
        if not len(corners):
            raise ValueError(f"`{field}` images must hold a 1 cm region inside the breast"
                             f"{'' if region in ('breast', 'any') else ' (' + region + ')'}; "
                             f"got {name}, which has none (exactly-black pixels mark the "
                             "outside).")
        images.append(pixels)
        names.append(name)
        digests.append(digest)
        spacings.append(spacing)
        intents.append(kind)
        origins.append(corners)
        noise.append(local_noise_variance(pixels, res) if var is None else var)
        masks.append(inside)
    window = 1.0 / window_width(energy_kev(SceneConfig().acquisition))
    if gain is None:
        g, how = window, "window"
    elif gain != "estimate":
        g, how = float(gain), "given"
    else:
        est = estimate_gain([im for im, k in zip(images, intents, strict=True)
                             if k == "presentation"],
                            [v for v, k in zip(noise, intents, strict=True)
                             if k == "presentation"], res,
                            [m for m, k in zip(masks, intents, strict=True)
                             if k == "presentation"])
        g, how = (est, "estimated") if est is not None else (window, "window")
    return Backgrounds(tuple(images), tuple(names), tuple(digests), tuple(spacings),
                       tuple(intents), tuple(origins), tuple(noise), g, how, res, region)


def _at_resolution(grey: GreyImage, spacing: float, res: int, correlation_px: float = 0.0
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The image in [0, 1] at `res` µm, where it is breast (`breast_mask`), and its local
    noise variance there.

    The noise is measured at the image's own spacing, where it is closest to white (what the
    estimator assumes), and carried to `res` µm by the variance the resampler passes of white
    noise (`_white_noise_gain`): measured on the resampled image, upsampled noise is smooth
    and the estimate would be far too low. Noise declared correlated (`correlation_px`, the
    σ of a Gaussian in the image's own pixels) is corrected for what the estimator misses of
    it, and carried through the resampler as such.
    """
    unit = grey.unit
    inside = breast_mask(grey.pixels, spacing).astype(np.float32)
    if correlation_px > 0:
        var = correlated_noise_variance(unit, spacing, correlation_px)
    else:
        var = local_noise_variance(unit, spacing)
    if abs(spacing - res) < 1e-9:
        return unit, inside > 0.5, var
    moved = np.maximum(resample(var, spacing, res), 0.0)  # the map is smooth (1 mm windows)
    moved *= np.float32(_white_noise_gain(float(spacing), int(res),
                                          round(float(correlation_px), 4)))
    return resample(unit, spacing, res), resample(inside, spacing, res) > 0.99, moved


OUTSIDE_MM = 0.5
"""Exactly-black areas at least this wide (mm) are outside the breast; single black pixels in
dark tissue (quantisation, noise) are not."""


def breast_mask(pixels: np.ndarray, spacing_um: float) -> np.ndarray:
    """Where an image is breast: everything but its exactly-black areas of at least
    `OUTSIDE_MM` across (a morphological opening of the black pixels).

    Examples
    --------
    >>> import numpy as np
    >>> from synth._insert import breast_mask
    >>> image = np.full((40, 40), 500, np.uint16)
    >>> image[:, :10] = 0     # the black outside, 1 mm wide at 100 µm
    >>> image[20, 30] = 0     # one black pixel of noise in the tissue
    >>> mask = breast_mask(image, 100)
    >>> bool(mask[:, :10].any()), bool(mask[20, 30]), bool(mask[:, 10:].all())
    (False, True, True)
    """
    size = max(3, int(round(OUTSIDE_MM * 1000.0 / spacing_um)) | 1)  # odd: a centred opening
    black = pixels == 0
    if not black.any():
        return np.ones(pixels.shape, dtype=bool)
    core = minimum_filter(black, size=size, mode="nearest")
    return ~maximum_filter(core, size=size, mode="nearest")


def _corners(pixels: np.ndarray, inside: np.ndarray, n: int, region: str, intent: str
             ) -> np.ndarray:
    """Top-left corners (row, col) of the allowed n × n crops, on a grid of n // 8 px."""
    rows, cols = pixels.shape
    step = max(1, n // 8)
    r0 = np.arange(0, rows - n + 1, step)
    c0 = np.arange(0, cols - n + 1, step)
    if r0[-1] != rows - n:
        r0 = np.append(r0, rows - n)
    if c0[-1] != cols - n:
        c0 = np.append(c0, cols - n)
    grid = np.stack(np.meshgrid(r0, c0, indexing="ij"), axis=-1).reshape(-1, 2)
    if region == "any":
        return grid
    outside = np.pad((~inside).astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    r, c = grid[:, 0], grid[:, 1]
    count = outside[r + n, c + n] - outside[r, c + n] - outside[r + n, c] + outside[r, c]
    grid = grid[count == 0]
    if region == "breast" or not len(grid):
        return grid
    total = np.pad(pixels.astype(np.float64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    r, c = grid[:, 0], grid[:, 1]
    mean = (total[r + n, c + n] - total[r, c + n] - total[r + n, c] + total[r, c]) / (n * n)
    # presentation: bright is dense; processing (fluence): dense tissue transmits less
    dense = mean >= np.median(mean) if intent == "presentation" else mean <= np.median(mean)
    return grid[dense if region == "dense" else ~dense]


def _correlated(noise: np.ndarray, sigma_px: float) -> np.ndarray:
    """`noise` correlated by a pixel-integrated Gaussian of σ `sigma_px`, at unit gain of
    variance (white noise of variance v stays of variance v)."""
    if sigma_px <= 0:
        return noise
    kernel = psf_kernel(sigma_px)
    out = convolve(convolve(noise, kernel[None, :], mode="reflect"), kernel[:, None],
                   mode="reflect")
    out /= np.float32(float((kernel**2).sum()))
    return out


@functools.cache
def _white_noise_gain(spacing_um: float, resolution_um: int, sigma_px: float = 0.0) -> float:
    """The per-pixel variance of noise (white, or correlated by σ `sigma_px`) after `resample`
    from `spacing_um` to `resolution_um`, over its variance before (measured once on 512²
    pixels of it)."""
    noise = _correlated(np.random.default_rng(0).standard_normal((512, 512))
                        .astype(np.float32), sigma_px)
    out = resample(noise, spacing_um, resolution_um)
    edge = 16
    return float(out[edge:-edge, edge:-edge].var() / noise[edge:-edge, edge:-edge].var())


MAX_CORRELATION_PX = 4.0
"""The widest declared noise correlation (σ in the image's own pixels) the estimate corrects."""


def correlated_noise_variance(image: np.ndarray, spacing_um: float, sigma_px: float
                              ) -> np.ndarray:
    """`local_noise_variance` of noise declared correlated by a Gaussian of σ `sigma_px`.

    The Laplacian estimator sees little of such noise (a fiftieth of its variance at σ 0.8 px),
    so a plain division would amplify any white part of it (quantisation, electronic noise)
    as much. The image is first binned b × b (b = ⌈σ / 0.5⌉), where the correlation is under
    half a pixel and the estimator sees a good share of it, and that estimate is divided by
    what it reports of unit correlated noise binned the same way (`_binned_laplace_gain`);
    white noise is then not amplified at all.
    """
    b = max(1, int(np.ceil(sigma_px / 0.5 - 1e-9)))
    rows, cols = (image.shape[0] // b) * b, (image.shape[1] // b) * b
    binned = image[:rows, :cols].reshape(rows // b, b, cols // b, b).mean(axis=(1, 3))
    var = local_noise_variance(binned.astype(np.float32), spacing_um * b)
    var /= np.float32(_binned_laplace_gain(round(float(sigma_px), 4), b))
    full = np.repeat(np.repeat(var, b, axis=0), b, axis=1)  # a smooth map (1 mm windows)
    return np.pad(full, ((0, image.shape[0] - rows), (0, image.shape[1] - cols)), mode="edge")


@functools.cache
def _binned_laplace_gain(sigma_px: float, b: int) -> float:
    """What `local_noise_variance` reports of unit noise correlated by σ `sigma_px` and
    binned b × b, over that noise's per-pixel variance before binning (measured once)."""
    size = 768 - 768 % b
    noise = _correlated(np.random.default_rng(1).standard_normal((size, size))
                        .astype(np.float32), sigma_px)
    binned = noise.reshape(size // b, b, size // b, b).mean(axis=(1, 3))
    edge = max(2, 16 // b)
    lap = convolve(binned, _LAPLACE, mode="reflect")[edge:-edge, edge:-edge]
    return float((lap.astype(np.float64) ** 2).mean() / 36.0
                 / noise[16:-16, 16:-16].astype(np.float64).var())


def local_noise_variance(image: np.ndarray, resolution_um: float) -> np.ndarray:
    """Per-pixel noise variance of `image`: Immerkær's estimator (the image convolved with
    the 3 × 3 difference of Laplacians, whose output variance is 36 σ² for white noise and
    nearly blind to smooth tissue), its squares averaged over a `NOISE_WINDOW_MM` window.

    Examples
    --------
    >>> import numpy as np
    >>> from synth._insert import local_noise_variance
    >>> noise = np.random.default_rng(0).normal(0.5, 0.01, (200, 200)).astype(np.float32)
    >>> round(float(np.sqrt(local_noise_variance(noise, 70)[20:-20, 20:-20].mean())), 4)
    0.01
    """
    lap = convolve(image.astype(np.float32), _LAPLACE, mode="reflect")
    size = max(3, int(round(NOISE_WINDOW_MM * 1000.0 / resolution_um)) | 1)
    return uniform_filter(lap * lap, size, mode="reflect") / np.float32(36.0)


def estimate_gain(images: Sequence[np.ndarray], noise_var: Sequence[np.ndarray],
                  resolution_um: int, inside: Sequence[np.ndarray] | None = None
                  ) -> float | None:
    """The presentation gain G from the images' own noise: ln σ² = a + v / G for
    quantum-limited log images; None when the fit cannot be trusted.

    Only pixels at least `GAIN_EDGE_MM` inside the breast (`inside`: not exactly black) take
    part: near the skin line the compressed thickness falls off, and a presentation's
    thickness equalisation then breaks the one-to-one relation of grey level and fluence.
    """
    if not images:
        return None
    size = max(3, int(round(NOISE_WINDOW_MM * 1000.0 / resolution_um)) | 1)
    means, logs = [], []
    for k, (image, var) in enumerate(zip(images, noise_var, strict=True)):
        keep = np.ones(image.shape, dtype=bool)
        if inside is not None and not inside[k].all():
            depth = distance_transform_edt(inside[k]) * (resolution_um / 1000.0)
            keep = depth >= GAIN_EDGE_MM
        m = uniform_filter(image, size, mode="reflect")[::4, ::4].ravel()
        v = var[::4, ::4].ravel()
        ok = (m > 0.0) & (m < 1.0) & (v > 0) & keep[::4, ::4].ravel()
        means.append(m[ok])
        logs.append(np.log(v[ok]))
    m, lv = np.concatenate(means), np.concatenate(logs)
    if len(m) < 200:
        return None
    lo, hi = np.quantile(m, [0.05, 0.95])
    if hi - lo < GAIN_MIN_SPREAD:
        return None
    edges = np.linspace(lo, hi, 11)
    which = np.digitize(m, edges[1:-1])
    x = np.array([np.median(m[which == k]) for k in range(10) if (which == k).sum() >= 20])
    y = np.array([np.median(lv[which == k]) for k in range(10) if (which == k).sum() >= 20])
    if len(x) < 5:
        return None
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (slope * x + intercept)
    r2 = 1.0 - float((resid**2).sum()) / max(float(((y - y.mean()) ** 2).sum()), 1e-12)
    if slope <= 0 or r2 < 0.6:
        return None
    return float(1.0 / slope)


def insert(backgrounds: Backgrounds, config: SceneConfig, n: int, *, seed: int) -> Batch:
    """`n` patches with `config`'s MCs inserted into `backgrounds` (see the module text).

    Returns a `synth.Batch` like `synth.generate`'s: images, labels, masks, the patch table
    (`INSERT_COLUMNS`) and the MC table (`MC_COLUMNS`, with ``local_tissue`` the background's
    value at each MC centre and ``dprime`` its prewhitening SNR against the background's noise
    there).

    Examples
    --------
    >>> import numpy as np
    >>> import synth
    >>> from synth._insert import Backgrounds, _grid_corners
    >>> rng = np.random.default_rng(0)
    >>> tissue = rng.normal(0.4, 0.01, (300, 300)).astype(np.float32)
    >>> bg = synth.Backgrounds((tissue,), ("t.png",), ("0" * 64,), (70.0,), ("presentation",),
    ...                        (_grid_corners(300, 144),), (np.full_like(tissue, 1e-4),),
    ...                        0.05, "given", 70, "any")
    >>> batch = synth.insert(bg, synth.SceneConfig(positive_fraction=1.0), 4, seed=0)
    >>> batch.images.shape, batch.labels.tolist()
    ((4, 144, 144), [1, 1, 1, 1])
    >>> bool((batch.images[0] > tissue.max()).any())  # MCs brighter than any tissue pixel
    True
    """
    if not isinstance(backgrounds, Backgrounds):
        raise TypeError(f"`backgrounds` must be synth.Backgrounds (synth.load_backgrounds); got "
                        f"{type(backgrounds).__name__}.")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"`n` must be an integer >= 1; got n={n!r}.")
    return insert_indices(backgrounds, config, range(int(n)), seed=seed)


def insert_indices(backgrounds: Backgrounds, config: SceneConfig, indices: Sequence[int], *,
                   seed: int) -> Batch:
    """`insert` for the given dataset indices: patch i is the same alone or in any batch.

    Examples
    --------
    >>> import numpy as np
    >>> import synth
    >>> from synth._insert import _grid_corners
    >>> tissue = np.random.default_rng(0).normal(0.4, 0.01, (150, 150)).astype(np.float32)
    >>> bg = synth.Backgrounds((tissue,), ("t.png",), ("0" * 64,), (100.0,), ("presentation",),
    ...                        (_grid_corners(150, 100),), (np.full_like(tissue, 1e-4),),
    ...                        0.05, "given", 100, "any")
    >>> config = synth.SceneConfig()
    >>> alone = synth.insert_indices(bg, config, [3], seed=1)
    >>> np.array_equal(alone.images[0], synth.insert(bg, config, 5, seed=1).images[3])
    True
    """
    if not isinstance(config, SceneConfig):
        raise TypeError(f"`config` must be a SceneConfig; got {type(config).__name__}.")
    if config.contrast_model != "attenuation":
        raise ValueError("`contrast_model` must be 'attenuation' to insert MCs into real images "
                         "(their signal is the mineral's attenuation × thickness; the relative "
                         f"model's contrast has no such meaning); got contrast_model="
                         f"{config.contrast_model!r}.")
    seed = check_seed(seed)
    indices = [int(i) for i in indices]
    res = backgrounds.resolution_um
    n = patch_size_px(res)
    px = res / 1000.0
    rngs = [np.random.default_rng([seed, i]) for i in indices]
    picks = []
    for rng in rngs:
        b = int(rng.integers(len(backgrounds)))
        corner = backgrounds.origins[b][int(rng.integers(len(backgrounds.origins[b])))]
        picks.append((b, int(corner[0]), int(corner[1])))
    scenes = sample_scenes(config, rngs)
    count = len(indices)
    crops = np.empty((count, n, n), dtype=np.float32)
    var = np.empty((count, n, n), dtype=np.float32)
    for k, (b, r, c) in enumerate(picks):
        crops[k] = backgrounds.images[b][r:r + n, c:c + n]
        var[k] = backgrounds.noise_var[b][r:r + n, c:c + n]
    processing = np.array([backgrounds.intents[b] == "processing" for b, _, _ in picks])
    delta = np.zeros((count, n, n), dtype=np.float32)
    masks = np.zeros((count, n, n), dtype=bool)
    owners = [(b, mc) for b, s in enumerate(scenes) for mc in s.calcifications]
    cols = _columns(owners, px, n)
    blur = np.array([blur_mm(s.acquisition) for s in scenes])
    gain = backgrounds.gain
    if owners:
        patch = cols["patch"]
        energies: dict[int, float] = {}
        for sc in scenes:
            energies.setdefault(id(sc.acquisition), energy_kev(sc.acquisition))
        energy = np.array([energies[id(scenes[b].acquisition)] for b in patch])
        _, _, sumsq = add_mc_line_integrals(scenes, owners, cols, energy, px, blur, delta,
                                            masks)
        pix = np.rint(np.column_stack([cols["row_px"], cols["col_px"]])).astype(int).clip(0, n - 1)
        level = crops[patch, pix[:, 0], pix[:, 1]].astype(float)
        cols["local_tissue"][:] = level
        # the background's noise in log-attenuation units at each MC
        sigma2 = var[patch, pix[:, 0], pix[:, 1]].astype(float)
        var_a = np.where(processing[patch], sigma2 / np.maximum(level, 1e-6) ** 2,
                         sigma2 / gain**2)
        with np.errstate(divide="ignore"):
            cols["dprime"][:] = np.where(var_a > 0, np.sqrt(sumsq / np.maximum(var_a, 1e-30)),
                                         np.inf)
        cols["dprime"][sumsq == 0] = 0.0
    noise_sd = np.sqrt(var.reshape(count, -1).mean(axis=1))
    images = _apply(crops, delta, var, processing, gain, scenes, px,
                    backgrounds.noise_correlation_um / res)
    labels, kth = patch_labels(scenes, cols)
    table = pd.DataFrame({
        "index": np.array(indices, dtype=np.int64),
        "seed": seed,
        "label": labels,
        "kind": [s.kind for s in scenes],
        "distribution": [s.distribution or "" for s in scenes],
        "n_mcs": [len(s.calcifications) for s in scenes],
        "n_inside": [s.n_inside for s in scenes],
        "background": [backgrounds.names[b] for b, _, _ in picks],
        "row_px": [r for _, r, _ in picks],
        "col_px": [c for _, _, c in picks],
        "intent": [backgrounds.intents[b] for b, _, _ in picks],
        "gain": [np.nan if p else gain for p in processing],
        "noise_sd": noise_sd,
        "dprime_k": kth,
        "resolution_um": res,
    }, columns=list(INSERT_COLUMNS))
    frame = pd.DataFrame({k: cols[k] for k in MC_COLUMNS})
    frame.insert(0, "index", np.array(indices, dtype=np.int64)[cols["patch"]]
                 if len(cols["patch"]) else np.zeros(0, dtype=np.int64))
    return Batch(images, labels, masks, table, frame, res)


def _apply(crops: np.ndarray, delta: np.ndarray, var: np.ndarray, processing: np.ndarray,
           gain: float, scenes: Sequence[Any], px: float, correlation_px: float = 0.0
           ) -> np.ndarray:
    """The crops with ΔA applied and the extra quantum noise added (module text), in place.

    Only each patch's box of MC pixels is touched (padded by the PSF for an indirect
    converter, whose extra noise is blurred); its normals come from the scene's noise key.
    """
    n_rows, n_cols = delta.shape[1:]
    for k in range(len(delta)):
        rows = np.flatnonzero(delta[k].max(axis=1) > 0)
        if not len(rows):
            continue
        cols = np.flatnonzero(delta[k].max(axis=0) > 0)
        acq = scenes[k].acquisition
        if correlation_px > 0:  # the backgrounds' own noise correlation, declared
            kernel: np.ndarray | None = psf_kernel(correlation_px)
        else:
            kernel = (psf_kernel(blur_mm(acq) / px) if acq is not None and acq.detector ==
                      "indirect" and blur_mm(acq) > 0 else None)
        pad = 0 if kernel is None else len(kernel) // 2
        r0, r1 = max(0, rows[0] - pad), min(n_rows, rows[-1] + 1 + pad)
        c0, c1 = max(0, cols[0] - pad), min(n_cols, cols[-1] + 1 + pad)
        d = delta[k, r0:r1, c0:c1]
        z = raw_normals_many([scenes[k].noise_key], d.size,
                             np.empty((1, d.size), dtype=np.float32)).reshape(d.shape)
        if kernel is not None:
            z = convolve(convolve(z, kernel[None, :], mode="reflect"), kernel[:, None],
                         mode="reflect") / np.float32(float((kernel**2).sum()))
        box = crops[k, r0:r1, c0:c1]
        if processing[k]:
            attenuated = np.exp(-d)
            extra = var[k, r0:r1, c0:c1] * (attenuated - attenuated * attenuated)
            box *= attenuated
        else:
            extra = var[k, r0:r1, c0:c1] * np.expm1(d)
            box += np.float32(gain) * d
        np.maximum(extra, 0.0, out=extra)
        box += np.sqrt(extra) * z
        np.clip(box, 0.0, 1.0, out=box)
    return crops


def _grid_corners(size: int, n: int) -> np.ndarray:
    """Every n // 8-px crop corner of a size × size image (for examples and tests)."""
    pixels = np.zeros((size, size), np.float32)
    return _corners(pixels, np.ones_like(pixels, dtype=bool), n, "any", "presentation")
