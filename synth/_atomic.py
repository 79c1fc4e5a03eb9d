"""Atomic writes, in one place: files under a unique temporary name renamed into place, and
whole folders built in a hidden staging folder renamed into place at the end.

Every writer of the toolkit goes through here (datasets, mammogram sets, extraction, scans,
models and their sidecars, training outputs, tuning, experiments, reports, uploads): an
interrupted run (an error, Ctrl-C, a kill between files) leaves each destination as it was or
complete, never half-written, and two runs writing beside each other never share a temporary
name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["LOCK_NAME", "HashedAtomicFile", "check_empty_out", "folder_lock", "staging_folder",
           "write_atomic", "write_hashed"]

LOCK_NAME = ".mcc-lock"
"""The lock file a writer keeps in the folder it writes (its PID and host name)."""


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    except (OSError, OverflowError):
        return False
    return True


def _host() -> str:
    return os.uname().nodename if hasattr(os, "uname") else "localhost"


@contextlib.contextmanager
def folder_lock(folder: Path, name: str = "out_dir") -> Iterator[None]:
    """Hold `folder`'s exclusive writer lock for the block: an advisory ``flock`` on
    ``folder/.mcc-lock``, which holds this process's PID and host for the message a second
    writer gets (one line naming the holder). The kernel drops the lock when its process ends,
    however it ends (a kill -9, a crash), so a lock left by a dead run is simply free.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from synth import io
    >>> folder = Path(tempfile.mkdtemp())
    >>> with io.folder_lock(folder):
    ...     with io.folder_lock(folder):
    ...         pass
    Traceback (most recent call last):
    ...
    ValueError: `out_dir` is being written by another mcc run (PID ...); ...
    >>> (folder / ".mcc-lock").exists()  # released when the block ends
    False
    """
    try:
        import fcntl
    except ImportError:  # not POSIX (Windows): no advisory locks; one writer is the user's care
        yield
        return
    lock = folder / LOCK_NAME
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            handle = os.open(lock, os.O_CREAT | os.O_RDWR, 0o666)
            writable = True
        except PermissionError:  # another user's lock file, left by a killed run
            handle, writable = os.open(lock, os.O_RDONLY), False
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if not isinstance(exc, BlockingIOError):  # a filesystem without locks
                os.close(handle)
                raise ValueError(f"`{name}` cannot be locked for writing ({exc.strerror}); got "
                                 f"{name}={str(folder)!r}: write to a local folder.") from None
            holder: list[str] = []
            with contextlib.suppress(OSError):
                holder = os.pread(handle, 200, 0).decode(errors="replace").split()
            os.close(handle)
            who = (f"PID {holder[0]} on {holder[1]}" if len(holder) >= 2 else "another process")
            raise ValueError(
                f"`{name}` is being written by another mcc run ({who}); wait for it to "
                f"finish, or choose another folder; got {name}={str(folder)!r}.") from None
        try:  # the file we locked may have been unlinked by a writer that just finished
            same = os.fstat(handle).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(handle)
    try:
        if writable:
            os.ftruncate(handle, 0)
            os.pwrite(handle, f"{os.getpid()} {_host()}\n".encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()  # while still holding it: a waiter re-checks the inode
        os.close(handle)


def remove_stale_stages(out: Path) -> None:
    """Delete the staging folders (``.NAME.partial-PID``) that runs killed before they
    finished left beside `out`: those whose process no longer exists."""
    if not out.parent.is_dir():
        return
    for stage in out.parent.glob(f".{out.name}.partial-*"):
        tag = stage.name[len(f".{out.name}.partial-"):]
        host, _, pid = tag.rpartition("-")
        if host not in ("", _host()):  # another machine's run on shared storage: not ours
            continue
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            shutil.rmtree(stage, ignore_errors=True)


def check_empty_out(out_dir: Any, name: str = "out_dir") -> Path:
    """`out_dir` as an absolute Path if it is missing or an empty folder other than the current
    one; else a `ValueError` naming it.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from synth import io
    >>> folder = Path(tempfile.mkdtemp())
    >>> io.check_empty_out(folder / "new") == folder / "new"
    True
    >>> _ = (folder / "notes.txt").write_text("already here")
    >>> io.check_empty_out(folder, name="out")
    Traceback (most recent call last):
    ...
    ValueError: `out` must be a missing or empty folder; got out='...', a folder that is not empty.
    """
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
    ends normally and deleted when it raises, interrupts included; the staging folders of
    killed runs for the same `out` (their process gone) are deleted first.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from synth import io
    >>> parent = Path(tempfile.mkdtemp())
    >>> with io.staging_folder(parent / "result") as stage:
    ...     _ = (stage / "table.csv").write_text("a,b\\n1,2\\n")
    ...     print(stage.name.startswith(".result.partial-"), (parent / "result").exists())
    True False
    >>> sorted(p.name for p in (parent / "result").iterdir())
    ['table.csv']
    >>> try:
    ...     with io.staging_folder(parent / "failed") as stage:
    ...         _ = (stage / "half.csv").write_text("a,b\\n")
    ...         raise RuntimeError("interrupted")
    ... except RuntimeError:
    ...     pass
    >>> sorted(p.name for p in parent.iterdir())  # nothing of the failed run is left
    ['result']
    """
    stage = out.parent / f".{out.name}.partial-{_host()}-{os.getpid()}"
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_stages(out)  # what a killed run left (nothing can resume from it)
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
    """Write `data` to `path` (inside a staging folder) and return its SHA-256.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from synth import io
    >>> with io.staging_folder(Path(tempfile.mkdtemp()) / "out") as stage:
    ...     digest = io.write_hashed(stage / "sub" / "abc.txt", b"abc")
    >>> digest
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


_MODE: list[int] = []


def file_mode() -> int:
    """The mode a plain ``open(path, "w")`` gives a new file: 0o666 less the umask (read
    once per process)."""
    if not _MODE:
        mask = os.umask(0)
        os.umask(mask)
        _MODE.append(0o666 & ~mask)
    return _MODE[0]


def write_atomic(path: str | os.PathLike[str], data: bytes | Callable[[Path], object]) -> Path:
    """Write `path` atomically: to a unique temporary name beside it, then renamed into place.

    Parameters
    ----------
    path : str or path-like
        The destination; its folder is created if missing. An existing file is replaced only
        once the new content is complete.
    data : bytes or callable
        The content, or a function that writes the content to the temporary path it is given
        (for writers that want a file name, such as ``keras.Model.save`` or ``Figure.savefig``;
        the temporary name keeps the destination's suffix).

    Returns
    -------
    Path
        `path`.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> write_atomic(folder / "a.txt", b"hello").read_bytes()
    b'hello'
    >>> _ = write_atomic(folder / "b.txt", lambda tmp: tmp.write_text("written by a function"))
    >>> sorted(p.name for p in folder.iterdir())  # no temporary file is left behind
    ['a.txt', 'b.txt']
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.",
                                    suffix=f".tmp{target.suffix}")
    tmp = Path(name)
    try:
        if callable(data):
            os.close(handle)
            data(tmp)
        else:
            with os.fdopen(handle, "wb") as fh:
                fh.write(data)
        os.chmod(tmp, file_mode())  # mkstemp's 0600 would hide the file from other users
        os.replace(tmp, target)
    except OSError as exc:
        raise named(exc, target) from None
    finally:
        tmp.unlink(missing_ok=True)
    return target


def named(exc: OSError, path: Path) -> OSError:
    """`exc` with `path` as its file name when it has none (a full disk raises ENOSPC from a
    write, which names no file), so the one-line message says where."""
    if exc.filename:
        return exc
    return type(exc)(exc.errno, exc.strerror or str(exc), str(path))


class HashedAtomicFile:
    """A file written in pieces under a unique temporary name, hashed on the way, and renamed
    into place by :meth:`commit` (or removed by :meth:`discard`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        self.tmp = Path(name)
        self.fh = os.fdopen(handle, "wb")
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> None:
        try:
            self.fh.write(data)
        except OSError as exc:
            raise named(exc, self.path) from None
        self.digest.update(data)

    def commit(self) -> str:
        """Move the file into place; return its SHA-256."""
        self.fh.close()
        os.chmod(self.tmp, file_mode())
        os.replace(self.tmp, self.path)
        return self.digest.hexdigest()

    def discard(self) -> None:
        self.fh.close()
        self.tmp.unlink(missing_ok=True)
