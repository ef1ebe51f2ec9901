"""Streaming previews: complete files only, published off the decoding thread, latest first."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile

from sidecar.engine.base import Engine, EngineInfo, GenerationSpec, ProgressCallback
from sidecar.engine.stream import AudioCallback
from sidecar.errors import CancelledError, DeliveryError, RequestError
from sidecar.files.audiofile import write_audio_atomic
from sidecar.jobs.queue import Job
from sidecar.jobs.runner import JobRunner
from sidecar.osc import addresses as A
from sidecar.osc.client import SidecarClient
from sidecar.osc.schema import GenerateRequest, Stem
from sidecar.output.delivery import Delivery
from sidecar.output.preview import PreviewWriter
from tests.support.server import running_sidecar

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


# ------------------------------------------------------------------ a request's preview file


class _StreamingEngine(Engine):
    """Streams the first half of its take, waits until that preview is on disk (checking what
    `on_file` asserts then), and raises `fail` there, or streams the rest and returns it."""

    streams_audio = True

    def __init__(
        self,
        preview: Path,
        fail: Exception | None = None,
        on_start: Callable[[], None] = lambda: None,
    ) -> None:
        self.preview, self.fail, self.on_start = preview, fail, on_start

    @property
    def info(self) -> EngineInfo:
        return EngineInfo("streaming", "cpu", "float32", RATE, 1, 50, 30.0, False, True)

    def generate(
        self,
        spec: GenerationSpec,
        progress: ProgressCallback | None = None,
        on_audio: AudioCallback | None = None,
        audio_every_seconds: float = 0.0,
    ) -> np.ndarray:
        self.on_start()
        assert on_audio is not None
        samples = round(spec.duration_seconds * RATE)
        take = np.tile(_chunks(1, spec.duration_seconds)[0][:1], (spec.variations, 1, 1))
        half = samples // 2
        on_audio(take[..., :half], half / RATE)
        deadline = time.monotonic() + 10
        while not self.preview.exists():
            assert time.monotonic() < deadline, "the preview was never written"
            time.sleep(0.01)
        if self.fail is not None:
            raise self.fail
        on_audio(take[..., half:], samples / RATE)
        if progress is not None:
            progress(1, 1)
        return take


class _Answers:
    """A reporter that notes, at each terminal answer and stem, whether the preview is there."""

    def __init__(self, preview: Path) -> None:
        self.file = preview
        self.previews: list[float] = []
        self.seen: list[tuple[str, bool]] = []

    def progress(self, job: Job, fraction: float, eta_seconds: float) -> None:
        pass

    def preview(self, job: Job, path: str, seconds_ready: float) -> None:
        self.previews.append(seconds_ready)

    def stem(self, job: Job, stem: Stem) -> None:
        self.seen.append(("stem", self.file.exists()))

    def done(self, job: Job, n_files: int) -> None:
        self.seen.append(("done", self.file.exists()))

    def error(self, job: Job, code: str, message: str) -> None:
        self.seen.append((f"error {code}", self.file.exists()))

    def cancelled(self, job: Job) -> None:
        self.seen.append(("cancelled", self.file.exists()))


def _run(engine: _StreamingEngine, delivery: Delivery, answers: _Answers) -> None:
    runner = JobRunner(engine, delivery, answers)
    job = Job(GenerateRequest(request_id="take 1", prompt="x", seconds=2.0, preview=0.5), ("", 0))
    job.start()
    try:
        runner.run(job)
    finally:
        runner.close()


def test_a_preview_is_removed_once_the_stems_are_delivered(tmp_path: Path) -> None:
    delivery = Delivery(tmp_path)
    path = delivery.preview_path("take 1")
    answers = _Answers(path)
    _run(_StreamingEngine(path), delivery, answers)
    assert answers.previews[-1] == 2.0
    # The stem replies name the delivered files while the preview is still there; it is gone
    # before /sidecar/done.
    assert answers.seen == [("stem", True), ("done", False)]


@pytest.mark.parametrize(
    ("fail", "answer"),
    [
        (RequestError("seconds: too long", "seconds"), "error bad_request"),
        (CancelledError("request take 1 cancelled"), "cancelled"),
    ],
)
def test_a_preview_is_removed_when_its_request_fails_or_is_cancelled(
    fail: Exception, answer: str, tmp_path: Path
) -> None:
    delivery = Delivery(tmp_path)
    path = delivery.preview_path("take 1")
    answers = _Answers(path)
    _run(_StreamingEngine(path, fail), delivery, answers)
    assert answers.previews == [1.0]
    assert answers.seen == [(answer, False)]
    assert not list(delivery.preview_dir.iterdir())  # no temporary file either


def test_a_stale_preview_of_the_same_id_is_removed_when_the_request_starts(
    tmp_path: Path,
) -> None:
    delivery = Delivery(tmp_path)
    path = delivery.preview_path("take 1")
    path.parent.mkdir(parents=True)
    write_audio_atomic(path, _chunks(1, 5.0)[0], RATE, "pcm16")  # an earlier request's, 5 s
    seen_at_start: list[bool] = []
    answers = _Answers(path)
    _run(
        _StreamingEngine(path, on_start=lambda: seen_at_start.append(path.exists())),
        delivery,
        answers,
    )
    assert seen_at_start == [False]
    assert answers.seen == [("stem", True), ("done", False)]


def test_start_up_clears_the_previews_folder_of_previews_only(tmp_path: Path) -> None:
    delivery = Delivery(tmp_path)
    folder = delivery.preview_dir
    folder.mkdir()
    for name in ("a.wav", "b-1a2b3c.wav"):
        (folder / name).write_bytes(b"RIFF")
    (folder / "notes.txt").write_text("not the sidecar's")
    (folder / "sub.wav").mkdir()
    assert delivery.clear_previews() == 2
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", "sub.wav"]
    assert Delivery(tmp_path / "fresh").clear_previews() == 0


def test_previews_a_killed_server_left_are_removed_when_it_starts_again(tmp_path: Path) -> None:
    with (
        running_sidecar(tmp_path, "--no-warm-up") as server,
        SidecarClient(server.host, server.port) as client,
    ):
        client.send(A.GENERATE, "k1", "prompt", "x", "seconds", 30.0, "preview", 1.0)
        while True:
            reply = client.receive(60)
            assert reply is not None, server.log()
            if reply[0] == A.PREVIEW:
                break
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
    previews = server.output_dir / "previews"
    assert [p.name for p in previews.iterdir()] == ["k1.wav"]
    (previews / "notes.txt").write_text("not a preview: kept")
    with running_sidecar(tmp_path, "--no-warm-up") as server:
        assert [p.name for p in previews.iterdir()] == ["notes.txt"]
