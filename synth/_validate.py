"""`synth.validate`: the generator's physics, measured on data it generates, against theory.

Each check renders or samples what it needs, measures one quantity with an estimator of its
own (power spectra, sums over difference images, a χ² goodness of fit), and compares it with
the value the physics predicts, within a stated tolerance. `write_validation` writes the table
as Markdown and CSV with a figure per family of checks.
"""

from __future__ import annotations

import dataclasses
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import ndtr

from ._atomic import write_atomic
from ._background import unit_fields
from ._config import RESOLUTIONS_UM, Acquisition, SceneConfig, patch_size_px
from ._generate import check_count, check_seed
from ._morphology import SHAPE_DRAWS
from ._physics import Chain, energy_kev, mc_delta_mu, psf_kernel, window_width
from ._random import Key
from ._render import render
from ._scene import Calcification, Scene, count_probabilities, sample_scenes

VALIDATION_COLUMNS = ("check", "resolution_um", "measured", "expected", "tolerance", "unit",
                      "passed", "how")


@dataclass(frozen=True)
class ValidationReport:
    """What `validate` measured.

    Attributes
    ----------
    table : DataFrame — one row per check (`VALIDATION_COLUMNS`)
    config : SceneConfig — the config validated
    curves : dict of str to DataFrame — the data behind the figures
    """

    table: pd.DataFrame
    config: SceneConfig
    curves: dict[str, pd.DataFrame]

    @property
    def passed(self) -> bool:
        """Every check passed."""
        return bool(self.table["passed"].all())

    def to_markdown(self) -> str:
        """The table as Markdown, with a line saying how many checks passed."""
        lines = ["| check | µm | measured | expected | tolerance | unit | pass |",
                 "|---|---|---|---|---|---|---|"]
        for row in self.table.itertuples(index=False):
            res = "all" if row.resolution_um == 0 else str(row.resolution_um)
            lines.append(f"| {row.check} | {res} | {row.measured:.4g} | {row.expected:.4g} | "
                         f"{row.tolerance} | {row.unit} | {'yes' if row.passed else '**no**'} |")
        ok = int(self.table["passed"].sum())
        how = dict(zip(self.table["check"], self.table["how"], strict=True))
        return (f"{ok} of {len(self.table)} checks passed.\n\n" + "\n".join(lines) + "\n\n"
                + "\n".join(f"- **{c}**: {h}" for c, h in how.items()) + "\n")


def validate(config: SceneConfig | None = None, *, n: int = 64, seed: int = 0,
             resolutions_um: tuple[int, ...] = RESOLUTIONS_UM) -> ValidationReport:
    """Measure the generator's physics on data generated from `config` and check it.

    Parameters
    ----------
    config : SceneConfig, optional
        Default `SceneConfig()`. Its beam, detector, β and density ranges, count
        distribution and spacing are the ones checked; the MC signal checks use spheres of
        its materials rendered with its beam.
    n : int
        Patches per spectral estimate (and 50 × n scenes for the count statistics).
    seed : int
    resolutions_um : tuple of int

    Returns
    -------
    ValidationReport

    Examples
    --------
    >>> import synth
    >>> report = synth.validate(n=16, resolutions_um=(100,))
    >>> report.passed, len(report.table)
    (True, 17)
    >>> sorted(set(report.table["check"]))[:3]
    ['MC count distribution (χ² p-value)', 'MC integrated log signal / (Δμ × volume)',
     'MC peak thickness / diameter']
    """
    config = SceneConfig() if config is None else config
    if not isinstance(config, SceneConfig):
        raise TypeError(f"`config` must be a SceneConfig; got {type(config).__name__}.")
    if config.patch_source == "phantom":  # the checks measure the texture source's physics
        raise ValueError("`patch_source` must be 'texture' to validate (the checks measure "
                         "the stationary texture); got patch_source='phantom'.")
    n = check_count("n", n)
    seed = check_seed(seed)
    for res in resolutions_um:
        patch_size_px(res)
    rows: list[dict[str, Any]] = []
    curves: dict[str, pd.DataFrame] = {}
    _texture_checks(config, n, seed, resolutions_um, rows, curves)
    if config.contrast_model == "attenuation":
        _signal_checks(config, resolutions_um, rows, curves)
        _noise_checks(config, n, seed, resolutions_um, rows, curves)
    _arrangement_checks(config, n, seed, rows, curves)
    table = pd.DataFrame(rows, columns=list(VALIDATION_COLUMNS))
    return ValidationReport(table, config, curves)


