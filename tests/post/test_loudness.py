"""BS.1770 loudness, true peak and the limiter."""

from __future__ import annotations

import math

import numpy as np
import pyloudnorm
import pytest
import scipy.signal

from sidecar.post.loudness import integrated_loudness, normalize_loudness, true_peak_dbtp

from .synth import drums


def _sine(freq: float, seconds: float, rate: int, amplitude: float = 1.0, phase: float = 0.0):
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)[np.newaxis, :]


def test_integrated_loudness_of_a_reference_tone() -> None:
    # BS.1770: a 997 Hz sine at 0 dBFS in one channel reads -3.01 LUFS.
    assert integrated_loudness(_sine(997, 5, 48000), 48000) == pytest.approx(-3.01, abs=0.05)


def test_integrated_loudness_none_for_silence_or_too_short() -> None:
    assert integrated_loudness(np.zeros((1, 48000), np.float32), 48000) is None
    assert integrated_loudness(_sine(997, 0.2, 48000), 48000) is None


def test_true_peak_sees_between_the_samples() -> None:
    # fs/4 at 45 degrees: every sample is +-0.707, the waveform peaks at 1.0 (0 dBTP).
    tone = _sine(12000, 1, 48000, phase=math.pi / 4)
    assert float(np.abs(tone).max()) == pytest.approx(0.7071, abs=1e-3)
    peak = true_peak_dbtp(tone, 48000)
    assert peak is not None and peak == pytest.approx(0.0, abs=0.15)


def test_plain_gain_when_under_the_ceiling() -> None:
    tone = _sine(440, 3, 48000, amplitude=0.1)
    out, result = normalize_loudness(tone, 48000, -23.0)
    assert result.limiter_reduction_db == 0.0
    assert integrated_loudness(out, 48000) == pytest.approx(-23.0, abs=0.05)
    gain = out[0, 100] / tone[0, 100]
    assert np.allclose(out, tone * gain, rtol=1e-4, atol=1e-6)


def test_limiter_keeps_true_peak_under_the_ceiling_at_the_target() -> None:
    audio = drums(120, 4, 48000, 2).audio
    out, result = normalize_loudness(audio, 48000, -15.0, ceiling_dbtp=-1.0)
    assert result.limiter_reduction_db > 0
    assert integrated_loudness(out, 48000) == pytest.approx(-15.0, abs=0.1)
    up = scipy.signal.resample_poly(out.astype(np.float64), 8, 1, axis=1)
    assert 20 * math.log10(float(np.abs(up).max())) <= -1.0 + 0.05


@pytest.mark.parametrize(("channels", "seconds"), [(2, 0.3), (8, 2.0)])
def test_the_ceiling_holds_where_no_loudness_can_be_measured(channels: int, seconds: float) -> None:
    """Under one 400 ms block (1 bar + 1 beat at 200 BPM) or past 5 channels there is no
    BS.1770 loudness to match, but a hot signal is still brought under -1 dBTP."""
    rate = 48000
    t = np.arange(int(seconds * rate)) / rate
    hot = np.tile(np.sin(2 * np.pi * 997 * t) * 1.4, (channels, 1)).astype(np.float32)
    out, result = normalize_loudness(hot, rate, -14.0)
    assert result.loudness_lufs is None
    peak = true_peak_dbtp(out, rate)
    assert peak is not None and peak <= -1.0
    assert result.true_peak_dbtp == pytest.approx(peak, abs=0.05)
    assert result.gain_db < -3.9
    quiet = 0.1 * hot
    same, result = normalize_loudness(quiet, rate, -14.0)
    assert same is quiet and result.gain_db == 0.0


def test_silence_passes_through() -> None:
    silent = np.zeros((2, 48000), np.float32)
    out, result = normalize_loudness(silent, 48000, -14.0)
    assert np.array_equal(out, silent)
    assert result.loudness_lufs is None and result.true_peak_dbtp is None


@pytest.mark.parametrize(
    ("rate", "channels", "seconds"),
    [(48000, 2, 8.0), (44100, 1, 3.37), (32000, 2, 12.9), (48000, 1, 0.45)],
)
def test_integrated_loudness_equals_pyloudnorm(rate: int, channels: int, seconds: float) -> None:
    # The vectorized meter (one filter cascade over all channels, cumulative-sum gating) must
    # read what the reference implementation reads, to 1e-9 LU: the limiter steers by it.
    material = drums(123, max(1.0, seconds / 2), rate, channels).audio[:, : int(seconds * rate)]
    quiet_tail = material * np.linspace(1.0, 0.01, material.shape[1], dtype=np.float32)
    for audio in (material, quiet_tail):
        ours = integrated_loudness(audio, rate)
        reference = pyloudnorm.Meter(rate).integrated_loudness(audio.T.astype(np.float64))
        assert ours is not None and ours == pytest.approx(reference, abs=1e-9)
