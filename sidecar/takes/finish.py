"""⑤ A request's decoded takes, finished: the last window's tempo contract, effects and key."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Protocol

import numpy as np
import pedalboard

from sidecar.musical.presets import Preset
from sidecar.osc.schema import GenerateRequest
from sidecar.post.fmt import to_sample_format
from sidecar.post.grid import wrap_overhang
from sidecar.post.key import KeyEstimate, estimate_key, fix_key, semitone_offset
from sidecar.post.loudness import level_stem
from sidecar.post.pipeline import PostSpec, measure_tempo, process
from sidecar.post.tempo import TempoEstimate
from sidecar.takes.parallel import TakePool

__all__ = [
    "MAX_KEY_FIX_SEMITONES",
    "MIN_KEY_CONFIDENCE",
    "MIN_KEY_SECONDS",
    "DecodedTakes",
    "MadeTake",
    "SetFinisher",
    "WindowPost",
    "finish_take",
    "key_of",
    "post_process",
]

#: Keys this far apart (semitones) are pitch-corrected with `fix_key`; more is a different key.
MAX_KEY_FIX_SEMITONES = 2
#: Below this confidence a key estimate is not acted on.
MIN_KEY_CONFIDENCE = 0.3
#: Shortest audio whose key is estimated.
MIN_KEY_SECONDS = 1.0
#: The true-peak ceiling of delivered stems (the tempo contract's), kept after a key fix.
TRUE_PEAK_DBTP = PostSpec().true_peak_dbtp


@dataclass
class MadeTake:
    """One delivered-ready take: audio at the session rate and what was measured on it."""

    audio: np.ndarray
    report: dict[str, Any]
    variation: int
    part: str | None = None
    windows: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class WindowPost:
    """How each window of a request's batch goes through effects and the tempo contract."""

    #: The model's sample rate, which the raw windows are at.
    model_sample_rate: int
    bpm: float | None
    reference: np.ndarray | None
    reference_sample_rate: int | None
    preset: Preset | None = None
    #: One board for the request: takes go through it one by one (its state is not shared).
    board: pedalboard.Pedalboard | None = None
    #: The reference's loudness, measured once for the batch (on the take pool, while the
    #: model decodes); None: measured per take, if at all.
    reference_lufs: Future[float | None] | None = None
    #: The request makes loops: effects go on the delivered loop (`loop_effects`), not here.
    loop: bool = False
    #: Windows the take is decoded in; with more than one, each goes through the contract
    #: without its own level, and the joined take is levelled once (`finish_take`).
    windows: int = 1
    #: Per batch row, (variation, part): the parts of one variation of a stem set share a
    #: tempo (`contract`). Empty: every row stands alone.
    rows: tuple[tuple[int, str | None], ...] = ()
    #: Takes finished side by side share `board` one at a time.
    _board_lock: threading.Lock = field(default_factory=threading.Lock, compare=False)

    def effects(self, raws: list[np.ndarray]) -> list[np.ndarray]:
        """The preset's effect chain over each row, before the tempo contract (one-shots)."""
        if self.board is None or self.preset is None or self.loop:
            return raws
        return [
            self.preset.apply_effects(raw, self.model_sample_rate, bpm=self.bpm, board=self.board)
            for raw in raws
        ]

    @property
    def levelled_later(self) -> bool:
        """Takes joined from windows (one gain for the whole take, not one a window) and loops
        with effects (levelled after them) get their level in `finish_take`, not per window."""
        effects = self.board is not None and self.preset is not None
        return self.windows > 1 or (self.loop and effects)

    def loop_effects(self, audio: np.ndarray, sample_rate: int) -> np.ndarray | None:
        """A delivered loop through the preset's chain played as a loop, as the DAW will play
        it: a reverb or echo tail from its end rings into its start. None: no effects to run.
        """
        if self.board is None or self.preset is None or not self.loop:
            return None
        with self._board_lock:
            return self.preset.apply_effects(
                audio, sample_rate, bpm=self.bpm, loop=True, board=self.board
            )

    def contract(
        self,
        pool: TakePool,
        raws: list[np.ndarray],
        spec: PostSpec,
        check_cancel: Callable[[], None],
    ) -> list[tuple[np.ndarray, dict[str, Any]]]:
        """Each row through the tempo contract, side by side: (delivered audio, report)."""
        lufs = None if self.reference_lufs is None else self.reference_lufs.result()
        if self.levelled_later:
            spec = replace(spec, level=False)  # levelled once, when the take is finished
        finish = partial(
            post_process,
            sample_rate=self.model_sample_rate,
            spec=spec,
            reference=self.reference,
            reference_sample_rate=self.reference_sample_rate,
            reference_lufs=lufs,
        )
        if not any(part for _, part in self.rows) or len(self.rows) != len(raws):
            return pool.map(finish, raws, check_cancel)
        tempos = self.shared_tempos(pool, raws, spec, check_cancel)
        return pool.map(
            lambda r: finish(raws[r], tempo=tempos[r][0], tempo_source=tempos[r][1]),
            range(len(raws)),
            check_cancel,
        )

    def shared_tempos(
        self,
        pool: TakePool,
        raws: list[np.ndarray],
        spec: PostSpec,
        check_cancel: Callable[[], None],
    ) -> list[tuple[TempoEstimate, str]]:
        """Each stem-set part's tempo: its own when measured confidently, else that of the
        most confident part of its variation, so a pad or a bass too even to measure is
        stretched and cut with its drums instead of being left at its own tempo beside them."""
        rate = self.model_sample_rate
        own = pool.map(partial(measure_tempo, sample_rate=rate, spec=spec), raws, check_cancel)
        out: list[tuple[TempoEstimate, str]] = []
        for r, (variation, _) in enumerate(self.rows):
            sure = own[r].bpm is not None and own[r].confidence >= spec.min_confidence
            siblings = [i for i, (v, _) in enumerate(self.rows) if v == variation and i != r]
            best = max(siblings, key=lambda i: own[i].confidence, default=None)
            if sure or best is None or own[best].bpm is None:
                out.append((own[r], "own"))
            elif own[best].confidence >= spec.min_confidence:
                out.append((own[best], f"part {self.rows[best][1]}"))
            else:
                out.append((own[r], "own"))
        return out


