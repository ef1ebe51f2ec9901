"""③ One request as the fast decode loop sees it: plan, text states, masks, codes in and out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from transformers.masking_utils import create_bidirectional_mask

from sidecar.engine.kv_cache import StaticKVCache
from sidecar.engine.sampling import SamplingPlan

__all__ = [
    "DecodeRequest",
    "GeneratedCodes",
    "Prefill",
    "cross_mask",
    "padded_cross_mask",
    "sampling_plan",
]


@dataclass(frozen=True)
class DecodeRequest:
    """What `FastMusicgenEngine` prepares once per request before its first step."""

    batch: int
    #: `batch`, doubled when classifier-free guidance adds the unconditional half.
    rows: int
    plan: SamplingPlan
    #: Projected, masked text states `(rows, text_tokens, hidden)` to cross-attend (MusicGen),
    #: or the prefix `(rows, prefix_length, hidden)` (Melody: chroma, then text).
    encoder_states: torch.Tensor
    encoder_mask: torch.Tensor
    #: `(batch * codebooks, 1 + prompt_frames)`: the start token, then the prompt's codes.
    decoder_ids: torch.Tensor
    prompt_frames: int
    #: Decoding steps: new frames plus the delay pattern's extra steps.
    steps: int
    #: Cache positions the prefix takes in front of the codes (0 without one).
    prefix_length: int = 0


@dataclass(frozen=True)
class Prefill:
    """The state after the prefill: its hidden states give the first new token."""

    hidden: torch.Tensor
    #: `(batch * codebooks, total_len)`: the known codes, then the delay pattern's pads.
    sequence: torch.Tensor
    pattern: torch.Tensor
    #: The first position to generate (1 + prompt frames).
    first: int
    cache: StaticKVCache
    #: Per-layer cross-attention keys and values (empty without cross-attention).
    cross: tuple[list[torch.Tensor], list[torch.Tensor]]


@dataclass(frozen=True)
class GeneratedCodes:
    """What a request decoded: codes `(batch, codebooks, frames)` on the device, prompt included."""

    codes: torch.Tensor
    prompt_frames: int
    steps: int


def sampling_plan(kwargs: dict[str, Any], has_text: bool) -> SamplingPlan:
    """The plan for `MusicgenEngine.sampling_kwargs` output; no guidance without text (both CFG
    halves would be the same null condition)."""
    scale = kwargs["guidance_scale"] if has_text else None
    if not kwargs["do_sample"]:
        return SamplingPlan(greedy=True, guidance_scale=scale)
    return SamplingPlan(
        greedy=False,
        guidance_scale=scale,
        temperature=float(kwargs["temperature"]),
        top_k=int(kwargs["top_k"] or 0),
        top_p=float(kwargs["top_p"] or 0.0),
    )


def cross_mask(
    config: Any,
    request: DecodeRequest,
    queries: int,
    hidden_size: int,
    dtype: torch.dtype,
) -> torch.Tensor | None:
    """transformers' own cross-attention mask for `queries` positions (None: attend to all)."""
    states = request.encoder_states
    dummy = torch.zeros((request.rows, queries, hidden_size), dtype=dtype, device=states.device)
    # Positional: the embeddings argument was renamed (input_embeds -> inputs_embeds) in 5.x.
    mask = create_bidirectional_mask(
        config, dummy, request.encoder_mask, encoder_hidden_states=states
    )
    if mask is not None and not isinstance(mask, torch.Tensor):
        raise RuntimeError(
            f"attention implementation '{config._attn_implementation}' gives block masks; "
            "the fast engine needs sdpa or eager"
        )
    return mask


def padded_cross_mask(request: DecodeRequest, source: int) -> torch.Tensor:
    """`(rows, 1, 1, source)` bool; fully masked rows (null condition) attend to zero values."""
    valid = request.encoder_mask.bool()
    valid = torch.nn.functional.pad(valid, (0, source - valid.shape[1]))
    empty = ~valid.any(dim=1, keepdim=True)
    return (valid | empty).view(request.rows, 1, 1, source)
