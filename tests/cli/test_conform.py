"""`sidecar conform` end to end: files in, stem + report + tempo map out."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import mido
import numpy as np
import pytest

from sidecar.cli import conform
from sidecar.files.audiofile import read_audio, write_audio_atomic
from sidecar.post.grid import grid_num_samples
from sidecar.post.loudness import integrated_loudness
from sidecar.post.pipeline import PostSpec
from tests.post.synth import drums


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sidecar")
    conform.register(parser.add_subparsers())
    return parser


def test_conform_writes_stem_report_and_tempo_map(tmp_path: Path, capsys) -> None:
    source = tmp_path / "in.wav"
    write_audio_atomic(source, drums(97, 7, 44100, 2, pickup_beats=1).audio, 44100)
    args = _parser().parse_args(
        [
            "conform",
            str(source),
            "--bpm",
            "100",
            "--bars",
            "4",
            "-o",
            str(tmp_path / "out") + "/",
            "--loop",
        ]
    )
    assert args.func(args) == 0
    assert "4 bars at 100 BPM" in capsys.readouterr().out

    stem, rate = read_audio(tmp_path / "out" / "in.conformed.wav")
    assert rate == 48000
    assert stem.shape == (2, grid_num_samples(4, 4, 100.0, 48000))
    report = json.loads((tmp_path / "out" / "in.conformed.json").read_text())
    assert report["decision"] == "stretched"
    assert abs(report["delivered_bpm"] / 100 - 1) < 0.003
    assert report["loudness_source"] == "excerpt"
    midi = mido.MidiFile(tmp_path / "out" / "in.conformed.mid")
    assert midi.length == pytest.approx(9.6, abs=1e-4)


def test_conform_reports_errors_with_exit_code_2(tmp_path: Path, capsys) -> None:
    args = _parser().parse_args(
        ["conform", str(tmp_path / "nope.wav"), "--bpm", "120", "-o", str(tmp_path / "x.wav")]
    )
    assert args.func(args) == 2
    assert "does not exist" in capsys.readouterr().err
    args = _parser().parse_args(
        ["conform", str(tmp_path / "nope.wav"), "--bpm", "0", "-o", str(tmp_path / "x.wav")]
    )
    assert args.func(args) == 2
    assert "bpm" in capsys.readouterr().err


def test_output_paths() -> None:
    wav, report, midi = conform.output_paths(Path("a/b.flac"), "out/take")
    assert (str(wav), str(report), str(midi)) == ("out/take.wav", "out/take.json", "out/take.mid")


@pytest.mark.parametrize(
    ("output", "stem"),
    [
        ("out/loop-127.5", "out/loop-127.5.wav"),  # a tempo in the name is not a suffix
        ("out/take.v2", "out/take.v2.wav"),
        ("out/take.AIFF", "out/take.AIFF"),
        ("out/take.flac", "out/take.flac"),
    ],
)
def test_output_names_with_dots_get_a_wav_suffix(output: str, stem: str) -> None:
    wav, report, _ = conform.output_paths(Path("in.wav"), output)
    assert str(wav) == stem
    assert report == wav.with_suffix(".json")


def test_a_lossy_output_is_refused_before_any_work(tmp_path: Path, capsys) -> None:
    args = _parser().parse_args(
        ["conform", str(tmp_path / "nope.wav"), "--bpm", "120", "-o", str(tmp_path / "x.mp3")]
    )
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert "output: 'x.mp3' would be MP3, which is lossy" in err  # not "does not exist"


def test_bars_cut_from_a_longer_file_keep_their_own_loudness(tmp_path: Path) -> None:
    """A quiet 8-bar intro of a loud track: conformed to 4 bars it stays as quiet as it was
    (levelled to the whole file, it got +10 dB and 6 dB of limiting)."""
    quiet = 0.05 * drums(120, 8, 44100, 2, tail_seconds=0.0).audio
    loud = 0.9 * drums(120, 24, 44100, 2, seed=1).audio
    track = np.concatenate([quiet, loud], axis=1)
    source = tmp_path / "track.wav"
    write_audio_atomic(source, track, 44100, "float32")
    spec = PostSpec(bpm=120.0, bars=4, sample_format="float32")
    (stem_path, _, _), report = conform.conform_file(source, tmp_path / "intro.wav", spec)
    stem, rate = read_audio(stem_path)
    intro = integrated_loudness(quiet[:, : 8 * 44100], 44100)
    assert intro is not None and intro < (integrated_loudness(track, 44100) or 0.0) - 10
    assert integrated_loudness(stem, rate) == pytest.approx(intro, abs=0.5)
    assert report.loudness_source == "excerpt"
    assert report.limiter_reduction_db == 0.0
    assert abs(report.gain_db) < 0.1
