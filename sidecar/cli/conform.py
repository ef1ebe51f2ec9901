"""⑤ `sidecar conform`: the tempo contract on any audio file, no model: stem, report, tempo map."""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import cast

import numpy as np

from sidecar.errors import RequestError, SidecarError
from sidecar.files.audiofile import SampleFormat, read_audio, write_audio_atomic, write_bytes_atomic
from sidecar.post.fmt import SAMPLE_FORMATS, to_sample_format
from sidecar.post.loudness import level_stem, reference_loudness
from sidecar.post.pipeline import PostSpec, StemReport, build_tempo_map, process

__all__ = ["conform_file", "output_paths", "register"]

logger = logging.getLogger(__name__)

_STEM_SUFFIXES = (".wav", ".aif", ".aiff", ".flac")
_LOSSY_SUFFIXES = (".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac")


def output_paths(input_path: Path, output: str | os.PathLike[str]) -> tuple[Path, Path, Path]:
    """The stem, its `.json` report and its `.mid` tempo map for `-o OUT`.

    OUT naming an existing directory (or ending in a separator) gets `<input stem>.conformed.wav`
    inside it; otherwise OUT is the stem's path, with `.wav` added unless it already ends in a
    lossless audio suffix (.wav, .aif, .aiff, .flac); a lossy one (.mp3, .ogg, ...) is refused
    before any work. The report and tempo map sit beside the stem with the same name.
    """
    text = os.fspath(output)
    path = Path(text)
    suffix = path.suffix.lower()
    if path.is_dir() or text.endswith(("/", os.sep)):
        stem_path = path / f"{input_path.stem}.conformed.wav"
    elif suffix in _LOSSY_SUFFIXES:
        raise RequestError(
            f"output: '{path.name}' would be {suffix[1:].upper()}, which is lossy and not "
            "sample-exact (encoder delay and padding move the grid); use .wav, .aiff or .flac",
            "output",
        )
    elif suffix in _STEM_SUFFIXES:
        stem_path = path
    else:  # no suffix, or a dot inside the name ("loop-127.5", "take.v2")
        stem_path = path.with_name(path.name + ".wav")
    return stem_path, stem_path.with_suffix(".json"), stem_path.with_suffix(".mid")


def conform_file(
    input_path: Path, output: str | os.PathLike[str], spec: PostSpec
) -> tuple[tuple[Path, Path, Path], StemReport]:
    """Read `input_path`, run the post-processing pipeline, write stem, report and tempo map.

    With no `spec.loudness_lufs` the stem keeps the loudness its bars had in the file (a quiet
    intro cut from a loud track stays quiet: the whole file's loudness would push it up and
    limit it), under the true-peak ceiling. Raises `SidecarError` subclasses (AudioError,
    DeliveryError, ...).
    """
    stem_path, report_path, midi_path = output_paths(input_path, output)
    audio, sample_rate = read_audio(input_path)
    if spec.loudness_lufs is not None:
        stem, report = process(audio, sample_rate, spec)
    else:
        stem, report = _keeping_loudness(audio, sample_rate, spec)
    # PostSpec has checked the name against SampleFormat's values.
    write_audio_atomic(stem_path, stem, spec.sample_rate, cast(SampleFormat, spec.sample_format))
    payload = {"input": str(input_path), "stem": str(stem_path), **report.to_dict()}
    write_bytes_atomic(report_path, (json.dumps(payload, indent=2) + "\n").encode())
    if spec.bpm is not None and report.bars is not None:
        buffer = io.BytesIO()
        build_tempo_map(spec.bpm, report.bars, spec.beats_per_bar).save(file=buffer)
        write_bytes_atomic(midi_path, buffer.getvalue())
    return (stem_path, report_path, midi_path), report


