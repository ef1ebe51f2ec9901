"""⑤ Beat phase and downbeat from onsets alone: the heuristic tracker's phase choice."""

from __future__ import annotations

import numpy as np

from sidecar.post.comb import fold_profiles, parabolic_offset

__all__ = ["bar_profile", "beat_phase", "downbeat_frames", "local_peaks", "phase_frames"]

#: Bar positions scoring within this fraction of the best count as tied for the downbeat.
_DOWNBEAT_TIE = 0.9
#: The beat phase moves from the flux peak to a half, third or quarter beat later only when
#: the accents there dominate: their bar-position profile is this much larger in sum (kicks
#: against an off-beat bass: 7-130x; an arpeggio's low note on the bar: 4.6x; half-time
#: trap's kick and 808 on the "and" of 4 against its kick on 1 and snare on 3: 1.4-1.65x) ...
_PHASE_GAIN = 2.0
#: ... and no bar position (ranked by strength) is below this fraction of its counterpart.
_PHASE_RANK = 0.6
_PHASE_SHIFTS = (1 / 2, 1 / 3, 2 / 3, 1 / 4, 3 / 4)


def local_peaks(accents: np.ndarray) -> np.ndarray:
    """The accent curve's maximum within ±15 ms of each frame: an attack's power rise can sit
    a few frames off the comb's phase."""
    return np.maximum.reduce([np.roll(accents, k) for k in range(-3, 4)])


def bar_profile(peaks: np.ndarray, phase: float, period: float, beats_per_bar: int) -> np.ndarray:
    """Mean accent at each of the bar's beat positions, beats at `phase + k * period` (the
    beats themselves when there is less than a bar)."""
    beats = np.arange(phase, peaks.size - 1, period)
    at_beats = peaks[np.round(beats).astype(np.int64)]
    whole_bars = at_beats.size // beats_per_bar * beats_per_bar
    if whole_bars == 0:
        return np.asarray(at_beats, dtype=np.float64)
    return np.asarray(at_beats[:whole_bars].reshape(-1, beats_per_bar).mean(axis=0))


def _dominates(candidate: np.ndarray, current: np.ndarray) -> bool:
    """Whether `candidate`'s bar positions are clearly the stronger accents: `_PHASE_GAIN`
    times the sum, and every rank at least `_PHASE_RANK` of the current one's."""
    if candidate.sum() < _PHASE_GAIN * current.sum() or candidate.size == 0:
        return False
    n = min(candidate.size, current.size)
    ranked, against = np.sort(candidate)[::-1][:n], np.sort(current)[::-1][:n]
    return bool(np.all(ranked >= _PHASE_RANK * against))


def phase_frames(env: np.ndarray, period: float) -> float:
    """Frames from sample 0 to the peak of `env` folded at `period`."""
    profile = fold_profiles(env, np.array([period]))[0]
    bins = profile.size
    best = int(np.argmax(profile))
    offset = parabolic_offset(profile, best, circular=True)
    return float(((best + offset) % bins) * period / bins)


def beat_phase(env: np.ndarray, peaks: np.ndarray, period: float, beats_per_bar: int) -> float:
    """Frames from sample 0 to the first beat (see `estimate_tempo`, step 7)."""
    profile = fold_profiles(env, np.array([period]))[0]
    bins = profile.size
    best = int(np.argmax(profile))
    phase = ((best + parabolic_offset(profile, best, circular=True)) % bins) * period / bins
    current = bar_profile(peaks, phase, period, beats_per_bar)
    chosen, strongest = None, 0.0
    for shift in _PHASE_SHIFTS:
        candidate = (phase + shift * period) % period
        accents = bar_profile(peaks, candidate, period, beats_per_bar)
        if _dominates(accents, current) and float(accents.sum()) > strongest:
            chosen, strongest = candidate, float(accents.sum())
    if chosen is None:
        return phase
    # The new beat's own onset: the flux peak within an eighth of a beat of it.
    centre = chosen / period * bins
    index = np.round(centre + np.arange(-bins // 8, bins // 8 + 1)).astype(np.int64) % bins
    best = int(index[int(np.argmax(profile[index]))])
    return float(((best + parabolic_offset(profile, best, circular=True)) % bins) * period / bins)


def downbeat_frames(peaks: np.ndarray, period: float, phase: float, beats_per_bar: int) -> float:
    """The beat (of those at `phase + k * period`) that starts the most accented bar position."""
    beats = np.arange(phase, peaks.size - 1, period)
    if beats_per_bar <= 1 or beats.size < beats_per_bar:
        return phase
    scores = bar_profile(peaks, phase, period, beats_per_bar)
    # Near-ties (kick on 1 and 3, or the two source bars in a half-time bar): the earliest.
    best = int(np.argmax(scores >= _DOWNBEAT_TIE * scores.max()))
    return float(beats[best])
