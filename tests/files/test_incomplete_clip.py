"""A clip the DAW is still writing: a WAV shorter than its header, or one still growing, is
waited for briefly, then refused with bad_audio; one that completes meanwhile is used."""

from __future__ import annotations

import os
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sidecar.errors import AudioError
from sidecar.files.settle import SETTLE_SECONDS, wait_until_whole, wav_layout
from sidecar.osc import addresses as A
from sidecar.osc.client import SidecarClient
from tests.support.server import SidecarProcess, running_sidecar

SAMPLE_RATE = 8000
FRAME_BYTES = 2  # mono, 16-bit


def pcm(seconds: float) -> bytes:
    t = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
    return (np.sin(2 * np.pi * 220 * t) * 12000).astype("<i2").tobytes()


def header(promised_seconds: float, data_bytes: int | None = None) -> bytes:
    """A 44-byte mono 16-bit WAV header whose data chunk promises `promised_seconds`."""
    size = int(SAMPLE_RATE * promised_seconds) * FRAME_BYTES if data_bytes is None else data_bytes
    fmt = struct.pack("<HHIIHH", 1, 1, SAMPLE_RATE, SAMPLE_RATE * FRAME_BYTES, FRAME_BYTES, 16)
    return (
        b"RIFF"
        + struct.pack("<I", (36 + size) & 0xFFFFFFFF)
        + b"WAVEfmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + struct.pack("<I", size)
    )


def append_slowly(path: Path, data: bytes, chunks: int, pause_seconds: float) -> threading.Thread:
    """Append `data` to `path` in `chunks` pieces, `pause_seconds` apart, as a DAW writes."""

    def run() -> None:
        step = -(-len(data) // chunks)
        for start in range(0, len(data), step):
            time.sleep(pause_seconds)
            with open(path, "ab") as handle:
                handle.write(data[start : start + step])

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SidecarProcess]:
    with running_sidecar(tmp_path_factory.mktemp("incomplete")) as proc:
        yield proc


def continue_clip(server: SidecarProcess, clip: Path, rid: str) -> tuple[list, float]:
    with SidecarClient(server.host, server.port) as client:
        started = time.monotonic()
        client.send(A.CONTINUE, rid, "clip", str(clip), "seconds", 0.5)
        replies = client.until_terminal(rid, 120)
        assert client.ping(5) is not None  # the server keeps serving
    return replies, time.monotonic() - started


def test_a_header_promising_more_than_the_file_holds_is_refused_with_both_lengths(
    server: SidecarProcess, tmp_path: Path
) -> None:
    clip = tmp_path / "recording.wav"
    clip.write_bytes(header(3.0) + pcm(0.011))  # 3 s promised over 0.011 s of audio
    replies, _seconds = continue_clip(server, clip, "truncated")
    address, (rid, code, message) = replies[-1]
    assert (address, rid, code) == (A.ERROR, "truncated", "bad_audio")
    assert "is incomplete" in message and str(clip) in message
    assert "promises 3.000 s" in message and "holds 0.011 s" in message
    assert sum(a in A.TERMINAL_REPLIES for a, _ in replies) == 1


def test_a_clip_still_being_written_is_used_once_it_completes(
    server: SidecarProcess, tmp_path: Path
) -> None:
    """The first 0.1 s is silence, the rest a tone: read before it is whole, the clip would be
    refused as silent (or too short); read once whole, it is continued."""
    clip = tmp_path / "rendering.wav"
    audio = bytes(1600) + pcm(1.0)[1600:]
    clip.write_bytes(header(1.0) + audio[:1600])  # 0.1 s there, the rest on its way
    writer = append_slowly(clip, audio[1600:], chunks=6, pause_seconds=0.1)
    replies, _seconds = continue_clip(server, clip, "growing")
    writer.join()
    assert replies[-1] == (A.DONE, ("growing", 1)), replies


def test_a_clip_that_never_completes_is_refused_after_the_bound(
    server: SidecarProcess, tmp_path: Path
) -> None:
    clip = tmp_path / "stalled.wav"
    audio = pcm(4.0)
    clip.write_bytes(header(4.0) + audio[:4000])
    # Grows for longer than the sidecar waits, and never reaches what its header promises.
    writer = append_slowly(clip, audio[4000:20000], chunks=40, pause_seconds=0.1)
    replies, seconds = continue_clip(server, clip, "stalled")
    address, (_rid, code, message) = replies[-1]
    assert (address, code) == (A.ERROR, "bad_audio")
    assert "is incomplete" in message and "promises 4.000 s" in message
    assert f"waited {SETTLE_SECONDS:g} s" in message
    assert seconds >= SETTLE_SECONDS
    writer.join()


# ---- the rule itself, on real files -------------------------------------------------------


def test_a_whole_old_file_is_taken_at_once(tmp_path: Path) -> None:
    clip = tmp_path / "old.wav"
    clip.write_bytes(header(0.5) + pcm(0.5))
    layout = wav_layout(clip)
    assert layout is not None and layout.promised_bytes == clip.stat().st_size
    old = time.time() - 60
    os.utime(clip, (old, old))
    started = time.monotonic()
    wait_until_whole(clip)
    assert time.monotonic() - started < 0.05


def test_a_streaming_header_with_no_length_yet_is_incomplete(tmp_path: Path) -> None:
    """A writer that fills the sizes in when it closes the file leaves 0 (or 0xFFFFFFFF)."""
    clip = tmp_path / "streaming.wav"
    clip.write_bytes(header(0.0, data_bytes=0xFFFFFFFF) + pcm(0.25))
    with pytest.raises(AudioError, match=r"header gives no length yet.*holds 0\.250 s"):
        wait_until_whole(clip, max_wait_seconds=0.2)
    clip.write_bytes(header(0.25) + pcm(0.25))  # closed: the header has its length now
    wait_until_whole(clip, max_wait_seconds=1.0)


def test_a_file_that_is_not_a_wav_is_only_watched_for_growth(tmp_path: Path) -> None:
    clip = tmp_path / "clip.flac"
    clip.write_bytes(b"fLaC" + b"\0" * 100)
    assert wav_layout(clip) is None
    wait_until_whole(clip, max_wait_seconds=1.0)  # steady: taken (the decoder judges it)
