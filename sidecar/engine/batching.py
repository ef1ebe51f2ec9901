"""④ Requests from different callers decoded as one batch: which can share a decode, and how."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sidecar.engine.base import GenerationSpec

__all__ = ["BatchKey", "batch_key", "combine", "split"]

#: What requests must share to be decoded together: the length, every sampling setting, and the
#: shape of their conditioning (text or not, an audio prompt of how many samples and channels).
BatchKey = tuple[float, float, float, int, float, bool, int, int]


def batch_key(spec: GenerationSpec) -> BatchKey | None:
    """The bucket `spec` can be batched in, or None when it must decode alone (a melody)."""
    if spec.melody is not None or spec.row_groups is not None:
        return None
    has_text = spec.prompts is not None or bool(spec.prompt)
    samples = channels = 0
    if spec.audio_prompt is not None:
        channels, samples = spec.audio_prompt.shape[-2:]
    return (
        round(spec.duration_seconds, 6),
        spec.guidance_scale,
        spec.temperature,
        spec.top_k,
        spec.top_p,
        has_text,
        int(samples),
        int(channels),
    )


def combine(specs: Sequence[GenerationSpec]) -> GenerationSpec:
    """One spec whose rows are every request's rows in order, each request with its own seed.

    The requests must share a `batch_key`. Row `r` of the result is the row a request would have
    alone: its text, its audio prompt, and noise from a generator seeded as it asked.
    """
    if not specs:
        raise ValueError("combine: no requests")
    keys = {batch_key(spec) for spec in specs}
    if None in keys or len(keys) != 1:
        raise ValueError(
            f"combine: these requests cannot share a decode ({sorted(map(str, keys))})"
        )
    first = specs[0]
    texts: list[str] | None = [] if batch_key(first)[5] else None  # type: ignore[index]
    audio: list[np.ndarray] = []
    for spec in specs:
        if texts is not None:
            texts.extend(
                spec.prompts if spec.prompts is not None else [spec.prompt or ""] * spec.rows
            )
        if spec.audio_prompt is not None:
            rows = spec.audio_prompt if spec.audio_prompt.ndim == 3 else spec.audio_prompt[None]
            audio.append(np.broadcast_to(rows, (spec.rows, *rows.shape[1:])))
    return GenerationSpec(
        duration_seconds=first.duration_seconds,
        prompt=None,
        audio_prompt=np.concatenate(audio).astype(np.float32) if audio else None,
        prompts=None if texts is None else tuple(texts),
        variations=sum(spec.rows for spec in specs),
        guidance_scale=first.guidance_scale,
        temperature=first.temperature,
        top_k=first.top_k,
        top_p=first.top_p,
        seed=first.seed,
        row_groups=tuple((spec.seed, spec.rows) for spec in specs),
    )


def split(audio: np.ndarray, specs: Sequence[GenerationSpec]) -> list[np.ndarray]:
    """A combined decode's `(rows, channels, samples)` back into each request's own rows."""
    out, start = [], 0
    for spec in specs:
        out.append(np.ascontiguousarray(audio[start : start + spec.rows]))
        start += spec.rows
    if start != audio.shape[0]:
        raise ValueError(f"split: {audio.shape[0]} rows decoded for {start} requested")
    return out
