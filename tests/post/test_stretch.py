"""Rubber Band stretching: engine by ratio, rate exactness, skip when in tempo."""

from __future__ import annotations

import numpy as np
import pytest

from sidecar.post.stretch import choose_engine, needs_stretch, time_stretch

from .synth import clicks, onset_times


def test_engine_by_ratio() -> None:
    assert choose_engine(1.0) == "none"
    assert choose_engine(1.03) == "r2_crisp"
    assert choose_engine(1 / 1.05) == "r2_crisp"
    assert choose_engine(1.3) == "r2_independent"
    assert choose_engine(0.7) == "r2_independent"


def test_needs_stretch_only_for_audible_drift() -> None:
    assert not needs_stretch(1.0001, 16.0)  # 1.6 ms over the stem
    assert needs_stretch(1.001, 16.0)  # 16 ms
    assert needs_stretch(1.00025, 60.0)  # 15 ms by the end of a long stem
    assert not needs_stretch(1.00008, 60.0)  # 4.8 ms
    assert not needs_stretch(1.0003, 16.0)  # 4.8 ms


@pytest.mark.parametrize("ratio", [0.72, 0.97, 1.02, 1.41])
def test_stretch_keeps_the_rate_exact(ratio: float) -> None:
    material = clicks(100, 8, 32000, 1)
    out, engine = time_stretch(material.audio, 32000, ratio)
    assert engine == choose_engine(ratio)
    assert out.shape[1] == pytest.approx(material.audio.shape[1] / ratio, abs=2)
    times = onset_times(out, 32000, threshold=0.2)
    beats = np.round(times / (0.6 / ratio))
    slope = np.polyfit(beats, times, 1)[0]
    assert abs(0.6 / ratio / slope - 1) < 0.001


def test_bad_ratio() -> None:
    with pytest.raises(ValueError, match="ratio"):
        time_stretch(np.zeros((1, 100), np.float32), 32000, 0.0)
