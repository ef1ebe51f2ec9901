"""The page's live events: every job reply the OSC replier sends, as JSON to each open page."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from sidecar.jobs.queue import JobQueue, JobState
from sidecar.osc import addresses as A
from sidecar.osc.replier import PAGE
from sidecar.osc.schema import Accepted, Cancelled, Done, ErrorReply, OscArg, Progress, Stem

__all__ = ["JOB_EVENTS", "EventHub", "JobView", "event_of"]

log = logging.getLogger(__name__)

#: Reply address → the event type the page sees.
JOB_EVENTS: dict[str, str] = {
    A.ACCEPTED: "accepted",
    A.PROGRESS: "progress",
    A.PREVIEW: "preview",
    A.STEM: "stem",
    A.DONE: "done",
    A.ERROR: "error",
    A.CANCELLED: "cancelled",
}
_STATE_OF = {"done": "done", "error": "failed", "cancelled": "cancelled"}
#: Jobs the page lists (the newest); events of older ones still reach open pages.
_KEPT_JOBS = 200
#: Events a slow page may fall behind by before it is dropped (it reconnects and resyncs).
_SUBSCRIBER_BACKLOG = 1000


def event_of(address: str, args: list[OscArg]) -> dict[str, Any]:
    """One reply as the page's event, decoded by the reply's own schema class."""
    kind = JOB_EVENTS[address]
    if kind == "preview":
        return {"type": kind, "request_id": str(args[0]), "path": args[1], "seconds_ready": args[2]}
    schema: Any = {
        "accepted": Accepted,
        "progress": Progress,
        "stem": Stem,
        "done": Done,
        "error": ErrorReply,
        "cancelled": Cancelled,
    }[kind]
    return {"type": kind, **asdict(schema.from_osc(args))}


@dataclass
class JobView:
    """What the Queue view shows of one job, from the page or from a DAW."""

    request_id: str
    source: str
    mode: str = "generate"
    prompt: str | None = None
    bars: int | None = None
    bpm: float | None = None
    state: str = "queued"
    position: int = -1
    progress: float = 0.0
    eta_seconds: float | None = None
    files: list[str] = field(default_factory=list)
    error: str | None = None
    action: bool = False


def _source(to: tuple[str, int]) -> str:
    return "page" if to == PAGE else f"osc {to[0]}:{to[1]}"


class EventHub:
    """Observes the replier (from any thread), keeps the job table, fans events out on the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: JobQueue) -> None:
        self.loop = loop
        self.queue = queue
        self.jobs: OrderedDict[str, JobView] = OrderedDict()
        self._subscribers: set[asyncio.Queue[dict[str, Any] | None]] = set()

    # Called by OscReplier.send on the thread that replies (the loop or the worker).
    def observe(self, to: tuple[str, int], address: str, args: list[OscArg]) -> None:
        if address not in JOB_EVENTS:
            return
        sent_at = time.time()
        try:
            self.loop.call_soon_threadsafe(self._handle, to, address, list(args), sent_at)
        except RuntimeError:
            log.warning("page event %s dropped: the event loop is closed", address)

    def _handle(self, to: tuple[str, int], address: str, args: list[OscArg], at: float) -> None:
        event = event_of(address, args)
        event["sent_at"] = at
        view = self._update(to, event)
        if view is None:
            return  # a refusal of a request that never became a job
        event["source"] = view.source
        self.publish(event)
        if event["type"] in ("accepted", "done", "error", "cancelled"):
            self.publish({"type": "jobs", "jobs": self.snapshot(), "sent_at": at})

    def _update(self, to: tuple[str, int], event: dict[str, Any]) -> JobView | None:
        rid, kind = event["request_id"], event["type"]
        view = self.jobs.get(rid)
        if kind == "accepted" or (view is None and kind == "stem"):
            view = self._new_view(rid, to)
        if view is None:
            return None
        if kind == "accepted":
            view.state, view.position = "queued", int(event["queue_position"])
        elif kind == "progress":
            view.state, view.position = "running", 0
            view.progress = float(event["fraction"])
            view.eta_seconds = float(event["eta_seconds"])
        elif kind == "stem":
            view.files.append(str(event["path"]))
        elif kind in _STATE_OF:
            view.state, view.position = _STATE_OF[kind], -1
            if kind == "done":
                view.progress = 1.0
            if kind == "error":
                view.error = f"{event['code']}: {event['message']}"
        return view

    def _new_view(self, rid: str, to: tuple[str, int]) -> JobView:
        view = JobView(request_id=rid, source=_source(to))
        job = self.queue.get(rid)
        if job is not None:
            req = job.request
            view.mode, view.prompt, view.bars, view.bpm = req.mode, req.prompt, req.bars, req.bpm
            view.action = job.action is not None
        self.jobs[rid] = view
        self.jobs.move_to_end(rid)
        while len(self.jobs) > _KEPT_JOBS:
            self.jobs.popitem(last=False)
        return view

    def snapshot(self) -> list[dict[str, Any]]:
        """Every listed job, oldest first, with queue positions as the queue has them now."""
        out = []
        for view in self.jobs.values():
            job = self.queue.get(view.request_id)
            if job is not None and job.state is JobState.QUEUED:
                view.position = self.queue.position(job)
            elif job is not None and job.state is JobState.RUNNING:
                view.state, view.position = "running", 0
            out.append(asdict(view))
        return out

    def publish(self, event: dict[str, Any]) -> None:
        """Queue `event` for every open page (on the loop); a page that lags far is dropped."""
        for subscriber in list(self._subscribers):
            try:
                subscriber.put_nowait(event)
            except asyncio.QueueFull:
                log.warning("a page fell %d events behind; it is disconnected", _SUBSCRIBER_BACKLOG)
                self._subscribers.discard(subscriber)
                _end(subscriber)

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[dict[str, Any] | None]]:
        """A queue of events for one page, open while the context is."""
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(_SUBSCRIBER_BACKLOG)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    def close(self) -> None:
        """End every page's stream (shutdown): each gets None."""
        for subscriber in list(self._subscribers):
            _end(subscriber)
        self._subscribers.clear()


def _end(subscriber: asyncio.Queue[dict[str, Any] | None]) -> None:
    """Replace what a page has not read yet with the end of its stream (None)."""
    while not subscriber.empty():
        subscriber.get_nowait()
    subscriber.put_nowait(None)
