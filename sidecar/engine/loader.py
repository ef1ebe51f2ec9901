"""③ Choose and load an engine by model name and decoder kind."""

from __future__ import annotations

from typing import Literal, cast

from sidecar.engine.base import Engine
from sidecar.engine.musicgen import MusicgenEngine, pick_device
from sidecar.engine.remote import RemoteEngine, remote_model_name
from sidecar.errors import ModelLoadError

__all__ = ["DECODERS", "DecoderKind", "load_engine", "resolve_decoder"]

#: `stock` is transformers' own generate; the others are `FastMusicgenEngine` modes:
#: `exact` (token-identical to stock), `fp32`, `fast` (bf16 on CPU, fp16 + CUDA graphs on GPU)
#: and `int8` (weight-only int8 linears on CPU). `auto` picks one for the device.
DecoderKind = Literal["auto", "stock", "exact", "fp32", "fast", "int8"]
DECODERS: tuple[str, ...] = ("auto", "stock", "exact", "fp32", "fast", "int8")


def resolve_decoder(decoder: str, device: str) -> str:
    """The decode path `decoder` means on `device`: `auto` is the fastest one that keeps the
    model's own precision.

    * CUDA: `fast`: the decoder is fp16 there already (`sidecar.engine.precision`), and `fast`
      replays each step from a CUDA graph in that same precision;
    * CPU: `fp32`: oneDNN-prepacked fp32 weights, 2.4x `exact`'s speed, differing from it
      only in the last bits of rounding (≈2e-6 per linear); the packed weights replace the
      model's own decoder weights, which are freed (`release_replaced_weights`);
    * anything else (MPS): `exact`, the model's own kernels.

    `fast` (bf16) and `int8` on CPU are faster still but round visibly more: opt in.
    """
    if decoder not in DECODERS:
        raise ModelLoadError(f"decoder: got {decoder!r}; expected one of {', '.join(DECODERS)}")
    if decoder != "auto":
        return decoder
    if device.startswith("cuda"):
        return "fast"
    if device.startswith("cpu"):
        return "fp32"
    return "exact"


def load_engine(
    model_name: str,
    device: str | None = None,
    decoder: str = "stock",
    engine_url: str | None = None,
    engine_token: str | None = None,
) -> Engine:
    """Load `model_name` on `device` (best available when None) with the given decode path.

    `remote:NAME` is NAME on the GPU pool at `engine_url` (`sidecar pool serve`)."""
    remote = remote_model_name(model_name)
    if remote is not None:
        if not engine_url:
            raise ModelLoadError(
                f"model: {model_name!r} is decoded on a GPU pool; pass its address with "
                "--engine URL (docs/remote.md)"
            )
        return RemoteEngine(engine_url, remote, engine_token)
    target = pick_device(device)
    chosen = resolve_decoder(decoder, target)
    if chosen == "stock":
        return MusicgenEngine.load(model_name, target)
    from sidecar.engine.fast import DecodeMode, FastMusicgenEngine

    engine = FastMusicgenEngine.load(model_name, target, mode=cast(DecodeMode, chosen))
    engine.release_replaced_weights()  # the engine owns this model: keep one copy of each weight
    return engine
