"""Sweep values typed in the dashboard, and the `mcc probe` command that repeats a probe."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import evalkit

# The exported `mcc probe` line must sweep exactly these values: parse them as the CLI does
# (`evalkit.parse_sweep_value`).

SWEEP_SUGGESTIONS: dict[str, str] = {
    "contrast": "0.1 0.3 0.6",
    "mc_size": "0.1 0.2 0.4",
    "mc_count": "3 6 12",
    "density": "0.2 0.5 0.8",
    "beta": "2.0 2.8 3.4",
    "cluster_extent": "1 3 6",
    "orientation": "0 45 90",
    "distribution": "clustered linear segmental regional diffuse",
    "morphology": "punctate amorphous fine_pleomorphic",
    "dose": "100000 1000000 10000000",
    "blur": "0 20 60",
    "electronic_noise": "0 5 50",
    "bit_depth": "8 12 16",
}
"""The properties the Probe page offers to sweep, with values to start from."""


def parse_values(text: str) -> list[Any]:
    """Values typed as ``"0.1 0.3, 0.6"``: integers, then floats, else words.

    Raises
    ------
    ValueError
        If `text` holds no value.

    Examples
    --------
    >>> from mcc_app import parse_values
    >>> parse_values("0.1 0.3, 0.6"), parse_values("3 6 12"), parse_values("linear segmental")
    ([0.1, 0.3, 0.6], [3, 6, 12], ['linear', 'segmental'])
    >>> parse_values(" , ")
    Traceback (most recent call last):
    ...
    ValueError: the sweep needs at least one value; got none.
    """
    words = text.replace(",", " ").split()
    if not words:
        raise ValueError("the sweep needs at least one value; got none.")
    return [evalkit.parse_sweep_value(word) for word in words]


@dataclass(frozen=True, kw_only=True)
class ProbeSettings:
    """What a dashboard probe ran with; `probe_command` writes it as an `mcc probe` line."""

    model: str | None
    resolution_um: int
    sweeps: Sequence[tuple[str, Sequence[Any]]] = ()
    n: int = 200
    seed: int = 0
    n_bootstrap: int = 200
    behaviour: bool = True
    cross_resolution: bool = True
    thresholds: bool = False
    backgrounds: str | None = None
    """The folder the user's MC-free backgrounds are in, for ``--backgrounds`` (None: none)."""
    spacing_um: float | None = None
    """Their pixel spacing, for ``--spacing-um`` (None: each DICOM's own)."""


def probe_command(settings: ProbeSettings, *, scenario_file: str = "scenario.json",
                  out: str = "report") -> str:
    """The `mcc probe` command line that repeats the probe of `settings`.

    Parameters
    ----------
    settings : ProbeSettings
        ``model`` None means the bundled model of ``resolution_um``; otherwise the file name
        the user uploaded (it is run from the folder holding it). ``backgrounds``: the folder
        the user keeps their uploaded MC-free images in.
    scenario_file : str
        Where the scenario JSON downloaded beside the command is saved.
    out : str
        The report folder.

    Returns
    -------
    str
        One shell-quoted line.

    Examples
    --------
    >>> from mcc_app import ProbeSettings, probe_command
    >>> bundled = ProbeSettings(model=None, resolution_um=100, sweeps=[("contrast", [0.1, 0.3])],
    ...                         n=50)
    >>> print(probe_command(bundled))
    mcc probe --resolution 100 --scenario scenario.json --sweep contrast --values 0.1 0.3
      --n 50 --seed 0 --bootstrap 200 --no-thresholds --out report
    >>> uploaded = ProbeSettings(model="my model.keras", resolution_um=70, behaviour=False,
    ...                          cross_resolution=False, thresholds=True)
    >>> print(probe_command(uploaded, out="my report"))
    mcc probe --model 'my model.keras' --scenario scenario.json --n 200 --seed 0
      --bootstrap 200 --no-behaviour --no-cross-resolution --out 'my report'
    >>> on_mine = ProbeSettings(model=None, resolution_um=70, backgrounds="negatives",
    ...                         spacing_um=85.0)
    >>> print(probe_command(on_mine))
    mcc probe --resolution 70 --scenario scenario.json --n 200 --seed 0 --bootstrap 200
      --no-thresholds --backgrounds negatives --spacing-um 85 --out report
    """
    argv = ["mcc", "probe"]
    if settings.model is None:
        argv += ["--resolution", str(settings.resolution_um)]
    else:
        argv += ["--model", settings.model]
    argv += ["--scenario", scenario_file]
    for name, values in settings.sweeps:
        argv += ["--sweep", name, "--values", *(str(v) for v in values)]
    argv += ["--n", str(settings.n), "--seed", str(settings.seed),
             "--bootstrap", str(settings.n_bootstrap)]
    argv += [flag for flag, on in (("--no-behaviour", settings.behaviour),
                                   ("--no-cross-resolution", settings.cross_resolution),
                                   ("--no-thresholds", settings.thresholds)) if not on]
    if settings.backgrounds is not None:
        argv += ["--backgrounds", settings.backgrounds]
        if settings.spacing_um is not None:
            argv += ["--spacing-um", f"{settings.spacing_um:g}"]
    return shlex.join([*argv, "--out", out])
