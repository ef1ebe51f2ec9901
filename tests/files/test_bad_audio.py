"""The bad-audio matrix: each clip either works or gets one clear error, and the server lives."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pedalboard.io import AudioFile

from sidecar.osc import addresses as A
from sidecar.osc.client import SidecarClient
from tests.support.server import SidecarProcess, running_sidecar


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SidecarProcess]:
    with running_sidecar(tmp_path_factory.mktemp("bad-audio")) as proc:
        yield proc


def tone(sample_rate: int, channels: int, seconds: float) -> np.ndarray:
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    hits = (np.sin(2 * np.pi * 220 * t) * np.exp(-(t % 0.5) * 8)).astype(np.float32)
    return np.stack([hits * (0.5 + 0.1 * c) for c in range(channels)])


def write(path: Path, audio: np.ndarray, sample_rate: int, bit_depth: int = 16) -> Path:
    with AudioFile(str(path), "w", sample_rate, audio.shape[0], bit_depth=bit_depth) as f:
        f.write(audio)
    return path


def wav_with_codec(path: Path, format_tag: int) -> Path:
    """A WAV whose fmt chunk names a codec no decoder here supports."""
    data = b"\x00" * 4000
    fmt = struct.pack("<HHIIHH", format_tag, 1, 8000, 8000, 1, 8)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data"
    body += struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def make_case(name: str, d: Path) -> Path:
    if name == "empty file":
        (d / "empty.wav").write_bytes(b"")
        return d / "empty.wav"
    if name == "truncated header":
        good = write(d / "good.wav", tone(44100, 1, 1.0), 44100)
        (d / "trunc.wav").write_bytes(good.read_bytes()[:30])
        return d / "trunc.wav"
    if name == "wrong extension":
        flac = write(d / "really.flac", tone(44100, 2, 2.0), 44100)
        wrong = d / "really-flac.wav"
        wrong.write_bytes(flac.read_bytes())
        return wrong
    if name == "unsupported codec":
        return wav_with_codec(d / "codec.wav", 0x1234)
    if name == "nan samples":
        audio = tone(44100, 1, 2.0)
        audio[0, 1000:1010] = np.nan
        return write(d / "nan.wav", audio, 44100, bit_depth=32)
    if name == "inf samples":
        audio = tone(44100, 1, 2.0)
        audio[0, 5] = np.inf
        return write(d / "inf.wav", audio, 44100, bit_depth=32)
    if name == "all silent":
        return write(d / "silent.wav", np.zeros((1, 88200), np.float32), 44100)
    if name == "8 kHz":
        return write(d / "8k.wav", tone(8000, 1, 2.0), 8000)
    if name == "192 kHz":
        return write(d / "192k.wav", tone(192000, 2, 2.0), 192000, bit_depth=24)
    if name == "mono":
        return write(d / "mono.wav", tone(48000, 1, 2.0), 48000)
    if name == "stereo":
        return write(d / "stereo.wav", tone(48000, 2, 2.0), 48000)
    if name == "6 channels":
        return write(d / "six.wav", tone(48000, 6, 2.0), 48000)
    if name in ("mp3", "flac", "aiff", "ogg"):
        return write(d / f"clip.{name}", tone(44100, 2, 2.0), 44100)
    if name == "0.01 s clip":
        return write(d / "short.wav", tone(44100, 1, 0.01), 44100)
    if name == "over the limit":
        return write(d / "long.wav", np.full((1, 8000 * 601), 0.1, np.float32), 8000)
    raise ValueError(name)


WORKS = [
    "wrong extension",
    "8 kHz",
    "192 kHz",
    "mono",
    "stereo",
    "6 channels",
    "mp3",
    "flac",
    "aiff",
    "ogg",
]
FAILS = {
    "empty file": "empty",
    "truncated header": "decode",
    "unsupported codec": "decode",
    "nan samples": "NaN or Inf",
    "inf samples": "NaN or Inf",
    "all silent": "silent",
    "0.01 s clip": "need at least 0.5 s",
    "over the limit": "at most 600 s",
}


@pytest.mark.parametrize("case", WORKS + list(FAILS))
def test_clip_works_or_gets_one_clear_error(
    server: SidecarProcess, tmp_path: Path, case: str
) -> None:
    clip = make_case(case, tmp_path)
    rid = f"bad-{case.replace(' ', '-')}"
    with SidecarClient(server.host, server.port) as client:
        client.send(A.CONTINUE, rid, "clip", str(clip), "seconds", 0.5)
        replies = client.until_terminal(rid, 120)
        terminal = replies[-1]
        if case in WORKS:
            assert terminal == (A.DONE, (rid, 1)), replies
            stem = next(args for a, args in replies if a == A.STEM)
            with AudioFile(stem[2]) as f:
                assert f.frames == 24000 and f.samplerate == 48000
        else:
            assert terminal[0] == A.ERROR, replies
            assert terminal[1][1] == "bad_audio"
            assert FAILS[case] in terminal[1][2], terminal
            assert sum(a in A.TERMINAL_REPLIES for a, _ in replies) == 1
        assert client.ping(5) is not None


def test_a_range_past_the_end_of_the_file_is_refused(
    server: SidecarProcess, tmp_path: Path
) -> None:
    clip = write(tmp_path / "short.wav", tone(48000, 2, 7.2), 48000)
    with SidecarClient(server.host, server.port) as client:
        client.send(A.CONTINUE, "past", "clip", str(clip), "clip_start", 0.0, "clip_end", 8.0)
        code, message = client.until_terminal("past", 60)[-1][1][1:]
        assert code == "bad_audio"
        assert (
            message
            == "clip_end: 8.000 s is past the clip's end (7.200 s); select a range inside the clip"
        )
