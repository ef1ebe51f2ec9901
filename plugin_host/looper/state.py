"""The looper's state records: the status it shows and what is in flight between control steps."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from plugin_host.looper.audio import StreamStats
from plugin_host.looper.client import ContinueRequest, SidecarReply
from plugin_host.looper.clock import ClockSnapshot
from plugin_host.looper.history import LoopEntry
from plugin_host.looper.player import SwitchCommand
from plugin_host.looper.triggers import TriggerEvent
from sidecar.osc.addresses import ACCEPTED, CANCELLED, DONE, ERROR, PROGRESS, STEM

__all__ = [
    "LooperStatus",
    "PendingCapture",
    "PendingRequest",
    "QueueState",
    "RequestState",
    "ScheduledSwitch",
    "SwitchKind",
]

QueueState = Literal["idle", "capturing", "queued", "generating", "ready", "stopping"]
RequestState = Literal["pending", "done", "error", "cancelled"]
SwitchKind = Literal["new", "undo", "variation", "stop", "resync"]


@dataclass(frozen=True)
class LooperStatus:
    """Everything the display shows, as of one control step."""

    clock: ClockSnapshot
    queue: QueueState
    progress: float
    loop_id: int | None
    variation: int
    variations: int
    history: int
    switch_bar: int | None
    last_latency_s: float | None
    message: str
    stream: StreamStats


@dataclass
class PendingCapture:
    event: TriggerEvent
    bars: int
    bpm: float
    start_frame: int
    num_frames: int


@dataclass
class PendingRequest:
    """One /sidecar/continue in flight and what its replies said so far."""

    event: TriggerEvent
    request: ContinueRequest
    sent_s: float
    stems: dict[int, Path]
    progress: float = 0.0
    accepted: bool = False
    error: str = ""
    heard_s: float = 0.0  # when the sidecar last replied for this request (or it was sent)

    def apply(self, reply: SidecarReply, now_s: float | None = None) -> RequestState:
        """Take one reply (ignored unless it is for this request); returns the request's state.

        A reply for this request received at `now_s` sets `heard_s` (the stall timeout's start).
        """
        # A request refused before it got an id back is answered with request_id ''.
        anonymous = reply.address == ERROR and reply.request_id == "" and not self.accepted
        if reply.request_id != self.request.request_id and not anonymous:
            return "pending"
        if now_s is not None:
            self.heard_s = now_s
        args = reply.args
        if reply.address == ACCEPTED:
            self.accepted = True
        elif reply.address == PROGRESS and len(args) > 1:
            self.progress = float(args[1])
        elif reply.address == STEM and len(args) > 2:
            self.stems[int(args[1])] = Path(str(args[2]))
        elif reply.address == DONE:
            return "done"
        elif reply.address == ERROR:
            code = args[1] if len(args) > 1 else "?"
            self.error = f"{code}: {args[2] if len(args) > 2 else ''}"
            return "error"
        elif reply.address == CANCELLED:
            return "cancelled"
        return "pending"


@dataclass(frozen=True, eq=False)
class ScheduledSwitch:
    command: SwitchCommand
    kind: SwitchKind
    bar: int
    entry: LoopEntry | None
