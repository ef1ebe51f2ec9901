"""Pads and messages → looper actions: MIDI note or CC and OSC addresses, from the config."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import mido

__all__ = ["DEFAULT_OSC_TRIGGERS", "Action", "Trigger", "TriggerEvent", "TriggerMap"]


class Action(enum.Enum):
    CAPTURE = "capture"  # capture the last N bars and generate a continuation
    CANCEL = "cancel"  # cancel the request in flight, or the switch not yet played
    UNDO = "undo"  # back to the previous loop
    VARIATION = "variation"  # next variation of the current loop
    STOP = "stop"  # stop playback at the next bar


@dataclass(frozen=True)
class TriggerEvent:
    action: Action
    bars: int | None = None
    source: str = ""
    time_s: float = 0.0


@dataclass(frozen=True)
class Trigger:
    """One mapping. `channel` is 1-16 (None = any); a CC fires on crossing `cc_threshold` upward."""

    action: Action
    bars: int | None = None
    note: int | None = None
    cc: int | None = None
    channel: int | None = None
    osc: str | None = None
    cc_threshold: int = 64

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trigger:
        allowed = {"action", "bars", "note", "cc", "channel", "osc", "cc_threshold"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(
                f"trigger: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}"
            )
        try:
            action = Action(str(data.get("action", "")))
        except ValueError as e:
            raise ValueError(
                f"trigger: action {data.get('action')!r} is not one of {[a.value for a in Action]}"
            ) from e
        trigger = cls(
            action=action,
            bars=_opt_int(data, "bars", 1, 32),
            note=_opt_int(data, "note", 0, 127),
            cc=_opt_int(data, "cc", 0, 127),
            channel=_opt_int(data, "channel", 1, 16),
            osc=str(data["osc"]) if "osc" in data else None,
            cc_threshold=_opt_int(data, "cc_threshold", 1, 127) or 64,
        )
        if trigger.note is None and trigger.cc is None and trigger.osc is None:
            raise ValueError(f"trigger for {action.value!r} needs one of note, cc or osc")
        if trigger.note is not None and trigger.cc is not None:
            raise ValueError(f"trigger for {action.value!r}: give note or cc, not both")
        if trigger.osc is not None and not trigger.osc.startswith("/"):
            raise ValueError(f"trigger osc address must start with '/'; got {trigger.osc!r}")
        return trigger


def _opt_int(data: dict[str, Any], key: str, low: int, high: int) -> int | None:
    if key not in data:
        return None
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"trigger: {key} must be an integer in [{low}, {high}]; got {value!r}")
    return value


#: OSC triggers that are always mapped (a config may add more).
DEFAULT_OSC_TRIGGERS: tuple[Trigger, ...] = (
    Trigger(Action.CAPTURE, osc="/looper/capture"),
    Trigger(Action.CANCEL, osc="/looper/cancel"),
    Trigger(Action.UNDO, osc="/looper/undo"),
    Trigger(Action.VARIATION, osc="/looper/variation"),
    Trigger(Action.STOP, osc="/looper/stop"),
)


class TriggerMap:
    """Matches incoming MIDI messages and OSC addresses against the configured triggers."""

    def __init__(self, triggers: tuple[Trigger, ...] | list[Trigger]) -> None:
        self.triggers = tuple(triggers)
        self._cc_values: dict[tuple[int, int], int] = {}

    @property
    def osc_addresses(self) -> list[str]:
        return sorted({t.osc for t in self.triggers if t.osc})

    def match_midi(self, msg: mido.Message, time_s: float = 0.0) -> TriggerEvent | None:
        kind = msg.type
        if kind not in ("note_on", "control_change"):
            return None
        channel = int(msg.channel) + 1
        if kind == "control_change":
            key = (channel, int(msg.control))
            previous = self._cc_values.get(key, 0)
            self._cc_values[key] = int(msg.value)
        for t in self.triggers:
            if t.channel is not None and t.channel != channel:
                continue
            if kind == "note_on" and t.note == msg.note and msg.velocity > 0:
                return TriggerEvent(t.action, t.bars, f"note {msg.note} ch {channel}", time_s)
            if (
                kind == "control_change"
                and t.cc == msg.control
                and previous < t.cc_threshold <= msg.value
            ):
                return TriggerEvent(t.action, t.bars, f"cc {msg.control} ch {channel}", time_s)
        return None

    def match_osc(
        self, address: str, args: tuple[Any, ...], time_s: float = 0.0
    ) -> TriggerEvent | None:
        for t in self.triggers:
            if t.osc == address:
                bars = t.bars
                if args and isinstance(args[0], int | float) and not isinstance(args[0], bool):
                    bars = int(args[0])
                return TriggerEvent(t.action, bars, f"osc {address}", time_s)
        return None
