"""⑤ Metrical-level folding: which octave or ternary level of a reading is the session's beat."""

from __future__ import annotations

import math

import numpy as np

from sidecar.post.comb import fold_contrast, fold_profiles, refine
from sidecar.post.onsets import FRAME_RATE

__all__ = ["counts_a_compound_metre", "octave_towards", "ternary_level"]

#: Metrical levels a third apart from the autocorrelation's tempo: x3/2 and its octaves (a
#: dotted-quarter pulse, as in 6/8 and 12/8, counted in quarter notes) and x2/3 and its
#: octaves (a pulse a tracker can lock onto in half-time trap: 1.5 beats).
_TERNARY_FACTORS = (3 / 8, 3 / 4, 3 / 2, 3.0, 1 / 3, 2 / 3, 4 / 3, 8 / 3)
#: A ternary level nearer the reference replaces the octave level when the flux is at least
#: this periodic there (as a fraction of the octave level's comb contrast); 1: it must be
#: the clearer pulse (the autocorrelation misread), as a 4/4 groove always is at its beat.
_TERNARY_EVIDENCE = 1.0
#: ... and in a compound metre (bar a multiple of 3 beats, the pulse divides into three
#: eighths), where the quarter is a weaker pulse than the dotted quarter (measured 0.82-3.2 of
#: the octave level's contrast on 6/8, 9/8, 12/8 grooves; 0.17-0.41 for 4/4 drums).
_COMPOUND_EVIDENCE = 0.75
#: A pulse divides into three when the flux folded at it has onsets at both its thirds, at
#: least this high above the profile floor (as a fraction of the beat's own peak), and at least
#: half as high as anything at its middle. Measured: 0.08-0.57 on compound grooves, at most
#: 0.04 on simple ones.
_THIRDS_MIN = 0.06


def octave_towards(raw_bpm: float, reference_bpm: float | None, lo: float, hi: float) -> float:
    if reference_bpm is None:
        return 1.0
    options = [2.0**k for k in range(-2, 3) if lo <= raw_bpm * 2.0**k <= hi] or [1.0]
    return min(options, key=lambda f: abs(math.log(raw_bpm * f / reference_bpm)))


def ternary_level(
    env: np.ndarray,
    raw_bpm: float,
    octave: float,
    period: float,
    contrast: float,
    reference_bpm: float,
    beats_per_bar: int,
    lo: float,
    hi: float,
) -> tuple[float, float, float, bool]:
    """(level, period, contrast, compound): the ternary level nearest the reference when the
    audio pulses there clearly enough (see `_TERNARY_EVIDENCE`), else the octave level
    unchanged; `compound`: taken as the quarter (or eighth) of a compound metre."""
    unchanged = octave, period, contrast, False
    raw_period = period * octave
    options = [f for f in _TERNARY_FACTORS if lo <= raw_bpm * f <= hi]
    if not options:
        return unchanged
    level = min(options, key=lambda f: abs(math.log(raw_bpm * f / reference_bpm)))
    bpm = 60.0 * FRAME_RATE / period
    if abs(math.log(raw_bpm * level / reference_bpm)) >= abs(math.log(bpm / reference_bpm)):
        return unchanged
    candidate = raw_period / level
    if candidate * 2 > env.size:
        return unchanged
    candidate, candidate_contrast = refine(env, candidate, 0.0)
    dotted = level in (3 / 8, 3 / 4, 3 / 2, 3.0)
    compound = dotted and beats_per_bar % 3 == 0 and _divides_in_three(env, raw_period)
    needed = _COMPOUND_EVIDENCE if compound else _TERNARY_EVIDENCE
    if candidate_contrast < needed * contrast:
        return unchanged
    return level, candidate, candidate_contrast, compound


def _divides_in_three(env: np.ndarray, raw_period: float) -> bool:
    """Whether the pulse (or its half or double: the dotted quarter, wherever the reading
    landed) has onsets at both thirds of it and little at its middle (see `_THIRDS_MIN`)."""
    return any(thirds(env, span) for span in (raw_period / 2, raw_period, raw_period * 2))


def counts_a_compound_metre(env: np.ndarray, period: float) -> bool:
    """Whether beats of `period` are the quarters of a compound metre: the dotted quarter (1.5
    beats) is the clearer pulse and divides into three eighths (whatever level the
    autocorrelation read: 6/8 at a dotted quarter of 50 reads its eighths, 150)."""
    dotted = 1.5 * period
    if dotted * 2 > env.size:
        return False
    contrasts = fold_contrast(env, np.array([period, dotted]))
    return bool(contrasts[1] > contrasts[0]) and thirds(env, dotted)


def thirds(env: np.ndarray, span: float) -> bool:
    """Whether `env` folded at `span` has onsets at both thirds of it, little at its middle."""
    if span * 2 > env.size or span < 12:
        return False
    profile = fold_profiles(env, np.array([span]))[0]
    peak = int(np.argmax(profile))
    floor = float(np.percentile(profile, 10))
    height = float(profile[peak]) - floor
    if height <= 0:
        return False
    thirds = min(_near(profile, peak, 1 / 3), _near(profile, peak, 2 / 3)) - floor
    return thirds >= _THIRDS_MIN * height and thirds >= 0.5 * (_near(profile, peak, 0.5) - floor)


def _near(profile: np.ndarray, peak: int, fraction: float) -> float:
    """The folded profile's largest value within ±2 bins of `fraction` of a cycle after `peak`."""
    bins = profile.size
    index = np.round(peak + fraction * bins + np.arange(-2, 3)).astype(np.int64) % bins
    return float(profile[index].max())
