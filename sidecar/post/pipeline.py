"""⑤ The post-processing pipeline: generated audio in, a tempo-matched bar-exact stem out."""

from __future__ import annotations

import logging
import math
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from functools import cache

import numpy as np

from sidecar.errors import RequestError
from sidecar.post.attack import refine_attack
from sidecar.post.bar_line import grid_start
from sidecar.post.channels import MAX_CHANNELS, as_audio, to_channels
from sidecar.post.cores import usable_cores
from sidecar.post.fmt import to_sample_format
from sidecar.post.grid import cut_to_grid, grid_num_samples, whole_bars
from sidecar.post.loudness import (
    DEFAULT_LOUDNESS_LUFS,
    LoudnessResult,
    level_stem,
    reference_loudness,
)
from sidecar.post.report import Decision, StemReport
from sidecar.post.resample import resample
from sidecar.post.spec import PostSpec
from sidecar.post.stretch import StretchEngine, needs_stretch, time_stretch
from sidecar.post.tempo import TempoEstimate, estimate_tempo, tempo_near
from sidecar.post.tempo_map import build_tempo_map

__all__ = [
    "Decision",
    "PostSpec",
    "StemReport",
    "build_tempo_map",
    "measure_tempo",
    "process",
]

logger = logging.getLogger(__name__)

_SEARCH_SECONDS = 0.05
#: Source audio kept around the grid: before the downbeat (seam pre-roll, attack search,
#: the stretcher's start-up) and after the last bar line (overhang, the stretcher's tail).
_KEEP_BEFORE_SECONDS = 0.2
_KEEP_AFTER_SECONDS = 0.3


class _Clock:
    def __init__(self) -> None:
        self.steps: list[tuple[str, float]] = []
        self._last = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.steps.append((step, now - self._last))
        self._last = now


#: Audio with fewer beats than this (at the measured tempo), or under two bars, is too short
#: for its reading to be trusted: 1.6 s of a 120 groove read 118.43 at confidence 0.60.
_MIN_BEATS = 6
#: A stretch beyond this (up to `stretch_limit`) is made only when the audio has no pulse of
#: its own at the session's beat period (`TempoEstimate.reference_evidence` under
#: `_REFERENCE_PULSE`): one that does is more likely read at the wrong metrical level (a
#: compound metre, a pattern of 1.5 beats) than that far off tempo.
_DOUBTFUL_STRETCH = 1.25
_REFERENCE_PULSE = 0.75


def _decide(
    source: TempoEstimate, spec: PostSpec, duration_seconds: float, audio_seconds: float
) -> tuple[Decision, float]:
    """What to do about tempo, and the stretch ratio (see docs/tempo-contract.md).

    Not stretched: no confident reading, or one from fewer than `_MIN_BEATS` beats or two
    bars of `audio_seconds` ("unstretched_low_confidence"); a ratio past `spec.stretch_limit`,
    or past `_DOUBTFUL_STRETCH` where the audio pulses at the session period too
    ("unstretched_far_off"); drift under 5 ms over `duration_seconds` ("in_tempo").
    """
    if spec.bpm is None:
        return "no_tempo_contract", 1.0
    if source.bpm is None or source.confidence < spec.min_confidence:
        return "unstretched_low_confidence", 1.0
    if audio_seconds * source.bpm / 60.0 < max(_MIN_BEATS, 2 * spec.beats_per_bar):
        return "unstretched_low_confidence", 1.0
    ratio = spec.bpm / source.bpm
    if abs(math.log(ratio)) > math.log(spec.stretch_limit):
        return "unstretched_far_off", 1.0
    pulse = source.reference_evidence
    if abs(math.log(ratio)) > math.log(_DOUBTFUL_STRETCH) and (pulse or 0.0) >= _REFERENCE_PULSE:
        return "unstretched_far_off", 1.0
    if not needs_stretch(ratio, duration_seconds):
        return "in_tempo", 1.0
    return "stretched", ratio


