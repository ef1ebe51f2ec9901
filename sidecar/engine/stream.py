"""③ Streamed audio while decoding: EnCodec over windows of codes with left context, cross-faded."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

__all__ = ["AudioCallback", "WindowedAudio"]

#: Called with a float32 `(batch, channels, samples)` chunk of new audio and the seconds of new
#: audio delivered so far (this chunk included).
AudioCallback = Callable[[np.ndarray, float], None]


class WindowedAudio:
    """Turns a growing code sequence into audio chunks, each codec frame decoded about once.

    Every call to `push(codes, ready_frames)` decodes only frames `[emitted - context,
    ready_frames)`; EnCodec's convolutions look a few frames ahead, so the last `hold_frames`
    are decoded but kept back and cross-faded (over `fade_frames`) with the next window.
    The total cost is linear in the length, unlike re-decoding the whole sequence each time.
    """

    def __init__(
        self,
        decode: Callable[[torch.Tensor], torch.Tensor],
        hop_samples: int,
        sample_rate: int,
        first_frame: int,
        total_samples: int,
        callback: AudioCallback,
        context_frames: int = 50,
        hold_frames: int = 5,
        fade_frames: int = 5,
    ) -> None:
        if not 0 < fade_frames <= hold_frames:
            raise ValueError(
                f"fade_frames ({fade_frames}) must be in 1..hold_frames ({hold_frames})"
            )
        self._decode = decode
        self._hop = hop_samples
        self._rate = sample_rate
        self._first = first_frame
        self._total = total_samples
        self._callback = callback
        self._context = context_frames
        self._hold = hold_frames
        self._fade = fade_frames
        self._emitted = first_frame  # next frame to deliver
        self._tail: np.ndarray | None = None  # decoded but held back, starts at `_emitted`
        self.delivered_samples = 0
        self.windows = 0

    def push(self, codes: torch.Tensor, ready_frames: int, final: bool = False) -> None:
        """Deliver what `codes[..., :ready_frames]` allows; `final` delivers everything left."""
        stop = ready_frames if final else ready_frames - self._hold
        if stop <= self._emitted or self.delivered_samples >= self._total:
            return
        start = max(0, self._emitted - self._context)
        audio = self._decode(codes[..., start:ready_frames]).float().cpu().numpy()
        self.windows += 1
        offset = (self._emitted - start) * self._hop
        fresh = audio[..., offset:]
        if self._tail is not None:
            n = min(self._fade * self._hop, self._tail.shape[-1], fresh.shape[-1])
            ramp = np.linspace(0.0, 1.0, n, endpoint=False, dtype=np.float32)
            fresh = fresh.copy()
            fresh[..., :n] = self._tail[..., :n] * (1.0 - ramp) + fresh[..., :n] * ramp
        keep = (stop - self._emitted) * self._hop
        chunk, self._tail = fresh[..., :keep], fresh[..., keep:]
        self._emitted = stop
        remaining = self._total - self.delivered_samples
        chunk = chunk[..., :remaining]
        if chunk.shape[-1] == 0:
            return
        self.delivered_samples += chunk.shape[-1]
        self._callback(
            np.ascontiguousarray(chunk, dtype=np.float32), self.delivered_samples / self._rate
        )
