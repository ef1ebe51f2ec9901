"""⑤ A beat's attack near a grid point, to the sample: a drum's hit, or a slow low note's start."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d
from scipy.signal import correlate

from sidecar.post.channels import to_mono

__all__ = ["refine_attack"]

_ATTACK_WINDOW_SECONDS = 0.001
# Hit rule: each millisecond's power over the loudest millisecond of the 15 ms before it; the
# first to reach half of the largest, at most 20 ms before it; then walk back (at most 10 ms)
# while the last millisecond peaks at 40 % of the hit's peak.
_HIT_NEW_AFTER_MS = 15
_HIT_BUILD_UP_MS = 20
_HIT_HALF = 0.5
_HIT_BODY = 0.4
_HIT_WALK_BACK_MS = 10
# Low-note rule (see `refine_attack`).
_HOLD_SECONDS = 0.025
_SPAN_SECONDS = 0.02
_STEADY_SECONDS = 0.06
_REPEAT_CORRELATION = 0.8
_ATTACK_CORRELATION = 0.5
_LOW_NOTE_MIN_PERIOD_SECONDS = 0.004
_REPEAT_MIN_SECONDS = 0.022
_REPEAT_MAX_SECONDS = 0.055
_RATIO_WINDOW_SECONDS = 0.002
_RATIO_GOOD = 0.1
_FIT_BEFORE_SECONDS = 0.02
_FIT_LOW = 0.15
_FIT_TOP = 0.6
_FLOOR_SECONDS = 0.02
_FLOOR_MAX = 0.15
# Context either side of the search window that both rules read.
_BEFORE_SECONDS = 0.07
_AFTER_SECONDS = 0.17


def refine_attack(
    audio: np.ndarray, sample_rate: int, approx_sample: int, search_seconds: float = 0.05
) -> int:
    """The attack nearest `approx_sample` (within ±search): where the hit or the note starts.

    Hit rule (clicks, drums; always computed): the new power of a millisecond is its 1 ms
    power less the largest 1 ms power of the 15 ms before it. A low tone's crests (12 ms
    apart at 41 Hz) bring none, so where a kick and a bass note starting with it add up,
    4-30 ms on, is not taken for the hit (the rise from one millisecond to the next is larger
    there than at the kick's start). The hit's first millisecond is the first whose new power
    reaches half of the largest, at most 20 ms before it (a sound that builds up: a kick
    under a bass note, a clap's bursts), walked back (at most 10 ms) while the millisecond
    before still peaks at 40 % of the hit's peak or more (a noisy attack whose largest rise
    comes late); the attack is the first sample above 10 % of that peak. Rubber Band's
    pre-echo before a stretched click (up to about a third of its peak) stays under 40 % and
    is left out.

    Low-note rule (bass, pads), used when it applies and lands no later than the hit rule. A
    low note's 1 ms power peaks at its waveform's crests, so its largest rise lies inside a
    slow attack; its envelope is judged instead against the note itself. The attack region is
    where the peak envelope held over 25 ms rises most over 20 ms. It applies when the 60 ms
    after that repeat with a period of 4 ms or more (correlation 0.8: a fundamental of 250 Hz
    or lower) and the attack repeats after some lag D of 22-55 ms. The envelope is the RMS over
    2 ms at each moment divided by the RMS at the same point of the waveform D later (the
    waveform cancels, the amplitude ratio stays), and the attack is the corner of the
    weighted least-squares hinge (a floor, then a straight rise) through that envelope from
    the last quiet value up to 60 % of its later level: where the envelope starts to rise,
    however slowly. It does not apply without a quiet stretch before the rise, nor to a
    note rising out of something within about 16 dB of it (legato, an overlap).

    Returns `approx_sample` unchanged when nothing new starts in the window (silence, a
    steady sound).
    """
    width = max(1, round(_ATTACK_WINDOW_SECONDS * sample_rate))
    search = max(1, round(search_seconds * sample_rate))
    before = search + round(_BEFORE_SECONDS * sample_rate)
    after = search + round(_AFTER_SECONDS * sample_rate)
    # Past either end of the audio is silence.
    lo, hi = approx_sample - before, approx_sample + after
    mono = np.zeros(hi - lo)
    a0, a1 = max(0, lo), min(audio.shape[1], hi)
    if a1 - a0 < 4 * width:
        return approx_sample
    mono[a0 - lo : a1 - lo] = to_mono(audio[:, a0:a1])
    centre = approx_sample - lo
    hit = _hit_onset(mono, width, centre, search)
    if hit is None:
        return approx_sample
    note = _low_note_onset(mono, sample_rate, centre, search)
    onset = hit if note is None or note > hit else note
    return max(0, lo + onset)


def _hit_onset(mono: np.ndarray, width: int, centre: int, search: int) -> int | None:
    """The hit rule of `refine_attack`, in samples of `mono`; None when nothing new starts."""
    power = np.concatenate([[0.0], np.cumsum(mono * mono)])
    energy = (power[width:] - power[:-width]) / width  # energy[i] covers mono[i : i + width]
    # loudest[i]: the largest energy[j] for j in (i - span, i]: the windows of the span up to
    # the one at i.
    span = _HIT_NEW_AFTER_MS * width
    loudest = maximum_filter1d(energy, span, origin=(span - 1) // 2, mode="nearest")
    new = energy[width:] - loudest[:-width]  # new[i]: window at i + width vs the span before
    first, last = centre - search - width, centre + search
    top = int(np.argmax(new[first:last]))
    largest = float(new[first + top])
    if largest <= 0:
        return None
    since = max(0, top - _HIT_BUILD_UP_MS * width)
    start = since + int(np.argmax(new[first + since : first + top + 1] >= _HIT_HALF * largest))
    onset = first + start + width  # the hit's first millisecond
    magnitude = np.abs(mono)
    peak = float(magnitude[onset : onset + 2 * width].max())
    # held[i]: the peak of the millisecond up to sample i.
    held = maximum_filter1d(magnitude, 2 * (width // 2) + 1, origin=width // 2, mode="nearest")
    reach = onset - _HIT_WALK_BACK_MS * width
    quiet = np.flatnonzero(held[reach:onset] < _HIT_BODY * peak)
    body = reach + int(quiet[-1]) + 1 if quiet.size else reach
    start = body - width
    return start + int(np.argmax(magnitude[start : onset + 2 * width] >= 0.1 * peak))


def _low_note_onset(mono: np.ndarray, sample_rate: int, centre: int, search: int) -> int | None:
    """The low-note rule of `refine_attack`, in samples of `mono`; None where it does not apply."""

    def samples(seconds: float) -> int:
        return max(1, round(seconds * sample_rate))

    hold, span, steady = (
        samples(_HOLD_SECONDS) | 1,
        samples(_SPAN_SECONDS),
        samples(_STEADY_SECONDS),
    )
    # Where the peak envelope, held over 25 ms (a 40 Hz period: a low note's zero crossings do
    # not show), rises most over 20 ms: the note's attack lies around [rise, rise + span].
    held = maximum_filter1d(np.abs(mono), hold, origin=hold // 2, mode="nearest")
    first, last = centre - search - span // 2, centre + search - span // 2
    gain = held[first + span : last + span] - held[first:last]
    if gain.size == 0 or float(gain.max()) <= 0:
        return None
    rise = first + int(np.argmax(gain))
    settled = rise + span
    lag_max = samples(_REPEAT_MAX_SECONDS)
    # A low note: the 60 ms after the rise, once unlike itself, comes back (correlation 0.8)
    # only after 4 ms or more.
    corr = _repeat_correlation(mono, settled, steady, lag_max)
    dips = np.flatnonzero(corr < 0.5)
    if dips.size == 0:
        return None
    repeats = np.flatnonzero(corr[dips[0] :] >= _REPEAT_CORRELATION)
    if repeats.size == 0 or dips[0] + repeats[0] < samples(_LOW_NOTE_MIN_PERIOD_SECONDS):
        return None
    # The lag: where the attack itself repeats best, 22-55 ms on (a stretched note drifts).
    lag_min = samples(_REPEAT_MIN_SECONDS)
    corr = _repeat_correlation(mono, rise - span // 2, 2 * span, lag_max)
    lag = lag_min + int(np.argmax(corr[lag_min:]))
    if corr[lag] < _ATTACK_CORRELATION:
        return None
    # The envelope relative to the same point of the waveform `lag` later, each value weighted
    # by the later window's energy (near the later waveform's zero crossings it says little);
    # weight 0 where the later point is not yet the note (its 25 ms under a tenth of the
    # note's power).
    r0, r1 = rise - span - samples(_FIT_BEFORE_SECONDS), settled + steady // 2
    now, later = mono[r0:r1], mono[r0 + lag : r1 + lag]
    window = samples(_RATIO_WINDOW_SECONDS) | 1
    power = float(np.mean(mono[settled : settled + steady] ** 2))
    weight = _moving_sum(later * later, window)
    ratio = np.sqrt(_moving_sum(now * now, window) / np.maximum(weight, 1e-30))
    weight[_moving_sum(later * later, hold) < 0.1 * hold * power] = 0.0
    good = weight >= _RATIO_GOOD * window * power
    level = float(np.median(ratio[settled - r0 : settled - r0 + steady // 2]))
    if not level > 0:
        return None
    # The rise: from the last quiet value (under 7.5 % of the level) through 15 % up to 60 %.
    look = rise - span - r0
    high = np.flatnonzero(good[look:] & (ratio[look:] >= _FIT_TOP * level))
    if high.size == 0:
        return None
    top = look + int(high[0])
    quiet = np.flatnonzero(good[:top] & (ratio[:top] < 0.5 * _FIT_LOW * level))
    if quiet.size == 0:
        return None  # nothing quiet before the rise
    low = int(quiet[-1]) + 1
    low += int(np.argmax(ratio[low : top + 1] >= _FIT_LOW * level))
    begin = max(0, low - (top - low) - samples(0.002))
    onset = begin + _hinge_corner(ratio[begin : top + 1], weight[begin : top + 1])
    # A note that rises out of something within about 16 dB of it (legato, an overlap) is
    # not judged here.
    before = slice(max(0, onset - samples(_FLOOR_SECONDS)), max(0, onset - samples(0.001)))
    heard = float(weight[before].sum())
    if not heard > 0 or float(ratio[before] @ weight[before]) / heard > _FLOOR_MAX * level:
        return None
    return r0 + onset


def _repeat_correlation(mono: np.ndarray, start: int, length: int, max_lag: int) -> np.ndarray:
    """Normalized correlation of `mono[start : start + length]` with itself `lag` later,
    for lags 0..max_lag."""
    ref = mono[start : start + length]
    ahead = mono[start : start + length + max_lag]
    cumulative = np.concatenate([[0.0], np.cumsum(ahead * ahead)])
    norm = np.sqrt((cumulative[length:] - cumulative[:-length]) * float(ref @ ref))
    corr = correlate(ahead, ref, mode="valid", method="fft")
    return np.asarray(corr / np.maximum(norm, 1e-30), dtype=np.float64)


def _moving_sum(values: np.ndarray, window: int) -> np.ndarray:
    """Sum over `window` (odd) samples centred on each sample; zeros past the ends."""
    half = window // 2
    padded = np.concatenate([np.zeros(half + 1), values, np.zeros(half)])
    cumulative = np.cumsum(padded)
    return np.asarray(cumulative[window:] - cumulative[:-window], dtype=np.float64)


def _hinge_corner(values: np.ndarray, weights: np.ndarray) -> int:
    """The corner k of the weighted least-squares fit c + b * max(0, i - k) to `values`.

    All k at once: for each k the fit is a weighted straight-line regression on
    x_i = max(0, i - k), whose sums over i >= k are suffix sums of w, w i, w i^2, w y, w i y.
    """
    i = np.arange(values.size, dtype=np.float64)
    k = i

    def suffix(terms: np.ndarray) -> np.ndarray:
        return np.cumsum(terms[::-1])[::-1]

    wy = weights * values
    s_w, s_wi, s_wii = suffix(weights), suffix(weights * i), suffix(weights * i * i)
    s_wiy = suffix(wy * i)
    sw, swy, swyy = float(weights.sum()), float(wy.sum()), float(wy @ values)
    sx = s_wi - k * s_w  # sums of w x, w x^2, w x y with x = i - k over i >= k
    sxx = s_wii - 2 * k * s_wi + k * k * s_w
    sxy = s_wiy - k * suffix(wy)
    det = sw * sxx - sx * sx
    ok = det > 1e-12 * max(sw * sw, 1e-300)
    slope = np.where(ok, (sw * sxy - sx * swy) / np.where(ok, det, 1.0), 0.0)
    offset = (swy - slope * sx) / max(sw, 1e-300)
    residual = swyy - offset * swy - slope * sxy
    return int(np.argmin(np.where(ok & (slope > 0), residual, np.inf)))
