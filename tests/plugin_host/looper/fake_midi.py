"""A mido input port that plays a MIDI clock in real time, with timing jitter, for tests."""

from __future__ import annotations

import threading
import time

import mido
import mido.ports
import numpy as np

from plugin_host.looper.tempo import PPQN


class ClockPort(mido.ports.BaseInput):
    """Releases `clock` messages at 24 PPQN from `start()`, each up to ±`jitter_s` off the grid.

    `ideal_time(beats)` is where beat `beats` falls without jitter (for assertions).
    """

    def __init__(self, bpm: float, jitter_s: float = 0.0015, seed: int = 0, lead_s: float = 0.3):
        super().__init__("fake-clock")
        self.bpm = bpm
        self.t0 = time.monotonic() + lead_s  # time of tick 0 (the first beat)
        self._rng = np.random.default_rng(seed)
        self._jitter_s = jitter_s
        self._tick = 0
        self._extra: list[tuple[float, mido.Message]] = [(self.t0 - 0.05, mido.Message("start"))]
        self._stopped_at: float | None = None
        self._guard = threading.Lock()

    def ideal_time(self, beats: float) -> float:
        return self.t0 + beats * 60.0 / self.bpm

    def send_stop(self) -> None:
        with self._guard:
            self._extra.append((time.monotonic(), mido.Message("stop")))

    def _receive(self, block: bool = True) -> mido.Message | None:
        now = time.monotonic()
        with self._guard:
            if self._extra and self._extra[0][0] <= now:
                return self._extra.pop(0)[1]
        due = self.ideal_time(self._tick / PPQN)
        due += float(self._rng.uniform(-self._jitter_s, self._jitter_s))
        if due <= now:
            self._tick += 1
            return mido.Message("clock")
        return None
