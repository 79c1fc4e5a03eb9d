"""Long work (a probe, a scan, an export) on a thread of its own, so that it survives the
user switching page, reports its progress with a time estimate, and stops when asked.

Plain Python, without Streamlit: the pages keep a `Job` in the session and draw it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class Cancelled(Exception):
    """Raised inside a job's work, at its next progress report, once a stop was asked."""


@dataclass(eq=False)
class Job:
    """One piece of long work: its progress, and its result or error once finished.

    The work calls `step` (or `stage`) between chunks; that is where a stop takes effect.
    """

    label: str
    total: int
    done: int = 0
    note: str = ""
    result: Any = None
    error: BaseException | None = None
    cancelled: bool = False
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    collected: bool = False
    """Set by the page once it has taken the result (so it is taken once)."""
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.ended is None

    def stop(self) -> None:
        """Ask the work to stop at its next progress report."""
        self._stop.set()

    def step(self, done: int, total: int | None = None, note: str = "") -> None:
        """Progress: `done` of `total` units; raises `Cancelled` once a stop was asked."""
        if self._stop.is_set():
            raise Cancelled(self.label)
        if total is not None:
            self.total = max(int(total), 1)
        self.done, self.note = int(done), note

    def stage(self, name: str) -> None:
        """Progress by named stages (`evalkit.run_probe`'s): one more stage begins."""
        self.step(self.done + (1 if self.note else 0), note=name)

    @property
    def fraction(self) -> float:
        return min(self.done / max(self.total, 1), 1.0)

    def elapsed(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    def status(self) -> str:
        """One line such as "sweep contrast · 2 of 4 · 12 s so far, about 12 s left".

        Examples
        --------
        >>> from mcc_app import Job
        >>> job = Job("probe", total=4, started=0.0, ended=12.0)
        >>> job.step(2, note="sweep contrast")
        >>> job.status()
        'sweep contrast · 2 of 4 · 12 s so far, about 12 s left'
        """
        seconds = self.elapsed()
        left = (f", about {seconds / self.done * (self.total - self.done):.0f} s left"
                if 0 < self.done < self.total else "")
        head = f"{self.note} · " if self.note else ""
        return f"{head}{self.done} of {self.total} · {seconds:.0f} s so far{left}"

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the work ends (tests and benchmarks); True if it has."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running


def start_job(label: str, work: Callable[[Job], Any], *, total: int = 1) -> Job:
    """Run ``work(job)`` on a daemon thread; its return value becomes ``job.result``, what it
    raises ``job.error`` (`Cancelled` only sets ``job.cancelled``).

    Examples
    --------
    >>> from mcc_app import start_job
    >>> def count(job):
    ...     for k in range(3):
    ...         job.step(k + 1, 3)
    ...     return "done"
    >>> job = start_job("count", count)
    >>> job.wait(10), job.result, job.fraction
    (True, 'done', 1.0)
    """
    job = Job(label, total=total)

    def target() -> None:
        try:
            job.result = work(job)
        except Cancelled:
            job.cancelled = True
        except BaseException as exc:  # the user's model may raise anything: keep it for the page
            job.error = exc
        finally:
            job.ended = time.monotonic()

    job._thread = threading.Thread(target=target, name=f"mcc-{label}", daemon=True)
    job._thread.start()
    return job