def process(
    audio: np.ndarray,
    sample_rate: int,
    spec: PostSpec,
    reference: np.ndarray | None = None,
    reference_sample_rate: int | None = None,
    reference_lufs: float | None = None,
    tempo: TempoEstimate | None = None,
    tempo_source: str = "own",
    members: int = 1,
) -> tuple[np.ndarray, StemReport]:
    """Turn generated float32 `(channels, samples)` audio into the stem `spec` asks for.

    Steps: channels (downmix first, DC offset removed) -> tempo estimate -> decision ->
    stretch -> resample -> grid (downbeat on sample 0, exact length, loop seam) -> channels
    (upmix) -> loudness and true-peak ceiling -> sample format; the delivered tempo is measured
    on the cut stem side by side with the loudness step.
    `reference` is the prompt clip (any rate: `reference_sample_rate`, default `sample_rate`);
    its loudness is matched unless `spec.loudness_lufs` is set; `reference_lufs` is that
    loudness when it was measured already (`reference_loudness`, once for a batch of takes).
    `tempo` is the estimate to work from when it was made already (`measure_tempo`), possibly
    of another part of the same stem set (`tempo_source` says which, for the report).
    `members` > 1: `audio` is that many stems' channels stacked (a separated set,
    `post.separated`), cut and stretched as one so that they line up to the sample.
    Pure: no I/O, inputs untouched.
    """
    clock = _Clock()
    work = _prepared(audio, sample_rate, spec, members)
    clock.lap("channels")

    source = tempo if tempo is not None else _estimate(work, sample_rate, spec)
    clock.lap("estimate")
    if spec.bpm is not None and spec.bars is not None:
        duration = spec.bars * spec.beats_per_bar * 60.0 / spec.bpm
    else:
        duration = work.shape[1] / sample_rate
    decision, ratio = _decide(source, spec, duration, work.shape[1] / sample_rate)
    confident = source.bpm is not None and decision != "unstretched_low_confidence"
    start_seconds, downbeat_source = grid_start(
        source,
        work,
        sample_rate,
        confident=confident,
        downbeat_at_start=spec.downbeat_at_start,
        snap_downbeat=spec.snap_downbeat,
        heuristic_snap=spec.beat_tracker == "heuristic",
    )
    logger.debug(
        "tempo %s BPM (confidence %.2f) -> %s, ratio %.5f",
        source.bpm,
        source.confidence,
        decision,
        ratio,
    )

    # Only what the grid needs goes through the stretcher and resampler (they cost time in
    # proportion): from a little before the downbeat to a little past the last bar line.
    offset_seconds = 0.0
    if spec.bpm is not None and spec.bars is not None:
        grid_seconds = spec.bars * spec.beats_per_bar * 60.0 / spec.bpm
        after = (grid_seconds + spec.crossfade_seconds) * ratio + _KEEP_AFTER_SECONDS
        first = max(0, round((start_seconds - _KEEP_BEFORE_SECONDS) * sample_rate))
        last = min(work.shape[1], round((start_seconds + after) * sample_rate))
        if last - first > sample_rate // 10 and (first > 0 or last < work.shape[1]):
            work = work[:, first:last]
            offset_seconds = first / sample_rate
            start_seconds -= offset_seconds
    engine: StretchEngine = "none"
    if ratio != 1.0 and spec.bpm is not None:
        work, engine = time_stretch(work, sample_rate, ratio)
    clock.lap("stretch")
    work = resample(work, sample_rate, spec.sample_rate, engine="soxr")
    rate = spec.sample_rate
    clock.lap("resample")

    bars: int | None = None
    padded = overhang = 0
    seam = "none"
    if spec.bpm is None:
        downbeat_source = "none"
        start_seconds = 0.0
    else:
        start = round(start_seconds / ratio * rate)
        # The attack is sought in this audio only when its own beat was measured: a part
        # following another's tempo keeps that part's downbeat (its own attacks may be slow).
        own_beat = tempo_source == "own"
        moved = downbeat_source in ("learned", "tracker", "sample0_snapped")
        if own_beat and moved and start > 0:
            start = refine_attack(work, rate, start, _SEARCH_SECONDS)
        bars = spec.bars or whole_bars(
            work.shape[1] - max(0, start), spec.beats_per_bar, spec.bpm, rate
        )
        num_samples = grid_num_samples(bars, spec.beats_per_bar, spec.bpm, rate)
        uncut = work
        work, cut = cut_to_grid(
            work,
            start,
            num_samples,
            loop=spec.loop,
            crossfade_samples=round(spec.crossfade_seconds * rate),
            sample_rate=rate,
            overhang_fits=decision != "unstretched_far_off",
        )
        padded, seam = cut.padded_samples, cut.loop_seam
        wanted = round(spec.overhang_seconds * rate) if not spec.loop else 0
        end = start + num_samples
        if wanted and padded <= 0 and start >= 0 and end + wanted <= uncut.shape[1]:
            work = np.concatenate([work, uncut[:, end : end + wanted]], axis=1)
            overhang = wanted
        start_seconds = start / rate * ratio + offset_seconds
    clock.lap("grid")

    if spec.channels is not None and spec.channels > work.shape[0]:
        work = to_channels(work, spec.channels)
    # The delivered tempo is measured on the cut stem while its loudness is set: gain, a
    # limiter of at most 6 dB and the sample format move no beat (both steps run mostly
    # outside the GIL, so on two cores or more this takes the measurement off the path).
    verify = _verify_side_by_side(work, rate, spec)
    target, loudness_source = _loudness_target(
        spec, reference, reference_sample_rate or sample_rate, reference_lufs
    )
    if spec.level:
        work, level = level_stem(work, rate, target, spec.true_peak_dbtp, loop=spec.loop)
        clock.lap("loudness")
        work = to_sample_format(work, spec.sample_format)
        clock.lap("format")
    else:
        level = LoudnessResult(target, None, None, None, 0.0, 0.0)
    delivered = verify.result()
    clock.lap("verify")
    report = StemReport(
        source_bpm=source.bpm,
        tempo_confidence=round(source.confidence, 4),
        stretch_ratio=ratio,
        bars=bars,
        delivered_bpm=delivered.bpm,
        loudness_lufs=level.loudness_lufs,
        true_peak_dbtp=level.true_peak_dbtp,
        decision=decision,
        target_bpm=spec.bpm,
        beats_per_bar=spec.beats_per_bar,
        source_bpm_raw=source.raw_bpm,
        stretch_engine=engine,
        delivered_tempo_confidence=round(delivered.confidence, 4),
        downbeat_source=downbeat_source,
        downbeat_confidence=round(source.downbeat_confidence, 4)
        if downbeat_source in ("learned", "tracker")
        else 0.0,
        grid_start_seconds=start_seconds,
        padded_seconds=padded / rate,
        loop_seam=seam,
        tempo_source=tempo_source,
        overhang_samples=overhang,
        loudness_target_lufs=target,
        loudness_source=loudness_source,
        gain_db=level.gain_db,
        limiter_reduction_db=level.limiter_reduction_db,
        sample_rate=rate,
        channels=work.shape[0],
        num_samples=work.shape[1],
        sample_format=spec.sample_format,
        step_seconds=tuple(clock.steps),
    )
    return work, report


