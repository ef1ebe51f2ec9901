"""③ Choose and load an engine by model name and decoder kind."""

from __future__ import annotations

from typing import Literal

from sidecar.engine.base import Engine
from sidecar.engine.musicgen import MusicgenEngine

__all__ = ["DECODERS", "DecoderKind", "load_engine"]

DecoderKind = Literal["stock"]
DECODERS: tuple[str, ...] = ("stock",)


def load_engine(model_name: str, device: str | None = None, decoder: str = "stock") -> Engine:
    """Load `model_name` on `device` (best available when None) with the given decode path."""
    if decoder not in DECODERS:
        raise ValueError(f"decoder: '{decoder}' is not one of {', '.join(DECODERS)}")
    return MusicgenEngine.load(model_name, device)
