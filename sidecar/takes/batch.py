"""④ A request's takes decoded as one batch (bar-aligned windows past 30 s), for finishing ⑤."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from typing import Any

import numpy as np

from sidecar.engine.base import Engine, GenerationSpec, ProgressCallback
from sidecar.engine.separator import SeparatorSlot
from sidecar.errors import OutOfMemoryError, RequestError
from sidecar.musical.presets import Preset
from sidecar.musical.stemsets import stem_prompts
from sidecar.osc.schema import GenerateRequest
from sidecar.post.channels import to_channels
from sidecar.post.loudness import reference_loudness
from sidecar.post.pipeline import PostSpec
from sidecar.post.resample import resample
from sidecar.takes.finish import DecodedTakes, MadeTake, WindowPost, key_of
from sidecar.takes.parallel import TakePool
from sidecar.takes.separated import Separation
from sidecar.takes.windows import (
    CONTEXT_SECONDS,
    MIN_PROMPT_SECONDS,
    context_seconds,
    generated_seconds,
    plan_windows,
    progress_shares,
    window_works,
    with_slack,
)

__all__ = ["DecodedTakes", "MadeTake", "TakeMaker"]

log = logging.getLogger(__name__)

#: A loop made in several windows gets this much of what followed its last bar line, to
#: crossfade into its start (as a one-window loop's seam does): the 10 ms crossfade, with room
#: to align a next downbeat that comes up to 5 ms late (`grid.wrap_overhang`).
SEAM_SECONDS = 0.015


class TakeMaker:
    """Decodes a request's rows (variations × stem parts) into `DecodedTakes` to be finished."""

    def __init__(
        self,
        engine: Engine,
        pool: TakePool | None = None,
        separators: SeparatorSlot | None = None,
    ) -> None:
        self.engine = engine
        #: Post-processes a batch's takes side by side.
        self.pool = pool if pool is not None else TakePool()
        #: The warm Demucs separator, for requests that `separate` their takes.
        self.separators = separators

    # ------------------------------------------------------------------ rows

    def _rows(
        self, req: GenerateRequest, preset: Preset | None
    ) -> tuple[tuple[str, ...] | None, list[tuple[int, str | None]]]:
        """Text prompt per batch row (None: unconditional), and each row's (variation, part)."""
        extra = req.prompt
        if req.parts:
            if preset is not None:
                texts = preset.render_stem_prompts(
                    req.parts, bpm=req.bpm, key=req.key, genre=req.genre, extra=extra
                )
            else:
                texts = stem_prompts(req.text, req.parts)
            rows: list[tuple[int, str | None]] = [
                (v, part) for part in req.parts for v in range(req.variations)
            ]
            return tuple(t for t in texts for _ in range(req.variations)), rows
        text = (
            preset.render_prompt(bpm=req.bpm, key=req.key, genre=req.genre, extra=extra)
            if preset is not None
            else req.text
        )
        rows = [(v, None) for v in range(req.variations)]
        return (None if not text else tuple([text] * req.variations)), rows

    # ------------------------------------------------------------------ make

    def decode(
        self,
        req: GenerateRequest,
        preset: Preset | None,
        prompt: np.ndarray | None,
        reference: np.ndarray | None,
        reference_rate: int | None,
        seed: int,
        on_fraction: Callable[[float], None],
        check_cancel: Callable[[], None],
        on_preview: Callable[[np.ndarray, float], None] | None = None,
    ) -> DecodedTakes:
        """Decodes the request's batch (one per window), ready for `DecodedTakes.finish`.

        Windows before the last are finished here: the next window is prompted with them.
        The prompt clip's key does not depend on the takes, so it is estimated on the take
        pool while the model decodes (free on a GPU); if decoding fails, it is waited for.
        """
        info = self.engine.info
        texts, rows = self._rows(req, preset)
        if on_preview is not None and not getattr(self.engine, "streams_audio", False):
            raise RequestError(
                "preview: this server's decoder cannot stream partial audio; start it with "
                "--decoder auto, exact, fp32 or fast",
                "preview",
            )
        # A melody model cannot continue audio: it takes the clip as its melody.
        as_melody = req.melody or info.supports_melody
        melody = prompt if as_melody else None
        audio_prompt = None if as_melody else prompt
        rate = info.sample_rate
        prompt_seconds = 0.0 if audio_prompt is None else audio_prompt.shape[-1] / rate
        plan = plan_windows(
            req.duration_seconds,
            req.bpm,
            req.beats_per_bar,
            info.max_seconds,
            audio_prompt is not None,
            req.bars,
        )
        if len(plan) > 1 and info.supports_melody:
            # Each window past the first is prompted with the end of the one before, which a
            # melody model cannot continue.
            raise RequestError(
                f"seconds: a {req.duration_seconds:.0f} s take is made in {len(plan)} windows, "
                f"and the melody model '{info.name}' cannot continue one window into the next; "
                f"ask for at most {info.max_seconds:.0f} s (with tempo slack) or load a "
                "musicgen model",
                "seconds",
            )
        separation = self._separation(req, len(plan))
        if audio_prompt is not None:
            # The end of the clip is what gets continued: keep its tail where room is short.
            first = plan[0][0]
            allowed = (
                CONTEXT_SECONDS
                if len(plan) > 1
                else info.max_seconds
                - min(with_slack(first, req.bpm), info.max_seconds - MIN_PROMPT_SECONDS)
            )
            if prompt_seconds > allowed:
                audio_prompt = audio_prompt[..., audio_prompt.shape[-1] - int(allowed * rate) :]
                log.info("prompt cut to its last %.2f s to fit the window", allowed)
        # Each window's share of the progress is weighed by its decoding work.
        works = window_works(
            plan,
            req.bpm,
            req.beats_per_bar,
            info.max_seconds,
            0.0 if audio_prompt is None else audio_prompt.shape[-1] / rate,
        )
        shares = progress_shares(works)
        started_tasks: list[Future[Any]] = []
        try:
            clip_key = None
            if req.key is None and reference is not None and reference_rate is not None:
                clip_key = self.pool.start(key_of, reference, reference_rate)
                started_tasks.append(clip_key)
            reference_lufs = None
            if req.loudness is None and reference is not None and reference_rate is not None:
                reference_lufs = self.pool.start(reference_loudness, reference, reference_rate)
                started_tasks.append(reference_lufs)
            window_post = WindowPost(
                model_sample_rate=rate,
                bpm=req.bpm,
                reference=reference,
                reference_sample_rate=reference_rate,
                preset=preset,
                board=preset.build_board(req.bpm)
                if preset is not None and preset.effects
                else None,
                reference_lufs=reference_lufs,
                loop=req.loop,
                windows=len(plan),
                rows=tuple(rows),
            )
            timings = {"decode_seconds": 0.0, "post_seconds": 0.0, "key_seconds": 0.0}
            pieces: list[list[np.ndarray]] = [[] for _ in rows]
            reports: list[list[dict[str, Any]]] = [[] for _ in rows]
            for w, (window_seconds, window_bars) in enumerate(plan):
                used = 0.0 if audio_prompt is None else audio_prompt.shape[-1] / rate
                gen_seconds = generated_seconds(window_seconds, req.bpm, info.max_seconds, used)
                spec = GenerationSpec(
                    duration_seconds=gen_seconds,
                    prompts=texts,
                    audio_prompt=audio_prompt,
                    melody=melody,
                    variations=len(rows),
                    guidance_scale=req.guidance,
                    temperature=req.temperature,
                    top_k=req.top_k,
                    top_p=req.top_p,
                    seed=seed + w,
                )
                work, (start, width) = works[w], shares[w]
                started = time.perf_counter()
                offset = sum(p[0] for p in plan[:w])
                # A window shows only its bars: its tempo slack is not in the take (the next
                # window's audio follows its last bar line, and the last one ends the take).
                preview = (
                    None
                    if on_preview is None
                    else _shifted(on_preview, offset, window_seconds, info.sample_rate)
                )
                # The steps' part of the share comes after the prompt's encoding; the codec's
                # decoding of the window and its contract (before the last) follow them.
                steps = (start + width * work.prompt / work.total, width * work.steps / work.total)
                audio = self._decode(spec, steps, on_fraction, preview, req.preview)
                on_fraction(start + width * (work.total - work.post) / work.total)
                timings["decode_seconds"] += time.perf_counter() - started
                post = PostSpec(
                    sample_rate=req.sample_rate,
                    channels=req.channels,
                    bpm=req.bpm,
                    bars=window_bars,
                    beats_per_bar=req.beats_per_bar,
                    # A loop in several windows: its seam is made over the joined take, from
                    # what followed the last window's last bar line (`finish_take`).
                    loop=req.loop and len(plan) == 1,
                    overhang_seconds=(SEAM_SECONDS if req.loop and w + 1 == len(plan) > 1 else 0.0),
                    loudness_lufs=req.loudness,  # a preset's target is applied already
                    sample_format=req.format,
                    downbeat_at_start=audio_prompt is not None,
                    snap_downbeat=w == 0,  # later windows continue the last one's waveform
                )
                raws = [audio[r] for r in range(len(rows))]
                if w + 1 == len(plan):
                    break  # the last window is finished by `DecodedTakes.finish`
                started = time.perf_counter()
                done = window_post.contract(
                    self.pool, window_post.effects(raws), post, check_cancel
                )
                for r, (delivered, report) in enumerate(done):
                    pieces[r].append(delivered)
                    reports[r].append(report)
                timings["post_seconds"] += time.perf_counter() - started
                on_fraction(start + width)
                audio_prompt = self._tails(pieces, req.sample_rate, req.bpm, req.beats_per_bar)
                log.info(
                    "window %d/%d done; re-prompting with %.1f s",
                    w + 1,
                    len(plan),
                    audio_prompt.shape[-1] / info.sample_rate,
                )
        except BaseException:
            wait(started_tasks)
            raise
        return DecodedTakes(
            request=req,
            rows=rows,
            window_post=window_post,
            raws=raws,
            post=post,
            pieces=pieces,
            reports=reports,
            clip_key=clip_key,
            started=started_tasks,
            timings=timings,
            separation=separation,
        )

    def _separation(self, req: GenerateRequest, windows: int) -> Separation | None:
        """How `req`'s takes are separated (None: they are not), or why they cannot be."""
        if not req.separating:
            return None
        if windows > 1:
            raise RequestError(
                f"separate: a {req.duration_seconds:.0f} s take is made in {windows} windows, "
                f"and a separated set is cut as one; ask for at most "
                f"{self.engine.info.max_seconds:.0f} s (with tempo slack)",
                "separate",
            )
        if self.separators is None:
            raise RequestError("separate: this server has no separator", "separate")
        return Separation(
            self.separators, req.separator, self.engine.info.device, req.separate_levels
        )

    def _decode(
        self,
        spec: GenerationSpec,
        share: tuple[float, float],
        on_fraction: Callable[[float], None],
        preview: Callable[[np.ndarray, float], None] | None = None,
        preview_every: float = 0.0,
    ) -> np.ndarray:
        """One batch; on out-of-memory, the rows again in two halves (without previews)."""
        start, width = share

        def step(done: int, total: int) -> None:
            on_fraction(start + width * done / total)

        progress: ProgressCallback = step
        try:
            if preview is not None:
                generate: Any = self.engine.generate
                return np.asarray(
                    generate(spec, progress, on_audio=preview, audio_every_seconds=preview_every)
                )
            return self.engine.generate(spec, progress)
        except OutOfMemoryError:
            if spec.variations < 2:
                raise
            log.warning("out of memory at batch %d; retrying in halves", spec.variations)
        half = spec.variations // 2
        parts = []
        for i, (lo, hi) in enumerate(((0, half), (half, spec.variations))):
            sub = GenerationSpec(
                **{
                    **spec.__dict__,
                    "variations": hi - lo,
                    "prompts": None if spec.prompts is None else spec.prompts[lo:hi],
                    "audio_prompt": _rows_of(spec.audio_prompt, lo, hi),
                    "seed": spec.seed + i,
                }
            )
            parts.append(
                self._decode(
                    sub,
                    (start + width * lo / spec.variations, width * (hi - lo) / spec.variations),
                    on_fraction,
                )
            )
        return np.concatenate(parts, axis=0)

    def _tails(
        self,
        pieces: list[list[np.ndarray]],
        sample_rate: int,
        bpm: float | None,
        beats_per_bar: int,
    ) -> np.ndarray:
        """Each row's last whole bars (≈ CONTEXT_SECONDS) at the model's rate and channels."""
        info = self.engine.info
        seconds = context_seconds(bpm, beats_per_bar)
        tails = []
        for row in pieces:
            whole = np.concatenate(row, axis=-1)
            tail = whole[:, max(0, whole.shape[-1] - int(round(seconds * sample_rate))) :]
            tail = resample(to_channels(tail, info.channels), sample_rate, info.sample_rate)
            tails.append(tail)
        length = min(t.shape[-1] for t in tails)
        return np.stack([t[:, t.shape[-1] - length :] for t in tails]).astype(np.float32)


def _shifted(
    on_preview: Callable[[np.ndarray, float], None],
    offset_seconds: float,
    limit_seconds: float,
    sample_rate: int,
) -> Callable[[np.ndarray, float], None]:
    """A window's preview callback: its seconds counted from the start of the take, and
    nothing past `limit_seconds` of the window (its bars: the slack is not in the take)."""
    limit = round(limit_seconds * sample_rate)
    published = 0

    def publish(chunk: np.ndarray, seconds_ready: float) -> None:
        nonlocal published
        chunk = chunk[..., : max(0, limit - published)]
        seconds_ready = min(seconds_ready, limit_seconds)
        if chunk.shape[-1] == 0:
            return
        published += chunk.shape[-1]
        on_preview(chunk, offset_seconds + seconds_ready)

    return publish


def _rows_of(audio: np.ndarray | None, lo: int, hi: int) -> np.ndarray | None:
    if audio is None or audio.ndim == 2:
        return audio
    return audio[lo:hi]
