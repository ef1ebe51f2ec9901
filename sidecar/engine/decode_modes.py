"""③ The fast engine's decode modes: what each runs on CPU and on CUDA."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from sidecar.engine.fast_decoder import LinearKind

__all__ = ["DECODE_MODES", "DecodeMode", "DecodeSettings"]

DecodeMode = Literal["exact", "fp32", "fast", "int8"]
DECODE_MODES: tuple[str, ...] = ("exact", "fp32", "fast", "int8")


@dataclass(frozen=True)
class DecodeSettings:
    """How a mode runs on a device."""

    mode: DecodeMode
    linear: LinearKind
    weight_dtype: torch.dtype
    act_dtype: torch.dtype
    fuse: bool
    #: Decode steps through `StaticStepper` (fixed shapes); captured as CUDA graphs on GPU.
    static_steps: bool
    cuda_graphs: bool

    @staticmethod
    def choose(mode: str, device: torch.device, model_dtype: torch.dtype) -> DecodeSettings:
        if mode not in DECODE_MODES:
            raise ValueError(f"mode: '{mode}' is not one of {', '.join(DECODE_MODES)}")
        cuda = device.type == "cuda"
        if mode == "exact":
            # the model's own tensors and kernels: token-identical to transformers' generate
            return DecodeSettings("exact", "torch", model_dtype, model_dtype, False, False, False)
        if cuda:
            half = torch.float16 if model_dtype != torch.bfloat16 else torch.bfloat16
            if mode == "fp32":
                return DecodeSettings("fp32", "torch", model_dtype, model_dtype, True, True, True)
            chosen: DecodeMode = "int8" if mode == "int8" else "fast"
            return DecodeSettings(chosen, "torch", half, half, True, True, True)
        if mode == "fp32":
            f32 = torch.float32
            return DecodeSettings("fp32", "mkldnn", f32, f32, True, False, False)
        if mode == "int8":
            return DecodeSettings("int8", "int8", torch.bfloat16, torch.float32, True, False, False)
        return DecodeSettings("fast", "mkldnn", torch.bfloat16, torch.float32, True, False, False)
