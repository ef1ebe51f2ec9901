"""The MIDI tempo map beside each stem."""

from __future__ import annotations

import io

import mido
import pytest

from sidecar.post.pipeline import build_tempo_map


@pytest.mark.parametrize(
    ("bpm", "bars", "beats_per_bar"), [(120.0, 8, 4), (87.0, 4, 3), (174.0, 16, 7)]
)
def test_tempo_map_length_and_markers(bpm: float, bars: int, beats_per_bar: int) -> None:
    midi = build_tempo_map(bpm, bars, beats_per_bar)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    buffer.seek(0)
    loaded = mido.MidiFile(file=buffer)
    assert loaded.length == pytest.approx(bars * beats_per_bar * 60 / bpm, abs=1e-4)
    metas = [m for m in loaded.tracks[0] if m.is_meta]
    markers = [m.text for m in metas if m.type == "marker"]
    assert markers == [f"Bar {i + 1}" for i in range(bars)]
    (tempo,) = [m.tempo for m in metas if m.type == "set_tempo"]
    assert mido.tempo2bpm(tempo) == pytest.approx(bpm, rel=1e-5)
    (signature,) = [m for m in metas if m.type == "time_signature"]
    assert (signature.numerator, signature.denominator) == (beats_per_bar, 4)


def test_tempo_map_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="bpm"):
        build_tempo_map(0.0, 4, 4)
    with pytest.raises(ValueError, match="bars"):
        build_tempo_map(120.0, 0, 4)
