"""Prompt preparation: ranges in seconds or beats, channels, rate, and refusals."""

from __future__ import annotations

import numpy as np
import pytest

from sidecar.errors import AudioError, RequestError
from sidecar.post.prompt import prepare_prompt

from .synth import drums


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return drums(120, 8, 44100, 2).audio  # 16 s, 2 s per bar


def test_cut_by_beats(clip: np.ndarray) -> None:
    out = prepare_prompt(clip, 44100, 32000, 1, start_beats=4, end_beats=12, bpm=120)
    assert out.shape == (1, 4 * 32000)
    assert out.dtype == np.float32


def test_cut_by_seconds_and_upmix(clip: np.ndarray) -> None:
    mono = clip[:1]
    out = prepare_prompt(mono, 44100, 32000, 2, start_seconds=1.0, end_seconds=3.5)
    assert out.shape == (2, 80000)
    assert np.array_equal(out[0], out[1])


def test_clip_bpm_counts_beats_at_the_clip_tempo_and_stretches(clip: np.ndarray) -> None:
    # The file plays at 120; the session runs at 100: 8 beats of the file last 4 s there,
    # 4.8 s once stretched to the session tempo.
    out = prepare_prompt(clip, 44100, 32000, 1, start_beats=0, end_beats=8, bpm=100, clip_bpm=120)
    assert out.shape[1] == pytest.approx(4.8 * 32000, abs=2)


def test_whole_clip_by_default(clip: np.ndarray) -> None:
    out = prepare_prompt(clip, 44100, 32000, 1, max_seconds=30)
    assert out.shape[1] == pytest.approx(clip.shape[1] * 32000 / 44100, abs=1)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"start_seconds": 1.0, "start_beats": 2.0, "bpm": 120}, "clip_start_beats"),
        ({"end_beats": 4.0}, "bpm"),
        ({"start_seconds": -1.0}, "clip_start_seconds"),
        ({"start_beats": 8.0, "end_beats": 4.0, "bpm": 120}, "clip_end_beats"),
        ({"start_seconds": 2.0, "end_seconds": 2.0}, "clip_end_seconds"),
        ({"bpm": 0.0}, "bpm"),
        ({"clip_bpm": float("inf")}, "clip_bpm"),
    ],
)
def test_bad_ranges_are_request_errors(clip, kwargs, field) -> None:
    with pytest.raises(RequestError) as info:
        prepare_prompt(clip, 44100, 32000, 1, **kwargs)
    assert info.value.field == field
    assert field in str(info.value)


def test_range_past_the_end_is_an_audio_error(clip: np.ndarray) -> None:
    with pytest.raises(AudioError, match="selects no audio"):
        prepare_prompt(clip, 44100, 32000, 1, start_beats=40, bpm=120)


def test_a_range_ending_past_the_clip_is_refused_not_shortened(clip: np.ndarray) -> None:
    """A prompt that stopped short of the bar line asked for would put the continuation off
    the grid; a few ms over (rounding in a DAW's beat-to-seconds) is taken as the end."""
    seconds = clip.shape[1] / 44100  # 16.5 s: 8 bars and a tail
    with pytest.raises(AudioError, match=r"clip_end: 18\.000 s is past the clip's end"):
        prepare_prompt(clip, 44100, 32000, 1, start_beats=16, end_beats=36, bpm=120)
    out = prepare_prompt(clip, 44100, 32000, 1, start_seconds=8.0, end_seconds=seconds + 0.005)
    assert out.shape[1] == round((seconds - 8.0) * 32000)


def test_too_short_too_long_silent(clip: np.ndarray) -> None:
    with pytest.raises(AudioError, match=r"at least 0\.5 s"):
        prepare_prompt(clip, 44100, 32000, 1, start_seconds=0, end_seconds=0.3)
    with pytest.raises(AudioError, match="at most 10 s"):
        prepare_prompt(clip, 44100, 32000, 1, max_seconds=10)
    with pytest.raises(AudioError, match="silent"):
        prepare_prompt(np.zeros((2, 44100), np.float32), 44100, 32000, 1)
    with pytest.raises(AudioError, match="NaN"):
        prepare_prompt(np.full((1, 44100), np.nan, np.float32), 44100, 32000, 1)
