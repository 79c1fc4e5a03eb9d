"""Long work (a probe, a scan, an export) on a thread of its own, so that it survives the
user switching page, reports its progress with a time estimate, and stops when asked.

Plain Python, without Streamlit: the pages keep a `Job` in the session and draw it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_SERVER_JOBS = 4
"""The most jobs running at once on one server, over every session (each session may run one
of each kind: a probe, a comparison, a scan, an export)."""

_running: set[Job] = set()
_lock = threading.Lock()
_log = logging.getLogger(__name__)


class Cancelled(Exception):
    """Raised inside a job's work, at its next progress report, once a stop was asked (or the
    session that started it has ended)."""


@dataclass(eq=False)
class Job:
    """One piece of long work: its progress, and its result or error once finished.

    The work calls `step` (or `stage`) between chunks; that is where a stop takes effect. A
    job whose `total` counts stages (``unit="stage"``) reports each stage as it begins; its
    estimate assumes the stages left take as long as those done.
    """

    label: str
    total: int
    done: int = 0
    note: str = ""
    unit: str = ""
    """What `done` and `total` count ("stage", "window" …), for the status line."""
    alive: Callable[[], bool] = field(default=lambda: True, repr=False)
    """False once whoever waits for the result is gone (its session ended): the job stops."""
    info: dict[str, Any] = field(default_factory=dict)
    """What the work wants the page to know besides its result (what a stop left behind)."""
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

    @property
    def stopping(self) -> bool:
        """Whether a stop was asked (or the session that started the job has ended)."""
        if not self._stop.is_set() and not self.alive():
            self._stop.set()
        return self._stop.is_set()

    def step(self, done: int, total: int | None = None, note: str = "") -> None:
        """Progress: `done` of `total` units; raises `Cancelled` once a stop was asked."""
        if self.stopping:
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
        """One line such as "sweep contrast · 2 of 4 stages done · 12 s so far, about 12 s
        left if the other stages take as long".

        Examples
        --------
        >>> from mcc_app import Job
        >>> job = Job("probe", total=4, unit="stage", started=0.0, ended=12.0)
        >>> job.step(2, note="sweep contrast")
        >>> job.status()  # doctest: +NORMALIZE_WHITESPACE
        'sweep contrast · 2 of 4 stages done · 12 s so far, about 12 s left if the other
        stages take as long'
        >>> job = Job("scan", total=100, unit="window", started=0.0, ended=10.0)
        >>> job.step(50)
        >>> job.status()
        '50 of 100 windows · 10 s so far, about 10 s left'
        """
        seconds = self.elapsed()
        left = ""
        if 0 < self.done < self.total:
            left = f", about {seconds / self.done * (self.total - self.done):.0f} s left"
            if self.unit == "stage":
                left += " if the other stages take as long"
        head = f"{self.note} · " if self.note else ""
        unit = f" {self.unit}s" if self.unit else ""
        done = " done" if self.unit == "stage" else ""
        return f"{head}{self.done} of {self.total}{unit}{done} · {seconds:.0f} s so far{left}"

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the work ends (tests and benchmarks); True if it has."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running


class Busy(ValueError):
    """The server already runs `MAX_SERVER_JOBS` jobs: this one is not started."""


def start_job(label: str, work: Callable[[Job], Any], *, total: int = 1, unit: str = "",
              alive: Callable[[], bool] | None = None) -> Job:
    """Run ``work(job)`` on a daemon thread; its return value becomes ``job.result``, what it
    raises ``job.error`` (`Cancelled` only sets ``job.cancelled``). A stop asked while the
    last step runs counts too: the job ends cancelled, its result dropped. Errors other
    than ValueError (the library's one-line refusals) are logged with their traceback.

    Raises
    ------
    Busy
        When `MAX_SERVER_JOBS` jobs already run on this server.

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
    job = Job(label, total=total, unit=unit, alive=alive or (lambda: True))
    with _lock:
        if len(_running) >= MAX_SERVER_JOBS:
            raise Busy(f"The {label} was not started: this server already runs "
                       f"{MAX_SERVER_JOBS} probes, scans or exports; try again when one ends.")
        _running.add(job)

    def target() -> None:
        try:
            result = work(job)
            if job.stopping:  # asked during the last step: nothing is kept, as promised
                raise Cancelled(label)
            job.result, job.done = result, job.total
        except Cancelled:
            job.cancelled = True
        except ValueError as exc:
            job.error = exc
        except BaseException as exc:  # the user's model may raise anything: keep it for the page
            _log.exception("%s failed", label)
            job.error = exc
        finally:
            job.ended = time.monotonic()
            with _lock:
                _running.discard(job)

    job._thread = threading.Thread(target=target, name=f"mcc-{label}", daemon=True)
    job._thread.start()
    return job
