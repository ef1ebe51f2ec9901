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
    "whole_bars",
    "wrap_overhang",
]

#: How the loop seam was made click-free (see `cut_to_grid`); "none" for one-shots.
LoopSeam = Literal["none", "overhang_crossfade", "preroll_crossfade", "fade"]

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
