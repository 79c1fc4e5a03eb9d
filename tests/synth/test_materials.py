import math
import subprocess
import sys

import numpy as np
import pytest

from synth._materials import (
    BEAMS,
    DENSITY_G_CM3,
    ENERGY_RANGE_KEV,
    MATERIALS,
    TISSUES,
    Beam,
    _table,
    check_energy,
    effective_energy_kev,
    linear_attenuation_per_mm,
    mass_attenuation,
)

ENERGIES = np.arange(15, 41)
ALL = (*MATERIALS, *TISSUES, "aluminium")

# NIST XrayMassCoef (Hubbell & Seltzer, NISTIR 5632) μ/ρ in cm²/g: aluminium (Table 3, z13) and
# "Adipose Tissue (ICRU-44)" / "Breast Tissue (ICRU-44)" (Table 4). Our adipose is Hammerstein's
# (less O, more C than ICRU-44: 3 % lower μ/ρ at 20 keV, 2 % at 30 keV), so it is held to 5 %.
NIST = {("aluminium", 15): 7.955, ("aluminium", 20): 3.441, ("aluminium", 30): 1.128,
        ("aluminium", 40): 0.5685}
NIST_ICRU44_ADIPOSE = {20: 0.5677, 30: 0.3063}
NIST_ICRU44_BREAST = {20: 0.6889, 30: 0.3403}


def test_table_covers_every_integer_energy_and_material():
    energy, table = _table()
    np.testing.assert_array_equal(energy, ENERGIES)
    assert set(table) == set(ALL) == set(DENSITY_G_CM3)
    assert ENERGY_RANGE_KEV == (15.0, 40.0)


def test_the_table_is_read_once_and_read_only():
    assert _table() is _table()
    with pytest.raises(ValueError):
        _table()[1]["aluminium"][0] = 1.0


@pytest.mark.parametrize(("key", "nist"), NIST.items())
def test_aluminium_matches_nist(key, nist):
    assert mass_attenuation(*key) == pytest.approx(nist, rel=0.02)


@pytest.mark.parametrize("energy", [20, 30])
def test_tissues_sit_where_nist_puts_breast_tissues(energy):
    # Hammerstein adipose ≈ ICRU-44 adipose; ICRU-44 "breast" is a fat/gland mixture, so it lies
    # between Hammerstein's adipose and glandular tissue.
    adipose = mass_attenuation("adipose", energy)
    assert adipose == pytest.approx(NIST_ICRU44_ADIPOSE[energy], rel=0.05)
    assert adipose < NIST_ICRU44_BREAST[energy] < mass_attenuation("glandular", energy)


@pytest.mark.parametrize(("material", "energy", "expected"), [
    ("adipose", 20, 0.5493), ("adipose", 30, 0.3007),
    ("glandular", 20, 0.7580), ("glandular", 30, 0.3598),
    ("hydroxyapatite", 20, 6.559), ("calcium_oxalate", 20, 4.134),
])
def test_pinned_values(material, energy, expected):
    assert mass_attenuation(material, energy) == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("energy", ENERGIES)
def test_calcifications_outattenuate_gland_which_outattenuates_fat(energy):
    mu = [linear_attenuation_per_mm(m, energy)
          for m in ("hydroxyapatite", "calcium_oxalate", "glandular", "adipose")]
    assert mu == sorted(mu, reverse=True) and len(set(mu)) == 4
    rho = [mass_attenuation(m, energy)
           for m in ("hydroxyapatite", "calcium_oxalate", "glandular", "adipose")]
    assert rho == sorted(rho, reverse=True)


@pytest.mark.parametrize("material", ALL)
def test_attenuation_falls_with_energy(material):
    # no absorption edge of H, C, N, O, P, S, Ca or Al lies within 15-40 keV
    fine = np.linspace(15, 40, 251)
    mu = np.array([mass_attenuation(material, e) for e in fine])
    assert np.all(np.diff(mu) < 0)


@pytest.mark.parametrize("material", ALL)
def test_linear_is_mass_times_density(material):
    assert linear_attenuation_per_mm(material, 25) == pytest.approx(
        mass_attenuation(material, 25) * DENSITY_G_CM3[material] / 10)


def test_interpolation_is_log_log_between_rows():
    energy, table = _table()
    lo, hi = table["hydroxyapatite"][2], table["hydroxyapatite"][3]  # 17 and 18 keV
    for e in (17.0, 17.25, 17.5, 17.9, 18.0):
        t = (math.log(e) - math.log(17)) / (math.log(18) - math.log(17))
        expected = math.exp((1 - t) * math.log(lo) + t * math.log(hi))
        assert mass_attenuation("hydroxyapatite", e) == pytest.approx(expected, rel=1e-12)
    # a power law between the rows, so the value at the geometric mean energy is the geometric
    # mean of the rows
    assert mass_attenuation("aluminium", math.sqrt(20 * 21)) == pytest.approx(
        math.sqrt(table["aluminium"][5] * table["aluminium"][6]), rel=1e-12)


