"""⑤ Loudness: BS.1770 integrated loudness (pyloudnorm), true peak and a true-peak limiter."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cache

import numpy as np
import pyloudnorm
import scipy.ndimage
import scipy.signal

from sidecar.post.channels import as_audio

__all__ = [
    "DEFAULT_LOUDNESS_LUFS",
    "MAX_LIMITING_DB",
    "LoudnessResult",
    "integrated_loudness",
    "level_stem",
    "normalize_loudness",
    "reference_loudness",
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
_INTERPOLATE_ABOVE = 10.0 ** (-12.0 / 20.0)
_SMOOTHING_SECONDS = 0.010
_MAX_ITERATIONS = 6
_TOLERANCE_LU = 0.05
_BLOCK_SECONDS = 0.4
#: A mono file plays on both speakers of a stereo track at full level: BS.1770 then reads
#: 10·log10(2) dB more than for the one channel. Mono stems and clips are measured that way,
#: so a mono take matched to a stereo clip (or the other way round) sounds as loud as it.
_DUAL_MONO_DB = 10.0 * math.log10(2.0)


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

    pyloudnorm's K-weighting filters with its blocks and gates, vectorized so that the limiter
    can reuse the filtered signal; the result equals `pyloudnorm.Meter.integrated_loudness`
    to 1e-9 LU. Returns None for audio shorter than one 400 ms block or below the -70 LUFS gate.
    """
    if audio.shape[1] <= math.ceil(_BLOCK_SECONDS * sample_rate) or audio.shape[0] > 5:
        return None
    power = _k_weighted_power(audio, sample_rate) if audio.shape[0] <= 2 else None
    if power is None:  # surround channel weights, or a pyloudnorm without `_filters`
        value = float(pyloudnorm.Meter(sample_rate).integrated_loudness(audio.T.astype(np.float64)))
        return value if math.isfinite(value) else None
    return _gated_loudness(power, None, sample_rate)


def _k_weighted_power(audio: np.ndarray, sample_rate: int) -> np.ndarray | None:
    """Per sample, the sum over channels of the squared K-weighted signal (None if unknown).

    pyloudnorm's own BS.1770 K-weighting biquads, run as one second-order-section cascade over
    all channels at once (same result to 1e-12, half the time of one filter call per stage
    and channel).
    """
    filters = getattr(pyloudnorm.Meter(sample_rate), "_filters", None)
    if not isinstance(filters, dict):
        return None
    sections = []
    for stage in filters.values():
        b, a = np.asarray(stage.b, np.float64), np.asarray(stage.a, np.float64)
        if b.shape != (3,) or a.shape != (3,):
            return None
        sections.append(np.concatenate([b / a[0], a / a[0]]))
    weighted = scipy.signal.sosfilt(np.stack(sections), audio.astype(np.float64), axis=1)
    return np.asarray(np.square(weighted).sum(axis=0))


