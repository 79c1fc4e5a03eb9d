"""`mcc synth insert`: synthetic MCs inserted into the user's own MC-free images."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import synth

from . import _synth


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "insert", help="insert synthetic MCs into your own MC-free patches or mammograms",
        description=_synth.paragraph(
            "Read MC-free backgrounds (PNG, TIFF or DICOM; patches or whole mammograms) from "
            "--backgrounds, resample them to the model resolution, and insert the MC "
            "arrangements of the scene config into 1 cm crops inside the breast with the "
            "physics of `mcc synth` (attenuation × projected thickness, the detector's blur, "
            "the quantum noise the MC would have carried). Writes the dataset layout of "
            "`mcc synth` (class folders, patches.csv naming each patch's background and crop, "
            "calcifications.csv, manifest.json with every background's SHA-256). The "
            "backgrounds must be negatives: MCs already in them stay, unlabelled."),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--backgrounds", type=Path, required=True,
                   help="folder of MC-free images (searched recursively)")
    p.add_argument("--spacing-um", type=float,
                   help="the backgrounds' pixel spacing in µm (default: each DICOM's own; "
                        "required for PNG and TIFF)")
    p.add_argument("--resolution", type=int, choices=synth.RESOLUTIONS_UM,
                   help="the model resolution the patches are made at (default: the one "
                        "nearest the backgrounds' spacing)")
    p.add_argument("--n", type=int, required=True, help="number of patches")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--config", type=Path, help="scene config JSON (see `mcc synth --help`)")
    p.add_argument("--distribution", help=_synth.distribution_help())
    p.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    p.add_argument("--intent", choices=synth.INTENTS,
                   help="what the pixels are (default: a DICOM's PresentationIntentType, "
                        "else presentation)")
    p.add_argument("--gain",
                   help="presentation gain: pixel units (0-1) per unit of log attenuation "
                        "(default: the toolkit's presentation window), or 'estimate' (from "
                        "the backgrounds' noise; see synth.load_backgrounds)")
    p.add_argument("--noise-correlation-um", type=float, metavar="SIGMA",
                   help="σ in µm of the Gaussian that correlates the backgrounds' noise, when "
                        "known (a CsI detector's PSF, about 40-60 µm; default 0: white, as an "
                        "a-Se detector's): corrects the noise estimate and correlates the "
                        "extra noise the same way")
    p.add_argument("--region", choices=synth.REGIONS, default="breast",
                   help="where crops lie: inside the breast (default), its dense or fatty "
                        "half, or anywhere")
    _synth.add_writer_options(p, "config, seed or backgrounds")
    p.set_defaults(run=run_insert)


def run_insert(args: argparse.Namespace) -> int:
    _synth.check_writer_options(args)
    config = _synth.load_config(args.config, args.distribution)
    if args.n < 1:
        raise ValueError(f"`--n` must be an integer >= 1; got --n={args.n}.")
    if args.spacing_um is not None:
        synth.check_spacing(args.spacing_um, "--spacing-um")
    gain = args.gain
    if gain is not None and gain != "estimate":
        try:
            gain = float(gain)
        except ValueError:
            gain = float("nan")
        if not gain > 0 or gain == float("inf"):
            raise ValueError(f"`--gain` must be a number > 0 or 'estimate'; got "
                             f"--gain={args.gain}.")
    start = time.perf_counter()
    if args.noise_correlation_um is not None and not 0 <= args.noise_correlation_um <= 1000:
        raise ValueError(f"`--noise-correlation-um` must be a σ from 0 to 1000 µm; got "
                         f"--noise-correlation-um {args.noise_correlation_um:g}.")
    backgrounds = synth.load_backgrounds(
        args.backgrounds, resolution_um=args.resolution, spacing_um=args.spacing_um,
        intent=args.intent, gain=gain, region=args.region, field="--backgrounds",
        noise_correlation_um=args.noise_correlation_um)
    res = backgrounds.resolution_um
    with _synth.enter_cluster(args) as client, \
            _synth._progress(args.n, f"insert {res} µm", disabled=args.no_progress) as bar:
        manifest = synth.write_dataset(
            config, args.out, args.n, resolution_um=res, seed=args.seed,
            workers=args.workers, bit_depth=args.bit_depth, masks=args.masks,
            overwrite=args.overwrite, progress=bar, backgrounds=backgrounds,
            dataset_format=args.format, shard_size=args.shard_size, client=client,
            storage=args.storage,
            message=_synth.say)
    counts = manifest["counts"]
    print(f"{args.out}: {args.n} patches at {res} µm inserted into {len(backgrounds)} "
          f"background(s) ({counts['class_1']} with a cluster, {counts['class_0']} without; "
          f"gain {backgrounds.gain:.4g}, {backgrounds.gain_source}) in "
          f"{time.perf_counter() - start:.1f} s")
    return 0
