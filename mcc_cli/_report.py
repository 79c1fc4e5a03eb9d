"""`mcc report`: rebuild or merge reports from saved report.json / comparison.json files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "report",
        help="rebuild or merge saved reports, without running a model",
        description=(
            "Read the report.json (mcc probe) or comparison.json (mcc probe with several "
            "--model) of each --from folder and write one report over all of them to --out: "
            "a row per model with its clean metrics, intervals, gates and FROC CPM, every "
            "sweep's curves of every source on shared charts, the verdicts of comparisons, "
            "and merged.json holding every source unchanged."
        ),
    )
    p.add_argument("--from", dest="sources", nargs="+", type=Path, required=True,
                   metavar="DIR", help="report folders (or their JSON files)")
    p.add_argument("--out", type=Path, required=True, help="folder of the merged report")
    p.set_defaults(run=run_report)


def run_report(args: argparse.Namespace) -> int:
    import evalkit

    try:
        merged = evalkit.merge_reports(args.sources)
        page = evalkit.build_merged_report(merged, args.out)
    except ValueError as exc:  # name the options
        raise ValueError(str(exc).replace("`paths`", "`--from`")
                         .replace("`out_dir`", "`--out`")) from None
    models = merged.models()
    print(f"{page}: {len(merged.sources)} sources, {len(models)} models")
    return 0