def test_the_range_ends_are_tabulated_values():
    _, table = _table()
    assert mass_attenuation("aluminium", 15) == pytest.approx(table["aluminium"][0], rel=1e-12)
    assert mass_attenuation("aluminium", 40.0) == pytest.approx(table["aluminium"][-1], rel=1e-12)


@pytest.mark.parametrize("name", BEAMS)
def test_effective_energy_round_trips_the_half_value_layer(name):
    beam = BEAMS[name]
    energy = effective_energy_kev(name)
    mu_al = linear_attenuation_per_mm("aluminium", energy)
    assert math.exp(-mu_al * beam.hvl_mm_al) == pytest.approx(0.5, rel=1e-9)
    assert effective_energy_kev(beam) == energy
    assert 15 < energy < 20


def test_effective_energies_are_plausible():
    assert 15 <= effective_energy_kev("Mo/Mo 28kV") <= 18
    assert effective_energy_kev("W/Rh 29kV") > effective_energy_kev("Mo/Rh 29kV") > (
        effective_energy_kev("Mo/Mo 28kV"))
    assert effective_energy_kev("W/Ag 30kV") > effective_energy_kev("W/Rh 29kV")


def test_a_harder_custom_beam_has_a_higher_effective_energy():
    soft = Beam("soft", "Mo", "Mo", 25, 0.33, "test")
    hard = Beam("hard", "W", "Al", 35, 0.70, "test")
    assert effective_energy_kev(soft) < effective_energy_kev(hard)


def test_beam_presets_are_complete_and_frozen():
    assert {"Mo/Mo 28kV", "Mo/Rh 29kV", "Rh/Rh 29kV", "W/Rh 29kV", "W/Ag 30kV",
            "W/Al 30kV"} <= set(BEAMS)
    for name, beam in BEAMS.items():
        assert beam.name == name
        assert name.startswith(f"{beam.anode}/{beam.filter} ")
        assert name.endswith(f"{beam.kvp:g}kV")
        assert 0.25 <= beam.hvl_mm_al <= 0.7 and beam.source
    with pytest.raises(AttributeError):
        BEAMS["Mo/Mo 28kV"].hvl_mm_al = 0.4  # type: ignore[misc]


@pytest.mark.parametrize("material", ["bone", "Adipose", None, 3])
def test_unknown_materials_are_refused_by_name(material):
    with pytest.raises(ValueError, match=r"^`material` must be one of \('hydroxyapatite', "
                                         r"'calcium_oxalate', 'adipose', 'glandular', "
                                         r"'aluminium'\); got material="):
        mass_attenuation(material, 20)
    with pytest.raises(ValueError, match="`material`"):
        linear_attenuation_per_mm(material, 20)


def test_the_material_message_reads_as_documented():
    with pytest.raises(ValueError) as info:
        mass_attenuation("bone", 20)
    assert str(info.value) == (
        "`material` must be one of ('hydroxyapatite', 'calcium_oxalate', 'adipose', 'glandular', "
        "'aluminium'); got material='bone'.")


@pytest.mark.parametrize(("energy", "shown"), [
    (50, "50"), (14.99, "14.99"), (40.5, "40.5"), (np.float64(50.0), "50.0"), (True, "True"),
    ("20", "'20'"), (None, "None"), (math.nan, "nan"), (math.inf, "inf"),
])
def test_energies_outside_the_table_are_refused(energy, shown):
    message = (f"`energy_kev` must lie within [15, 40] keV (the tabulated range); "
               f"got energy_kev={shown}.")
    with pytest.raises(ValueError) as info:
        check_energy(energy)
    assert str(info.value) == message
    with pytest.raises(ValueError, match="`energy_kev`"):
        mass_attenuation("adipose", energy)


def test_check_energy_returns_floats():
    assert check_energy(15) == 15.0 and isinstance(check_energy(np.int32(40)), float)


@pytest.mark.parametrize(("beam", "shown"), [("x", "'x'"), ("mo/mo 28kV", "'mo/mo 28kV'"),
                                             (None, "None")])
def test_unknown_beams_are_refused(beam, shown):
    with pytest.raises(ValueError) as info:
        effective_energy_kev(beam)
    assert str(info.value) == f"`beam` must be one of {tuple(BEAMS)}; got beam={shown}."
    assert str(info.value).startswith("`beam` must be one of ('Mo/Mo 28kV', 'Mo/Rh 29kV', ")


@pytest.mark.parametrize("hvl", [0, -0.1, math.nan, True, "0.3"])
def test_a_beam_needs_a_positive_half_value_layer(hvl):
    with pytest.raises(ValueError, match="`hvl_mm_al` must be a positive number"):
        Beam("b", "W", "Rh", 29, hvl, "test")


@pytest.mark.parametrize("hvl", [0.1, 0.32, 5.0])
def test_a_half_value_layer_beyond_the_table_is_refused(hvl):
    with pytest.raises(ValueError, match=r"`hvl_mm_al` must give an effective energy within "
                                         r"\[15, 40\] keV"):
        effective_energy_kev(Beam("b", "W", "Rh", 29, hvl, "test"))


def test_the_module_never_imports_tensorflow():
    code = ("import sys, synth._materials as m; m.effective_energy_kev('W/Rh 29kV'); "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
