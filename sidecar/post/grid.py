"""⑤ The bar grid: exact stem length, first downbeat on sample 0, click-free loop seam."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np
from scipy.ndimage import maximum_filter1d
from scipy.signal import correlate

from sidecar.post.channels import to_mono

__all__ = [
    "GridCut",
    "LoopSeam",
    "cut_to_grid",
    "grid_num_samples",
    "refine_attack",
    "whole_bars",
    "wrap_overhang",
]

#: How the loop seam was made click-free (see `cut_to_grid`); "none" for one-shots.
LoopSeam = Literal["none", "overhang_crossfade", "preroll_crossfade", "fade"]

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
_EDGE_FADE_SECONDS = 0.002
#: A loop with nothing to crossfade at its seam fades out over this at its end.
_LOOP_FADE_SECONDS = 0.01
# The downbeat's attack at a loop seam (see `_overhang_into_start`): the first 3 ms peak at
# twice the quietest 5 ms of the 30 to 5 ms before the last bar line or more; the overhang is
# aligned to it within ±5 ms (at most half the crossfade) by correlating their first 10 ms,
# and used only where that correlation reaches 0.5.
_SEAM_ATTACK_SECONDS = 0.003
_SEAM_QUIET_SECONDS = 0.005
_SEAM_BEFORE_SECONDS = (0.03, 0.005)
_SEAM_ATTACK_OVER_QUIET = 2.0
_SEAM_ALIGN_SECONDS = 0.005
_SEAM_MATCH_SECONDS = 0.01
_SEAM_LIKE = 0.5


@dataclass(frozen=True)
class GridCut:
    """What `cut_to_grid` did besides cutting."""

    #: Silence added at the end because the audio ran out before the last bar line.
    padded_samples: int
    #: Silence added at the start because the first downbeat fell before sample 0.
    lead_padding_samples: int
    loop_seam: LoopSeam


def _samples_exact(beats: int, bpm: float, sample_rate: int) -> Fraction:
    return Fraction(beats * 60 * sample_rate) / Fraction(bpm)


def grid_num_samples(bars: int, beats_per_bar: int, bpm: float, sample_rate: int) -> int:
    """Samples in `bars` bars: bars x beats_per_bar x 60 / bpm x sample_rate, rounded once.

    The product is evaluated exactly (the float `bpm` taken at its exact binary value, via
    `fractions.Fraction`) and rounded half up, once for the whole stem. Bar lines inside the
    stem are never rounded on their own, so lengths never accumulate rounding drift.
    """
    if bars < 1 or beats_per_bar < 1 or not bpm > 0 or sample_rate < 1:
        raise ValueError(
            f"need bars >= 1, beats_per_bar >= 1, bpm > 0, sample_rate >= 1; got "
            f"bars={bars}, beats_per_bar={beats_per_bar}, bpm={bpm}, sample_rate={sample_rate}"
        )
    return math.floor(_samples_exact(bars * beats_per_bar, bpm, sample_rate) + Fraction(1, 2))


def whole_bars(available_samples: int, beats_per_bar: int, bpm: float, sample_rate: int) -> int:
    """How many whole bars fit in `available_samples` (at least 1; 1 % of a bar of slack)."""
    bar = _samples_exact(beats_per_bar, bpm, sample_rate)
    return max(1, math.floor(Fraction(available_samples) / bar + Fraction(1, 100)))


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


def _raised_cosine(num_samples: int) -> np.ndarray:
    """0 -> 1 over `num_samples`; `fade_in + fade_in[::-1] == 1` (a constant-gain crossfade)."""
    t = (np.arange(num_samples) + 0.5) / num_samples
    return np.asarray(0.5 - 0.5 * np.cos(np.pi * t), dtype=np.float32)


def cut_to_grid(
    audio: np.ndarray,
    start_sample: int,
    num_samples: int,
    *,
    loop: bool = False,
    crossfade_samples: int = 480,
    sample_rate: int = 48000,
    overhang_fits: bool = True,
) -> tuple[np.ndarray, GridCut]:
    """Cut `num_samples` from `start_sample` (the first downbeat) so it lands on sample 0.

    A start before sample 0 is padded with silence in front; audio that runs out before the
    last bar line is padded with silence at the end after a 2 ms fade-out (reported).

    Loops get a click-free seam, in order of preference:
      - "overhang_crossfade": the audio just past the last bar line (the natural continuation
        of the loop's end) is crossfaded into the loop's start, so playback wraps from the
        last sample into exactly the sample that followed it in the source. When the loop
        starts with an attack (see `_overhang_into_start`), the overhang is first aligned to
        it: the next downbeat's attack lies up to a few ms off the grid, and crossfaded as it
        lies it faded the loop's first attack in (or played it early at the loop's end);
      - "preroll_crossfade": without overhang, or when nothing like the attack at sample 0
        follows the last bar line (the music stops or changes there), the audio just before
        the first downbeat (what led into sample 0) is crossfaded into the loop's end;
      - "fade": with neither, a short fade-out at the end and a 1 ms fade-in at the start.
    `overhang_fits=False` (a clear pulse at another tempo: what lies past the last bar line is
    no downbeat) leaves the overhang out, so the downbeat at sample 0 keeps its attack.
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1; got {num_samples}")
    channels, total = audio.shape
    lead = max(0, -start_sample)
    if lead:
        audio = np.concatenate([np.zeros((channels, lead), dtype=np.float32), audio], axis=1)
        start_sample, total = 0, total + lead
    body = np.array(audio[:, start_sample : start_sample + num_samples], dtype=np.float32)
    padded = num_samples - body.shape[1]
    if padded > 0:
        _fade_out(body, round(_EDGE_FADE_SECONDS * sample_rate))
        body = np.concatenate([body, np.zeros((channels, padded), dtype=np.float32)], axis=1)
    seam: LoopSeam = "none"
    fade = min(crossfade_samples, num_samples // 2)
    if loop and fade > 0:
        end = start_sample + num_samples
        fade_in = _raised_cosine(fade)
        has_overhang = padded <= 0 and end + fade <= total
        has_preroll = padded <= 0 and start_sample >= fade
        if (
            has_overhang
            and overhang_fits
            and _overhang_into_start(body, audio, end, fade, sample_rate)
        ):
            seam = "overhang_crossfade"
        elif has_preroll:
            preroll = audio[:, start_sample - fade : start_sample]
            tail = body[:, num_samples - fade :]
            body[:, num_samples - fade :] = tail * fade_in[::-1] + preroll * fade_in
            seam = "preroll_crossfade"
        else:
            if padded <= 0:
                _fade_out(body, fade)
            fade_in_samples = min(fade, max(1, round(0.001 * sample_rate)))
            body[:, :fade_in_samples] *= _raised_cosine(fade_in_samples)
            seam = "fade"
    return body, GridCut(max(0, padded), lead, seam)


def wrap_overhang(
    audio: np.ndarray, overhang_samples: int, sample_rate: int
) -> tuple[np.ndarray, LoopSeam]:
    """A loop from bar-exact audio followed by `overhang_samples` of what came after its last
    bar line (windows joined into one take): that audio is crossfaded into the loop's start,
    as `cut_to_grid` does (aligned to an attack at the start, the crossfade shortened by the
    shift where the overhang runs short), so playback wraps into the sample that followed the
    end. Without any, or when nothing like the attack at sample 0 follows the last bar line,
    a short fade-out at the end and a 1 ms fade-in at the start. Returns (loop, seam).
    """
    if overhang_samples < 0 or overhang_samples >= audio.shape[1]:
        raise ValueError(f"overhang_samples: got {overhang_samples}; expected 0 to the length")
    body = np.array(audio[:, : audio.shape[1] - overhang_samples], dtype=np.float32)
    fade = min(overhang_samples, body.shape[1] // 2)
    if fade and _overhang_into_start(body, audio, body.shape[1], fade, sample_rate):
        return body, "overhang_crossfade"
    _fade_out(body, round(_LOOP_FADE_SECONDS * sample_rate))
    fade_in_samples = min(body.shape[1], max(1, round(0.001 * sample_rate)))
    body[:, :fade_in_samples] *= _raised_cosine(fade_in_samples)
    return body, "fade"


def _overhang_into_start(
    body: np.ndarray, source: np.ndarray, end: int, fade: int, sample_rate: int
) -> bool:
    """Crossfade what followed the loop in `source` (from `end`, its last bar line) into the
    start of `body` (the loop, in place) over `fade` samples; False, `body` untouched, where
    nothing like the loop's first attack follows.

    The rule. The loop starts with an attack when the peak of its first 3 ms is at least
    twice that of the quietest 5 ms of `source` 30 to 5 ms before `end` (before the next
    downbeat and clear of one up to 5 ms early or of a stretcher's pre-echo). Then the
    overhang is taken from `end + shift`, the shift (within ±5 ms, at most half the
    crossfade) where its first 10 ms correlate best with the loop's: the next downbeat's
    attack on the loop's own, so the crossfade keeps the attack. A best correlation under
    0.5 (nothing like the attack follows the last bar line: the music stops or changes
    there) refuses. The loop's last samples are crossfaded into `source[end - n + shift :
    end + shift]` over the same n samples, so the wrap still plays on from exactly the sample
    that followed (the loop's end gains or loses `shift` samples of what led into the next
    downbeat, and holds no piece of an early one). The crossfade is shortened by a late shift
    where `source` ends sooner. Without an attack the overhang is crossfaded as it lies.
    """
    total, length = source.shape[1], body.shape[1]

    def samples(seconds: float) -> int:
        return max(1, round(seconds * sample_rate))

    shift = 0
    reach = min(samples(_SEAM_ALIGN_SECONDS), fade // 2)
    if reach > 0 and _starts_with_attack(body, source, end, sample_rate):
        lo, hi = min(reach, end - fade), min(reach, total - end - (fade + 1) // 2)
        window = min(fade, samples(_SEAM_MATCH_SECONDS), total - end - hi)
        ref = to_mono(body[:, :window]).astype(np.float64)
        ahead = to_mono(source[:, end - lo : end + hi + window]).astype(np.float64)
        cumulative = np.concatenate([[0.0], np.cumsum(ahead * ahead)])
        norm = np.sqrt((cumulative[window:] - cumulative[:-window]) * float(ref @ ref))
        corr = correlate(ahead, ref, mode="valid") / np.maximum(norm, 1e-30)
        best = int(np.argmax(corr))
        if corr[best] < _SEAM_LIKE:
            return False
        shift = best - lo
    n = min(fade, total - end - shift)
    fade_in = _raised_cosine(n)
    if shift:
        tail = body[:, length - n :]
        lead = source[:, end - n + shift : end + shift]
        body[:, length - n :] = tail * fade_in[::-1] + lead * fade_in
    overhang = source[:, end + shift : end + shift + n]
    body[:, :n] = body[:, :n] * fade_in + overhang * fade_in[::-1]
    return True


def _starts_with_attack(body: np.ndarray, source: np.ndarray, end: int, sample_rate: int) -> bool:
    """Whether the loop `body` starts with an attack (see `_overhang_into_start`)."""
    attack = max(1, round(_SEAM_ATTACK_SECONDS * sample_rate))
    peak = float(np.max(np.abs(body[:, :attack])))
    step = max(1, round(_SEAM_QUIET_SECONDS * sample_rate))
    early, late = (end - round(seconds * sample_rate) for seconds in _SEAM_BEFORE_SECONDS)
    before = np.abs(source[:, max(0, early) : max(0, late)]).max(axis=0)
    if before.size < step:
        return peak > 0
    held = maximum_filter1d(before, step, origin=(step - 1) // 2)[step - 1 :]
    return peak > 0 and peak >= _SEAM_ATTACK_OVER_QUIET * float(held.min())


def _fade_out(body: np.ndarray, num_samples: int) -> None:
    n = min(num_samples, body.shape[1])
    if n > 0:
        body[:, body.shape[1] - n :] *= _raised_cosine(n)[::-1]
