"""③ Decode buffers kept between requests: KV caches by row count and captured steps, LRU."""

from __future__ import annotations

import math

import torch

from sidecar.engine.fast_decoder import DecoderWeights
from sidecar.engine.kv_cache import CacheShape, StaticKVCache
from sidecar.engine.static_step import StaticStepper, StepKey

__all__ = ["DecodeBuffers"]

#: Cache lengths are rounded up to this many positions so that requests share buffers/graphs.
POSITION_BUCKET = 256
#: Cross-attention lengths (text tokens) are rounded up to this for the captured steps.
SOURCE_BUCKET = 32
#: Static caches kept (one per row count: batch × CFG).
MAX_CACHES = 2
#: Captured decode steps kept (each holds a small private memory pool on the GPU).
MAX_STEPPERS = 8


class DecodeBuffers:
    """At most `max_caches` static caches (one per row count) and `max_steppers` captured steps.

    Both are least-recently-used: the most recent is last in its dict. A stepper holds views of
    its cache, so dropping a cache drops the steppers built on it first.
    """

    def __init__(
        self, device: torch.device, max_caches: int = MAX_CACHES, max_steppers: int = MAX_STEPPERS
    ) -> None:
        self.device = device
        self.max_caches = max_caches
        self.max_steppers = max_steppers
        self.caches: dict[int, StaticKVCache] = {}
        self.steppers: dict[StepKey, StaticStepper] = {}

    def cache(self, weights: DecoderWeights, rows: int, positions: int) -> StaticKVCache:
        """A cache for `rows` batch rows and at least `positions`, reused when one fits."""
        shape = CacheShape(
            len(weights.layers),
            rows,
            weights.num_heads,
            weights.head_dim,
            POSITION_BUCKET * math.ceil(positions / POSITION_BUCKET),
            weights.act_dtype,
            self.device,
        )
        cache = self.caches.pop(rows, None)
        if cache is None or not cache.shape.fits(shape):
            self._drop_steppers(rows)
            cache = None  # release the old buffers before allocating the new ones
            if len(self.caches) >= self.max_caches:
                evicted = next(iter(self.caches))
                del self.caches[evicted]
                self._drop_steppers(evicted)
            cache = StaticKVCache(shape)
        self.caches[rows] = cache
        return cache

    def stepper(
        self,
        weights: DecoderWeights,
        cache: StaticKVCache,
        key: StepKey,
        capture: bool,
    ) -> StaticStepper:
        """The captured step for `key` on `cache`, built (and captured) on first use."""
        stepper = self.steppers.pop(key, None)
        if stepper is None:
            if len(self.steppers) >= self.max_steppers:
                del self.steppers[next(iter(self.steppers))]
            stepper = StaticStepper(weights, cache, key, self.device, capture=capture)
        self.steppers[key] = stepper
        return stepper

    def tensors(self) -> list[torch.Tensor]:
        """The caches' and captured steps' buffers (for memory accounting)."""
        out: list[torch.Tensor] = []
        for cache in self.caches.values():
            out += [*cache.keys, *cache.values]
        for stepper in self.steppers.values():
            out += [stepper.tokens, stepper.pattern, stepper.sequence, stepper.cross_mask]
            out += [*stepper.cross_keys, *stepper.cross_values]
        return out

    def clear(self) -> None:
        """Drop everything (after an out-of-memory error)."""
        self.caches.clear()
        self.steppers.clear()

    def _drop_steppers(self, rows: int) -> None:
        self.steppers = {k: s for k, s in self.steppers.items() if k.rows != rows}
