"""Entry point: one subcommand per module, one-line errors, non-zero exit on bad input."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from . import _app, _experiment, _extract, _probe, _report, _scan, _study, _synth, _train, _tune


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a refusal is one line (no usage block before it), as every other
    refusal of `mcc` is; ``--help`` still shows the usage. Sub-commands inherit it."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} "
                     "--help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="mcc",
        description="Microcalcification-cluster toolkit: synthetic data, models, robustness.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    _synth.add_parser(commands)
    _probe.add_parser(commands)
    _report.add_parser(commands)
    _train.add_parser(commands)
    _tune.add_parser(commands)
    _experiment.add_parser(commands)
    _study.add_parser(commands)
    _scan.add_parser(commands)
    _extract.add_parser(commands)
    _app.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `mcc`; returns the exit code (0 ok, 1 a check failed, 2 bad input, 130 interrupted).

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after ``mcc``; default ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit code. Errors are one line on stderr (``mcc synth: error: ...``); ``--help``
        and argparse's own usage errors raise `SystemExit`, as argparse does.

    Examples
    --------
    A tiny dataset written and checked, as ``mcc synth`` and ``mcc synth verify`` would:

    >>> import os
    >>> import tempfile
    >>> from mcc_cli import main
    >>> out = os.path.join(tempfile.mkdtemp(), "patches")
    >>> main(["synth", "--n", "4", "--resolution", "100", "--out", out, "--no-progress"])
    /...patches: 4 patches at 100 µm (1 with a cluster, 3 without) in ... s
    0
    >>> sorted(os.listdir(out))
    ['calcifications.csv', 'class_0', 'class_1', 'manifest.json', 'patches.csv']
    >>> main(["synth", "verify", out])
    /...patches: OK, 6 files match the manifest.
    0

    Bad input is exit code 2 (the one-line reason goes to stderr), help a `SystemExit`:

    >>> main(["synth", "--n", "0", "--out", out + "-2"])
    2
    >>> import contextlib
    >>> import io
    >>> screen = io.StringIO()
    >>> with contextlib.redirect_stdout(screen):
    ...     main(["synth", "--help"])
    Traceback (most recent call last):
    ...
    SystemExit: 0
    >>> screen.getvalue().startswith("usage: mcc synth")
    True
    """
    # TensorFlow's C++ log lines (a failed CUDA probe, oneDNN notes) would stand before the one
    # line a command prints; a library user keeps TensorFlow's own default.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _check_extra(getattr(args, "needs", None))
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print(f"mcc {args.command}: interrupted; run the same command again to resume.",
              file=sys.stderr)
        return 130
    except ModuleNotFoundError as exc:
        print(f"mcc {args.command}: {_one_line(_missing_extra(exc))}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, OSError) as exc:
        print(f"mcc {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2


def _check_extra(extra: str | None) -> None:
    """A subcommand that needs an optional extra refuses to start without it."""
    if extra is None:
        return
    import evalkit

    evalkit.check_extra(extra)


def _missing_extra(exc: ModuleNotFoundError) -> BaseException:
    """An optional module found missing during the work: name the extra that provides it."""
    import evalkit

    if isinstance(exc, evalkit.MissingExtraError):
        return exc
    root = (exc.name or "").split(".")[0]
    for extra, modules in evalkit.EXTRAS.items():
        if root in modules:
            return evalkit.MissingExtraError(extra, root)
    return exc


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    return " ".join(str(exc).split())


def entry() -> None:
    """The ``mcc`` console script: `main` on ``sys.argv[1:]``, its code as the exit status.

    Examples
    --------
    >>> import sys
    >>> from unittest import mock
    >>> from mcc_cli import entry
    >>> with mock.patch.object(sys, "argv", ["mcc", "synth", "--n", "0"]):
    ...     entry()
    Traceback (most recent call last):
    ...
    SystemExit: 2
    """
    sys.exit(main())
