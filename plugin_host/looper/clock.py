"""The musical clock the looper follows: a common base, a fixed-tempo clock, position maths."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Literal

__all__ = ["Clock", "ClockSnapshot", "ClockSource", "FixedClock"]

ClockSource = Literal["fixed", "midi", "link"]


@dataclass(frozen=True)
class ClockSnapshot:
    """What the display and the scheduler need to know about the clock at one instant."""

    source: ClockSource
    bpm: float
    running: bool
    beats: float | None
    beats_per_bar: int
    detail: str = ""

    @property
    def bar(self) -> int | None:
        """1-based bar number, or None while the clock has no position."""
        if self.beats is None:
            return None
        return math.floor(self.beats / self.beats_per_bar) + 1

    @property
    def beat(self) -> int | None:
        """1-based beat within the bar."""
        if self.beats is None:
            return None
        return math.floor(self.beats % self.beats_per_bar) + 1


class Clock:
    """A tempo map the looper can ask: where is the beat now, and when is beat `b`?

    Times are `time.monotonic()` seconds. Subclasses keep an anchor (time, beats) and a tempo;
    the base class answers questions from them under a short lock held by control threads only
    (the audio callback never touches a clock).
    """

    source: ClockSource = "fixed"

    def __init__(self, bpm: float, beats_per_bar: int = 4) -> None:
        if not 20.0 <= bpm <= 300.0:
            raise ValueError(f"bpm must be in [20, 300]; got {bpm}")
        if beats_per_bar < 1:
            raise ValueError(f"beats_per_bar must be >= 1; got {beats_per_bar}")
        self.beats_per_bar = beats_per_bar
        self._lock = threading.Lock()
        self._bpm = float(bpm)
        self._running = False
        self._anchor_time_s = 0.0
        self._anchor_beats = 0.0
        self._stop_listeners: list[threading.Event] = []
        self._stop_count = 0

    # -- state ------
    @property
    def bpm(self) -> float:
        return self._bpm

    @property
    def running(self) -> bool:
        return self._running

    @property
    def stop_count(self) -> int:
        """How many times the clock went from running to stopped (the looper polls this)."""
        return self._stop_count

    def detail(self) -> str:
        """A short note for the display (port name, peers)."""
        return ""

    def start(self) -> None:
        """Begin following (open ports, start threads)."""

    def close(self) -> None:
        """Stop following and release resources."""

    # -- position ------
    def beats_at(self, time_s: float, extrapolate: bool = False) -> float | None:
        """Beat position (0 = first downbeat) at `time_s`, or None while stopped.

        With `extrapolate`, a stopped clock answers from its last position and tempo (used to
        find "the next bar" after the clock stopped).
        """
        with self._lock:
            if not self._running and not extrapolate:
                return None
            return self._anchor_beats + (time_s - self._anchor_time_s) * self._bpm / 60.0

    def time_of_beats(self, beats: float, extrapolate: bool = False) -> float | None:
        """`time.monotonic()` at which the clock reaches `beats`, or None while stopped."""
        with self._lock:
            if not self._running and not extrapolate:
                return None
            return self._anchor_time_s + (beats - self._anchor_beats) * 60.0 / self._bpm

    def snapshot(self, time_s: float | None = None) -> ClockSnapshot:
        now = time.monotonic() if time_s is None else time_s
        return ClockSnapshot(
            source=self.source,
            bpm=self._bpm,
            running=self._running,
            beats=self.beats_at(now),
            beats_per_bar=self.beats_per_bar,
            detail=self.detail(),
        )

    # -- for subclasses ------
    def _set_anchor(self, time_s: float, beats: float, bpm: float | None = None) -> None:
        with self._lock:
            self._anchor_time_s = time_s
            self._anchor_beats = beats
            if bpm is not None and 20.0 <= bpm <= 300.0:
                self._bpm = bpm

    def _set_tempo(self, bpm: float) -> None:
        if 20.0 <= bpm <= 300.0:
            with self._lock:
                self._bpm = bpm

    def _set_running(self, running: bool) -> None:
        with self._lock:
            if self._running and not running:
                self._stop_count += 1
            self._running = running


class FixedClock(Clock):
    """A free-running clock at a fixed tempo; beat 0 is when `start()` is called (or `origin_s`)."""

    source: ClockSource = "fixed"

    def __init__(self, bpm: float, beats_per_bar: int = 4, origin_s: float | None = None) -> None:
        super().__init__(bpm, beats_per_bar)
        self._origin_s = origin_s

    def start(self) -> None:
        origin = time.monotonic() if self._origin_s is None else self._origin_s
        self._set_anchor(origin, 0.0)
        self._set_running(True)

    def stop(self) -> None:
        self._set_running(False)

    def detail(self) -> str:
        return f"{self._bpm:.1f} BPM fixed"
