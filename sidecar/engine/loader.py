"""③ Choose and load an engine by model name and decoder kind."""

from __future__ import annotations

from typing import Literal, cast

from sidecar.engine.base import Engine
from sidecar.engine.musicgen import MusicgenEngine

__all__ = ["DECODERS", "DecoderKind", "load_engine"]

#: `stock` is transformers' own generate; the others are `FastMusicgenEngine` modes:
#: `exact` (token-identical to stock), `fp32`, `fast` (bf16 on CPU, fp16 + CUDA graphs on GPU)
#: and `int8` (weight-only int8 linears on CPU).
DecoderKind = Literal["stock", "exact", "fp32", "fast", "int8"]
DECODERS: tuple[str, ...] = ("stock", "exact", "fp32", "fast", "int8")


def load_engine(model_name: str, device: str | None = None, decoder: str = "stock") -> Engine:
    """Load `model_name` on `device` (best available when None) with the given decode path."""
    if decoder not in DECODERS:
        raise ValueError(f"decoder: '{decoder}' is not one of {', '.join(DECODERS)}")
    if decoder == "stock":
        return MusicgenEngine.load(model_name, device)
    from sidecar.engine.fast import DecodeMode, FastMusicgenEngine

    return FastMusicgenEngine.load(model_name, device, mode=cast(DecodeMode, decoder))
