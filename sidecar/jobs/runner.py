"""③ One job through the stages: its prompt read, engine ④ decode, post ⑤, delivery ⑥, replies."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from sidecar.engine.base import Engine, EngineInfo
from sidecar.engine.separator import SeparatorSlot
from sidecar.errors import CancelledError, ModelLoadError, RequestError, SidecarError
from sidecar.files.audiofile import MAX_CLIP_SECONDS, read_audio
from sidecar.files.paths import PathPolicy
from sidecar.jobs.journal import Journal
from sidecar.jobs.queue import Job, JobState
from sidecar.osc.schema import GenerateRequest, Stem
from sidecar.output.delivery import DeliveredStem, Delivery
from sidecar.output.history import Take, TakeHistory
from sidecar.output.preview import PreviewWriter
from sidecar.output.stem_meta import number_or_none, sample_format, stem_metadata, stem_reply_fields
from sidecar.post.pipeline import build_tempo_map
from sidecar.post.prompt import prepare_prompt
from sidecar.takes.batch import TakeMaker
from sidecar.takes.finish import DecodedTakes, MadeTake
from sidecar.takes.parallel import TakePool
from sidecar.takes.windows import MIN_PROMPT_SECONDS

__all__ = ["DecodedJob", "JobRunner", "Reporter"]

log = logging.getLogger(__name__)

#: Share of a job's progress that decoding takes (the rest: post-processing and delivery).
_DECODE_SHARE = 0.9
#: With separation: decoding, then separation up to `_DECODE_SHARE` (a rough split: the
#: ETA is re-estimated from the elapsed time at every report; bench/separation_bench.py
#: measures both stages side by side).
_SEPARATED_DECODE_SHARE = 0.6


def _decode_share(req: GenerateRequest) -> float:
    return _SEPARATED_DECODE_SHARE if req.separating else _DECODE_SHARE


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


@dataclass
class DecodedJob:
    """A job between its stages: decoded on the model's thread, to be finished on any."""

    job: Job
    clock: _Clock
    seed: int
    prompt_seconds: float
    timings: dict[str, float]
    takes: DecodedTakes
    #: The model that made the takes (the server may switch models before they are finished).
    info: EngineInfo
    decoded_at: float = field(default_factory=time.monotonic)


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
        separators: SeparatorSlot | None = None,
    ) -> None:
        self.delivery = delivery
        self.reporter = reporter
        self.policy = policy
        self.journal = journal
        self.history = history
        self.pool = TakePool()
        #: The Demucs separator kept warm beside the model (loaded on first use).
        self.separators = separators if separators is not None else SeparatorSlot()
        self._maker: TakeMaker | None = TakeMaker(engine, self.pool, self.separators)

    @property
    def maker(self) -> TakeMaker:
        if self._maker is None:
            raise ModelLoadError("no model is loaded: load one with /sidecar/model/load")
        return self._maker

    @property
    def engine(self) -> Engine:
        return self.maker.engine

    def run(self, job: Job) -> None:
        """Both stages of `job` on this thread (the one-shot CLI, a worker without a finisher)."""
        decoded = self.decode(job)
        if decoded is not None:
            self.finish(decoded)

    def decode(self, job: Job) -> DecodedJob | None:
        """Stage one, on the model's thread: prompt, decoding and previews (or an action).

        Returns the job for `finish`, or None when it has ended here (its terminal answer sent:
        an action done, an error, a cancel).
        """
        if self.journal is not None:
            self.journal.start(job.request_id)
        try:
            if job.action is not None:
                job.action()
                decoded = None
            else:
                decoded = self._decode(job)
        except Exception as e:
            self.answer_failure(job, e)
            self._end(job)
            return None
        if decoded is None:
            if job.finish(JobState.DONE):
                self.reporter.done(job, 0)
            self._end(job)
        return decoded

    def finish(self, decoded: DecodedJob) -> None:
        """Stage two, on any thread: post-processing, delivery and the terminal answer."""
        job = decoded.job
        try:
            n_files = self._deliver(decoded)
        except Exception as e:
            decoded.takes.abandon()
            self.answer_failure(job, e)
        else:
            # The stems replace the preview: the client has their paths now.
            self._drop_preview(job)
            if job.finish(JobState.DONE):
                self.reporter.done(job, n_files)
        finally:
            self._end(job)

    def set_engine(self, engine: Engine | None) -> None:
        """Use `engine` from the next job on (after a model switch); None lets go of the old
        one while its successor loads, so that evicting it really frees its memory."""
        self._maker = None if engine is None else TakeMaker(engine, self.pool, self.separators)

    def close(self) -> None:
        """Stops the post-processing threads (after the take each is on)."""
        self.pool.close()

    def _drop_preview(self, job: Job) -> None:
        """A request's preview lives until its terminal answer, which comes after this."""
        if job.request.preview > 0:
            self.delivery.remove_preview(job.request_id)

    def _end(self, job: Job) -> None:
        if self.journal is not None:
            self.journal.end(job.request_id, job.state.value)

    def answer_failure(self, job: Job, error: Exception) -> None:
        """The one terminal answer for a job that raised (unless it was answered already);
        its preview goes first, on every path that ends a job this way."""
        self._drop_preview(job)
        if isinstance(error, CancelledError):
            if job.finish(JobState.CANCELLED):
                self.reporter.cancelled(job)
        elif isinstance(error, SidecarError):
            log.info("request %s failed: %s: %s", job.request_id, error.code, error.message)
            if job.finish(JobState.FAILED):
                self.reporter.error(job, error.code, error.message)
        else:
            log.error("request %s failed unexpectedly", job.request_id, exc_info=error)
            if job.finish(JobState.FAILED):
                self.reporter.error(job, "internal", f"{type(error).__name__}: {error}")

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

    def _decode(self, job: Job) -> DecodedJob:
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
            self._report(job, clock, _decode_share(req) * fraction)

        t = time.monotonic()
        previews = None
        if req.preview > 0:
            # A preview left by an earlier request with this id is not this one's.
            self.delivery.remove_preview(job.request_id)
            previews = PreviewWriter(
                self.delivery.preview_path(job.request_id),
                self.engine.sample_rate,
                lambda path, seconds: self.reporter.preview(job, path, seconds),
            )
        try:
            takes = self.maker.decode(
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
        return DecodedJob(job, clock, seed, prompt_seconds, timings, takes, self.engine.info)

    def _deliver(self, decoded: DecodedJob) -> int:
        job, req, clock, seed = decoded.job, decoded.job.request, decoded.clock, decoded.seed
        timings = decoded.timings
        t = time.monotonic()
        timings["finish_wait_seconds"] = t - decoded.decoded_at
        self._check_cancel(job)
        share = _decode_share(req)
        takes = decoded.takes.finish(
            self.pool,
            lambda: self._check_cancel(job),
            lambda f: self._report(job, clock, share + (_DECODE_SHARE - share) * f),
        )
        timings["make_seconds"] += time.monotonic() - t
        timings.update(decoded.takes.timings)
        self._check_cancel(job)
        self._report(job, clock, _DECODE_SHARE + 0.05)

        t = time.monotonic()
        folder = self.delivery.job_dir(req.request_id)
        delivered: list[DeliveredStem] = []
        for i, take in enumerate(takes):
            meta = stem_metadata(
                req,
                job.preset,
                decoded.info,
                decoded.seed,
                decoded.prompt_seconds,
                decoded.timings,
                i,
                take,
            )
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
                folder, name, take.audio, req.sample_rate, sample_format(req.format), meta, midi
            )
            delivered.append(stem)
            self._remember(decoded, take, stem)
            self.reporter.stem(
                job, Stem(req.request_id, i, str(stem.path), stem_reply_fields(req, seed, take))
            )
        timings["deliver_seconds"] = time.monotonic() - t
        self._report(job, clock, 1.0)
        return len(delivered)

    def _remember(self, decoded: DecodedJob, take: MadeTake, stem: DeliveredStem) -> None:
        """Record the take in the history; a failing history never fails the delivery."""
        if self.history is None:
            return
        req = decoded.job.request
        files = [str(p) for p in (stem.path, stem.json_path, stem.midi_path) if p is not None]
        try:
            self.history.record(
                Take(
                    request_id=req.request_id,
                    model=decoded.info.name,
                    clip=req.clip,
                    seed=decoded.seed,
                    params={**req.to_dict(), "variation": take.variation, "part": take.part},
                    files=tuple(files),
                    tempo_bpm=number_or_none(take.report.get("delivered_bpm")),
                    key=take.report.get("key"),
                )
            )
        except SidecarError as e:
            log.error("take of %s not recorded in the history: %s", req.request_id, e.message)
