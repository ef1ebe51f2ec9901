"""A separated set through the tempo contract as one: one grid, one gain, residual reported."""

from __future__ import annotations

import numpy as np
import pytest

from sidecar.post.pipeline import PostSpec, process
from sidecar.post.separated import contract_set, level_set, residual_db
from tests.post.synth import drums, onset_times

RATE = 32000


def _set(bpm: float, bars: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """A mix of drums and a bass line, and those two parts (their sum is the mix)."""
    beat = drums(bpm, bars=bars, sample_rate=RATE, channels=2).audio.astype(np.float32)
    t = np.arange(beat.shape[1]) / RATE
    gate = (np.sin(2 * np.pi * bpm / 60.0 * t) > 0).astype(np.float32)
    bass = (0.2 * np.sin(2 * np.pi * 55.0 * t) * gate).astype(np.float32)
    bass = np.stack([bass, 0.9 * bass])
    return beat + bass, np.stack([beat, bass])


def _best_lag(part: np.ndarray, mix: np.ndarray, reach: int = 480) -> int:
    """The shift (samples, within ±reach) at which `part` correlates best with `mix`."""
    a, b = part.mean(axis=0), mix.mean(axis=0)
    scores = [
        float(np.dot(a[max(0, k) : a.size + min(0, k)], b[max(0, -k) : b.size - max(0, k)]))
        for k in range(-reach, reach + 1)
    ]
    return int(np.argmax(scores)) - reach


def _spec(**kw: object) -> PostSpec:
    base: dict[str, object] = dict(
        sample_rate=48000, bpm=120.0, bars=2, downbeat_at_start=True, sample_format="float32"
    )
    base.update(kw)
    return PostSpec(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("loop", [False, True])
def test_members_share_one_grid_to_the_sample(loop: bool) -> None:
    mix, parts = _set(bpm=116.0)
    spec = _spec(loop=loop)
    done = contract_set(mix, parts, RATE, spec)
    mix_report, *part_reports = done.reports
    assert mix_report["decision"] == "stretched" and mix_report["tempo_source"] == "own"
    assert {r["tempo_source"] for r in part_reports} == {"mix"}
    shapes = {m.shape for m in done.members}
    assert shapes == {(2, mix_report["num_samples"])}
    assert {r["stretch_ratio"] for r in done.reports} == {mix_report["stretch_ratio"]}
    assert {r["loop_seam"] for r in done.reports} == {mix_report["loop_seam"]}
    # The drum part lines up with the mix to the sample (the bass, a steady low tone, has no
    # lag of its own to measure: its residual below says it is in place too).
    assert _best_lag(done.members[1], done.members[0]) == 0
    assert len(onset_times(done.members[1], 48000)) >= 7  # the beat is there, on the grid
    # The parts still add up to the mix after one stretch and cut for all.
    assert done.reports[0]["separation_residual_db"] < -100  # exact sum as separated
    assert residual_db(done.members[0], done.members[1:]) < -20
    alone, _ = process(mix, RATE, spec)
    assert alone.shape == done.members[0].shape  # the same grid as the mix on its own


def test_another_tempo_another_ratio() -> None:
    ratios = {
        bpm: contract_set(*_set(bpm), RATE, _spec()).reports[0]["stretch_ratio"]
        for bpm in (114.0, 118.0)
    }
    assert ratios[114.0] == pytest.approx(120.0 / 114.0, rel=0.01)
    assert ratios[118.0] == pytest.approx(120.0 / 118.0, rel=0.01)


def test_one_gain_for_the_set_or_each_part_on_its_own() -> None:
    mix, parts = _set(bpm=120.0)
    quiet = [0.25 * mix, 0.25 * parts[0], 0.25 * parts[1]]
    spec = _spec(loudness_lufs=-16.0, sample_format="pcm24")

    kept = contract_set(quiet[0], quiet[1:], RATE, spec)
    out = level_set(kept.members, kept.reports, 48000, spec.true_peak_dbtp, "set")
    gains = {round(r["gain_db"], 3) for r in kept.reports}
    assert len(gains) == 1 and gains.pop() > 6  # one gain, up from the quiet input
    mix_lufs = kept.reports[0]["loudness_lufs"]
    assert -16.1 <= mix_lufs <= -14 or kept.reports[0]["true_peak_dbtp"] == pytest.approx(-1.0)
    assert kept.reports[2]["loudness_lufs"] < mix_lufs - 3  # the bass stays below the mix
    assert max(r["true_peak_dbtp"] for r in kept.reports) <= spec.true_peak_dbtp + 0.01
    assert kept.reports[0]["set_residual_db"] < -100  # in tempo: the parts add up exactly
    assert {m.shape for m in out} == {kept.members[0].shape}

    each = contract_set(quiet[0], quiet[1:], RATE, spec)
    level_set(each.members, each.reports, 48000, spec.true_peak_dbtp, "each")
    for report in each.reports:
        assert report["loudness_lufs"] == pytest.approx(-16.0, abs=0.3)
    assert each.reports[2]["gain_db"] > each.reports[0]["gain_db"] + 3  # the bass brought up


def test_mono_delivery_of_stereo_parts() -> None:
    mix, parts = _set(bpm=120.0)
    done = contract_set(mix, parts, RATE, _spec(channels=1))
    assert {m.shape[0] for m in done.members} == {1}
    assert {r["channels"] for r in done.reports} == {1}
