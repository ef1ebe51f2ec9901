"""⑤ Loudness: BS.1770 integrated loudness (pyloudnorm), true peak and a true-peak limiter."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import pyloudnorm
import scipy.ndimage
import scipy.signal

__all__ = [
    "DEFAULT_LOUDNESS_LUFS",
    "MAX_LIMITING_DB",
    "LoudnessResult",
    "integrated_loudness",
    "normalize_loudness",
    "true_peak_dbtp",
]

DEFAULT_LOUDNESS_LUFS = -14.0
#: The limiter never takes more than this off the loudest peak; beyond it the stem is left
#: quieter than the target (and the report says so) rather than audibly squashed.
MAX_LIMITING_DB = 6.0

#: BS.1770-4 Annex 2: at least 4x oversampling. A 4x meter can under-read a peak that falls
#: between its points when there is energy near Nyquist: by 0.2 dB on synthetic hi-hats
#: (against 8x), far less on MusicGen output (nothing above 16 kHz). The limiter aims
#: `_MARGIN_DB` under the ceiling so an 8x meter also reads at or under it.
_OVERSAMPLE = 4
_FIR_TAPS = 95  # odd: the centre tap falls on a sample, so one branch is the signal itself
_MARGIN_DB = 0.25
_SMOOTHING_SECONDS = 0.010
_MAX_ITERATIONS = 6
_TOLERANCE_LU = 0.05
_BLOCK_SECONDS = 0.4


@dataclass(frozen=True)
class LoudnessResult:
    """Before and after of `normalize_loudness`; loudness None means silent or under 0.4 s."""

    target_lufs: float
    input_lufs: float | None
    loudness_lufs: float | None
    true_peak_dbtp: float | None
    gain_db: float
    limiter_reduction_db: float


def integrated_loudness(audio: np.ndarray, sample_rate: int) -> float | None:
    """BS.1770-4 gated integrated loudness of `(channels, samples)` audio, in LUFS.

    Returns None for audio shorter than one 400 ms gating block or below the -70 LUFS gate.
    """
    if audio.shape[1] < math.ceil(_BLOCK_SECONDS * sample_rate) + 1 or audio.shape[0] > 5:
        return None
    value = float(pyloudnorm.Meter(sample_rate).integrated_loudness(audio.T.astype(np.float64)))
    return value if math.isfinite(value) else None


@cache
def _branches() -> tuple[tuple[np.ndarray, int], ...]:
    """The interpolating polyphase branches (taps, delay in input samples) of the 4x filter.

    A Kaiser-windowed sinc with cutoff at the original Nyquist; with an odd length centred on
    a tap, the branch through the centre reproduces the samples and is left out.
    """
    taps = scipy.signal.firwin(_FIR_TAPS, 1.0 / _OVERSAMPLE, window=("kaiser", 8.0))
    taps = np.asarray(taps / taps[_FIR_TAPS // 2], dtype=np.float32)
    centre = _FIR_TAPS // 2
    out = []
    for k in range(_OVERSAMPLE):
        if (centre - k) % _OVERSAMPLE == 0:
            continue
        out.append((taps[k::_OVERSAMPLE].copy(), -(-(centre - k) // _OVERSAMPLE)))
    return tuple(out)


def _true_peak_envelope(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Per input sample n, the largest |value| of the 4x oversampled signal in [n, n + 1).

    The polyphase branches of a 95-tap interpolation filter give the values between samples;
    each branch's delay is removed so that index n means sample n. All channels are merged.
    """
    del sample_rate  # the filter is relative to the rate
    env = np.abs(audio).max(axis=0).astype(np.float32)
    pad = max(delay for _, delay in _branches())
    padded = np.concatenate([audio, np.zeros((audio.shape[0], pad), dtype=np.float32)], axis=1)
    for branch, delay in _branches():
        values = np.abs(scipy.signal.lfilter(branch, [np.float32(1.0)], padded, axis=1)).max(axis=0)
        np.maximum(env, values[delay : delay + env.size], out=env)
    return env


def true_peak_dbtp(audio: np.ndarray, sample_rate: int) -> float | None:
    """True peak in dBTP from an 8x oversampled estimate (not the sample peak); None if silent."""
    peak = float(_true_peak_envelope(audio, sample_rate).max())
    return 20.0 * math.log10(peak) if peak > 0 else None


