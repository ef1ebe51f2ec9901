"""⑤ Output sample format: float32 arrays ready for a 16/24-bit PCM or 32-bit float writer."""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

__all__ = ["SAMPLE_FORMATS", "SampleFormat", "to_sample_format"]

#: The sample formats a stem can be written in.
SampleFormat = Literal["pcm16", "pcm24", "float32"]

SAMPLE_FORMATS: tuple[str, ...] = get_args(SampleFormat)

_PCM_BITS = {"pcm16": 16, "pcm24": 24}
_DITHER_SEED = 0x5EED


def to_sample_format(audio: np.ndarray, sample_format: str) -> np.ndarray:
    """Prepare float `(channels, samples)` audio for writing as `sample_format`.

    "float32" is passed through. PCM is clipped to the largest code below full scale; "pcm16"
    also gets TPDF dither of +-1 LSB (seeded: the same input gives the same output), since
    16-bit truncation distortion is audible on fades and quiet tails. 24-bit needs no dither.
    """
    if sample_format not in SAMPLE_FORMATS:
        raise ValueError(
            f"sample_format must be one of {', '.join(SAMPLE_FORMATS)}; got {sample_format!r}"
        )
    out = np.ascontiguousarray(audio, dtype=np.float32)
    bits = _PCM_BITS.get(sample_format)
    if bits is None:
        return out
    lsb = 2.0 ** (1 - bits)
    if bits == 16:
        rng = np.random.default_rng(_DITHER_SEED)
        tpdf = rng.random(out.shape, dtype=np.float32) - rng.random(out.shape, dtype=np.float32)
        out = out + np.float32(lsb) * tpdf
    return np.clip(out, -1.0, 1.0 - lsb).astype(np.float32)