def _key(rng: np.random.Generator) -> Key:
    a, b, c, d = (int(k) for k in rng.bit_generator.random_raw(4))
    return (a, b, c, d)


def _row(rows: list[dict[str, Any]], check: str, res: int, measured: float, expected: float,
         tolerance: str, unit: str, passed: bool, how: str) -> None:
    rows.append(dict(check=check, resolution_um=res, measured=float(measured),
                     expected=float(expected), tolerance=tolerance, unit=unit,
                     passed=bool(passed), how=how))


# ----------------------------------------------------------------------------- texture


TEXTURE_FIELDS = 64
"""The texture checks measure at least this many background fields."""


def radial_power(images: np.ndarray, px_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged power spectrum (f in cycles/mm, power) of mean-removed images,
    with a Hann window against leakage."""
    m = images.shape[-1]
    w = np.hanning(m)
    win = w[:, None] * w[None, :]
    x = images - images.mean(axis=(1, 2), keepdims=True)
    p = (np.abs(np.fft.fft2(x * win)) ** 2).mean(axis=0)
    f = np.fft.fftfreq(m, d=px_mm)
    fr = np.hypot(f[:, None], f[None, :]).ravel()
    edges = np.linspace(0, f.max(), m // 2)
    idx = np.digitize(fr, edges)
    sums = np.bincount(idx, p.ravel(), len(edges) + 1)
    counts = np.bincount(idx, minlength=len(edges) + 1)
    keep = counts > 0
    centres = np.bincount(idx, fr, len(edges) + 1)[keep] / counts[keep]
    return centres, sums[keep] / counts[keep]


def _texture_checks(config: SceneConfig, n: int, seed: int, resolutions: tuple[int, ...],
                    rows: list[dict[str, Any]], curves: dict[str, pd.DataFrame]) -> None:
    beta = 0.5 * sum(config.beta_range)
    rng = np.random.default_rng([seed, 1])
    n = max(n, TEXTURE_FIELDS)  # the slope's spread shrinks as 1/√n; fields are cheap
    keys: list[Key] = [_key(rng) for _ in range(n)]
    periodic = np.full(n, config.texture == "periodic")
    spectra = []
    for res in resolutions:
        px = res / 1000.0
        field = unit_fields(keys, np.full(n, beta), np.zeros(n), res, periodic=periodic)
        f, p = radial_power(field, px)
        band = (f >= 0.3) & (f <= 0.25 * 0.5 / px)
        # the fields are integrated over each pixel: divide the aperture's sinc² out
        slope = np.polyfit(np.log(f[band]), np.log(p[band] / np.sinc(f[band] * px) ** 2),
                           1)[0]
        _row(rows, "texture β", res, -slope, beta, "±0.25", "", abs(-slope - beta) <= 0.25,
             f"slope of the radially averaged power spectrum (Hann window, pixel aperture "
             f"divided out) of {n} background fields, 0.3 cycles/mm to a quarter of the "
             f"Nyquist frequency")
        corr = np.mean([np.corrcoef(x[0], x[-1])[0, 1] + np.corrcoef(x[:, 0], x[:, -1])[0, 1]
                        for x in field]) / 2
        _row(rows, "opposite-edge correlation", res, corr, 0.0, "|r| < 0.2", "",
             abs(corr) < 0.2,
             "Pearson correlation of the first and last row (and column) of each field, "
             "averaged")
        spectra.append(pd.DataFrame({"resolution_um": res, "f": f, "power": p}))
        blur_um = 41.0
        blurred = unit_fields(keys[:8], np.full(8, beta), np.full(8, blur_um / 1000.0), res,
                              periodic=periodic[:8])
        sharp = unit_fields(keys[:8], np.full(8, beta), np.zeros(8), res, periodic=periodic[:8])
        for freq in (2.0, 4.0):
            if freq >= 0.5 / px:
                continue
            fb, pb = radial_power(blurred, px)
            fs, ps = radial_power(sharp, px)
            k = int(np.argmin(np.abs(fb - freq)))
            mtf = np.sqrt(pb[k] / ps[k])
            expected = np.exp(-2 * np.pi**2 * (blur_um / 1000.0) ** 2 * fb[k] ** 2)
            _row(rows, f"MTF at {freq:g} cycles/mm", res, mtf, expected, "±5 %", "",
                 abs(mtf / expected - 1) <= 0.05,
                 "square root of the ratio of the texture power with and without a 41 µm "
                 "Gaussian PSF (same fields)")
    curves["texture power"] = pd.concat(spectra, ignore_index=True)


# ----------------------------------------------------------------------------- MC signal


def sphere_scene(size_mm: float, *, material: str = "hydroxyapatite", fill: float = 1.0,
                 density: float = 0.5, thickness_mm: float = 50.0,
                 acquisition: Acquisition | None = None, mc_shape: str = "gaussian",
                 x_mm: float = 0.0, y_mm: float = 0.0, key: int = 0) -> Scene:
    """A patch scene holding one spherical MC (fill 0: the same scene without its signal)."""
    k = tuple(int(v) for v in np.random.default_rng(key).bit_generator.random_raw(4))
    mc = Calcification(x_mm=x_mm, y_mm=y_mm, size_mm=size_mm, morphology="punctate",
                       contrast=fill, orientation_deg=0.0, shape_draws=np.zeros(SHAPE_DRAWS),
                       material=material)
    return Scene(calcifications=(mc,), kind="positive", distribution="clustered",
                 density=density, beta=2.8, background_key=k, noise_key=k,  # type: ignore
                 lumps=None, acquisition=acquisition, cluster_min_count=1,
                 contrast_model="attenuation", mc_shape=mc_shape, texture="non_periodic",
                 thickness_mm=thickness_mm)


def mc_log_signal(scene: Scene, resolution_um: int) -> np.ndarray:
    """The MC's log-attenuation signal in an ideal image: (with - without) × window width."""
    ideal = dataclasses.replace(scene, acquisition=None)
    empty = dataclasses.replace(ideal, calcifications=(
        dataclasses.replace(scene.calcifications[0], contrast=0.0),))
    diff = render(ideal, resolution_um).image.astype(float) - render(empty, resolution_um).image
    return diff * window_width(energy_kev(scene.acquisition))


def _signal_checks(config: SceneConfig, resolutions: tuple[int, ...],
                   rows: list[dict[str, Any]], curves: dict[str, pd.DataFrame]) -> None:
    acq = config.acquisition
    energy = energy_kev(acq)
    sizes = (0.1, 0.2, 0.3, 0.4)
    records = []
    for res in resolutions:
        px2 = (res / 1000.0) ** 2
        integ, peak = [], []
        half = 0.5 * res / 1000.0  # the patch centre is a pixel corner: move to a pixel centre
        for d in sizes:
            s = mc_log_signal(sphere_scene(d, acquisition=acq, x_mm=half, y_mm=half), res)
            integ.append(s.sum() * px2)
            peak.append(s.max())
            records.append(dict(resolution_um=res, size_mm=d, integrated=integ[-1],
                                peak=peak[-1], material="hydroxyapatite"))
        dmu = mc_delta_mu("hydroxyapatite", energy)
        theory = [dmu * np.pi * d**3 / 6 for d in sizes]
        ratio = np.array(integ) / np.array(theory)
        worst = float(ratio[np.argmax(np.abs(ratio - 1))])
        _row(rows, "MC integrated log signal / (Δμ × volume)", res, worst, 1.0, "±5 %", "",
             abs(worst - 1) <= 0.05,
             f"spheres of {', '.join(map(str, sizes))} mm hydroxyapatite in an ideal image: "
             "sum of (with − without) × W × pixel area, over Δμ π d³ / 6 (worst size)")
        slope = np.polyfit(np.log(sizes), np.log(integ), 1)[0]
        _row(rows, "integrated signal ∝ d^k", res, slope, 3.0, "±0.3", "", abs(slope - 3) <= 0.3,
             "log-log slope of the integrated signal over the sphere diameters")
        px = res / 1000.0
        sig = np.array(sizes) / np.sqrt(12.0)
        aperture = (sig * np.sqrt(2 * np.pi) / px * (2 * ndtr(px / (2 * sig)) - 1)) ** 2
        pk = np.array(peak) / dmu / np.array(sizes) / aperture
        w = float(pk[np.argmax(np.abs(pk - 1))])
        _row(rows, "MC peak thickness / diameter", res, w, 1.0, "±10 %", "",
             abs(w - 1) <= 0.10,
             "peak of the log signal over Δμ × d × the pixel-aperture loss of a Gaussian of "
             "σ = d/√12 on a pixel centre (worst size): the peak grows as d")
        ha = mc_log_signal(sphere_scene(0.3, acquisition=acq), res).sum()
        ox = mc_log_signal(sphere_scene(0.3, material="calcium_oxalate", acquisition=acq),
                           res).sum()
        expected = dmu / mc_delta_mu("calcium_oxalate", energy)
        _row(rows, "hydroxyapatite / calcium oxalate signal", res, ha / ox, expected, "±2 %",
             "", abs(ha / ox / expected - 1) <= 0.02,
             f"integrated signals of 0.3 mm spheres of the two materials at {energy:.1f} keV "
             "against the ratio of their Δμ")
        fat = mc_log_signal(sphere_scene(0.3, density=0.1, acquisition=acq), res).sum()
        dense = mc_log_signal(sphere_scene(0.3, density=0.9, acquisition=acq), res).sum()
        _row(rows, "MC signal dense / fatty tissue", res, dense / fat, 1.0, "±1 %", "",
             abs(dense / fat - 1) <= 0.01,
             "integrated log signal of one 0.3 mm sphere in glandular fraction 0.9 over 0.1")
        solid = mc_log_signal(sphere_scene(0.3, acquisition=acq, mc_shape="solid"), res).sum()
        _row(rows, "solid / Gaussian integrated signal", res, solid / ha, 1.0, "±5 %", "",
             abs(solid / ha - 1) <= 0.05,
             "a 0.3 mm sphere as its exact chord length (mc_shape='solid') against its "
             "volume-matched Gaussian")
    curves["MC signal"] = pd.DataFrame(records)


# ----------------------------------------------------------------------------- noise


def flat_field_nps(acquisition: Acquisition, resolution_um: int, n: int, seed: int
                   ) -> tuple[np.ndarray, np.ndarray, float]:
    """Radial NPS of the observed log attenuation of n flat fields through `acquisition`'s
    chain (quantisation off), and the per-pixel variance."""
    px = resolution_um / 1000.0
    m = patch_size_px(resolution_um)
    chain = Chain(dataclasses.replace(acquisition, bit_depth=None, output="presentation",
                                      scatter_to_primary=None, heel_gradient=None), px)
    thickness, a_ref = 50.0, 50.0 * (chain.mu_fat + 0.5 * chain.mu_gf)
    rng = np.random.default_rng([seed, 2])
    out = np.empty((n, m, m))
    for i in range(n):
        key = _key(rng)
        v = chain.render(np.full((m, m), a_ref, dtype=np.float32), a_ref, thickness, key)
        out[i] = v * chain.window
    f, p = radial_power(out, px)
    return f, p, float(out.var(axis=(1, 2)).mean())


def _noise_checks(config: SceneConfig, n: int, seed: int, resolutions: tuple[int, ...],
                  rows: list[dict[str, Any]], curves: dict[str, pd.DataFrame]) -> None:
    base = config.acquisition or Acquisition()
    records = []
    for res in resolutions:
        px = res / 1000.0
        dose = base.dose or 1e6
        low = dataclasses.replace(base, dose=dose, electronic_noise=0.0)
        high = dataclasses.replace(low, dose=4 * dose)
        _, _, v1 = flat_field_nps(low, res, n, seed)
        _, _, v4 = flat_field_nps(high, res, n, seed + 1)
        _row(rows, "NPS ∝ 1/dose", res, v1 / v4, 4.0, "±5 %", "", abs(v1 / v4 / 4 - 1) <= 0.05,
             "per-pixel variance of the log signal of flat fields at the dose and at 4× it, "
             "no electronic noise")
        for kind in ("direct", "indirect"):
            blur = base.blur_sigma_um or 41.0
            acq = dataclasses.replace(low, detector=kind, blur_sigma_um=max(blur, 1.5 * res))
            f, p, _ = flat_field_nps(acq, res, n, seed + 2)
            nyq = 0.5 / px
            lowf = (f > 0.05 * nyq) & (f < 0.15 * nyq)
            hif = (f > 0.55 * nyq) & (f < 0.7 * nyq)
            measured = p[hif].mean() / p[lowf].mean()
            if kind == "direct":
                expected = 1.0
            else:
                k = psf_kernel(acq.blur_sigma_um / 1000.0 / px)  # type: ignore[operator]
                fk = np.fft.rfftfreq(4096, d=px)
                h = np.abs(np.fft.rfft(k, 4096)) ** 2
                expected = float(np.interp(f[hif], fk, h).mean() / np.interp(f[lowf], fk, h).mean())
            _row(rows, f"NPS high/low frequency, {kind}", res, measured, expected, "±15 %", "",
                 abs(measured / expected - 1) <= 0.15,
                 f"flat fields, PSF σ {acq.blur_sigma_um:g} µm: radial NPS at 55–70 % over "
                 "5–15 % of Nyquist (white for a direct converter, |MTF|² for an indirect one; "
                 "the radial average mixes axes, hence the wider tolerance)")
            records.append(pd.DataFrame({"resolution_um": res, "detector": kind, "f": f,
                                         "nps": p}))
    curves["NPS"] = pd.concat(records, ignore_index=True)


# ----------------------------------------------------------------------------- arrangements


def _arrangement_checks(config: SceneConfig, n: int, seed: int, rows: list[dict[str, Any]],
                        curves: dict[str, pd.DataFrame]) -> None:
    m = 50 * n
    positive = config.replace(positive_fraction=1.0)
    scenes = sample_scenes(positive, [np.random.default_rng([seed, 3, i]) for i in range(m)])
    counts = np.array([len(s.calcifications) for s in scenes])
    values, probs = count_probabilities(positive)
    spacing = config.mc_min_spacing_mm
    full = counts  # scenes that kept every MC are the ones the distribution describes
    if spacing is not None:
        wanted = sample_scenes(positive.replace(mc_min_spacing_mm=None),
                               [np.random.default_rng([seed, 3, i]) for i in range(m)])
        full = np.array([len(s.calcifications) for s in wanted])
    observed = np.array([(full == v).sum() for v in values], dtype=float)
    expected = probs * m
    # pool the tail so every expected count is at least 5
    obs, exp = _pool(observed, expected)
    chi2 = stats.chisquare(obs, exp)
    _row(rows, "MC count distribution (χ² p-value)", 0, chi2.pvalue, 0.01, "p > 0.01", "",
         chi2.pvalue > 0.01,
         f"χ² goodness of fit of {m} positive scenes' drawn counts to the configured "
         f"{config.mc_count_distribution} distribution ({len(obs)} pooled bins)")
    _row(rows, "mean MC count", 0, full.mean(), float((values * probs).sum()), "±5 %", "",
         abs(full.mean() / (values * probs).sum() - 1) <= 0.05,
         "mean drawn count of those scenes against the distribution's mean")
    if spacing is not None:
        nearest = min((_min_distance(s) for s in scenes if len(s.calcifications) > 1),
                      default=np.inf)
        _row(rows, "least MC centre distance", 0, nearest, spacing, ">= spacing", "mm",
             nearest >= spacing - 1e-9,
             f"smallest distance between two MC centres of one scene over {m} scenes")
        _row(rows, "scenes keeping all their MCs", 0, float((counts == full).mean()), 0.95,
             ">= 95 %", "", float((counts == full).mean()) >= 0.95,
             "share of scenes whose arrangement had room for every MC at that spacing")
    curves["MC counts"] = pd.DataFrame({"count": values, "expected": probs,
                                        "observed": observed / m})


def _pool(observed: np.ndarray, expected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    obs, exp, acc_o, acc_e = [], [], 0.0, 0.0
    for o, e in zip(observed, expected, strict=True):
        acc_o += o
        acc_e += e
        if acc_e >= 5:
            obs.append(acc_o)
            exp.append(acc_e)
            acc_o = acc_e = 0.0
    if acc_e > 0 and exp:
        obs[-1] += acc_o
        exp[-1] += acc_e
    o, e = np.array(obs), np.array(exp)
    return o, e * o.sum() / e.sum()


def _min_distance(scene: Scene) -> float:
    xy = np.array([(mc.x_mm, mc.y_mm) for mc in scene.calcifications])
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    d[np.diag_indices(len(xy))] = np.inf
    return float(d.min())


# ----------------------------------------------------------------------------- writing


def write_validation(report: ValidationReport, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write ``validation.md``, ``validation.csv`` and one PNG figure per family of checks.

    Returns
    -------
    list of Path — the files written (each atomically)

    Examples
    --------
    >>> import tempfile
    >>> import synth
    >>> report = synth.validate(n=16, resolutions_um=(100,))
    >>> paths = synth.write_validation(report, tempfile.mkdtemp())
    >>> [p.name for p in paths]
    ['validation.md', 'validation.csv', 'texture_power.png', 'mc_signal.png', 'nps.png',
     'mc_counts.png']
    >>> paths[0].read_text().splitlines()[2]
    '17 of 17 checks passed.'
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    md = ("# Physics validation\n\n" + report.to_markdown() + "\nFigures: "
          + ", ".join(f"`{_fig_name(k)}`" for k in report.curves) + "\n\nConfig:\n\n```json\n"
          + report.config.to_json() + "\n```\n")
    for name, data in (("validation.md", md.encode()),
                       ("validation.csv", report.table.to_csv(index=False).encode())):
        write_atomic(out / name, data)
        written.append(out / name)
    for key, frame in report.curves.items():
        fig, ax = plt.subplots(figsize=(5.5, 4))
        _plot(ax, key, frame)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        plt.close(fig)
        write_atomic(out / _fig_name(key), buf.getvalue())
        written.append(out / _fig_name(key))
    return written


def _fig_name(key: str) -> str:
    return key.lower().replace(" ", "_") + ".png"


def _plot(ax: Any, key: str, frame: pd.DataFrame) -> None:
    if key == "texture power":
        for res, part in frame.groupby("resolution_um"):
            ax.loglog(part["f"][1:], part["power"][1:], label=f"{res} µm")
        ax.set_xlabel("cycles/mm")
        ax.set_ylabel("power")
    elif key == "MC signal":
        for res, part in frame.groupby("resolution_um"):
            ax.loglog(part["size_mm"], part["integrated"], "o-", label=f"{res} µm")
        d = np.array(sorted(set(frame["size_mm"])))
        ref = frame["integrated"].iloc[-1] * (d / d[-1]) ** 3
        ax.loglog(d, ref, "k--", label="∝ d³")
        ax.set_xlabel("sphere diameter (mm)")
        ax.set_ylabel("integrated log signal (mm²)")
    elif key == "NPS":
        for (res, kind), part in frame.groupby(["resolution_um", "detector"]):
            ax.semilogy(part["f"][1:], part["nps"][1:], label=f"{kind}, {res} µm")
        ax.set_xlabel("cycles/mm")
        ax.set_ylabel("NPS")
    else:
        ax.bar(frame["count"], frame["observed"], alpha=0.6, label="drawn")
        ax.plot(frame["count"], frame["expected"], "k.-", label="configured")
        ax.set_xlabel("MCs per positive scene")
        ax.set_ylabel("share")
    ax.set_title(key)
    ax.legend(fontsize=7)