def _gated_loudness(power: np.ndarray, gain: np.ndarray | None, sample_rate: int) -> float | None:
    """BS.1770 gating over K-weighted power (`_k_weighted_power`) times a gain curve squared.

    The same blocks and gates as pyloudnorm, with `K(gain * x)` taken as `gain * K(x)`: exact
    for a constant gain, within a few hundredths of a LU for the limiter's 10 ms curves. Used
    to steer the limiter; the result is then measured with pyloudnorm's filters again.
    """
    block = _BLOCK_SECONDS * sample_rate
    total = power.size / sample_rate
    count = int(np.round((total - _BLOCK_SECONDS) / (_BLOCK_SECONDS * 0.25))) + 1
    if count < 1:
        return None
    scaled = power if gain is None else power * np.square(gain)
    cumulative = np.concatenate([[0.0], np.cumsum(scaled)])
    starts = (_BLOCK_SECONDS * 0.25 * np.arange(count) * sample_rate).astype(np.int64)
    ends = (_BLOCK_SECONDS * (0.25 * np.arange(count) + 1) * sample_rate).astype(np.int64)
    ends = np.minimum(ends, power.size)
    z = (cumulative[ends] - cumulative[starts]) / block
    with np.errstate(divide="ignore"):
        levels = -0.691 + 10.0 * np.log10(z)
    gated = z[levels >= -70.0]
    if gated.size == 0:
        return None
    relative = -0.691 + 10.0 * math.log10(float(gated.mean())) - 10.0
    kept = z[(levels > relative) & (levels > -70.0)]
    if kept.size == 0:
        return None
    return -0.691 + 10.0 * math.log10(float(kept.mean()))


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
    Only stretches within 12 dB of the loudest sample are interpolated: a peak between
    samples rises at most ~6 dB over its neighbours, and the limiter takes at most 6 dB, so
    quieter stretches can never reach the ceiling; they keep their sample peak.
    """
    del sample_rate  # the filter is relative to the rate
    env = np.abs(audio).max(axis=0).astype(np.float32)
    top = float(env.max()) if env.size else 0.0
    if top <= 0.0:
        return env
    reach = _FIR_TAPS // _OVERSAMPLE + 1
    # Widened by 5 ms so that nearby loud stretches merge into one filtering run.
    loud = scipy.ndimage.maximum_filter1d(env, 2 * reach + 481) >= _INTERPOLATE_ABOVE * top
    edges = np.flatnonzero(np.diff(np.concatenate([[0], loud.view(np.int8), [0]])))
    for first, last in zip(edges[::2], edges[1::2], strict=True):
        lo, hi = max(0, first - reach), min(env.size, last + reach)
        segment = np.concatenate(
            [audio[:, lo:hi], np.zeros((audio.shape[0], reach), dtype=np.float32)], axis=1
        )
        for branch, delay in _branches():
            values = np.abs(scipy.signal.lfilter(branch, [np.float32(1.0)], segment, axis=1))
            between = values.max(axis=0)[delay : delay + hi - lo]
            np.maximum(env[lo:hi], between, out=env[lo:hi])
    return env


def true_peak_dbtp(audio: np.ndarray, sample_rate: int) -> float | None:
    """True peak in dBTP from an 8x oversampled estimate (not the sample peak); None if silent."""
    peak = float(_true_peak_envelope(audio, sample_rate).max())
    return 20.0 * math.log10(peak) if peak > 0 else None


def _limiter_gain(
    envelope: np.ndarray, ceiling: float, sample_rate: int, loop: bool = False
) -> np.ndarray:
    """A smooth gain curve that keeps `envelope x gain` under `ceiling` at every sample.

    The needed gain is spread by a minimum filter over ±10 ms, then smoothed by a moving
    average over the same ±10 ms. Every value averaged at sample n comes from a window that
    contains n, so the curve never exceeds the need: 10 ms of look-ahead attack, 10 ms release.
    Short on purpose: a longer release would take the body of every kick down with its peak.
    With `loop`, the curve wraps around: the end leads into sample 0 as the loop plays, so a
    peak on the downbeat is ducked on both sides of the seam (no gain step at the wrap).
    """
    need = np.minimum(1.0, ceiling / np.maximum(envelope, 1e-12))
    size = 2 * max(1, round(_SMOOTHING_SECONDS * sample_rate)) + 1
    mode = "wrap" if loop else "nearest"
    held = scipy.ndimage.minimum_filter1d(need, size, mode=mode)
    return np.asarray(scipy.ndimage.uniform_filter1d(held, size, mode=mode), dtype=np.float64)


def normalize_loudness(
    audio: np.ndarray,
    sample_rate: int,
    target_lufs: float,
    ceiling_dbtp: float = -1.0,
    loop: bool = False,
) -> tuple[np.ndarray, LoudnessResult]:
    """Bring `audio` to `target_lufs` with its true peak at or below `ceiling_dbtp`.

    A plain gain when it fits under the ceiling; otherwise a look-ahead true-peak limiter takes
    the peaks down (10 ms attack and release, at most 6 dB; past that the stem stays quieter
    than the target), and the gain is re-measured and corrected until within 0.05 LU.
    `loop`: the audio is a loop (its end plays into its start); the limiter wraps around.
    """
    long_enough = audio.shape[1] > math.ceil(_BLOCK_SECONDS * sample_rate)
    power = None
    if long_enough and audio.shape[0] <= 2:
        power = _k_weighted_power(audio, sample_rate)
    if power is None:
        input_lufs = integrated_loudness(audio, sample_rate)
    else:
        input_lufs = _gated_loudness(power, None, sample_rate)
    ceiling = 10.0 ** ((ceiling_dbtp - _MARGIN_DB) / 20.0)
    if input_lufs is None:
        # No loudness to match (under one 400 ms block, silent, or more than 5 channels), but
        # the ceiling still holds: a plain gain down if the true peak is over it.
        peak = float(_true_peak_envelope(audio, sample_rate).max()) if audio.size else 0.0
        if peak <= 10.0 ** (ceiling_dbtp / 20.0):
            tp = 20.0 * math.log10(peak) if peak > 0 else None
            return audio, LoudnessResult(target_lufs, None, None, tp, 0.0, 0.0)
        gain_db = 20.0 * math.log10(ceiling / peak)
        out = (audio * np.float32(ceiling / peak)).astype(np.float32)
        tp = 20.0 * math.log10(ceiling)
        return out, LoudnessResult(target_lufs, None, None, tp, gain_db, 0.0)
    envelope = _true_peak_envelope(audio, sample_rate)
    peak = float(envelope.max())
    gain_db = target_lufs - input_lufs
    gain = 10.0 ** (gain_db / 20.0)
    if peak * gain <= ceiling:
        out = (audio * np.float32(gain)).astype(np.float32)
        tp = 20.0 * math.log10(peak * gain) if peak > 0 else None
        return out, LoudnessResult(target_lufs, input_lufs, target_lufs, tp, gain_db, 0.0)

    tried: list[tuple[float, float]] = []  # (gain_db, loudness): secant steps on the target
    next_db = gain_db
    for _ in range(_MAX_ITERATIONS):
        gain_db = next_db
        gain = 10.0 ** (gain_db / 20.0)
        curve = _limiter_gain(envelope * gain, ceiling, sample_rate, loop)
        reduction_db = -20.0 * math.log10(max(float(curve.min()), 1e-12))
        if reduction_db > MAX_LIMITING_DB:
            # Too much to limit: back the gain off so the limiter works at its maximum.
            gain_db -= reduction_db - MAX_LIMITING_DB
            gain = 10.0 ** (gain_db / 20.0)
            curve = _limiter_gain(envelope * gain, ceiling, sample_rate, loop)
            reduction_db = -20.0 * math.log10(max(float(curve.min()), 1e-12))
        if power is not None:
            steered = _gated_loudness(power, gain * curve, sample_rate)
        else:
            steered = integrated_loudness((audio * (gain * curve)).astype(np.float32), sample_rate)
        if steered is None or abs(steered - target_lufs) <= _TOLERANCE_LU:
            break
        if reduction_db >= MAX_LIMITING_DB - 0.01 and steered < target_lufs:
            break
        slope = 1.0
        if tried and abs(gain_db - tried[-1][0]) > 1e-6:
            slope = min(1.0, max(0.1, (steered - tried[-1][1]) / (gain_db - tried[-1][0])))
        tried.append((gain_db, steered))
        next_db = gain_db + (target_lufs - steered) / slope
    out = (audio * (gain * curve)).astype(np.float32)
    # The curve moves over 10 ms, so between two samples the output's true peak is the
    # input's times the gain there.
    tp_linear = float((envelope * (gain * curve)).max())
    loudness = integrated_loudness(out, sample_rate)
    trim_db = 0.0
    if loudness is not None and loudness > target_lufs + _TOLERANCE_LU:
        trim_db = target_lufs - loudness  # the proxy overshot: a plain gain down is exact
    if tp_linear > 0:
        trim_db = min(trim_db, ceiling_dbtp - 20.0 * math.log10(tp_linear))
    if trim_db < 0:
        out = (out * np.float32(10.0 ** (trim_db / 20.0))).astype(np.float32)
        gain_db += trim_db
        tp_linear *= 10.0 ** (trim_db / 20.0)
        loudness = None if loudness is None else loudness + trim_db
    tp = 20.0 * math.log10(tp_linear) if tp_linear > 0 else None
    return out, LoudnessResult(target_lufs, input_lufs, loudness, tp, gain_db, reduction_db)


def level_stem(
    audio: np.ndarray,
    sample_rate: int,
    target_lufs: float,
    ceiling_dbtp: float,
    loop: bool = False,
) -> tuple[np.ndarray, LoudnessResult]:
    """`normalize_loudness` for a stem as a DAW plays it: a mono stem is heard on both
    speakers, so it is levelled (and its loudness reported) as dual mono."""
    played = _DUAL_MONO_DB if audio.shape[0] == 1 else 0.0
    out, level = normalize_loudness(audio, sample_rate, target_lufs - played, ceiling_dbtp, loop)
    if level.loudness_lufs is None or played == 0.0:
        return out, level
    return out, replace(level, loudness_lufs=level.loudness_lufs + played)


def reference_loudness(reference: np.ndarray, sample_rate: int) -> float | None:
    """The integrated loudness of the prompt clip as a DAW plays it (a mono clip on both
    speakers), in LUFS; None if too short or silent."""
    clip = as_audio(reference, "reference")
    measured = integrated_loudness(clip, sample_rate)
    if measured is None or clip.shape[0] != 1:
        return measured
    return measured + _DUAL_MONO_DB
