"""X-ray attenuation of the simulated materials, and mammography beam presets. Pure NumPy.

The table ``synth/data/attenuation.csv`` holds the mass attenuation coefficient μ/ρ (cm²/g, total
with coherent scattering) of each material at every integer energy from 15 to 40 keV, built from
the NIST elemental tables of Hubbell & Seltzer (NISTIR 5632) by the mixture rule; its ``#`` header
gives the source, compositions, densities and method. Between rows, μ/ρ is interpolated linearly
in log μ/ρ against log E (no absorption edge of these elements lies in 15–40 keV).

Materials: the two microcalcification minerals, hydroxyapatite (type II) and calcium oxalate as
whewellite (type I); the two breast tissues of Hammerstein et al. (1979), adipose and glandular;
and aluminium, for half-value layers.

A beam preset is summed up by its first half-value layer (HVL); its effective energy is the
monoenergetic energy with the same HVL in aluminium, μ_Al(E) · HVL = ln 2.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

__all__ = [
    "BEAMS",
    "DENSITY_G_CM3",
    "ENERGY_RANGE_KEV",
    "MATERIALS",
    "TISSUES",
    "Beam",
    "check_energy",
    "effective_energy_kev",
    "linear_attenuation_per_mm",
    "mass_attenuation",
]

MATERIALS: tuple[str, ...] = ("hydroxyapatite", "calcium_oxalate")
"""Microcalcification minerals: type II (hydroxyapatite) and type I (calcium oxalate)."""
TISSUES: tuple[str, ...] = ("adipose", "glandular")
"""Breast tissues (Hammerstein et al. 1979 compositions)."""
_ALL: tuple[str, ...] = (*MATERIALS, *TISSUES, "aluminium")

DENSITY_G_CM3: dict[str, float] = {
    # Ca10(PO4)6(OH)2, calculated crystal density (measured 3.14-3.21; Handbook of Mineralogy)
    "hydroxyapatite": 3.16,
    # whewellite CaC2O4·H2O, measured 2.21-2.23 (Handbook of Mineralogy)
    "calcium_oxalate": 2.23,
    # Hammerstein et al., Radiology 130:485 (1979), as mammography dosimetry uses them
    "adipose": 0.93,
    "glandular": 1.04,
    # NIST XrayMassCoef Table 1
    "aluminium": 2.699,
}
"""Mass density of each material, g/cm³."""

ENERGY_RANGE_KEV: tuple[float, float] = (15.0, 40.0)
"""Photon energies the table covers, keV."""

_TABLE = "attenuation.csv"


@dataclass(frozen=True)
class Beam:
    """A mammography beam preset: anode/filter, tube voltage and first half-value layer.

    Examples
    --------
    >>> from synth._materials import BEAMS
    >>> BEAMS["Mo/Mo 28kV"].hvl_mm_al
    0.36
    """

    name: str
    anode: str
    filter: str
    kvp: float
    hvl_mm_al: float
    source: str

    def __post_init__(self) -> None:
        hvl = self.hvl_mm_al
        if isinstance(hvl, bool) or not isinstance(hvl, (int, float)) or not (
                math.isfinite(hvl) and hvl > 0):
            raise ValueError(f"`hvl_mm_al` must be a positive number of mm; got hvl_mm_al={hvl!r}.")


_EG = ("European Guidelines for Quality Assurance in Breast Cancer Screening and Diagnosis, 4th "
       "ed. (2006), Table A5.1, typical HVL measured with the compression plate in the beam")
_SPEKPY = ("typical: modelled with SpekPy 2.5.4 (W anode 12°, 1 mm Be window, {filt}, 3 mm PMMA "
           "compression plate, as the European Guidelines' HVLs include the plate); no published "
           "table value pinned")

BEAMS: dict[str, Beam] = {b.name: b for b in (
    Beam("Mo/Mo 28kV", "Mo", "Mo", 28.0, 0.36, f"{_EG}: 0.36 ± 0.02 mm Al at 28 kV"),
    Beam("Mo/Rh 29kV", "Mo", "Rh", 29.0, 0.43,
         f"{_EG}: 0.42 (28 kV) and 0.44 (31 kV) ± 0.02 mm Al, interpolated to 29 kV"),
    Beam("Rh/Rh 29kV", "Rh", "Rh", 29.0, 0.45,
         f"{_EG}: 0.43 (28 kV) and 0.48 (31 kV) ± 0.02 mm Al, interpolated to 29 kV"),
    Beam("W/Rh 29kV", "W", "Rh", 29.0, 0.55,
         f"{_EG}: 0.54 (28 kV) and 0.56 (31 kV) ± 0.03 mm Al, interpolated to 29 kV"),
    Beam("W/Ag 30kV", "W", "Ag", 30.0, 0.58, _SPEKPY.format(filt="50 µm Ag")),
    Beam("W/Al 30kV", "W", "Al", 30.0, 0.54, _SPEKPY.format(filt="0.7 mm Al")),
)}
"""Beam presets by name, with their first half-value layers (mm Al) and where they come from."""


def _shown(value: Any) -> Any:
    """`value` as a plain Python scalar where it is a NumPy one, so messages read ``got x=50.``."""
    return value.item() if isinstance(value, np.generic) else value


def _check_material(material: Any) -> str:
    if not isinstance(material, str) or material not in _ALL:
        raise ValueError(f"`material` must be one of {_ALL}; got material={_shown(material)!r}.")
    return material


def check_energy(energy_kev: Any) -> float:
    """Return `energy_kev` as a float, or raise a `ValueError` naming it if it is not a number
    within the tabulated range, [15, 40] keV.

    Examples
    --------
    >>> import numpy as np
    >>> from synth._materials import check_energy
    >>> check_energy(np.int64(20))
    20.0
    >>> check_energy(50)
    Traceback (most recent call last):
    ...
    ValueError: `energy_kev` must lie within [15, 40] keV (the tabulated range); got energy_kev=50.
    """
    lo, hi = ENERGY_RANGE_KEV
    value = _shown(energy_kev)
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not (math.isfinite(value) and lo <= value <= hi)):
        raise ValueError(f"`energy_kev` must lie within [{lo:g}, {hi:g}] keV (the tabulated "
                         f"range); got energy_kev={value!r}.")
    return float(value)


def _check_beam(beam: Any) -> Beam:
    if isinstance(beam, Beam):
        return beam
    if not isinstance(beam, str) or beam not in BEAMS:
        raise ValueError(f"`beam` must be one of {tuple(BEAMS)}; got beam={_shown(beam)!r}.")
    return BEAMS[beam]


@functools.cache
def _table() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(energies in keV, {material: μ/ρ in cm²/g}) read once from the packaged CSV."""
    text = resources.files("synth").joinpath("data", _TABLE).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    header = lines[0].split(",")
    rows = np.array([[float(x) for x in line.split(",")] for line in lines[1:]])
    energy = rows[:, header.index("energy_kev")]
    table = {name: rows[:, header.index(name)] for name in _ALL}
    for values in (energy, *table.values()):
        values.setflags(write=False)
    return energy, table


