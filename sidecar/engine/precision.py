"""③ Model placement: the decoder in half precision on CUDA, T5 and EnCodec in fp32.

On a GPU the decoder (the transformer that runs 50 steps per second of audio) is what costs
time and memory, so it runs in fp16. The two models around it stay in fp32 (audiocraft, too,
runs its compression model outside the language model's fp16 autocast):

* **T5** runs once per request; T5 checkpoints are known to overflow fp16 in their
  feed-forward activations (transformers clamps them, which is a patch, not a cure);
* **EnCodec** makes the audio the producer hears: decoding the same codes in fp16 differed
  from fp32 by -62 dB relative RMS (bf16: -44 dB) on the released-size codec with random
  weights, a noise floor under every stem for no gain (it runs once per window).

The extra memory is ≈0.3 GB (110 M T5 parameters and ≈60 M codec parameters at 2 more bytes
each). Hooks cast where fp32 states enter the half-precision side: the inputs of the
projections (`enc_to_dec_proj`, `audio_enc_to_dec_proj`) and the decoder's
`encoder_hidden_states` (a model whose text width equals the decoder's has no projection,
and transformers makes its null conditions in the dtype of the model's first parameter, T5's).
"""

from __future__ import annotations

import logging
from typing import Any

import torch

__all__ = ["decoder_dtype", "inference_dtype", "place_model"]

log = logging.getLogger(__name__)

_FULL_PRECISION = ("text_encoder", "audio_encoder")
_PROJECTIONS = ("enc_to_dec_proj", "audio_enc_to_dec_proj")


def inference_dtype(device: str) -> torch.dtype:
    """The decoder's dtype on `device`: fp16 on CUDA, fp32 elsewhere (the CPU decode modes
    pack their own bf16/int8 copies; fp16 matmuls on CPU are slow)."""
    return torch.float16 if str(device).startswith("cuda") else torch.float32


def decoder_dtype(model: Any) -> torch.dtype:
    """The dtype the decoder computes in (the model's first parameter may be T5's)."""
    dtype: torch.dtype = next(model.decoder.parameters()).dtype
    return dtype


def _cast_inputs_to_weight(module: torch.nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
    dtype = next(module.parameters()).dtype
    return tuple(
        a.to(dtype) if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args
    )


def _cast_encoder_states(
    module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    states = kwargs.get("encoder_hidden_states")
    dtype = next(module.parameters()).dtype
    if isinstance(states, torch.Tensor) and states.dtype != dtype:
        kwargs["encoder_hidden_states"] = states.to(dtype)
    return args, kwargs


def place_model(model: Any, device: str, dtype: torch.dtype | None = None) -> Any:
    """Move a MusicGen (or Melody) model to `device` for inference and return it in eval mode.

    The decoder and its projections get `dtype` (default `inference_dtype(device)`); T5 and
    EnCodec stay fp32; the casting hooks are added only when the decoder is not fp32.
    """
    dtype = dtype or inference_dtype(device)
    if dtype != torch.float32:
        # Child by child, so that T5 and EnCodec never round through half precision; before
        # the move, so the device never holds the fp32 decoder (13 GB for large).
        for name, child in model.named_children():
            child.to(torch.float32 if name in _FULL_PRECISION else dtype)
    model = model.to(device)
    if dtype != torch.float32:
        model.decoder.register_forward_pre_hook(_cast_encoder_states, with_kwargs=True)
        for name in _PROJECTIONS:
            projection = getattr(model, name, None)
            if projection is not None:
                projection.register_forward_pre_hook(_cast_inputs_to_weight)
        log.debug("decoder in %s; T5 and EnCodec in float32 on %s", dtype, device)
    return model.eval()