def _keeping_loudness(
    audio: np.ndarray, sample_rate: int, spec: PostSpec
) -> tuple[np.ndarray, StemReport]:
    """`process` with the stem levelled to its own loudness: only the ceiling can move it."""
    stem, report = process(audio, sample_rate, replace(spec, level=False))
    own = reference_loudness(stem, spec.sample_rate)  # a mono stem as a DAW plays it
    target = report.loudness_target_lufs if own is None else own
    stem, level = level_stem(stem, spec.sample_rate, target, spec.true_peak_dbtp, spec.loop)
    report = replace(
        report,
        loudness_lufs=level.loudness_lufs,
        true_peak_dbtp=level.true_peak_dbtp,
        gain_db=level.gain_db,
        limiter_reduction_db=level.limiter_reduction_db,
        loudness_target_lufs=target,
        loudness_source="excerpt" if own is not None else report.loudness_source,
    )
    return to_sample_format(stem, spec.sample_format), report


def _run(args: argparse.Namespace) -> int:
    try:
        spec = PostSpec(
            sample_rate=args.sample_rate,
            channels=args.channels,
            bpm=args.bpm,
            bars=args.bars,
            beats_per_bar=args.beats_per_bar,
            loop=args.loop,
            loudness_lufs=args.lufs,
            sample_format=args.format,
            downbeat_at_start=args.downbeat_at_start,
            max_stretch_ratio=args.max_stretch,
        )
        (stem_path, _, _), report = conform_file(Path(args.input), args.output, spec)
    except SidecarError as e:
        print(f"sidecar conform: error: {e}", file=sys.stderr)
        return 2
    source = "?" if report.source_bpm is None else f"{report.source_bpm:.2f}"
    delivered = "?" if report.delivered_bpm is None else f"{report.delivered_bpm:.2f}"
    loudness = "?" if report.loudness_lufs is None else f"{report.loudness_lufs:.1f}"
    print(
        f"{stem_path}: {report.bars} bars at {args.bpm:g} BPM, {report.decision} "
        f"(source {source} BPM, confidence {report.tempo_confidence:.2f}, "
        f"ratio {report.stretch_ratio:.4f}); delivered {delivered} BPM, {loudness} LUFS"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `sidecar conform INPUT --bpm B [--bars N] -o OUT` to the CLI's subcommands."""
    parser = subparsers.add_parser(
        "conform",
        help="tempo-match an audio file to a BPM, cut it to whole bars, match loudness",
        description=(
            "Apply the stem contract to any audio file, no model: stretch to --bpm when the "
            "measured tempo differs, put the first downbeat on sample 0, cut to exactly --bars "
            "bars, keep the file's loudness (or --lufs) under a -1 dBTP true peak. Writes the "
            "stem, a .json report and a .mid tempo map beside it."
        ),
    )
    parser.add_argument("input", help="audio file (WAV, AIFF, FLAC, MP3, OGG)")
    parser.add_argument("--bpm", type=float, required=True, help="session tempo")
    parser.add_argument("--bars", type=int, default=None, help="bars (default: all that fit)")
    parser.add_argument("--beats-per-bar", type=int, default=4, help="beats per bar (default 4)")
    parser.add_argument("-o", "--output", required=True, help="output .wav, or a directory")
    parser.add_argument("--sample-rate", type=int, default=48000, help="default 48000 Hz")
    parser.add_argument("--channels", type=int, choices=(1, 2), default=None)
    parser.add_argument("--loop", action="store_true", help="crossfade the seam for looping")
    parser.add_argument("--lufs", type=float, default=None, help="target loudness (LUFS)")
    parser.add_argument("--format", choices=SAMPLE_FORMATS, default="pcm24")
    parser.add_argument(
        "--downbeat-at-start",
        action="store_true",
        help="sample 0 of the input is a bar line: trust it over the beat tracker",
    )
    parser.add_argument(
        "--max-stretch",
        type=float,
        default=None,
        help="largest stretch ratio either way before leaving the tempo alone (default 1.5)",
    )
    parser.set_defaults(func=_run)
