"""Follow MIDI clock: 24 PPQN ticks, start/stop/continue and song position pointer."""

from __future__ import annotations

import threading

import mido

from plugin_host.looper.clock import Clock, ClockSource
from plugin_host.looper.tempo import PPQN, TickTempoEstimator

__all__ = ["MidiClock"]

_TICKS_PER_SPP_UNIT = 6  # song position pointer counts MIDI beats (16th notes)


class MidiClock(Clock):
    """A `Clock` driven by MIDI real-time messages passed to `handle(msg, time_s)`.

    After `start` the next `clock` message is beat 0; `continue` resumes at the current position
    (or the last song position pointer); `stop` stops the clock. Ticks keep feeding the tempo
    estimate while stopped, as most DAWs send clock all the time.
    """

    source: ClockSource = "midi"

    def __init__(
        self,
        beats_per_bar: int = 4,
        initial_bpm: float = 120.0,
        window_ticks: int = 96,
        port_name: str = "",
    ) -> None:
        super().__init__(initial_bpm, beats_per_bar)
        self._estimator = TickTempoEstimator(window_ticks=window_ticks)
        self._port_name = port_name
        self._next_tick = 0
        self._armed = False  # start/continue seen, waiting for the first tick
        self._ticks_seen = 0
        self._state_lock = threading.Lock()

    @property
    def position_ticks(self) -> int:
        """Song position in ticks of the next clock message."""
        return self._next_tick

    def detail(self) -> str:
        state = "running" if self.running else ("armed" if self._armed else "stopped")
        port = f" on {self._port_name}" if self._port_name else ""
        return f"MIDI clock{port}, {state}"

    def handle(self, msg: mido.Message, time_s: float) -> bool:
        """Apply one message received at `time_s` (monotonic). Returns True if it was clock data."""
        kind = msg.type
        with self._state_lock:
            if kind == "clock":
                self._on_tick(time_s)
            elif kind == "start":
                self._next_tick = 0
                self._armed = True
            elif kind == "continue":
                self._armed = True
            elif kind == "stop":
                self._armed = False
                self._settle_anchor()
                self._set_running(False)
            elif kind == "songpos":
                if not self.running:
                    self._next_tick = int(msg.pos) * _TICKS_PER_SPP_UNIT
            else:
                return False
        return True

    def _settle_anchor(self) -> None:
        """At a stop, pin the position to where the tick line puts the last tick.

        While running, a tick more than half a period off the line is taken as it came (it may
        be a tempo change, which the next ticks confirm). A stop freezes the position, and with
        it "the next bar" the looper stops on, before any later tick can tell: a tick that was
        only late (this process or the box stalled) would move that stop by its lateness
        (30 ms seen in CI). The line through the ticks before it is the better guess.
        """
        expected = self._estimator.expected_last_tick()
        if self.running and expected is not None and self._next_tick > 0:
            time_s, bpm = expected
            self._set_anchor(time_s, (self._next_tick - 1) / PPQN, bpm)

    def _on_tick(self, time_s: float) -> None:
        bpm = self._estimator.add_tick(time_s)
        self._ticks_seen += 1
        tick = self._next_tick
        just_started = self._armed
        if just_started:
            self._armed = False
            self._set_running(True)
        if self.running:
            self._next_tick = tick + 1
            anchor_time = time_s
            fitted = self._estimator.fitted_time_of_last_tick()
            period = self._estimator.seconds_per_tick
            # The fitted line removes jitter, but the first tick after start/continue (or one
            # that broke the pattern) is taken as it came.
            if (
                not just_started
                and fitted is not None
                and period is not None
                and abs(fitted - time_s) < 0.5 * period
            ):
                anchor_time = fitted
            self._set_anchor(anchor_time, tick / PPQN, bpm)
        elif bpm is not None:
            # Stopped: track the tempo only; the position stays where the clock stopped, so
            # "the next bar" after a stop stays put.
            self._set_tempo(bpm)
