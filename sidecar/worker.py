"""③ The model worker: one thread that runs each job through engine ④ → post ⑤ → delivery."""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from sidecar import __version__
from sidecar.audiofile import MAX_CLIP_SECONDS, SampleFormat, read_audio
from sidecar.delivery import DeliveredStem, Delivery
from sidecar.engine.base import Engine
from sidecar.errors import CancelledError, RequestError, SidecarError
from sidecar.history import Take, TakeHistory
from sidecar.jobs import Job, JobQueue, JobState
from sidecar.journal import Journal
from sidecar.osc.schema import GenerateRequest, OscArg, Stem
from sidecar.parallel import TakePool
from sidecar.paths import PathPolicy
from sidecar.post.pipeline import build_tempo_map
from sidecar.post.prompt import prepare_prompt
from sidecar.preview import PreviewWriter
from sidecar.takes import MadeTake, TakeMaker
from sidecar.windows import MIN_PROMPT_SECONDS

__all__ = ["JobRunner", "Reporter", "Worker"]

log = logging.getLogger(__name__)

#: Share of a job's progress that decoding takes (the rest: post-processing and delivery).
_DECODE_SHARE = 0.9

#: Report fields carried on `/sidecar/stem` (in this order), after `seed` and `bpm`.
_STEM_REPLY_FIELDS = (
    "bars",
    "source_bpm",
    "tempo_confidence",
    "stretch_ratio",
    "delivered_bpm",
    "decision",
    "loudness_lufs",
    "true_peak_dbtp",
    "key",
    "key_confidence",
    "key_shift_semitones",
    "windows",
    "sample_rate",
    "channels",
)


class Reporter(Protocol):
    """How the worker answers: OSC replies in the server, a progress bar in the one-shot CLI."""

    def progress(self, job: Job, fraction: float, eta_seconds: float) -> None: ...
    def preview(self, job: Job, path: str, seconds_ready: float) -> None: ...
    def stem(self, job: Job, stem: Stem) -> None: ...
    def done(self, job: Job, n_files: int) -> None: ...
    def error(self, job: Job, code: str, message: str) -> None: ...
    def cancelled(self, job: Job) -> None: ...


@dataclass
class _Clock:
    """Throttles progress: at most one report per 5 % or per 0.5 s, always one per 10 %."""

    started: float = field(default_factory=time.monotonic)
    last_fraction: float = -1.0
    last_time: float = 0.0

    def due(self, fraction: float) -> bool:
        now = time.monotonic()
        if (
            fraction - self.last_fraction >= 0.05 - 1e-9
            or fraction >= 1.0
            or (now - self.last_time >= 0.5 and fraction > self.last_fraction)
        ):
            self.last_fraction, self.last_time = fraction, now
            return True
        return False


