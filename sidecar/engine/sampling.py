"""③ Token choice on the device: classifier-free guidance, temperature, top-k/top-p, sampling."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from sidecar.errors import RequestError

if TYPE_CHECKING:
    from sidecar.engine.base import GenerationSpec

__all__ = ["Generators", "SamplingPlan", "choose_tokens", "guide", "seeded_generators"]

#: One generator for every row, or `(generator, score_rows)` per request of a batch that
#: decodes several requests at once (each draws its noise as it would alone).
Generators = torch.Generator | Sequence[tuple[torch.Generator, int]] | None


@dataclass(frozen=True)
class SamplingPlan:
    """How a request picks tokens; `greedy` ignores the rest. Fixed for a whole request."""

    greedy: bool
    guidance_scale: float | None
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 0.0


def guide(logits: torch.Tensor, guidance_scale: float | None) -> torch.Tensor:
    """Rows `[cond; uncond]` → `uncond + (cond - uncond) * scale`, as transformers computes it."""
    if guidance_scale is None:
        return logits
    half = logits.shape[0] // 2
    cond, uncond = logits.split(half, dim=0)
    return uncond + (cond - uncond) * guidance_scale


def choose_tokens(scores: torch.Tensor, plan: SamplingPlan, generator: Generators) -> torch.Tensor:
    """Pick one token per row of `scores` `(rows, vocab)` without leaving the device.

    Sampling draws `argmax(p / E)` with `E ~ Exponential(1)`: the same distribution as
    `torch.multinomial(p, 1)` but with fixed shapes and no host sync (graph-capturable).
    The warpers follow transformers: temperature, then top-k, then top-p.
    """
    if plan.greedy:
        return scores.argmax(dim=-1)
    scores = scores / plan.temperature
    if plan.top_k > 0:
        kth = torch.topk(scores, min(plan.top_k, scores.shape[-1])).values[..., -1:]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    if 0.0 < plan.top_p < 1.0:
        sorted_scores, order = torch.sort(scores, descending=False)
        cumulative = sorted_scores.softmax(dim=-1).cumsum(dim=-1)
        drop = cumulative <= (1.0 - plan.top_p)
        drop[..., -1:] = False
        scores = scores.masked_fill(drop.scatter(1, order, drop), float("-inf"))
    probs = scores.softmax(dim=-1)
    return (probs / _noise(probs, generator)).argmax(dim=-1)


def _noise(probs: torch.Tensor, generator: Generators) -> torch.Tensor:
    if generator is None or isinstance(generator, torch.Generator):
        return torch.empty_like(probs).exponential_(generator=generator)
    parts = [
        torch.empty((rows, probs.shape[-1]), dtype=probs.dtype, device=probs.device).exponential_(
            generator=g
        )
        for g, rows in generator
    ]
    if sum(part.shape[0] for part in parts) != probs.shape[0]:
        covered = sum(rows for _, rows in generator)
        raise ValueError(f"row groups cover {covered} of {probs.shape[0]} rows")
    return torch.cat(parts)


def seeded_generators(spec: GenerationSpec, device: torch.device, codebooks: int) -> Generators:
    """One generator seeded with `spec.seed`, or one per request of a cross-request batch
    (`spec.row_groups`), each covering its rows' `codebooks` score rows."""
    if spec.row_groups is None:
        return torch.Generator(device=device).manual_seed(spec.seed)
    if sum(rows for _, rows in spec.row_groups) != spec.rows:
        raise RequestError(f"row_groups: {spec.row_groups} do not cover the {spec.rows} rows")
    return [
        (torch.Generator(device=device).manual_seed(seed), rows * codebooks)
        for seed, rows in spec.row_groups
    ]
