"""② Jobs, their states, the bounded FIFO queue, and cancel."""

from __future__ import annotations

import collections
import enum
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sidecar.errors import BusyError, DuplicateRequestError
from sidecar.osc.schema import GenerateRequest

if TYPE_CHECKING:
    from sidecar.musical.presets import Preset

__all__ = ["Job", "JobQueue", "JobState"]

#: Finished jobs kept for `/sidecar/status` queries.
_HISTORY = 1024


class JobState(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    #: Was running when the previous server process died (kill -9, power loss).
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        return self is not JobState.QUEUED and self is not JobState.RUNNING


@dataclass(eq=False)
class Job:
    """One request on its way through the worker. Its terminal state is set exactly once."""

    request: GenerateRequest
    reply_to: tuple[str, int]
    #: The preset the request named, already applied to `request` (its effects run later).
    preset: Preset | None = None
    #: A job that is not a generation (a model switch): run on the worker, in queue order.
    action: Callable[[], None] | None = None
    state: JobState = JobState.QUEUED
    progress: float = 0.0
    created: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished_at: float | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def request_id(self) -> str:
        return self.request.request_id

    @property
    def cancel_requested(self) -> bool:
        return self.cancel_event.is_set()

    def start(self) -> bool:
        """QUEUED → RUNNING; False if the job was finished (cancelled) meanwhile."""
        with self._lock:
            if self.state is not JobState.QUEUED:
                return False
            self.state = JobState.RUNNING
            self.started = time.monotonic()
            return True

    def finish(self, state: JobState) -> bool:
        """Move to a terminal state; True only for the first call, so one terminal reply."""
        if not state.finished:
            raise ValueError(f"{state} is not a terminal state")
        with self._lock:
            if self.state.finished:
                return False
            self.state = state
            self.finished_at = time.monotonic()
            return True


class JobQueue:
    """A bounded FIFO of jobs for one worker, safe to use from the event loop and the worker."""

    def __init__(self, max_size: int = 32) -> None:
        if max_size < 1:
            raise ValueError(f"max_size: {max_size}; allowed: ≥ 1")
        self.max_size = max_size
        self._queued: collections.deque[Job] = collections.deque()
        #: Started and not yet done, oldest first: at most the job being finished (post-
        #: processing, delivery) and the one the model is decoding.
        self._running: list[Job] = []
        self._known: collections.OrderedDict[str, Job] = collections.OrderedDict()
        self._cond = threading.Condition()
        self._closed = False

    def submit(self, job: Job) -> int:
        """Queue `job`, return its position (0 = next); `BusyError`, `DuplicateRequestError`."""
        with self._cond:
            rid = job.request_id
            existing = self._known.get(rid)
            if existing is not None and not existing.state.finished:
                raise DuplicateRequestError(
                    f"request_id: '{rid}' is already {existing.state.value}; use a new id"
                )
            if self._closed:
                raise BusyError("the server is shutting down; no new requests")
            if len(self._queued) >= self.max_size:
                raise BusyError(f"queue full ({self.max_size} waiting); retry when a job finishes")
            self._queued.append(job)
            self._remember(job)
            self._cond.notify()
            return len(self._queued) - 1 + (1 if self._running else 0)

    def _remember(self, job: Job) -> None:
        self._known[job.request_id] = job
        self._known.move_to_end(job.request_id)
        # The oldest finished jobs go first; unfinished ones (at most the queue and the running
        # jobs) are kept wherever they stand, so one long job cannot stop the eviction.
        excess = len(self._known) - (_HISTORY + self.max_size + 1)
        if excess > 0:
            finished = (rid for rid, known in self._known.items() if known.state.finished)
            for rid in list(itertools.islice(finished, excess)):
                del self._known[rid]

    def remember_finished(self, job: Job) -> None:
        """Make a job that never ran here (interrupted last time) answer `/sidecar/status`."""
        with self._cond:
            self._remember(job)

    def take(self, timeout_seconds: float | None = None) -> Job | None:
        """Block until a job is queued (the worker thread); None on timeout or close."""
        deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
        with self._cond:
            while True:
                while self._queued:
                    job = self._queued.popleft()
                    if job.start():
                        self._running.append(job)
                        return job
                if self._closed:
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def task_done(self, job: Job) -> None:
        with self._cond:
            if job in self._running:
                self._running.remove(job)
            self._cond.notify_all()

    def cancel(self, request_id: str) -> tuple[Job | None, bool]:
        """Cancel by id: `(job, True)` if a queued job was cancelled here (the caller answers
        it); a running job is only flagged (the worker answers); `(None, False)` if unknown."""
        with self._cond:
            job = self._known.get(request_id)
            if job is None:
                return None, False
            if job.state.finished:
                return job, False
            job.cancel_event.set()
            if job.state is JobState.QUEUED and job in self._queued:
                self._queued.remove(job)
                return job, job.finish(JobState.CANCELLED)
            return job, False

    def get(self, request_id: str) -> Job | None:
        with self._cond:
            return self._known.get(request_id)

    def position(self, job: Job) -> int:
        """0 for the running job or the next to run; -1 once finished."""
        with self._cond:
            if job.state is JobState.RUNNING:
                return 0
            try:
                return self._queued.index(job) + (1 if self._running else 0)
            except ValueError:
                return -1

    @property
    def running(self) -> Job | None:
        """The job started last (the one on the model), if any is running."""
        with self._cond:
            return self._running[-1] if self._running else None

    @property
    def running_jobs(self) -> tuple[Job, ...]:
        """Every job started and not yet done, oldest first."""
        with self._cond:
            return tuple(self._running)

    def __len__(self) -> int:
        with self._cond:
            return len(self._queued)

    def drain(self) -> list[Job]:
        """Close the queue and remove every queued job (shutdown); the caller answers them."""
        with self._cond:
            self._closed = True
            jobs = list(self._queued)
            self._queued.clear()
            self._cond.notify_all()
            return jobs

    def wait_idle(self, timeout_seconds: float) -> bool:
        """Wait until no job is running; False on timeout."""
        deadline = time.monotonic() + timeout_seconds
        with self._cond:
            while self._running:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True
