"""`mcc synth`: write synthetic patch datasets; `mcc synth verify DIR`: check one;
`mcc synth mammogram`: write full-field mammograms (`_synth_mammogram`)."""

from __future__ import annotations

import argparse
import contextlib
import stat
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import synth

from . import _synth_insert, _synth_mammogram

RESOLUTION_CHOICES = ("50", "70", "100", "all")


def config_fields_help() -> str:
    """The fields a ``--config`` JSON may set, one entry each: what it may hold, its unit and
    its help, all read from `synth.field_specs` (for an argparse epilog)."""
    lines = [paragraph("scene config fields (the JSON object of --config; `acquisition` "
                       "holds the detector fields, or is null for an ideal detector; None is "
                       "JSON null):")]
    for cls in (synth.SceneConfig, synth.Acquisition):
        for spec in synth.field_specs(cls).values():
            prefix = "acquisition." if cls is synth.Acquisition else ""
            lines.append(textwrap.fill(prefix + spec.describe(), 78, initial_indent="  ",
                                       subsequent_indent="      ", break_on_hyphens=False))
    return "\n".join(lines)


def distribution_help() -> str:
    """``--distribution``'s help: the `distribution` field's own, from `synth.field_spec`."""
    spec = synth.field_spec("distribution")
    return (f"set `distribution` to one of {', '.join(spec.options)} (overrides --config). "
            f"{spec.help}")


def paragraph(text: str) -> str:
    """`text` wrapped for a help screen that keeps the epilog's line breaks."""
    return textwrap.fill(text, 78)


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "synth",
        help="generate a synthetic patch dataset (or `mcc synth verify DIR`, "
             "`mcc synth mammogram`)",
        description=paragraph(
            "Generate synthetic 1 cm² patches with microcalcification clusters and write them "
            "as class_0/ class_1/ PNG folders with patches.csv, calcifications.csv and "
            "manifest.json. `mcc synth verify DIR` checks a written dataset against its manifest; "
            "`mcc synth mammogram` writes full-field mammograms with MCC boxes; `mcc synth "
            "insert` puts synthetic MCs into your own MC-free images."
        ),
        epilog=config_fields_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--resolution", choices=RESOLUTION_CHOICES, default="70",
                   help="pixel spacing in µm; 'all' writes DIR/50um, DIR/70um and DIR/100um "
                        "from the same scenes (default 70)")
    p.add_argument("--n", type=int, help="number of patches (per resolution)")
    p.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    p.add_argument("--out", type=Path, help="output folder")
    p.add_argument("--config", type=Path,
                   help="scene config JSON (SceneConfig.to_json; its fields are listed below)")
    p.add_argument("--distribution", help=distribution_help())
    add_writer_options(p, "config or seed")
    sub = p.add_subparsers(dest="action", metavar="{verify,validate,mammogram,insert}")
    v = sub.add_parser("verify", help="check a dataset folder against its manifest")
    v.add_argument("dir", type=Path)
    v.set_defaults(run=run_verify)
    val = sub.add_parser(
        "validate", help="measure the generator's physics and check it against theory",
        description=paragraph(
            "Measure, on data generated from the scene config, the texture's β and edge "
            "correlation, the MTF, the MC signal against size, material and tissue, the NPS "
            "against dose and frequency, and the MC count and spacing statistics; write "
            "validation.md, validation.csv and figures to --out. Exit 1 if a check fails."))
    val.add_argument("--out", type=Path, required=True, help="output folder")
    val.add_argument("--config", type=Path, help="scene config JSON (default SceneConfig())")
    val.add_argument("--n", type=int, default=64,
                     help="patches per spectral estimate (default 64)")
    val.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    val.set_defaults(run=run_validate)
    _synth_mammogram.add_parser(sub)
    _synth_insert.add_parser(sub)
    p.set_defaults(run=run_synth)


