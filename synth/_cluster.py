"""Running the toolkit's work on a Dask cluster (the optional `dask` extra).

No scheduler of our own: `connect` gives a `distributed.Client` — to a `LocalCluster` it starts
(``"local:K"``: K single-threaded worker processes on this machine) or to a running scheduler
(``"tcp://host:8786"``, as `dask-jobqueue`'s SLURM/PBS clusters and Kubernetes give) — and
`run_tasks` submits one task per unit of work and yields results as they finish. The work
itself is split by index, never by worker, so what a run computes does not depend on the
number of workers, on which worker ran what, nor on the order tasks finish in; a task whose
worker dies is run again elsewhere by the scheduler (`distributed.scheduler.allowed-failures`).

`storage_is_shared` tells whether every worker sees a folder of the client's (a shared file
system): datasets are then written by the workers directly, otherwise the workers return the
bytes and the client writes them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ._extras import MissingExtraError

__all__ = ["CONNECT_TIMEOUT_S", "check_address", "connect", "n_workers", "run_tasks",
           "storage_is_shared"]

CONNECT_TIMEOUT_S = 10.0
"""How long `connect` waits for a scheduler before it gives up (seconds)."""
MAX_LOCAL_WORKERS = 256
PROBE_PREFIX = ".mcc-storage-probe-"
"""Name start of the file `storage_is_shared` writes (and a rerun removes if left behind)."""


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise MissingExtraError("dask", "distributed") from exc
    return distributed


def check_address(address: object) -> tuple[str, int | str]:
    """Parse a ``--dask`` address: ``("local", K)`` for ``"local:K"``, else ``("remote",
    address)``; ValueError naming `dask` for anything else.

    Examples
    --------
    >>> from synth.cluster import check_address
    >>> check_address("local:2"), check_address("tcp://10.0.0.5:8786")
    (('local', 2), ('remote', 'tcp://10.0.0.5:8786'))
    >>> check_address("local:zero")
    Traceback (most recent call last):
    ...
    ValueError: `dask` must be 'local:K' (K worker processes, 1 to 256) or a scheduler address ...
    """
    text = address.strip() if isinstance(address, str) else None
    if text and text.startswith("local:"):
        count = text[len("local:"):]
        if count.isdigit() and 1 <= int(count) <= MAX_LOCAL_WORKERS:
            return "local", int(count)
    elif text and ":" in text and " " not in text and not text.startswith("scheduler-file"):
        return "remote", text
    raise ValueError("`dask` must be 'local:K' (K worker processes, 1 to "
                     f"{MAX_LOCAL_WORKERS}) or a scheduler address such as "
                     f"'tcp://host:8786'; got dask={address!r}.")


@contextlib.contextmanager
def connect(address: str, *, timeout_s: float = CONNECT_TIMEOUT_S) -> Iterator[Any]:
    """A `distributed.Client` for the block, closed (and a local cluster stopped) after it.

    ``"local:K"`` starts a `distributed.LocalCluster` of K worker processes with one thread
    each (the toolkit's work is single-threaded per task: K processes use K cores). Any other
    address is a running scheduler's; one that does not answer within `timeout_s` is a
    ValueError naming `dask`, raised before any work.

    Raises
    ------
    synth.MissingExtraError
        Without the `dask` extra.
    ValueError
        A malformed or unreachable address.
    """
    kind, where = check_address(address)
    distributed = _distributed()
    if kind == "local":
        import dask

        # Two defaults of distributed cost a rendering task 15-27 % here: the nanny's
        # MALLOC_TRIM_THRESHOLD_=65536 (glibc then returns every freed array to the kernel;
        # measured 477-511 against 603-657 patches/s in a plain process) and the workers'
        # statistical profiler (it samples every thread's stack every 10 ms, taking the GIL).
        with dask.config.set({"distributed.worker.profile.enabled": False,
                              "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_":
                              None}):
            cluster = distributed.LocalCluster(
                n_workers=int(where), threads_per_worker=1, processes=True,
                dashboard_address=None, silence_logs=logging.ERROR)
        try:
            with distributed.Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    try:
        client = distributed.Client(str(where), timeout=f"{timeout_s}s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ValueError(f"`dask` scheduler {where!r} did not answer within {timeout_s:g} s "
                         f"({type(exc).__name__}); start it, or use 'local:K'; "
                         f"got dask={address!r}.") from None
    try:
        yield client
    finally:
        client.close()


def n_workers(client: Any) -> int:
    """Workers the scheduler knows now."""
    return len(client.scheduler_info().get("workers", {}))


def check_client(client: object) -> Any:
    """`client` if it is a `distributed.Client`, else TypeError naming it."""
    distributed = _distributed()
    if not isinstance(client, distributed.Client):
        raise TypeError("`client` must be a distributed.Client (synth.cluster.connect); got "
                        f"{type(client).__name__}.")
    return client


STACK = ("mcc-toolkit", "numpy", "scipy", "pillow", "pandas")
"""The packages whose versions decide the bytes a task writes: a worker must run the same."""


def software_stack() -> dict[str, str]:
    """The versions of `STACK` (and zlib's, which encodes the PNGs) in this process."""
    import importlib.metadata
    import zlib

    versions = {"zlib": zlib.ZLIB_RUNTIME_VERSION}
    for name in STACK:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def stack_mismatch(mine: dict[str, str], theirs: dict[str, dict[str, str]]) -> str | None:
    """The first worker whose software stack differs from `mine`, said in words; None if all
    agree.

    Examples
    --------
    >>> from synth.cluster import stack_mismatch
    >>> stack_mismatch({"numpy": "2.1.0"}, {"tcp://a:1": {"numpy": "2.1.0"}}) is None
    True
    >>> stack_mismatch({"numpy": "2.1.0"}, {"tcp://a:1": {"numpy": "1.26.4"}})
    'worker tcp://a:1 has numpy 1.26.4, this process 2.1.0'
    """
    for worker, stack in sorted(theirs.items()):
        for name, version in mine.items():
            if stack.get(name) != version:
                return f"worker {worker} has {name} {stack.get(name)}, this process {version}"
    return None


def check_stack(client: Any) -> None:
    """Refuse (ValueError naming `dask`) a cluster whose workers run other versions of the
    packages that decide the output's bytes, before any work."""
    differs = stack_mismatch(software_stack(), client.run(software_stack))
    if differs:
        raise ValueError(f"`dask` workers must run the same software as this process, so "
                         f"the output is the bytes of a local run: {differs}; install the "
                         "same versions on the workers.")


def _sees(path: str, token: str) -> bool:
    try:
        return Path(path).read_text() == token
    except OSError:
        return False


def storage_is_shared(client: Any, folder: Path) -> bool:
    """Whether every worker reads, at the same path, a file the client has just written into
    `folder` (a shared file system), so the workers may write there directly."""
    token = secrets.token_hex(16)
    probe = folder / f"{PROBE_PREFIX}{os.getpid()}-{token[:8]}"
    probe.write_text(token)
    try:
        seen = client.run(_sees, str(probe.resolve()), token)
    finally:
        probe.unlink(missing_ok=True)
    return bool(seen) and all(seen.values())


def run_tasks(client: Any, fn: Callable[..., Any], jobs: Sequence[Any], *args: Any,
              name: str) -> Iterator[Any]:
    """``fn(job, *args)`` for every job on the cluster; yield each result as its task ends.

    `args` (large inputs shared by all jobs, such as the user's backgrounds) are sent to the
    workers once. A task whose worker dies is run again elsewhere by the scheduler (up to
    ``distributed.scheduler.allowed-failures`` times); a task's own error (a ValueError, …) is
    raised here as it is, not retried: the work is deterministic. Losing a task for good is a
    ConnectionError naming it. On an error or a Ctrl-C the remaining tasks are cancelled and
    the running ones given a minute to end, so none writes after the caller has moved on.
    """
    distributed = _distributed()
    shared = [a if a is None else client.scatter(a, broadcast=True, hash=False) for a in args]
    futures = [client.submit(fn, job, *shared, key=f"{name}-{k}-{secrets.token_hex(4)}",
                             pure=False) for k, job in enumerate(jobs)]
    lost = (distributed.KilledWorker, distributed.client.FutureCancelledError,
            distributed.comm.CommClosedError)
    try:
        for future in distributed.as_completed(futures):
            try:
                result = future.result()
            except lost as exc:
                raise ConnectionError(f"the Dask cluster lost task {future.key!r} "
                                      f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
                                      "); run the same command again to resume.") from None
            future.release()
            yield result
    finally:
        pending = [f for f in futures if not f.done()]
        if pending:
            client.cancel(pending)
            with contextlib.suppress(Exception):
                distributed.wait(pending, timeout=60)

