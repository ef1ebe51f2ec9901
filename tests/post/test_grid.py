"""Grid arithmetic, cutting, padding, loop seams and attack refinement."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from sidecar.post.grid import cut_to_grid, grid_num_samples, refine_attack, whole_bars


@pytest.mark.parametrize("bpm", [70.0, 87.0, 97.0, 123.0, 140.0, 174.0, 180.0, 127.35])
@pytest.mark.parametrize("bars", [1, 4, 8, 64])
@pytest.mark.parametrize("sample_rate", [44100, 48000])
def test_grid_length_is_rounded_once(bpm: float, bars: int, sample_rate: int) -> None:
    exact = Fraction(bars * 4 * 60 * sample_rate) / Fraction(bpm)
    n = grid_num_samples(bars, 4, bpm, sample_rate)
    assert abs(n - exact) <= Fraction(1, 2)
    # Not the sum of per-bar roundings: no drift over long stems.
    assert abs(n - bars * grid_num_samples(1, 4, bpm, sample_rate)) <= bars // 2 + 1


def test_grid_rounds_half_up() -> None:
    # 1 bar of 1 beat at 96 BPM, 100 Hz: 62.5 samples exactly -> 63.
    assert grid_num_samples(1, 1, 96.0, 100) == 63
    assert grid_num_samples(8, 4, 120.0, 48000) == 768000
    assert grid_num_samples(8, 4, 174.0, 48000) == 529655  # 529655.17


def test_grid_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="bars"):
        grid_num_samples(0, 4, 120.0, 48000)


def test_whole_bars() -> None:
    bar = grid_num_samples(1, 4, 120.0, 48000)
    assert whole_bars(bar * 5 + 100, 4, 120.0, 48000) == 5
    assert whole_bars(bar * 5 - 10, 4, 120.0, 48000) == 5  # 1 % slack, padded
    assert whole_bars(10, 4, 120.0, 48000) == 1


def test_cut_pads_short_audio_with_silence() -> None:
    audio = np.ones((2, 1000), np.float32)
    out, cut = cut_to_grid(audio, 200, 1500, sample_rate=48000)
    assert out.shape == (2, 1500)
    assert cut.padded_samples == 700
    assert np.all(out[:, 800:] == 0)
    assert out[0, 799] < 0.1  # faded out before the padding


def test_cut_pads_in_front_for_a_downbeat_before_sample_0() -> None:
    audio = np.ones((1, 1000), np.float32)
    out, cut = cut_to_grid(audio, -10, 500, sample_rate=48000)
    assert cut.lead_padding_samples == 10
    assert np.all(out[:, :10] == 0) and np.all(out[:, 10:] == 1)


def _tone(n: int) -> np.ndarray:
    return np.sin(2 * np.pi * 61.3 * np.arange(n) / 48000).astype(np.float32)[np.newaxis, :]


def test_loop_seam_overhang_makes_the_wrap_continuous() -> None:
    audio = _tone(20000)
    out, cut = cut_to_grid(audio, 1000, 9000, loop=True, crossfade_samples=480)
    assert cut.loop_seam == "overhang_crossfade"
    # Wrapping plays out[-1] then out[0]: exactly audio[9999] then audio[10000].
    assert out[0, -1] == audio[0, 9999]
    assert out[0, 0] == pytest.approx(audio[0, 10000], abs=1e-4)


def test_loop_seam_preroll_when_nothing_follows() -> None:
    audio = _tone(10000)
    out, cut = cut_to_grid(audio, 1000, 9000, loop=True, crossfade_samples=480)
    assert cut.loop_seam == "preroll_crossfade"
    assert out[0, -1] == pytest.approx(audio[0, 999], abs=1e-4)  # leads into audio[1000] = out[0]
    assert out[0, 0] == audio[0, 1000]


def test_loop_seam_fade_as_a_last_resort() -> None:
    audio = _tone(9000)
    out, cut = cut_to_grid(audio, 0, 9000, loop=True, crossfade_samples=480)
    assert cut.loop_seam == "fade"
    assert abs(out[0, -1]) < 1e-3 and abs(out[0, 0]) < 1e-3


def test_refine_attack_finds_the_hit() -> None:
    rng = np.random.default_rng(1)
    audio = (0.01 * rng.standard_normal((1, 48000))).astype(np.float32)
    hit = 24000
    audio[0, hit : hit + 2400] += np.sin(2 * np.pi * 100 * np.arange(2400) / 48000) * np.exp(
        -np.arange(2400) / 600
    )
    for guess in (hit - 1500, hit + 1500, hit):
        assert abs(refine_attack(audio, 48000, guess) - hit) <= 48  # 1 ms
    silent = np.zeros((1, 48000), np.float32)
    assert refine_attack(silent, 48000, 1234) == 1234