class SetFinisher(Protocol):
    """Finishes decoded takes as sets of parts instead (`takes.separated.Separation`)."""

    def finish(
        self,
        decoded: DecodedTakes,
        pool: TakePool,
        check_cancel: Callable[[], None],
        on_fraction: Callable[[float], None] | None,
    ) -> list[MadeTake]: ...


@dataclass
class DecodedTakes:
    """What the model made for a request, handed from decoding ④ to post-processing ⑤.

    Everything the finish needs is here (nothing refers back to the engine), so the model can
    decode the next request, or be switched, while these takes are finished on another thread.
    Windows before the last are finished already (the next window was prompted with them).
    """

    request: GenerateRequest
    #: (variation, part) of each batch row.
    rows: list[tuple[int, str | None]]
    window_post: WindowPost
    #: The last window's audio (one `(channels, samples)` array per row) and its contract.
    raws: list[np.ndarray]
    post: PostSpec
    #: Per row: the delivered audio and report of each earlier window.
    pieces: list[list[np.ndarray]]
    reports: list[list[dict[str, Any]]]
    #: The prompt clip's key, estimated on the take pool while the model decoded.
    clip_key: Future[KeyEstimate | None] | None
    #: Every task started for this request on the take pool (waited for, however it ends).
    started: list[Future[Any]]
    #: Seconds per stage: decode (and earlier windows' post) here, post and key added by finish.
    timings: dict[str, float]
    #: The takes are split into their parts (`takes.separated.Separation`); None: as made.
    separation: SetFinisher | None = None

    def finish(
        self,
        pool: TakePool,
        check_cancel: Callable[[], None],
        on_fraction: Callable[[float], None] | None = None,
    ) -> list[MadeTake]:
        """The last window through the tempo contract, then each take's key; in row order.

        Separated takes (`separation`) are split into their parts first; `on_fraction`
        follows that separation (0..1).
        """
        try:
            if self.separation is not None:
                return self.separation.finish(self, pool, check_cancel, on_fraction)
            return self._finish(pool, check_cancel)
        finally:
            wait(self.started)

    def abandon(self) -> None:
        """Wait for what was started for this request (it failed or was cancelled)."""
        wait(self.started)

    def _finish(self, pool: TakePool, check_cancel: Callable[[], None]) -> list[MadeTake]:
        req = self.request
        started = time.perf_counter()
        raws = self.window_post.effects(self.raws)
        take_keys: list[Future[KeyEstimate | None]] | None = None
        if not self.pieces[0]:
            # One window: the tempo contract keeps pitch, so each take's key is estimated
            # from the model's audio while the take goes through it.
            rate = self.window_post.model_sample_rate
            take_keys = [pool.start(key_of, raw, rate) for raw in raws]
            self.started.extend(take_keys)
        for r, (delivered, report) in enumerate(
            self.window_post.contract(pool, raws, self.post, check_cancel)
        ):
            self.pieces[r].append(delivered)
            self.reports[r].append(report)
        self.timings["post_seconds"] = (
            self.timings.get("post_seconds", 0.0) + time.perf_counter() - started
        )
        started = time.perf_counter()
        clip_key = None if self.clip_key is None else self.clip_key.result()
        takes = pool.map(
            lambda r: finish_take(
                req,
                np.concatenate(self.pieces[r], axis=-1),
                self.reports[r],
                *self.rows[r],
                clip_key,
                None if take_keys is None else take_keys[r].result(),
                self.window_post.loop_effects,
            ),
            range(len(self.rows)),
            check_cancel,
        )
        if req.key is None and self.reference is not None:
            for take in takes:
                take.report.setdefault("clip_key", None)  # measured, but too short to tell
        self.timings["key_seconds"] = time.perf_counter() - started
        return takes

    @property
    def reference(self) -> np.ndarray | None:
        return self.window_post.reference