def add_writer_options(p: argparse.ArgumentParser, what: str) -> None:
    """The options every patch-dataset writer shares (`mcc synth`, `mcc synth insert`)."""
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--bit-depth", type=int, choices=(8, 16), default=8, help="PNG bit depth")
    p.add_argument("--masks", action="store_true", help="also write MC masks to masks/")
    p.add_argument("--overwrite", action="store_true",
                   help=f"replace a dataset of another {what} in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--format", choices=synth.io.DATASET_FORMATS, default="png",
                   help="png: class_0/ class_1/ PNG folders; shards: WebDataset-style tar "
                        f"shards of {synth.io.SHARD} patches with an index (default png)")
    p.add_argument("--shard-size", type=int, default=synth.io.SHARD, metavar="N",
                   help="patches per shard with --format shards (a multiple of 256; default "
                        "%(default)s)")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="run on a Dask cluster: a scheduler address (tcp://host:8786) or "
                        "local:K for K local worker processes (needs the 'dask' extra)")
    p.add_argument("--dask-timeout", type=float, default=synth.cluster.CONNECT_TIMEOUT_S,
                   metavar="S", help="seconds to wait for the scheduler (default %(default)g)")
    p.add_argument("--storage", choices=synth.io.STORAGE, default="auto",
                   help="with --dask: the workers write into --out (shared), return the files "
                        "for this process to write (client), or probe which (auto, default)")


def check_writer_options(args: argparse.Namespace) -> None:
    """Refuse option combinations of `add_writer_options` in one line, before any work."""
    if args.format != "shards" and args.shard_size != synth.io.SHARD:
        raise ValueError("`--shard-size` is for --format shards; got --shard-size with "
                         f"--format {args.format}.")
    if args.format == "shards" and not (256 <= args.shard_size <= 65536
                                        and args.shard_size % 256 == 0):
        raise ValueError("`--shard-size` must be a multiple of 256 from 256 to 65536 "
                         f"patches; got --shard-size {args.shard_size}.")
    if args.dask is None:
        if args.storage != "auto":
            raise ValueError("`--storage` is for --dask runs; got --storage without --dask.")
        return
    check_dask_options(args)
    if args.workers != 1:
        raise ValueError("`--workers` sets local processes; with --dask the cluster's "
                         f"workers do the work; got --workers {args.workers} with --dask.")


def check_dask_options(args: argparse.Namespace) -> None:
    """``--dask ADDRESS`` and ``--dask-timeout S`` checked in one line, before any work."""
    if args.dask is None:
        return
    try:
        synth.cluster.check_address(args.dask)
    except ValueError as exc:
        raise ValueError(_flag(exc)) from None
    if not 0 < args.dask_timeout <= 3600:
        raise ValueError(f"`--dask-timeout` must be 0 to 3600 s; got {args.dask_timeout:g}.")


def _flag(exc: Exception) -> str:
    """A `synth.cluster` message in the CLI's words (``--dask``, not the argument)."""
    return str(exc).replace("`dask`", "`--dask`").replace("got dask=", "got --dask ")


def say(line: str) -> None:
    """A note of a run's set-up, on stderr (stdout keeps the results)."""
    print(line, file=sys.stderr)


def read_config_text(path: Path) -> str:
    """The text of a scene-config file: a regular UTF-8 file of a bounded size, or one line
    naming what is wrong (a device such as /dev/zero would be read forever)."""
    try:
        info = path.stat()
    except OSError as exc:
        raise ValueError(f"cannot read the scene config {str(path)!r}: {exc.strerror}.") from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"the scene config {str(path)!r} is not a regular file.")
    limit = synth.MAX_CONFIG_CHARS * 4  # UTF-8: at most 4 bytes a character
    if info.st_size > limit:
        raise ValueError(f"the scene config {str(path)!r} is {info.st_size} bytes; a scene "
                         f"config is at most {synth.MAX_CONFIG_CHARS} characters.")
    try:
        return path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read the scene config {str(path)!r}: {exc.strerror}.") from None
    except UnicodeDecodeError:
        raise ValueError(f"the scene config {str(path)!r} is not UTF-8 text (a binary or "
                         "UTF-16 file?).") from None


