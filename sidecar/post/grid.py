"""⑤ The bar grid: exact stem length, first downbeat on sample 0, click-free loop seam."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np

from sidecar.post.channels import to_mono

__all__ = [
    "GridCut",
    "LoopSeam",
    "cut_to_grid",
    "grid_num_samples",
    "refine_attack",
    "whole_bars",
]

#: How the loop seam was made click-free (see `cut_to_grid`); "none" for one-shots.
LoopSeam = Literal["none", "overhang_crossfade", "preroll_crossfade", "fade"]

_ATTACK_WINDOW_SECONDS = 0.001
_EDGE_FADE_SECONDS = 0.002


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
    """The attack nearest `approx_sample`: where the signal power jumps most, within ±search.

    The power is averaged over 1 ms; the attack is the largest rise from one millisecond to
    the next, then moved back to the first sample above 10 % of that hit's peak. Returns
    `approx_sample` unchanged when the window holds no rise (silence).
    """
    width = max(1, round(_ATTACK_WINDOW_SECONDS * sample_rate))
    search = max(1, round(search_seconds * sample_rate))
    lo = max(0, approx_sample - search - 2 * width)
    hi = min(audio.shape[1], approx_sample + search + 2 * width)
    if hi - lo < 4 * width:
        return approx_sample
    mono = to_mono(audio[:, lo:hi]).astype(np.float64)
    if lo == 0:  # before sample 0 is silence: an attack right at the start is still a rise
        mono = np.concatenate([np.zeros(2 * width), mono])
        lo = -2 * width
    power = np.concatenate([[0.0], np.cumsum(mono * mono)])
    energy = (power[width:] - power[:-width]) / width  # energy[i] covers mono[i : i + width]
    rise = energy[width:] - energy[:-width]  # rise[i]: window at i + width vs window at i
    if rise.size == 0 or float(rise.max()) <= 0:
        return approx_sample
    first = max(0, approx_sample - search - lo - width)
    last = min(rise.size, approx_sample + search - lo)
    if last <= first:
        return approx_sample
    best = first + int(np.argmax(rise[first:last]))
    onset = best + width  # the window that starts here holds the hit's first millisecond
    start = max(0, onset - width)
    segment = np.abs(mono[start : onset + 2 * width])
    peak = float(segment.max())
    if peak <= 0:
        return max(0, lo + onset)
    return max(0, lo + start + int(np.argmax(segment >= 0.1 * peak)))


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
        last sample into exactly the sample that followed it in the source;
      - "preroll_crossfade": without overhang, the audio just before the first downbeat (what
        led into sample 0) is crossfaded into the loop's end;
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
        if has_overhang and overhang_fits:
            overhang = audio[:, end : end + fade]
            body[:, :fade] = body[:, :fade] * fade_in + overhang * fade_in[::-1]
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


def _fade_out(body: np.ndarray, num_samples: int) -> None:
    n = min(num_samples, body.shape[1])
    if n > 0:
        body[:, body.shape[1] - n :] *= _raised_cosine(n)[::-1]
