"""Streaming previews: complete files only, published off the decoding thread, latest first."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from sidecar.errors import DeliveryError
from sidecar.preview import PreviewWriter

RATE = 32000


def _chunks(count: int, seconds: float = 0.25) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [
        (0.2 * rng.standard_normal((2, int(seconds * RATE)))).astype(np.float32)
        for _ in range(count)
    ]


def test_every_published_file_is_complete_and_the_last_holds_the_whole_take(
    tmp_path: Path,
) -> None:
    path = tmp_path / "previews" / "take.wav"
    published: list[tuple[float, int]] = []

    def on_published(where: str, seconds_ready: float) -> None:
        # The writer waits for this callback, so the file cannot change while it is read.
        published.append((seconds_ready, soundfile.info(where).frames))

    writer = PreviewWriter(path, RATE, on_published)
    chunks = _chunks(12)
    for i, chunk in enumerate(chunks):
        writer.push(chunk, 0.25 * (i + 1))
        time.sleep(0.01)
    writer.close()
    assert published, "nothing was published"
    assert [s for s, _ in published] == sorted(s for s, _ in published)
    for seconds, frames in published:
        assert frames == round(seconds * RATE)
    assert published[-1][0] == 3.0
    audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    assert rate == RATE
    np.testing.assert_allclose(audio.T, np.concatenate(chunks, axis=-1), atol=1.0 / 32768)
    assert not list(path.parent.glob(".*partial*"))  # no temporary file left behind


def test_push_never_waits_for_the_disk_and_the_writer_skips_to_the_newest(
    tmp_path: Path,
) -> None:
    published: list[float] = []

    def slow_disk(where: str, seconds_ready: float) -> None:
        time.sleep(0.15)  # a reader, or a disk, much slower than decoding
        published.append(seconds_ready)

    writer = PreviewWriter(tmp_path / "p.wav", RATE, slow_disk)
    slowest = 0.0
    for i, chunk in enumerate(_chunks(20)):
        started = time.perf_counter()
        writer.push(chunk, 0.25 * (i + 1))
        slowest = max(slowest, time.perf_counter() - started)
        time.sleep(0.01)
    writer.close()
    assert slowest < 0.05  # the decoding loop was never held up by a write
    assert len(published) < 20  # states in between were skipped...
    assert published[-1] == 5.0  # ...but the last one was written
    assert soundfile.info(str(tmp_path / "p.wav")).frames == 5 * RATE


def test_discard_drops_what_is_pending(tmp_path: Path) -> None:
    published: list[float] = []

    def slow_disk(where: str, seconds_ready: float) -> None:
        time.sleep(0.2)
        published.append(seconds_ready)

    writer = PreviewWriter(tmp_path / "p.wav", RATE, slow_disk)
    chunks = _chunks(5)
    writer.push(chunks[0], 0.25)
    time.sleep(0.05)  # the first write is under way
    for i, chunk in enumerate(chunks[1:], start=2):
        writer.push(chunk, 0.25 * i)
    writer.close(discard=True)
    assert published == [0.25]  # the write in progress finished; nothing after it started
    assert not writer._thread.is_alive()


def test_a_failed_write_fails_the_next_push_and_close(tmp_path: Path) -> None:
    blocker = tmp_path / "previews"
    blocker.write_text("a file where the preview folder should be")
    writer = PreviewWriter(blocker / "p.wav", RATE, lambda where, seconds: None)
    writer.push(_chunks(1)[0], 0.25)
    writer._thread.join(timeout=10)
    with pytest.raises(DeliveryError, match="cannot write"):
        writer.push(_chunks(1)[0], 0.5)
    with pytest.raises(DeliveryError):
        writer.close()
