"""⑤ Comb folding of an onset envelope: periodicity, refined periods and their confidence."""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "SEARCH_SPAN",
    "SEARCH_STEPS",
    "comb_confidence",
    "evidence_at",
    "fold_contrast",
    "fold_profiles",
    "parabolic_offset",
    "refine",
]

#: Local refinement searches this far (as a fraction) around the autocorrelation tempo, first
#: coarsely, then finely around the best coarse period.
SEARCH_SPAN = 0.03
SEARCH_STEPS = 41
_FINE_SPAN = 0.002
_FINE_STEPS = 41
#: Periods with no simple ratio to the beat: how periodic is the audio at a period that means
#: nothing? The confidence compares the beat period's comb contrast against these.
_NULL_FACTORS = (0.618, 0.707, 0.794, 1.26, 1.414, 1.618)


def refine(env: np.ndarray, period: float, span: float) -> tuple[float, float]:
    """The sharpest period within ±`span` (then ±0.2 %) of `period`, and its comb contrast."""
    passes = (
        ((span, SEARCH_STEPS), (_FINE_SPAN, _FINE_STEPS)) if span else ((_FINE_SPAN, _FINE_STEPS),)
    )
    contrast = 0.0
    for width, steps in passes:
        factors = np.exp(np.linspace(-width, width, steps))
        contrasts = fold_contrast(env, period * factors)
        best = int(np.argmax(contrasts))
        step = parabolic_offset(contrasts, best) * 2 * width / (steps - 1)
        period = float(period * factors[best] * math.exp(step))
        contrast = float(contrasts[best])
    return period, contrast


def fold_profiles(env: np.ndarray, periods: np.ndarray) -> np.ndarray:
    """Average `env` over each period's cycle: one row of phase bins per period."""
    bins = int(np.clip(round(float(periods.min())), 16, 256))
    frames = np.arange(env.size, dtype=np.float64)
    phase = np.mod(frames[np.newaxis, :] / periods[:, np.newaxis], 1.0)
    index = np.minimum((phase * bins).astype(np.int64), bins - 1)
    index += (np.arange(periods.size) * bins)[:, np.newaxis]
    total = periods.size * bins
    sums = np.bincount(index.ravel(), weights=np.tile(env, periods.size), minlength=total)
    counts = np.bincount(index.ravel(), minlength=total)
    profiles = (sums / np.maximum(counts, 1)).reshape(periods.size, bins)
    return 0.5 * profiles + 0.25 * (np.roll(profiles, 1, axis=1) + np.roll(profiles, -1, axis=1))


def fold_contrast(env: np.ndarray, periods: np.ndarray) -> np.ndarray:
    profiles = fold_profiles(env, periods)
    mean = profiles.mean(axis=1)
    return np.asarray(profiles.max(axis=1) / np.maximum(mean, 1e-12) - 1.0)


def comb_confidence(env: np.ndarray, period: float, peak_contrast: float) -> float:
    nulls = []
    local = np.exp(np.linspace(-0.01, 0.01, 11))
    for factor in _NULL_FACTORS:
        null_period = period * factor
        if null_period * 2 > env.size:
            continue
        nulls.append(float(fold_contrast(env, null_period * local).max()))
    if not nulls or peak_contrast <= 0:
        return 0.0
    ratio = peak_contrast / max(float(np.median(nulls)), 1e-9)
    # ratio ~1-1.4 for noise, ~2 for busy but pulsed music, 5-50 for drums and clicks.
    return float(np.clip((ratio - 1.3) / 1.4, 0.0, 1.0))


def evidence_at(env: np.ndarray, period: float, contrast: float) -> float | None:
    """Comb contrast at `period` (the sharpest within ±1.5 %) as a fraction of `contrast`."""
    if period * 2 > env.size or contrast <= 0:
        return None
    local = fold_contrast(env, period * np.exp(np.linspace(-0.015, 0.015, 13)))
    return float(local.max()) / contrast


def parabolic_offset(values: np.ndarray, index: int, circular: bool = False) -> float:
    n = values.size
    if circular:
        left, right = values[(index - 1) % n], values[(index + 1) % n]
    elif 0 < index < n - 1:
        left, right = values[index - 1], values[index + 1]
    else:
        return 0.0
    centre = values[index]
    denom = left - 2 * centre + right
    if denom >= 0:
        return 0.0
    return float(np.clip(0.5 * (left - right) / denom, -0.5, 0.5))