def load_config(path: Path | None, distribution: str | None) -> synth.SceneConfig:
    config = synth.SceneConfig()
    if path is not None:
        text = read_config_text(path)
        try:
            config = synth.SceneConfig.from_json(text)
        except ValueError as exc:  # name the file
            raise ValueError(f"the scene config {str(path)!r}: {exc}") from None
    if distribution is not None:
        config = config.replace(distribution=distribution)
    return config


def run_synth(args: argparse.Namespace) -> int:
    if args.n is None or args.out is None:
        raise ValueError("`--n` and `--out` are required (or use `mcc synth verify DIR`).")
    check_writer_options(args)
    config = load_config(args.config, args.distribution)
    resolutions = synth.RESOLUTIONS_UM if args.resolution == "all" else (int(args.resolution),)
    if args.resolution == "all" and args.out.is_dir():
        mine = {f"{res}um" for res in resolutions}
        other = sorted(p.name for p in args.out.iterdir() if p.name not in mine)
        if other:
            raise ValueError(f"`--out` of --resolution all must hold only "
                             f"{', '.join(sorted(mine))}; got {str(args.out)!r}, which holds "
                             f"{', '.join(other[:3])}{' …' if len(other) > 3 else ''}.")
    with enter_cluster(args) as client:
        for res in resolutions:
            out = args.out / f"{res}um" if args.resolution == "all" else args.out
            start = time.perf_counter()
            with _progress(args.n, f"{res} µm", disabled=args.no_progress) as bar:
                manifest = synth.write_dataset(
                    config, out, args.n, resolution_um=res, seed=args.seed,
                    workers=args.workers, bit_depth=args.bit_depth, masks=args.masks,
                    overwrite=args.overwrite, progress=bar, dataset_format=args.format,
                    shard_size=args.shard_size, client=client, storage=args.storage, message=say)
            counts = manifest["counts"]
            print(f"{out}: {args.n} patches at {res} µm ({counts['class_1']} with a cluster, "
                  f"{counts['class_0']} without) in {time.perf_counter() - start:.1f} s")
    return 0


@contextlib.contextmanager
def enter_cluster(args: argparse.Namespace) -> Iterator[Any]:
    """The Dask client of ``--dask`` for the block (None without it); a malformed or
    unreachable address is one line naming ``--dask``, before any work."""
    if args.dask is None:
        yield None
        return
    stack = contextlib.ExitStack()
    try:
        client = stack.enter_context(synth.cluster.connect(args.dask,
                                                           timeout_s=args.dask_timeout))
    except ValueError as exc:
        raise ValueError(_flag(exc)) from None
    with stack:
        yield client


def run_validate(args: argparse.Namespace) -> int:
    config = load_config(args.config, None)
    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"`--out` must be a folder; got the file {str(args.out)!r}.")
    report = synth.validate(config, n=args.n, seed=args.seed)
    synth.write_validation(report, args.out)
    ok = int(report.table["passed"].sum())
    print(f"{args.out}: {ok} of {len(report.table)} physics checks passed "
          f"(validation.md, validation.csv)")
    for row in report.table[~report.table["passed"]].itertuples(index=False):
        print(f"FAILED {row.check} at {row.resolution_um} µm: measured {row.measured:.4g}, "
              f"expected {row.expected:.4g} ({row.tolerance})")
    return 0 if report.passed else 1


def run_verify(args: argparse.Namespace) -> int:
    report = synth.verify_dataset(args.dir)
    print(report.summary())
    return 0 if report.ok else 1


class _progress:
    """A tqdm bar driven by `write_dataset`'s cumulative progress callback."""

    def __init__(self, total: int, label: str, *, disabled: bool, unit: str = "patch") -> None:
        self._args = {"total": total, "desc": label, "unit": unit, "disable": disabled}
        self._bar: Any = None  # opened on the first report, after the inputs were accepted

    def __enter__(self) -> _progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()

    def __call__(self, done: int) -> None:
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(**self._args)
        self._bar.update(done - self._bar.n)
