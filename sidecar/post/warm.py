"""⑤ Warm-up: every DSP path once at server start, so the first request pays no cold start."""

from __future__ import annotations

import logging
import time

import numpy as np

from sidecar.post.key import estimate_key, fix_key
from sidecar.post.pipeline import PostSpec, build_tempo_map, process
from sidecar.post.prompt import prepare_prompt

__all__ = ["warm_up"]

logger = logging.getLogger(__name__)


def _warm_up_audio(sample_rate: int, bpm: float, seconds: float) -> np.ndarray:
    t = np.arange(int(0.03 * sample_rate)) / sample_rate
    click = (0.6 * np.sin(2 * np.pi * 1000.0 * t) * np.exp(-t / 0.006)).astype(np.float32)
    out = np.zeros(int(seconds * sample_rate), dtype=np.float32)
    for k in range(int(seconds * bpm / 60.0)):
        at = round(k * 60.0 / bpm * sample_rate)
        out[at : at + click.size] += click[: max(0, out.size - at)]
    return out[np.newaxis, :]


def warm_up() -> None:
    """Run every post-processing path once on a few seconds of clicks.

    Imports and first calls (librosa's lazy modules and numba kernels, Rubber Band R2 and R3,
    soxr, pyloudnorm, the limiter, the key estimate's constant-Q transform, the key fix's
    pitch shift, and madmom's downbeat networks: loading them and compiling our LSTM) cost
    seconds cold; call this once at server start so the first request doesn't pay for it.
    """
    started = time.perf_counter()
    clip = _warm_up_audio(32000, 118.0, 4.0)
    prepare_prompt(
        np.repeat(clip, 2, axis=0), 32000, 32000, 1, start_beats=0.0, end_beats=4.0, bpm=118.0
    )
    process(clip, 32000, PostSpec(bpm=120.0, bars=1, loop=True), reference=clip)
    process(clip, 32000, PostSpec(bpm=100.0, bars=1, channels=2, sample_format="pcm16"))
    process(clip, 32000, PostSpec(bpm=None, loudness_lufs=-3.0))
    build_tempo_map(120.0, 1, 4)
    fix_key(clip, 32000, 1)
    estimate_key(clip, 32000)
    logger.info("post-processing warmed up in %.2f s", time.perf_counter() - started)
