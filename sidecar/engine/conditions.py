"""③ What the decoder is conditioned on: text states to cross-attend, or a prefix (Melody).

MusicGen cross-attends to the projected T5 states. MusicGen-Melody has no cross-attention: the
projected chroma (`audio_enc_to_dec_proj`, tiled or cut to `chroma_length` frames) and then the
projected, masked T5 states are put in front of the decoder's input embeddings, and the whole
sequence runs under one causal mask, no padding mask (transformers' `generate` drops the text's
attention mask once the states are masked). Classifier-free guidance adds a null row per row:
zero text states, and for Melody a chroma whose every frame is bin 0. The order of operations
follows transformers' `_prepare_encoder_hidden_states_kwargs_for_generation`, so that `exact`
decodes the same bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["Conditions", "build_conditions", "null_chroma"]


@dataclass(frozen=True)
class Conditions:
    """The condition of one request, rows `[cond; uncond]` when guided."""

    #: Cross-attention states `(rows, text_tokens, hidden)` (MusicGen), or the prefix
    #: `(rows, chroma_length + text_tokens, hidden)` (Melody).
    states: torch.Tensor
    #: `(rows, text_tokens)` text mask for cross-attention; all ones for a prefix.
    mask: torch.Tensor
    #: Positions the prefix takes in front of the codes (0 for cross-attention).
    prefix_length: int


def null_chroma(like: torch.Tensor) -> torch.Tensor:
    """transformers' null melody: `like`'s shape with every frame on chroma bin 0."""
    null = torch.zeros_like(like)
    null[..., 0] = 1
    return null


def _text_states(model: Any, inputs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    mask: torch.Tensor = inputs["attention_mask"]
    if "input_ids" in inputs:
        states = model.text_encoder(
            input_ids=inputs["input_ids"], attention_mask=mask
        ).last_hidden_state
    else:
        states = inputs["encoder_outputs"][0]
    return states, mask


def _cross_conditions(model: Any, inputs: dict[str, Any], guided: bool) -> Conditions:
    states, mask = _text_states(model, inputs)
    if guided:
        states = torch.cat([states, torch.zeros_like(states)], dim=0)
        mask = torch.cat([mask, torch.zeros_like(mask)], dim=0)
    proj = getattr(model, "enc_to_dec_proj", None)
    if proj is not None:
        states = proj(states)
    return Conditions(states * mask[..., None], mask, 0)


def _prefix_conditions(model: Any, inputs: dict[str, Any], guided: bool) -> Conditions:
    states, mask = _text_states(model, inputs)
    proj = getattr(model, "enc_to_dec_proj", None)
    if proj is not None:
        states = proj(states)
    if guided:
        states = torch.cat([states, torch.zeros_like(states)], dim=0)
        mask = torch.cat([mask, torch.zeros_like(mask)], dim=0)
    states = states * mask[..., None]
    config = model.config
    chroma = inputs.get("input_features")
    if chroma is None:  # no melody: the null chroma, one frame
        chroma = torch.zeros(
            (mask.shape[0] // (2 if guided else 1), 1, int(config.num_chroma)),
            dtype=states.dtype,
            device=states.device,
        )
        chroma[..., 0] = 1
    if guided:
        chroma = torch.cat([chroma, null_chroma(chroma)], dim=0)
    audio_proj = getattr(model, "audio_enc_to_dec_proj", None)
    audio = audio_proj(chroma) if audio_proj is not None else chroma
    frames = int(config.chroma_length)
    if audio.shape[1] < frames:  # a short melody is tiled over the window
        audio = audio.repeat(1, math.ceil(frames / audio.shape[1]), 1)
    audio = audio[:, :frames].to(states.dtype)
    prefix = torch.cat([audio, states], dim=1)
    ones = torch.ones(prefix.shape[:2], dtype=mask.dtype, device=mask.device)
    return Conditions(prefix, ones, prefix.shape[1])


def build_conditions(model: Any, inputs: dict[str, Any], guided: bool) -> Conditions:
    """The decoder's condition for `inputs` (`MusicgenEngine.build_inputs`), guided or not."""
    if model.config.model_type == "musicgen_melody":
        return _prefix_conditions(model, inputs, guided)
    return _cross_conditions(model, inputs, guided)
