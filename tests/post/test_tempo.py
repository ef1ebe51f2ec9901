"""Tempo, phase, downbeat and confidence on material of known tempo."""

from __future__ import annotations

import numpy as np
import pytest

from sidecar.post.tempo import estimate_tempo

from .synth import clicks, drums, noise

TEMPI = [87, 97, 123, 140, 174]


@pytest.mark.parametrize("bpm", TEMPI)
@pytest.mark.parametrize("maker", [clicks, drums])
def test_tempo_phase_and_downbeat(bpm: float, maker) -> None:
    material = maker(bpm, 8, 32000, 1, pickup_beats=3)
    estimate = estimate_tempo(material.audio, 32000, reference_bpm=bpm)
    assert estimate.bpm is not None
    assert abs(estimate.bpm / bpm - 1) < 0.001
    assert estimate.confidence > 0.9
    assert estimate.first_downbeat_seconds is not None
    assert abs(estimate.first_downbeat_seconds - material.first_downbeat_seconds) < 0.02
    assert estimate.first_beat_seconds is not None
    assert estimate.first_beat_seconds < 0.02  # the pickup's first beat is at 0


@pytest.mark.parametrize(
    ("bpm", "reference", "expected"), [(174, 90, 87), (87, 170, 174), (97, 97, 97)]
)
def test_half_and_double_time_fold_towards_the_reference(bpm, reference, expected) -> None:
    estimate = estimate_tempo(drums(bpm, 8, 32000, 1).audio, 32000, reference_bpm=reference)
    assert estimate.bpm is not None
    assert abs(estimate.bpm - expected) < 0.05 * expected / 100 * 10
    assert estimate.raw_bpm is not None
    assert estimate.octave * estimate.raw_bpm == pytest.approx(estimate.bpm, rel=0.01)


def test_half_time_downbeat_is_on_the_kick() -> None:
    material = drums(140, 8, 32000, 1, pickup_beats=2)
    estimate = estimate_tempo(material.audio, 32000, reference_bpm=70)
    assert estimate.first_downbeat_seconds is not None
    assert abs(estimate.first_downbeat_seconds - material.first_downbeat_seconds) < 0.02


@pytest.mark.parametrize("seed", range(6))
def test_noise_has_low_confidence(seed: int) -> None:
    estimate = estimate_tempo(noise(10.0, 32000, seed=seed), 32000, reference_bpm=120)
    assert estimate.confidence < 0.5


def test_silence_and_short_audio_give_nothing() -> None:
    assert estimate_tempo(np.zeros((1, 32000 * 4), np.float32), 32000).bpm is None
    short = estimate_tempo(clicks(120, 1, 32000, 1).audio[:, :16000], 32000)
    assert short.bpm is None and short.confidence == 0.0
