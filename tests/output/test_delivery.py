"""Delivery: a stem's wav, json and mid land whole, with the same permissions as each other."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import mido
import numpy as np
import pytest
from pedalboard.io import AudioFile

from sidecar.output.delivery import Delivery


@pytest.fixture
def umask_022() -> Iterator[None]:
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def _tempo_map() -> mido.MidiFile:
    midi = mido.MidiFile()
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000)])
    midi.tracks.append(track)
    return midi


def test_stem_files_are_readable_by_other_users_like_the_audio(
    tmp_path: Path, umask_022: None
) -> None:
    # A DAW or sampler running as another user must read the json and mid beside the wav.
    delivery = Delivery(tmp_path)
    folder = delivery.job_dir("req-1")
    audio = np.zeros((2, 4800), dtype=np.float32)
    stem = delivery.write_stem(
        folder, "take 1", audio, 48000, "pcm24", {"index": 0, "bpm": 120.0}, _tempo_map()
    )
    assert stem.midi_path is not None
    modes = {
        p.suffix: stat.S_IMODE(p.stat().st_mode)
        for p in (stem.path, stem.json_path, stem.midi_path)
    }
    assert modes == {".wav": 0o644, ".json": 0o644, ".mid": 0o644}
    assert json.loads(stem.json_path.read_text())["file"] == stem.path.name
    assert mido.MidiFile(stem.midi_path).tracks[0][0].tempo == 500000
    with AudioFile(str(stem.path)) as f:
        assert (f.num_channels, f.frames) == (2, 4800)
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_a_failed_write_leaves_no_partial_file(tmp_path: Path) -> None:
    delivery = Delivery(tmp_path)
    folder = delivery.job_dir("req-2")
    (folder / "take.json").mkdir(parents=True)  # a folder where the json must go
    with pytest.raises(Exception, match="cannot write"):
        delivery.write_stem(
            folder, "take", np.zeros((1, 480), np.float32), 48000, "pcm16", {"index": 0}
        )
    assert sorted(p.name for p in folder.iterdir()) == ["take.json"]
