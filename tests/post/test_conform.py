"""`sidecar conform` end to end: files in, stem + report + tempo map out."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import mido
import pytest

from sidecar import conform
from sidecar.audiofile import read_audio, write_audio_atomic
from sidecar.post.grid import grid_num_samples

from .synth import drums


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
    assert report["loudness_source"] == "reference"
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
