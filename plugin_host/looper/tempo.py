"""Tempo from 24-PPQN clock ticks: a sliding least-squares fit that smooths jitter."""

from __future__ import annotations

from collections import deque

import numpy as np

__all__ = ["PPQN", "TickTempoEstimator"]

PPQN = 24


class TickTempoEstimator:
    """Fits `time = intercept + seconds_per_tick × n` over the last `window_ticks` ticks.

    The fit averages timing jitter out (a 1-bar window at 174 BPM with ±1.5 ms jitter is within
    a few hundredths of a BPM) and its line gives a jitter-free time for the latest tick. A gap
    longer than `gap_s` restarts the fit; so do `change_ticks` consecutive ticks that land more than
    `change_fraction` of a tick away from the line on the same side (the tempo changed; a burst of
    late ticks that catches up does not qualify).
    """

    def __init__(
        self,
        window_ticks: int = 96,
        gap_s: float = 0.5,
        change_fraction: float = 0.35,
        change_ticks: int = 6,
    ) -> None:
        if window_ticks < 3:
            raise ValueError(f"window_ticks must be >= 3; got {window_ticks}")
        self._window = window_ticks
        self._gap_s = gap_s
        self._change_fraction = change_fraction
        self._change_ticks = change_ticks
        self._times: deque[float] = deque(maxlen=window_ticks)
        self._count = 0
        self._outliers = 0
        self._outlier_sign = 0
        self._seconds_per_tick: float | None = None
        self._intercept = 0.0
        self._first_index = 0
        #: The line before the latest tick (its time for that tick, seconds per tick), kept
        #: when that tick landed off the line.
        self._line_before: tuple[float, float] | None = None

    def reset(self) -> None:
        self._times.clear()
        self._count = 0
        self._outliers = 0
        self._seconds_per_tick = None
        self._line_before = None

    @property
    def bpm(self) -> float | None:
        """The current estimate, or None before two ticks."""
        if self._seconds_per_tick is None or self._seconds_per_tick <= 0:
            return None
        return 60.0 / (PPQN * self._seconds_per_tick)

    @property
    def seconds_per_tick(self) -> float | None:
        return self._seconds_per_tick

    def fitted_time_of_last_tick(self) -> float | None:
        """The line's time for the most recent tick (jitter removed), or None before two ticks."""
        if self._seconds_per_tick is None or not self._times:
            return None
        return self._intercept + self._seconds_per_tick * (self._count - 1)

    def expected_last_tick(self) -> tuple[float, float] | None:
        """(time of the latest tick, BPM) from the fit; when that tick landed off the line (by
        more than `change_fraction` of a tick), from the line before it: one tick cannot tell a
        stall from a tempo change, and a late one pulls the fit. None before two ticks."""
        if self._line_before is not None:
            time_s, seconds_per_tick = self._line_before
            return time_s, 60.0 / (PPQN * seconds_per_tick)
        fitted, bpm = self.fitted_time_of_last_tick(), self.bpm
        return None if fitted is None or bpm is None else (fitted, bpm)

    def add_tick(self, time_s: float) -> float | None:
        """Add a tick received at `time_s`; returns the tempo estimate in BPM (None if unknown)."""
        self._line_before = None
        if self._times and time_s - self._times[-1] > self._gap_s:
            self.reset()
        if self._seconds_per_tick is not None and len(self._times) >= self._change_ticks:
            predicted = self._intercept + self._seconds_per_tick * self._count
            residual = time_s - predicted
            if abs(residual) > self._change_fraction * self._seconds_per_tick and (
                self._outliers == 0 or (residual > 0) == (self._outlier_sign > 0)
            ):
                self._line_before = (predicted, self._seconds_per_tick)
                self._outliers += 1
                self._outlier_sign = 1 if residual > 0 else -1
                if self._outliers >= self._change_ticks:
                    recent = list(self._times)[-(self._change_ticks - 1) :]
                    self.reset()  # a confirmed change: the new line holds
                    for t in recent:
                        self._append(t)
            else:
                self._outliers = 0
        self._append(time_s)
        self._fit()
        return self.bpm

    def _append(self, time_s: float) -> None:
        self._times.append(time_s)
        self._count += 1

    def _fit(self) -> None:
        n = len(self._times)
        if n < 2:
            self._seconds_per_tick = None
            return
        times = np.fromiter(self._times, dtype=np.float64, count=n)
        index = np.arange(self._count - n, self._count, dtype=np.float64)
        index_mean = index.mean()
        time_mean = times.mean()
        d_index = index - index_mean
        slope = float(np.dot(d_index, times - time_mean) / np.dot(d_index, d_index))
        self._seconds_per_tick = slope
        self._intercept = float(time_mean - slope * index_mean)