def post_process(
    raw: np.ndarray,
    sample_rate: int,
    spec: PostSpec,
    reference: np.ndarray | None,
    reference_sample_rate: int | None,
    reference_lufs: float | None = None,
    tempo: TempoEstimate | None = None,
    tempo_source: str = "own",
) -> tuple[np.ndarray, dict[str, Any]]:
    """One take's window through the tempo contract: delivered audio and its report."""
    delivered, report = process(
        raw,
        sample_rate,
        spec,
        reference,
        reference_sample_rate,
        reference_lufs,
        tempo=tempo,
        tempo_source=tempo_source,
    )
    return delivered, report.to_dict()


def finish_take(
    req: GenerateRequest,
    audio: np.ndarray,
    windows: list[dict[str, Any]],
    variation: int,
    part: str | None,
    clip_key: KeyEstimate | None,
    key: KeyEstimate | None = None,
    loop_effects: Callable[[np.ndarray, int], np.ndarray | None] | None = None,
) -> MadeTake:
    """The take's report (the last window's, plus windows and key), key fixed if asked.

    `clip_key` is the prompt clip's key, estimated once per request when no `key` was given;
    `key` the take's own when already estimated (else it is estimated here, on `audio`).
    `loop_effects` runs a loop preset's effects on the whole delivered loop (which the
    contract left unlevelled for it).
    """
    report = dict(windows[-1])
    # Windows joined as made get one level for the whole take (levelling each on its own
    # stepped the gain at every join); a loop's effects, or a key fix, come before the level.
    # Either way the take is levelled once, at the end (`WindowPost.levelled_later`).
    unlevelled = len(windows) > 1
    if unlevelled and req.loop:
        # The last window came with what followed its last bar line: the loop's seam.
        overhang = int(report.get("overhang_samples") or 0)
        audio, report["loop_seam"] = wrap_overhang(audio, overhang, req.sample_rate)
        report["overhang_samples"] = 0
    effected = None if loop_effects is None else loop_effects(audio, req.sample_rate)
    if effected is not None:
        audio, unlevelled = effected, True
    report["bars"] = sum(int(w.get("bars") or 0) for w in windows) or report.get("bars")
    report["num_samples"] = int(audio.shape[-1])
    report["windows"] = len(windows)
    if len(windows) > 1:
        report["source_bpm"] = _mean([w.get("source_bpm") for w in windows])
        report["delivered_bpm"] = _mean([w.get("delivered_bpm") for w in windows])
    estimate = key if key is not None else key_of(audio, req.sample_rate)
    report["key"] = None if estimate is None else estimate.label
    report["key_confidence"] = None if estimate is None else round(estimate.confidence, 3)
    target = req.key
    if target is None and clip_key is not None:
        report["clip_key"] = clip_key.label
        if clip_key.confidence >= MIN_KEY_CONFIDENCE:
            target = clip_key.label
    shift = 0
    if (
        req.fix_key
        and target is not None
        and estimate is not None
        and estimate.confidence >= MIN_KEY_CONFIDENCE
    ):
        offset = semitone_offset(estimate.label, target)
        if 0 < abs(offset) <= MAX_KEY_FIX_SEMITONES:
            audio, unlevelled = fix_key(audio, req.sample_rate, offset, loop=req.loop), True
            shift = offset
    report["key_shift_semitones"] = shift
    if unlevelled:
        audio = _releveled(audio, req, report)
    return MadeTake(audio=audio, report=report, variation=variation, part=part, windows=windows)


def _releveled(audio: np.ndarray, req: GenerateRequest, report: dict[str, Any]) -> np.ndarray:
    """A pitch-shifted (or effected) stem brought back to its loudness target under the ceiling.

    Transposing moves energy across the K-weighting curve and changes the waveform's peaks
    (up to +0.9 dB of true peak at ±1-2 semitones on drums), and effects change both, so the
    stem's loudness and true-peak promise is kept by levelling it again; `report` gets the
    new figures.
    """
    target = report.get("loudness_target_lufs")
    if not isinstance(target, int | float):
        return audio
    leveled, level = level_stem(audio, req.sample_rate, float(target), TRUE_PEAK_DBTP, req.loop)
    report["loudness_lufs"] = level.loudness_lufs
    report["true_peak_dbtp"] = level.true_peak_dbtp
    report["gain_db"] = float(report.get("gain_db") or 0.0) + level.gain_db
    report["limiter_reduction_db"] = max(
        float(report.get("limiter_reduction_db") or 0.0), level.limiter_reduction_db
    )
    return to_sample_format(leveled, str(report.get("sample_format", "float32")))


def key_of(audio: np.ndarray, sample_rate: int) -> KeyEstimate | None:
    """The key of `audio`, or None when it is too short to tell (under a second)."""
    if audio.shape[-1] < sample_rate * MIN_KEY_SECONDS:
        return None
    return estimate_key(audio, sample_rate)


def _mean(values: list[Any]) -> float | None:
    numbers = [float(v) for v in values if isinstance(v, int | float)]
    return round(sum(numbers) / len(numbers), 3) if numbers else None
