"""The worker's pipeline: job N is post-processed and delivered while job N+1 decodes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sidecar.cli.examples import drum_loop
from sidecar.engine.base import Engine, EngineInfo, GenerationSpec, ProgressCallback
from sidecar.jobs.queue import Job, JobQueue, JobState
from sidecar.jobs.runner import JobRunner
from sidecar.jobs.worker import Worker
from sidecar.osc.schema import GenerateRequest, Stem
from sidecar.output.delivery import Delivery
from sidecar.post.resample import resample

BPM = 120.0
BARS = 8


class Events:
    """What happened, in order, from every thread: (what, request_id)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: list[tuple[str, str]] = []

    def add(self, what: str, rid: str) -> None:
        with self._lock:
            self.items.append((what, rid))

    def index(self, what: str, rid: str) -> int:
        return self.items.index((what, rid))


class DrumEngine(Engine):
    """A model that plays drums at 118 BPM (so every take is stretched to 120) after
    `decode_seconds` of emulated device time; its text prompt starts with the request id."""

    def __init__(
        self,
        events: Events,
        name: str = "drums",
        decode_seconds: float = 0.05,
        after_decode: Callable[[str], None] | None = None,
    ) -> None:
        self.events, self.name, self.decode_seconds = events, name, decode_seconds
        self.after_decode = after_decode
        loop = drum_loop(118.0, 2, sample_rate=48000)
        self._loop = resample(np.repeat(loop[:1], 2, axis=0), 48000, 32000).astype(np.float32)

    @property
    def info(self) -> EngineInfo:
        return EngineInfo(self.name, "cpu", "float32", 32000, 2, 50, 30.0, False, True)

    def generate(
        self, spec: GenerationSpec, progress: ProgressCallback | None = None
    ) -> np.ndarray:
        rid = spec.prompts[0].split(",")[0] if spec.prompts else ""
        self.events.add("decode_start", rid)
        time.sleep(self.decode_seconds)
        samples = round(spec.duration_seconds * 32000)
        take = np.tile(self._loop, (1, samples // self._loop.shape[-1] + 1))[:, :samples]
        self.events.add("decode_end", rid)
        if self.after_decode is not None:
            self.after_decode(rid)
        return np.stack([take] * spec.variations)


class Replies:
    """A Reporter that logs terminal answers and stems into the shared event list."""

    def __init__(self, events: Events) -> None:
        self.events = events
        self.stems: dict[str, list[Stem]] = {}

    def progress(self, job: Job, fraction: float, eta_seconds: float) -> None:
        pass

    def preview(self, job: Job, path: str, seconds_ready: float) -> None:
        pass

    def stem(self, job: Job, stem: Stem) -> None:
        self.stems.setdefault(job.request_id, []).append(stem)

    def done(self, job: Job, n_files: int) -> None:
        self.events.add("done", job.request_id)

    def error(self, job: Job, code: str, message: str) -> None:
        self.events.add(f"error {code}: {message}", job.request_id)

    def cancelled(self, job: Job) -> None:
        self.events.add("cancelled", job.request_id)


def _request(rid: str) -> GenerateRequest:
    return GenerateRequest(request_id=rid, prompt=rid, bars=BARS, bpm=BPM, seed=1)


def _serve(
    queue: JobQueue, runner: JobRunner, jobs: list[Job], pipeline: bool, events: Events
) -> None:
    """Queue `jobs` at once, run a worker until every one has answered, then stop it."""
    for job in jobs:
        queue.submit(job)
    worker = Worker(queue, runner, pipeline)
    worker.start()
    deadline = time.monotonic() + 120
    while not all(job.state.finished for job in jobs) and time.monotonic() < deadline:
        time.sleep(0.01)
    queue.drain()
    worker.join(30)
    assert not worker.is_alive()
    assert queue.running_jobs == ()


@pytest.mark.parametrize("pipeline", [True, False])
def test_the_next_job_decodes_while_the_last_one_is_post_processed(
    pipeline: bool, tmp_path: Path
) -> None:
    events = Events()
    queue = JobQueue()
    running_while_decoding: dict[str, list[str]] = {}
    engine = DrumEngine(events)
    original = engine.generate

    def generate(spec: GenerationSpec, progress: ProgressCallback | None = None) -> np.ndarray:
        rid = spec.prompts[0].split(",")[0] if spec.prompts else ""
        running_while_decoding[rid] = [job.request_id for job in queue.running_jobs]
        return original(spec, progress)

    engine.generate = generate  # type: ignore[method-assign]
    replies = Replies(events)
    jobs = [Job(_request(f"j{i}"), ("", 0)) for i in range(1, 4)]
    _serve(queue, JobRunner(engine, Delivery(tmp_path), replies), jobs, pipeline, events)

    assert [job.state for job in jobs] == [JobState.DONE] * 3, events.items
    for job in jobs:
        (stem,) = replies.stems[job.request_id]
        assert stem.info["decision"] == "stretched"
        assert stem.info["bars"] == BARS
        meta = json.loads(Path(stem.path).with_suffix(".json").read_text())
        assert meta["report"]["num_samples"] == BARS * 4 * 60 / BPM * 48000
        assert meta["timings"]["post_seconds"] > 0
    at = events.index
    if pipeline:
        # j2 was decoded while j1 went through the tempo contract (~0.3 s of stretching,
        # loudness and key), and the queue said both were running.
        assert at("decode_end", "j2") < at("done", "j1")
        assert running_while_decoding["j2"] == ["j1", "j2"]
        # At most one decoded job waits: j3 is decoded only once j1 is delivered.
        assert at("done", "j1") < at("decode_start", "j3")
    else:
        assert at("done", "j1") < at("decode_start", "j2")
        assert at("done", "j2") < at("decode_start", "j3")
        assert running_while_decoding["j2"] == ["j2"]
    assert [rid for what, rid in events.items if what == "done"] == ["j1", "j2", "j3"]


def test_a_job_cancelled_after_decoding_is_not_delivered_and_the_next_one_is(
    tmp_path: Path,
) -> None:
    events = Events()
    queue = JobQueue()

    def cancel_j1(rid: str) -> None:
        if rid == "j1":
            queue.cancel("j1")  # as /sidecar/cancel does, once the audio is decoded

    replies = Replies(events)
    runner = JobRunner(DrumEngine(events, after_decode=cancel_j1), Delivery(tmp_path), replies)
    jobs = [Job(_request("j1"), ("", 0)), Job(_request("j2"), ("", 0))]
    _serve(queue, runner, jobs, True, events)

    assert [job.state for job in jobs] == [JobState.CANCELLED, JobState.DONE]
    assert [what for what, rid in events.items if rid == "j1"][-1] == "cancelled"
    assert "j1" not in replies.stems
    assert not [path for path in tmp_path.rglob("*") if "j1" in path.name]  # nothing half-made
    assert len(replies.stems["j2"]) == 1


def test_a_model_switch_between_jobs_leaves_the_job_being_finished_as_it_was_made(
    tmp_path: Path,
) -> None:
    events = Events()
    queue = JobQueue()
    replies = Replies(events)
    runner = JobRunner(DrumEngine(events, "model-a"), Delivery(tmp_path), replies)

    def switch() -> None:
        events.add("switch", "s")
        runner.set_engine(DrumEngine(events, "model-b"))

    switch_job = Job(GenerateRequest(request_id="s"), ("", 0), action=switch)
    jobs = [Job(_request("j1"), ("", 0)), switch_job, Job(_request("j2"), ("", 0))]
    _serve(queue, runner, jobs, True, events)

    assert [job.state for job in jobs] == [JobState.DONE] * 3
    assert events.index("switch", "s") < events.index("done", "j1")  # ran while j1 finished

    def model_of(rid: str) -> Any:
        (stem,) = replies.stems[rid]
        return json.loads(Path(stem.path).with_suffix(".json").read_text())["model"]

    assert (model_of("j1"), model_of("j2")) == ("model-a", "model-b")
