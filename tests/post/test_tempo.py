"""Tempo, phase, downbeat and confidence on material of known tempo."""

from __future__ import annotations

import numpy as np
import pytest

from sidecar.post.tempo import estimate_tempo, tempo_near

from .synth import (
    Material,
    arpeggio,
    clicks,
    compound,
    drums,
    half_time_trap,
    noise,
    offbeat_house,
)

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


def _off_grid(seconds: float, origin: float, period: float) -> float:
    """Distance in seconds from `seconds` to the nearest `origin + k * period`."""
    offset = (seconds - origin) % period
    return min(offset, period - offset)


def _on_the_beat_and_bar(estimate, material: Material, beats_per_bar: int = 4) -> None:
    beat = 60.0 / material.bpm
    assert estimate.first_beat_seconds is not None
    assert estimate.first_downbeat_seconds is not None
    assert _off_grid(estimate.first_beat_seconds, material.first_downbeat_seconds, beat) < 0.02
    bar = beats_per_bar * beat
    assert _off_grid(estimate.first_downbeat_seconds, material.first_downbeat_seconds, bar) < 0.02


@pytest.mark.parametrize(("bpm", "bass_gain"), [(124, 0.15), (128, 0.3), (140, 0.45)])
def test_an_off_beat_bass_does_not_take_the_beat_from_the_kick(bpm: float, bass_gain: float):
    """Four on the floor with a bass note on every "and": the full-band flux peaks on the bass
    (more bands light up), and the beat used to land there, half a beat off every kick."""
    material = offbeat_house(bpm, 8, 32000, 1, bass_gain=bass_gain)
    estimate = estimate_tempo(material.audio, 32000, reference_bpm=bpm)
    assert estimate.bpm is not None and abs(estimate.bpm / bpm - 1) < 0.001
    _on_the_beat_and_bar(estimate, material)


@pytest.mark.parametrize(("bpm", "lead"), [(118, 0.0), (120, 0.3)])
def test_an_arpeggio_without_drums_starts_its_bar_on_the_low_chord_note(bpm: float, lead: float):
    material = arpeggio(bpm, 8, 32000, 1, lead_seconds=lead)
    estimate = estimate_tempo(material.audio, 32000, reference_bpm=120)
    assert estimate.bpm is not None and abs(estimate.bpm / bpm - 1) < 0.001
    _on_the_beat_and_bar(estimate, material)


@pytest.mark.parametrize(("bpm", "reference"), [(140, 140), (141.3, 140)])
def test_half_time_trap_keeps_its_beat_and_its_tempo(bpm: float, reference: float):
    """The 808 and kick on the "and" of 4 are the loudest low hit of the bar, yet the beat is
    where the kick on 1 and the snare on 3 are (moving the beat to the loudest accent broke
    this); and the 1.5-beat spacing of the kicks read as 4/3 of the tempo (186.7 for 140)."""
    material = half_time_trap(bpm, 8, 32000, 1)
    estimate = estimate_tempo(material.audio, 32000, reference_bpm=reference)
    assert estimate.bpm is not None and abs(estimate.bpm / bpm - 1) < 0.001
    _on_the_beat_and_bar(estimate, material)


@pytest.mark.parametrize(
    ("dotted_bpm", "dotted_per_bar", "beats_per_bar"), [(80, 2, 3), (60, 2, 3), (70, 4, 6)]
)
def test_compound_metre_is_read_at_the_quarter_the_daw_counts(
    dotted_bpm: float, dotted_per_bar: int, beats_per_bar: int
):
    """6/8 at a dotted quarter of 80 is sent as 120 BPM, 3 beats a bar (12/8: 6 beats): the
    octave of 80 nearest 120 is 160, a stretch of x0.75 that made it play at quarter = 90."""
    material = compound(dotted_bpm, 24 / dotted_per_bar, 32000, 1, dotted_per_bar=dotted_per_bar)
    estimate = estimate_tempo(
        material.audio, 32000, reference_bpm=material.bpm, beats_per_bar=beats_per_bar
    )
    assert estimate.bpm is not None and abs(estimate.bpm / material.bpm - 1) < 0.001
    assert estimate.octave * (estimate.raw_bpm or 0) == pytest.approx(estimate.bpm, rel=0.01)
    _on_the_beat_and_bar(estimate, material, beats_per_bar)


@pytest.mark.parametrize(("bpm", "reference"), [(120, 90), (80, 120), (100, 75)])
def test_simple_metre_in_a_triple_session_stays_on_its_own_beat(bpm: float, reference: float):
    """4/4 drums for a 3/4 session a third away: x3/4 or x3/2 of their beat is no pulse of
    theirs (eighths, not triplets), so the octave reading stands and the session period is
    reported as a weak pulse (the pipeline refuses a stretch of x4/3 or more from 0.75 on)."""
    estimate = estimate_tempo(
        drums(bpm, 8, 32000, 1).audio, 32000, reference_bpm=reference, beats_per_bar=3
    )
    assert estimate.bpm is not None and estimate.octave in (0.5, 1.0, 2.0)
    assert abs(estimate.bpm / (bpm * estimate.octave) - 1) < 0.001
    assert estimate.reference_evidence is not None and estimate.reference_evidence < 0.6


def test_tempo_near_measures_a_stem_at_its_target() -> None:
    material = half_time_trap(140, 9, 32000, 1, lead_seconds=0.0)
    stem = material.audio[:, : round(8 * 4 * 60 / 140 * 32000)]
    near = tempo_near(stem, 32000, 140.0)
    assert near.bpm is not None and abs(near.bpm / 140 - 1) < 0.001
    assert near.confidence > 0.9
    # Further off than the search: the free estimate, folded towards the target.
    far = tempo_near(drums(112, 8, 32000, 1).audio, 32000, 120.0)
    assert far.bpm is not None and abs(far.bpm / 112 - 1) < 0.001
    assert tempo_near(noise(8.0, 32000), 32000, 120.0).confidence < 0.5
