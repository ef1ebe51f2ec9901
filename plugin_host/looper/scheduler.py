"""Bar maths: where captures start and end, which bar a new loop lands on, and beats ↔ frames."""

from __future__ import annotations

import math
from typing import Literal, Protocol

import numpy as np

from plugin_host.looper.clock import Clock, FixedClock

__all__ = [
    "FrameClock",
    "Quantize",
    "Timeline",
    "capture_bars",
    "fit_to_length",
    "frames_per_bar",
    "next_switch_bar",
]

Quantize = Literal["bar", "loop"]


class FrameClock(Protocol):
    """The part of the audio engine a timeline needs."""

    sample_rate: int

    @property
    def frames_processed(self) -> int: ...

    def frame_at_time(self, time_s: float) -> float | None: ...

    def time_at_frame(self, frame: float) -> float | None: ...


def frames_per_bar(bpm: float, sample_rate: int, beats_per_bar: int = 4) -> float:
    """Frames in one bar (not rounded: bar k starts at round(k × this))."""
    return beats_per_bar * 60.0 / bpm * sample_rate


def capture_bars(
    beats_now: float, num_bars: int, beats_per_bar: int, early_window_beats: float = 0.5
) -> tuple[int, int]:
    """The bars `[start, end)` a trigger at `beats_now` captures: the last `num_bars` whole bars.

    A press within `early_window_beats` before a downbeat counts as on it (the performer was a
    little early), so it waits for that bar to finish rather than dropping it.
    """
    if num_bars < 1:
        raise ValueError(f"num_bars must be >= 1; got {num_bars}")
    bars_now = beats_now / beats_per_bar
    end = math.floor(bars_now)
    if (end + 1) * beats_per_bar - beats_now <= early_window_beats:
        end += 1
    return end - num_bars, end


def next_switch_bar(
    bars_now: float,
    lead_bars: float,
    quantize: Quantize = "bar",
    loop_start_bar: int | None = None,
    loop_bars: int | None = None,
) -> int:
    """First bar boundary at least `lead_bars` after `bars_now` where a new loop may start.

    With `quantize="loop"` and a loop playing, the boundary is also a whole number of that loop's
    lengths after its start, so the phrase completes before the switch.
    """
    bar = math.ceil(bars_now + lead_bars)
    if quantize == "loop" and loop_start_bar is not None and loop_bars:
        remainder = (bar - loop_start_bar) % loop_bars
        if remainder:
            bar += loop_bars - remainder
    return bar


def fit_to_length(audio: np.ndarray, num_frames: int, fade_frames: int = 64) -> np.ndarray:
    """Pad with silence or trim `(frames, channels)` audio to exactly `num_frames`.

    A trimmed end gets a short fade so the loop's wrap does not click.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1; got {num_frames}")
    frames, channels = audio.shape
    out = np.zeros((num_frames, channels), dtype=np.float32)
    n = min(frames, num_frames)
    out[:n] = audio[:n]
    if frames > num_frames and fade_frames > 0:
        k = min(fade_frames, num_frames)
        out[num_frames - k :] *= np.linspace(1.0, 0.0, k, dtype=np.float32)[:, None]
    return out


class Timeline:
    """Beats ↔ stream frames for one clock and one stream.

    A fixed clock is locked to the stream itself (beat 0 is frame `origin_frame`), so its bar
    boundaries are exact frames. External clocks (MIDI, Link) go through monotonic time and the
    stream's frame ↔ time map, shifted by `output_latency_s` so the downbeat is *heard* on time.
    On the input side, a sound played at time t reaches the ring `input_latency_s` later. With
    an external clock the performer plays to that clock (heard on time), so captures shift by
    the input latency alone. With the fixed clock the performer plays to the stream itself,
    heard `output_latency_s` after its frame: captures shift by the round trip, both latencies
    (as a DAW compensates a recording made against its own playback).
    """

    def __init__(
        self,
        clock: Clock,
        engine: FrameClock,
        output_latency_s: float = 0.0,
        origin_frame: int = 0,
        input_latency_s: float = 0.0,
    ) -> None:
        self.clock = clock
        self.engine = engine
        self.output_latency_s = output_latency_s
        self.input_latency_s = input_latency_s
        self.origin_frame = origin_frame

    @property
    def frame_locked(self) -> bool:
        return isinstance(self.clock, FixedClock)

    def beats_now(self, extrapolate: bool = False) -> float | None:
        """Beat position of the next frame the stream renders."""
        return self.beats_at_frame(self.engine.frames_processed, extrapolate)

    def beats_at_frame(self, frame: float, extrapolate: bool = False) -> float | None:
        if self.frame_locked:
            if not self.clock.running and not extrapolate:
                return None
            return (frame - self.origin_frame) * self.clock.bpm / 60.0 / self.engine.sample_rate
        t = self.engine.time_at_frame(frame)
        if t is None:
            return None
        return self.clock.beats_at(t + self.output_latency_s, extrapolate)

    def frame_of_beats(self, beats: float, extrapolate: bool = False) -> int | None:
        """Stream frame whose sound is heard at `beats` (None when unknown)."""
        if self.frame_locked:
            return self.origin_frame + round(
                beats * 60.0 / self.clock.bpm * self.engine.sample_rate
            )
        t = self.clock.time_of_beats(beats, extrapolate)
        if t is None:
            return None
        frame = self.engine.frame_at_time(t - self.output_latency_s)
        return None if frame is None else round(frame)

    def beats_at_time(self, time_s: float) -> float | None:
        """Beat position at monotonic `time_s` (a trigger pressed then), without output latency."""
        if self.frame_locked:
            frame = self.engine.frame_at_time(time_s)
            return None if frame is None else self.beats_at_frame(round(frame))
        return self.clock.beats_at(time_s)

    def input_frame_of_beats(self, beats: float) -> int | None:
        """Ring frame holding the sound played at `beats`.

        External clocks map the beat's time straight to the frame recorded then, plus the
        input latency (the output latency does not apply: the performer hears the external
        clock's beat on time). The fixed clock's beat is a stream frame, which the performer
        hears `output_latency_s` late and which reaches the ring `input_latency_s` after that.
        """
        shift = self.input_latency_s * self.engine.sample_rate
        if self.frame_locked:
            beat_frames = 60.0 / self.clock.bpm * self.engine.sample_rate
            round_trip = shift + self.output_latency_s * self.engine.sample_rate
            return self.origin_frame + round(beats * beat_frames) + round(round_trip)
        t = self.clock.time_of_beats(beats)
        frame = None if t is None else self.engine.frame_at_time(t)
        return None if frame is None else round(frame + shift)
