"""Whole folders written atomically: into a hidden staging folder, renamed into place at the end.

Used by `write_mammograms` and by ``mcc_core.extract_dataset``: an interrupted run (an error,
Ctrl-C, a kill between files) leaves the destination missing or empty, never half-written.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def check_empty_out(out_dir: Any, name: str = "out_dir") -> Path:
    """`out_dir` as an absolute Path if it is missing or an empty folder other than the current
    one; else a `ValueError` naming it."""
    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f"`{name}` must be a str or path-like; got {type(out_dir).__name__}.")
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        what = "a file" if not out.is_dir() else "a folder that is not empty"
        raise ValueError(f"`{name}` must be a missing or empty folder; got {name}={str(out)!r}, "
                         f"{what}.")
    if out.exists() and out.resolve() == Path.cwd().resolve():
        raise ValueError(f"`{name}` must not be the current folder, which the finished output "
                         f"replaces; got {name}={str(out)!r}: name a new folder.")
    return Path(os.path.abspath(out))  # "." or "a/.." have no name: stage beside the real one


@contextlib.contextmanager
def staging_folder(out: Path) -> Iterator[Path]:
    """A fresh hidden folder next to `out`, renamed to `out` (missing or empty) when the block
    ends normally and deleted when it raises, interrupts included."""
    stage = out.parent / f".{out.name}.partial-{os.getpid()}"
    out.parent.mkdir(parents=True, exist_ok=True)
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir()
    try:
        yield stage
        os.replace(stage, out)  # POSIX rename replaces an empty folder
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)


def write_hashed(path: Path, data: bytes) -> str:
    """Write `data` to `path` (inside a staging folder) and return its SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()
