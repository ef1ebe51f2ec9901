"""⑤ Beat phase and bar line from learned activations folded at the comb's refined period."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sidecar.post.learned_beats import BeatActivations

__all__ = ["LearnedBar", "learned_bar"]

#: Phases tried within one beat period.
_PHASE_STEP_SECONDS = 0.002
#: Beat activation (0-1) the folded peak must rise above its median phase for full confidence:
#: clear grooves fold to 0.4-0.9 above a floor near 0; noise to under 0.05.
_FULL_RISE = 0.3


@dataclass(frozen=True)
class LearnedBar:
    """Where the learned tracker puts the beats and the bar line, given the beat period."""

    #: First beat, in [0, period) seconds from sample 0.
    beat_seconds: float
    #: First bar line, in [0, bar) seconds from sample 0 (a beat of `beat_seconds`).
    downbeat_seconds: float
    #: How clearly the beat activations fall on one phase of the period (0-1).
    beat_confidence: float
    #: The folded beat probability at that phase less its median over phases (to compare
    #: periods: the likelier one is the tempo).
    beat_rise: float
    #: The same half a period later: near `beat_rise` when the period is two of the
    #: networks' beats (half time), whose phase the networks then cannot choose.
    half_beat_rise: float
    #: How clearly one beat of the bar is the downbeat: the best position's downbeat share
    #: less the runner-up's (0-1).
    downbeat_confidence: float


def learned_bar(
    activations: BeatActivations, period_seconds: float, beats_per_bar: int
) -> LearnedBar | None:
    """Fold the activations at `period_seconds`: the phase where beats are likeliest, then the
    bar position whose beats are likeliest downbeats. None when under two beats were analysed.

    The tempo is not read from the network: the comb's refined period (a few hundredths of a
    percent) is more precise than its 10 ms frames can be, so the network is asked only what
    it is good at, which of the pulses is the beat and which beat is the one.
    """
    rate = activations.frame_rate
    beat = _widened(activations.any_beat)
    down = _widened(activations.downbeat)
    seconds = beat.size / rate
    count = int(seconds / period_seconds) - 1
    if count < 2:
        return None
    phases = np.arange(0.0, period_seconds, _PHASE_STEP_SECONDS)
    times = phases[:, np.newaxis] + period_seconds * np.arange(count)[np.newaxis, :]
    frames = np.arange(beat.size, dtype=np.float64)
    scores = np.interp(times * rate, frames, beat).mean(axis=1)
    best = _plateau_centre(scores)
    floor = float(np.median(scores))
    rise = float(scores[best] - floor)
    half = float(scores[(best + phases.size // 2) % phases.size] - floor)
    beat_confidence = float(np.clip(rise / _FULL_RISE, 0.0, 1.0))
    phase = float(phases[best])

    beats = phase + period_seconds * np.arange(count)
    likely_down = np.interp(beats * rate, frames, down)
    likely_beat = np.interp(beats * rate, frames, beat)
    per_bar = max(1, beats_per_bar)
    shares = np.zeros(per_bar)
    for position in range(per_bar):
        total = float(likely_beat[position::per_bar].sum())
        shares[position] = float(likely_down[position::per_bar].sum()) / max(total, 1e-9)
    order = np.argsort(shares)[::-1]
    first = int(order[0])
    margin = float(shares[first] - shares[order[1]]) if per_bar > 1 else 1.0
    return LearnedBar(
        beat_seconds=phase,
        downbeat_seconds=phase + first * period_seconds,
        beat_confidence=beat_confidence,
        beat_rise=rise,
        half_beat_rise=half,
        downbeat_confidence=float(np.clip(margin, 0.0, 1.0)),
    )


def _plateau_centre(scores: np.ndarray) -> int:
    """The index of the maximum, at the middle of a run of equal maxima (widened peaks)."""
    best = int(np.argmax(scores))
    top = scores[best] - 1e-9
    last = best
    while last + 1 < scores.size and scores[last + 1] >= top:
        last += 1
    return (best + last) // 2


def _widened(values: np.ndarray) -> np.ndarray:
    """The largest value within ±1 frame (10 ms): a network's peak can sit a frame off."""
    padded = np.pad(values, 1, mode="edge")
    return np.asarray(np.maximum.reduce([padded[:-2], padded[1:-1], padded[2:]]))
