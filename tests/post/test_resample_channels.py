"""Sample-rate conversion keeps time 0 at sample 0; channel layouts."""

from __future__ import annotations

import numpy as np
import pytest

from sidecar.errors import AudioError
from sidecar.post.channels import as_audio, to_channels
from sidecar.post.resample import resample


@pytest.mark.parametrize("engine", ["pedalboard", "soxr"])
@pytest.mark.parametrize(("source", "target"), [(32000, 48000), (44100, 32000), (48000, 44100)])
def test_resample_is_delay_free(engine, source: int, target: int) -> None:
    audio = np.zeros((2, source * 2), np.float32)
    audio[:, source] = 1.0  # an impulse at exactly 1 s
    out = resample(audio, source, target, engine=engine)
    assert out.shape == (2, target * 2)
    assert abs(int(np.argmax(np.abs(out[0]))) - target) <= 1


def test_same_rate_is_untouched() -> None:
    audio = np.ones((1, 10), np.float32)
    assert resample(audio, 48000, 48000) is audio


def test_channel_layouts() -> None:
    stereo = np.stack([np.ones(4), -np.ones(4) * 0.5]).astype(np.float32)
    assert np.allclose(to_channels(stereo, 1), 0.25)
    assert to_channels(stereo[:1], 2).shape == (2, 4)
    assert to_channels(np.zeros((6, 4), np.float32), 2).shape == (2, 4)
    with pytest.raises(ValueError, match="1 or 2"):
        to_channels(stereo, 3)


def test_as_audio_accepts_mono_vectors_and_refuses_integers() -> None:
    assert as_audio(np.zeros(8, np.float64)).shape == (1, 8)
    with pytest.raises(AudioError, match="dtype"):
        as_audio(np.zeros((1, 8), np.int16))