def measure_tempo(audio: np.ndarray, sample_rate: int, spec: PostSpec) -> TempoEstimate:
    """The tempo estimate `process` makes of `audio` for `spec` (to share within a stem set)."""
    return _estimate(_prepared(audio, sample_rate, spec), sample_rate, spec)


def _prepared(audio: np.ndarray, sample_rate: int, spec: PostSpec, members: int = 1) -> np.ndarray:
    """The generated audio checked, downmixed when fewer channels are asked for, DC removed."""
    if not isinstance(sample_rate, int) or sample_rate < 1:
        raise RequestError(f"sample_rate: got {sample_rate!r}; expected a positive integer Hz")
    work = as_audio(audio, "generated audio", max_channels=MAX_CHANNELS * members)
    if spec.channels is not None and spec.channels < work.shape[0]:
        work = to_channels(work, spec.channels)
    return _without_dc(work)


def _estimate(work: np.ndarray, sample_rate: int, spec: PostSpec) -> TempoEstimate:
    return estimate_tempo(
        work,
        sample_rate,
        reference_bpm=spec.bpm,
        beats_per_bar=spec.beats_per_bar,
        tracker=spec.beat_tracker,
        bar_line_known=spec.downbeat_at_start,
    )


def _measure_delivered(audio: np.ndarray, sample_rate: int, spec: PostSpec) -> TempoEstimate:
    """The delivered stem's tempo, measured at the target (`tempo_near`): how far it is from
    `spec.bpm`, not a free reading that can land on another metrical level (a stem on the grid
    at 140 read 186.57). Below `spec.min_confidence` its bpm is None (not measurable); a stem
    of fewer than `_MIN_BEATS` beats or two bars is not measured (a bar read 118.43 for 120)."""
    if spec.bpm is None or audio.shape[1] / sample_rate * spec.bpm / 60.0 < max(
        _MIN_BEATS, 2 * spec.beats_per_bar
    ):
        return TempoEstimate.nothing()
    measured = tempo_near(audio, sample_rate, spec.bpm, beats_per_bar=spec.beats_per_bar)
    if measured.confidence < spec.min_confidence:
        return replace(measured, bpm=None)
    return measured


@cache
def _side_thread() -> ThreadPoolExecutor | None:
    """One thread for the delivered-tempo measurement; None on a single core (run inline)."""
    if usable_cores() < 2:
        return None
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="post-verify")


def _verify_side_by_side(
    audio: np.ndarray, sample_rate: int, spec: PostSpec
) -> Future[TempoEstimate]:
    executor = _side_thread()
    if executor is not None and spec.bpm is not None:
        return executor.submit(_measure_delivered, audio, sample_rate, spec)
    done: Future[TempoEstimate] = Future()
    done.set_result(_measure_delivered(audio, sample_rate, spec))
    return done


def _without_dc(audio: np.ndarray) -> np.ndarray:
    """`audio` less each channel's mean, where that is more than -80 dBFS of DC offset.

    A DC offset is inaudible but counts against the true-peak ceiling (0.1 of DC took 4.5 dB
    off a stem's loudness) and becomes a step where the stem is padded or looped.
    """
    offset = audio.mean(axis=1, keepdims=True, dtype=np.float64)
    if float(np.max(np.abs(offset))) < 1e-4:
        return audio
    return (audio - offset).astype(np.float32)


def _loudness_target(
    spec: PostSpec,
    reference: np.ndarray | None,
    reference_sample_rate: int,
    reference_lufs: float | None,
) -> tuple[float, str]:
    if spec.loudness_lufs is not None:
        return spec.loudness_lufs, "target"
    if reference_lufs is not None:
        return reference_lufs, "reference"
    if reference is None:
        return DEFAULT_LOUDNESS_LUFS, "default"
    measured = reference_loudness(reference, reference_sample_rate)
    if measured is None:
        logger.info(
            "reference too short or silent for a loudness; using %s LUFS", DEFAULT_LOUDNESS_LUFS
        )
        return DEFAULT_LOUDNESS_LUFS, "default"
    return measured, "reference"