def mass_attenuation(material: str, energy_kev: float) -> float:
    """Mass attenuation coefficient μ/ρ of `material` at `energy_kev`, in cm²/g (total, with
    coherent scattering; log-log interpolation between the table's 1 keV rows).

    Examples
    --------
    >>> from synth._materials import mass_attenuation
    >>> round(mass_attenuation("aluminium", 20), 3)
    3.441
    >>> round(mass_attenuation("hydroxyapatite", 17.5), 2)
    9.61
    >>> mass_attenuation("bone", 20)
    Traceback (most recent call last):
    ...
    ValueError: `material` must be one of ('hydroxyapatite', 'calcium_oxalate', 'adipose', \
'glandular', 'aluminium'); got material='bone'.
    """
    name = _check_material(material)
    energy = check_energy(energy_kev)
    energies, table = _table()
    log_mu = np.interp(math.log(energy), np.log(energies), np.log(table[name]))
    return float(math.exp(log_mu))


def linear_attenuation_per_mm(material: str, energy_kev: float) -> float:
    """Linear attenuation coefficient μ of `material` at `energy_kev`, in 1/mm
    (μ/ρ × ρ / 10, with ρ from `DENSITY_G_CM3`).

    Examples
    --------
    >>> from synth._materials import linear_attenuation_per_mm
    >>> round(linear_attenuation_per_mm("glandular", 20), 4)
    0.0788
    >>> round(linear_attenuation_per_mm("hydroxyapatite", 20), 2)
    2.07
    """
    name = _check_material(material)
    return mass_attenuation(name, energy_kev) * DENSITY_G_CM3[name] / 10.0


def effective_energy_kev(beam: str | Beam) -> float:
    """Effective energy of `beam` (a name in `BEAMS`, or a `Beam`), in keV: the monoenergetic
    energy whose aluminium half-value layer equals the beam's, μ_Al(E) · HVL = ln 2.

    Examples
    --------
    >>> from synth._materials import effective_energy_kev
    >>> round(effective_energy_kev("Mo/Mo 28kV"), 1)
    15.6
    >>> round(effective_energy_kev("W/Rh 29kV"), 1)
    18.0
    >>> effective_energy_kev("x")
    Traceback (most recent call last):
    ...
    ValueError: `beam` must be one of ('Mo/Mo 28kV', 'Mo/Rh 29kV', 'Rh/Rh 29kV', 'W/Rh 29kV', \
'W/Ag 30kV', 'W/Al 30kV'); got beam='x'.
    """
    preset = _check_beam(beam)
    energies, table = _table()
    # μ/ρ of aluminium that halves the beam in one HVL (HVL in mm → cm)
    target = math.log(2.0) / (preset.hvl_mm_al / 10.0) / DENSITY_G_CM3["aluminium"]
    mu = table["aluminium"]
    if not mu[-1] <= target <= mu[0]:
        lo, hi = ENERGY_RANGE_KEV
        raise ValueError(
            f"`hvl_mm_al` must give an effective energy within [{lo:g}, {hi:g}] keV (the "
            f"tabulated range); got hvl_mm_al={preset.hvl_mm_al!r}.")
    # μ_Al falls monotonically with E, so invert the log-log interpolation on the reversed table
    log_e = np.interp(math.log(target), np.log(mu[::-1]), np.log(energies[::-1]))
    return float(math.exp(log_e))
