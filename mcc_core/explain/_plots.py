"""Figures of the explainability views (matplotlib `Figure` objects; never pyplot state)."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.gridspec import SubplotSpec
from matplotlib.patches import Circle

from mcc_core.explain._maps import FeatureMaps, FilterSpectra, mc_band_cyc_per_mm

__all__ = ["plot_feature_maps", "plot_filter_spectra", "plot_grad_cam", "plot_mean_f2"]


def _grid(n: int, n_cols: int) -> tuple[int, int]:
    cols = min(n, n_cols)
    return math.ceil(n / cols), cols


def _image_axes(fig: Figure, spec: SubplotSpec, maps: np.ndarray, n_cols: int, title: str) -> None:
    """Draw the maps ``(h, w, n)`` in a grid inside the gridspec cell ``spec``."""
    rows, cols = _grid(maps.shape[-1], n_cols)
    sub = spec.subgridspec(rows, cols, wspace=0.05, hspace=0.15)
    for k in range(maps.shape[-1]):
        ax = fig.add_subplot(sub[k // cols, k % cols])
        ax.imshow(maps[..., k], cmap="gray")
        ax.set_title(f"{title}{k + 1}", fontsize=7)
        ax.set_axis_off()


def plot_feature_maps(fm: FeatureMaps) -> Figure:
    """Draw the patch and the F0 and F1 maps of :func:`feature_maps` (the paper's Fig. 3).

    The figure has ``1 + n_conv1 + n_conv2`` axes (23 for the default model).

    Examples
    --------
    >>> from mcc_core import build_shallow_cnn, feature_maps
    >>> maps = feature_maps(build_shallow_cnn(100), np.full((100, 100), 0.5, np.float32))
    >>> fig = plot_feature_maps(maps)
    >>> len(fig.axes)
    23
    """
    fig = Figure(figsize=(12, 4), layout="constrained")
    grid = fig.add_gridspec(1, 3, width_ratios=(1, 1.5, 2))
    ax = fig.add_subplot(grid[0])
    ax.imshow(fm.patch, cmap="gray", vmin=0, vmax=1)
    ax.set_title("patch")
    ax.set_axis_off()
    _image_axes(fig, grid[1], fm.f0, 2, "F0 #")
    _image_axes(fig, grid[2], fm.f1, 4, "F1 #")
    return fig


def plot_mean_f2(mean_pos: np.ndarray, mean_neg: np.ndarray) -> Figure:
    """Plot the two outputs of :func:`mean_f2` (the paper's Fig. 5).

    One axes, two dotted lines: black for patches with MCCs, grey for patches without.

    Examples
    --------
    >>> import synth
    >>> from mcc_core import load_bundled_model, mean_f2, synthetic_arrays
    >>> images, labels = synthetic_arrays(synth.SceneConfig(), 20, resolution_um=100, seed=0)
    >>> means = mean_f2(load_bundled_model(100).model, images[labels == 1], images[labels == 0])
    >>> fig = plot_mean_f2(*means)
    >>> [line.get_label() for line in fig.axes[0].lines]
    ['MCC present', 'MCC absent']
    >>> len(fig.axes[0].lines[0].get_xdata())
    16
    """
    fig = Figure(figsize=(6, 3.5), layout="constrained")
    ax = fig.add_subplot()
    index = np.arange(1, len(mean_pos) + 1)
    ax.plot(index, mean_pos, "o:", color="black", label="MCC present")
    ax.plot(index, mean_neg, "s:", color="0.6", label="MCC absent")
    ax.set_xticks(index)
    ax.set_xlabel("F2 component (conv2 filter)")
    ax.set_ylabel("mean activation")
    ax.legend()
    return fig


def plot_filter_spectra(spectra: FilterSpectra) -> Figure:
    """Draw the magnitudes of :func:`filter_frequency_response` (the paper's Fig. 4(b)).

    One image axes per filter, the MC band drawn as two dashed circles (the outer one lies
    beyond Nyquist at 70 and 100 µm), and one axes with the horizontal cut (vertical frequency
    0) of every filter, the band shaded up to Nyquist.

    Examples
    --------
    Six ``conv1`` filters: six images and the cut below them.

    >>> from mcc_core import build_shallow_cnn, filter_frequency_response
    >>> spectra = filter_frequency_response(build_shallow_cnn(144), resolution_um=70)
    >>> fig = plot_filter_spectra(spectra)
    >>> len(fig.axes), fig.axes[-1].get_xlabel()
    (7, 'horizontal frequency (cycles/mm) at 70 µm/pixel')
    """
    freqs, magnitude = spectra.frequencies_cyc_per_mm, spectra.magnitude
    low, high = mc_band_cyc_per_mm()
    n = magnitude.shape[0]
    rows, cols = _grid(n, 4)
    fig = Figure(figsize=(3 * cols, 2.6 * (rows + 1)), layout="constrained")
    grid = fig.add_gridspec(rows + 1, cols)
    extent = (freqs[0], freqs[-1], freqs[-1], freqs[0])
    for k in range(n):
        ax = fig.add_subplot(grid[k // cols, k % cols])
        ax.imshow(magnitude[k], cmap="gray", extent=extent)
        for radius in (low, high):
            ax.add_patch(Circle((0, 0), radius, fill=False, ls="--", color="tab:red", lw=0.8))
        ax.set_title(f"{spectra.layer} filter {k + 1}", fontsize=8)
        ax.set_xlabel("cycles/mm", fontsize=7)
    cut = fig.add_subplot(grid[rows, :])
    centre = len(freqs) // 2  # index of frequency 0 after fftshift
    for k in range(n):
        cut.plot(freqs, magnitude[k, centre], label=f"{k + 1}")
    cut.axvspan(low, min(high, spectra.nyquist_cyc_per_mm), color="tab:red", alpha=0.15)
    cut.axvspan(-min(high, spectra.nyquist_cyc_per_mm), -low, color="tab:red", alpha=0.15)
    cut.set_xlabel(f"horizontal frequency (cycles/mm) at {spectra.resolution_um} µm/pixel")
    cut.set_ylabel("|H|")
    cut.legend(fontsize=6, ncols=min(n, 8))
    return fig


def plot_grad_cam(images: np.ndarray, heatmaps: np.ndarray) -> Figure:
    """Draw each patch of ``images`` beside its :func:`grad_cam` heat map overlaid on it.

    The figure has ``2 * N`` axes, one row per patch. A ValueError is raised unless
    ``heatmaps`` has the shape ``(N, H, W)`` of ``images``.

    Examples
    --------
    >>> import synth
    >>> from mcc_core import grad_cam, load_bundled_model, synthetic_arrays
    >>> images, _ = synthetic_arrays(synth.SceneConfig(), 3, resolution_um=100, seed=0)
    >>> heatmaps = grad_cam(load_bundled_model(100).model, images)
    >>> len(plot_grad_cam(images, heatmaps).axes)
    6
    >>> plot_grad_cam(images, heatmaps[:2])
    Traceback (most recent call last):
    ...
    ValueError: `heatmaps` must have the shape (N, H, W) of `images`; got images of shape
    (3, 100, 100, 1) and heatmaps of shape (2, 100, 100).
    """
    patches = np.asarray(images, dtype=np.float32)
    patches = patches[..., 0] if patches.ndim == 4 else patches
    heat = np.asarray(heatmaps, dtype=np.float32)
    if patches.ndim != 3 or patches.shape != heat.shape:
        raise ValueError(
            "`heatmaps` must have the shape (N, H, W) of `images`; got images of shape "
            f"{np.shape(images)} and heatmaps of shape {np.shape(heatmaps)}."
        )
    fig = Figure(figsize=(5, 2.5 * len(patches)), layout="constrained")
    axes = fig.subplots(len(patches), 2, squeeze=False)
    for row, (patch, cam) in enumerate(zip(patches, heat, strict=True)):
        axes[row, 0].imshow(patch, cmap="gray", vmin=0, vmax=1)
        axes[row, 1].imshow(patch, cmap="gray", vmin=0, vmax=1)
        axes[row, 1].imshow(cam, cmap="jet", alpha=0.45, vmin=0, vmax=1)
        axes[row, 0].set_title("patch", fontsize=8)
        axes[row, 1].set_title("Grad-CAM", fontsize=8)
        for ax in axes[row]:
            ax.set_axis_off()
    return fig
