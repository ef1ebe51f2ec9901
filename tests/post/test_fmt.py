"""Output sample formats."""

from __future__ import annotations

import numpy as np
import pytest

from sidecar.post.fmt import to_sample_format


def test_float32_passes_through() -> None:
    audio = np.array([[0.5, -1.5, 2.0]], np.float32)
    assert np.array_equal(to_sample_format(audio, "float32"), audio)


def test_pcm24_clips_to_full_scale() -> None:
    out = to_sample_format(np.array([[1.5, -1.5, 0.25]], np.float32), "pcm24")
    assert out[0, 0] < 1.0 and out[0, 1] == -1.0 and out[0, 2] == 0.25


def test_pcm16_is_dithered_within_one_lsb_and_reproducible() -> None:
    audio = np.linspace(-0.5, 0.5, 10000, dtype=np.float32)[np.newaxis, :]
    a = to_sample_format(audio, "pcm16")
    b = to_sample_format(audio, "pcm16")
    assert np.array_equal(a, b)
    lsb = 2.0**-15
    assert 0 < np.abs(a - audio).max() <= lsb * 1.0001


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="pcm24"):
        to_sample_format(np.zeros((1, 4), np.float32), "pcm8")