def _limiter_gain(envelope: np.ndarray, ceiling: float, sample_rate: int) -> np.ndarray:
    """A smooth gain curve that keeps `envelope x gain` under `ceiling` at every sample.

    The needed gain is spread by a minimum filter over ±10 ms, then smoothed by a moving
    average over the same ±10 ms. Every value averaged at sample n comes from a window that
    contains n, so the curve never exceeds the need: 10 ms of look-ahead attack, 10 ms release.
    Short on purpose: a longer release would take the body of every kick down with its peak.
    """
    need = np.minimum(1.0, ceiling / np.maximum(envelope, 1e-12))
    size = 2 * max(1, round(_SMOOTHING_SECONDS * sample_rate)) + 1
    held = scipy.ndimage.minimum_filter1d(need, size, mode="nearest")
    return np.asarray(scipy.ndimage.uniform_filter1d(held, size, mode="nearest"), dtype=np.float64)


def normalize_loudness(
    audio: np.ndarray,
    sample_rate: int,
    target_lufs: float,
    ceiling_dbtp: float = -1.0,
) -> tuple[np.ndarray, LoudnessResult]:
    """Bring `audio` to `target_lufs` with its true peak at or below `ceiling_dbtp`.

    A plain gain when it fits under the ceiling; otherwise a look-ahead true-peak limiter takes
    the peaks down (10 ms attack and release, at most 6 dB; past that the stem stays quieter
    than the target), and the gain is re-measured and corrected until within 0.05 LU.
    """
    input_lufs = integrated_loudness(audio, sample_rate)
    if input_lufs is None:
        peak = true_peak_dbtp(audio, sample_rate)
        return audio, LoudnessResult(target_lufs, None, None, peak, 0.0, 0.0)
    ceiling = 10.0 ** ((ceiling_dbtp - _MARGIN_DB) / 20.0)
    envelope = _true_peak_envelope(audio, sample_rate)
    peak = float(envelope.max())
    gain_db = target_lufs - input_lufs
    gain = 10.0 ** (gain_db / 20.0)
    if peak * gain <= ceiling:
        out = (audio * np.float32(gain)).astype(np.float32)
        tp = 20.0 * math.log10(peak * gain) if peak > 0 else None
        return out, LoudnessResult(target_lufs, input_lufs, target_lufs, tp, gain_db, 0.0)

    loudness: float | None = None
    out = audio
    reduction_db = 0.0
    tried: list[tuple[float, float]] = []  # (gain_db, loudness): secant steps on the target
    for _ in range(_MAX_ITERATIONS):
        gain = 10.0 ** (gain_db / 20.0)
        curve = _limiter_gain(envelope * gain, ceiling, sample_rate)
        reduction_db = -20.0 * math.log10(max(float(curve.min()), 1e-12))
        if reduction_db > MAX_LIMITING_DB:
            # Too much to limit: back the gain off so the limiter works at its maximum.
            gain_db -= reduction_db - MAX_LIMITING_DB
            gain = 10.0 ** (gain_db / 20.0)
            curve = _limiter_gain(envelope * gain, ceiling, sample_rate)
            reduction_db = -20.0 * math.log10(max(float(curve.min()), 1e-12))
        out = (audio * (gain * curve)).astype(np.float32)
        loudness = integrated_loudness(out, sample_rate)
        if loudness is None or abs(loudness - target_lufs) <= _TOLERANCE_LU:
            break
        if reduction_db >= MAX_LIMITING_DB - 0.01 and loudness < target_lufs:
            break
        slope = 1.0
        if tried and abs(gain_db - tried[-1][0]) > 1e-6:
            slope = (loudness - tried[-1][1]) / (gain_db - tried[-1][0])
            slope = min(1.0, max(0.1, slope))
        tried.append((gain_db, loudness))
        gain_db += (target_lufs - loudness) / slope
    # The gain curve is checked against the oversampled envelope of the input; re-measure the
    # output and trim any residue (tiny: from the curve's own smoothing between samples).
    tp = true_peak_dbtp(out, sample_rate)
    if tp is not None and tp > ceiling_dbtp:
        trim = 10.0 ** ((ceiling_dbtp - tp) / 20.0)
        out = (out * np.float32(trim)).astype(np.float32)
        gain_db += 20.0 * math.log10(trim)
        loudness = None if loudness is None else loudness + 20.0 * math.log10(trim)
        tp = ceiling_dbtp
    return out, LoudnessResult(target_lufs, input_lufs, loudness, tp, gain_db, reduction_db)
