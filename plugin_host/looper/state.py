"""The looper's state records: the status it shows and what is in flight between control steps."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from plugin_host.looper.audio import StreamStats
from plugin_host.looper.client import ContinueRequest
from plugin_host.looper.clock import ClockSnapshot
from plugin_host.looper.history import LoopEntry
from plugin_host.looper.player import SwitchCommand
from plugin_host.looper.triggers import TriggerEvent

__all__ = [
    "LooperStatus",
    "PendingCapture",
    "PendingRequest",
    "QueueState",
    "ScheduledSwitch",
    "SwitchKind",
]

QueueState = Literal["idle", "capturing", "queued", "generating", "ready", "stopping"]
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
    event: TriggerEvent
    request: ContinueRequest
    sent_s: float
    stems: dict[int, Path]
    progress: float = 0.0
    accepted: bool = False


@dataclass(frozen=True, eq=False)
class ScheduledSwitch:
    command: SwitchCommand
    kind: SwitchKind
    bar: int
    entry: LoopEntry | None