class JobRunner:
    """Runs one job end to end and sends exactly one terminal answer through the reporter."""

    def __init__(
        self,
        engine: Engine,
        delivery: Delivery,
        reporter: Reporter,
        policy: PathPolicy | None = None,
        journal: Journal | None = None,
        history: TakeHistory | None = None,
    ) -> None:
        self.engine = engine
        self.delivery = delivery
        self.reporter = reporter
        self.policy = policy
        self.journal = journal
        self.history = history
        self.pool = TakePool()
        self.maker = TakeMaker(engine, self.pool)

    def run(self, job: Job) -> None:
        if self.journal is not None:
            self.journal.start(job.request_id)
        try:
            self._run_and_answer(job)
        finally:
            if self.journal is not None:
                self.journal.end(job.request_id, job.state.value)

    def set_engine(self, engine: Engine) -> None:
        """Use `engine` from the next job on (after a model switch)."""
        self.engine = engine
        self.maker = TakeMaker(engine, self.pool)

    def close(self) -> None:
        """Stops the post-processing threads (after the take each is on)."""
        self.pool.close()

    def _run_and_answer(self, job: Job) -> None:
        try:
            if job.action is not None:
                job.action()
                n_files = 0
            else:
                n_files = self._run(job)
        except CancelledError:
            if job.finish(JobState.CANCELLED):
                self.reporter.cancelled(job)
            return
        except SidecarError as e:
            log.info("request %s failed: %s: %s", job.request_id, e.code, e.message)
            if job.finish(JobState.FAILED):
                self.reporter.error(job, e.code, e.message)
            return
        except Exception as e:
            log.exception("request %s failed unexpectedly", job.request_id)
            if job.finish(JobState.FAILED):
                self.reporter.error(job, "internal", f"{type(e).__name__}: {e}")
            return
        if job.finish(JobState.DONE):
            self.reporter.done(job, n_files)

    # ------------------------------------------------------------------ stages

    def _report(self, job: Job, clock: _Clock, fraction: float) -> None:
        job.progress = fraction
        if clock.due(fraction):
            elapsed = time.monotonic() - clock.started
            eta = elapsed / fraction * (1.0 - fraction) if fraction > 0.01 else -1.0
            self.reporter.progress(job, round(fraction, 4), round(eta, 2))

    def _check_cancel(self, job: Job) -> None:
        if job.cancel_requested:
            raise CancelledError(f"request {job.request_id} cancelled")

    def _load_prompt(self, req: GenerateRequest) -> tuple[np.ndarray, np.ndarray, int]:
        """(prompt at the model's rate, the clip region as read, its rate)."""
        if req.clip is None:
            raise RequestError("clip: missing", "clip")
        start, end = req.clip_start, req.clip_end
        beat_bpm = req.clip_bpm or req.bpm
        if beat_bpm is not None:
            if req.clip_start_beats is not None:
                start = req.clip_start_beats * 60.0 / beat_bpm
            if req.clip_end_beats is not None:
                end = req.clip_end_beats * 60.0 / beat_bpm
        clip = req.clip if self.policy is None else str(self.policy.check_clip(req.clip))
        region, rate = read_audio(clip, start, end)
        info = self.engine.info
        prompt = prepare_prompt(
            region,
            rate,
            info.sample_rate,
            info.channels,
            bpm=req.bpm,
            clip_bpm=req.clip_bpm,
            min_seconds=MIN_PROMPT_SECONDS,
            max_seconds=MAX_CLIP_SECONDS,
        )
        return prompt, region, rate

    def _run(self, job: Job) -> int:
        req = job.request
        clock = _Clock()
        timings: dict[str, float] = {"queued_seconds": (job.started or clock.started) - job.created}
        seed = req.seed if req.seed is not None else random.randrange(2**31)
        self._report(job, clock, 0.0)

        t = time.monotonic()
        prompt = region = None
        region_rate = None
        if req.mode == "continue":
            prompt, region, region_rate = self._load_prompt(req)
        prompt_seconds = 0.0 if prompt is None else prompt.shape[-1] / self.engine.sample_rate
        timings["prompt_seconds"] = time.monotonic() - t
        self._check_cancel(job)

        def on_fraction(fraction: float) -> None:
            self._check_cancel(job)
            self._report(job, clock, _DECODE_SHARE * fraction)

        t = time.monotonic()
        previews = None
        if req.preview > 0:
            previews = PreviewWriter(
                self.delivery.preview_path(job.request_id),
                self.engine.sample_rate,
                lambda path, seconds: self.reporter.preview(job, path, seconds),
            )
        try:
            takes = self.maker.make(
                req,
                job.preset,
                prompt,
                region,
                region_rate,
                seed,
                on_fraction,
                lambda: self._check_cancel(job),
                None if previews is None else (lambda batch, s: previews.push(batch[0], s)),
            )
        except BaseException:
            if previews is not None:
                previews.close(discard=True)
            raise
        if previews is not None:
            previews.close()  # the last preview reply comes before the first stem
        timings["make_seconds"] = time.monotonic() - t
        timings.update(self.maker.timings)
        self._check_cancel(job)
        self._report(job, clock, _DECODE_SHARE + 0.05)

        t = time.monotonic()
        folder = self.delivery.job_dir(req.request_id)
        delivered: list[DeliveredStem] = []
        for i, take in enumerate(takes):
            meta = self._metadata(req, job, i, take, seed, prompt_seconds, timings)
            midi = None
            if req.bpm is not None:
                bars = int(take.report.get("bars") or req.bars or 1)
                midi = build_tempo_map(req.bpm, bars, req.beats_per_bar)
            name = (
                f"{folder.name}-{take.part}-{take.variation + 1}"
                if take.part
                else (f"{folder.name}-{i + 1}")
            )
            stem = self.delivery.write_stem(
                folder, name, take.audio, req.sample_rate, _sample_format(req.format), meta, midi
            )
            delivered.append(stem)
            self._remember(req, seed, take, stem)
            self.reporter.stem(
                job, Stem(req.request_id, i, str(stem.path), self._stem_info(req, seed, take))
            )
        timings["deliver_seconds"] = time.monotonic() - t
        self._report(job, clock, 1.0)
        return len(delivered)

    def _remember(
        self, req: GenerateRequest, seed: int, take: MadeTake, stem: DeliveredStem
    ) -> None:
        """Record the take in the history; a failing history never fails the delivery."""
        if self.history is None:
            return
        files = [str(p) for p in (stem.path, stem.json_path, stem.midi_path) if p is not None]
        try:
            self.history.record(
                Take(
                    request_id=req.request_id,
                    model=self.engine.info.name,
                    clip=req.clip,
                    seed=seed,
                    params={**req.to_dict(), "variation": take.variation, "part": take.part},
                    files=tuple(files),
                    tempo_bpm=_number(take.report.get("delivered_bpm")),
                    key=take.report.get("key"),
                )
            )
        except SidecarError as e:
            log.error("take of %s not recorded in the history: %s", req.request_id, e.message)

    def _stem_info(self, req: GenerateRequest, seed: int, take: MadeTake) -> dict[str, OscArg]:
        """The report fields a DAW acts on; the full report is in the JSON beside the file."""
        info: dict[str, OscArg] = {"seed": seed, "variation": take.variation}
        if take.part is not None:
            info["part"] = take.part
        if req.bpm is not None:
            info["bpm"] = req.bpm
        for key in _STEM_REPLY_FIELDS:
            value = take.report.get(key)
            if value is not None and isinstance(value, str | int | float):
                info[key] = value
        return info

    def _metadata(
        self,
        req: GenerateRequest,
        job: Job,
        index: int,
        take: MadeTake,
        seed: int,
        prompt_seconds: float,
        timings: dict[str, float],
    ) -> dict[str, Any]:
        info = self.engine.info
        return {
            "index": index,
            "variation": take.variation,
            "part": take.part,
            "request": req.to_dict(),
            "preset": None if job.preset is None else job.preset.name,
            "model": info.name,
            "random_weights": info.is_random,
            "device": info.device,
            "dtype": info.dtype,
            "seed": seed,
            "batch_size": req.variations * max(1, len(req.parts)),
            "sidecar_version": __version__,
            "prompt_clip": None
            if req.clip is None
            else {
                "path": req.clip,
                "start_seconds": req.clip_start,
                "end_seconds": req.clip_end,
                "start_beats": req.clip_start_beats,
                "end_beats": req.clip_end_beats,
                "clip_bpm": req.clip_bpm,
                "seconds_used": round(prompt_seconds, 4),
                "as_melody": req.melody,
            },
            "report": take.report,
            "windows": take.windows if len(take.windows) > 1 else [],
            "timings": {k: round(v, 4) for k, v in timings.items()},
        }


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _sample_format(name: str) -> SampleFormat:
    return "float32" if name == "float32" else "pcm16" if name == "pcm16" else "pcm24"


class Worker(threading.Thread):
    """The single consumer of the job queue."""

    def __init__(self, queue: JobQueue, runner: JobRunner) -> None:
        super().__init__(name="sidecar-worker", daemon=True)
        self.queue = queue
        self.runner = runner

    def run(self) -> None:
        while True:
            job = self.queue.take()
            if job is None:
                self.runner.close()
                return
            try:
                self.runner.run(job)
            finally:
                self.queue.task_done(job)
