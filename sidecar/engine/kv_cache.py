"""③ A preallocated key/value cache for MusicGen's decoder, written in place, never concatenated."""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["CacheShape", "StaticKVCache"]


@dataclass(frozen=True)
class CacheShape:
    """What a cache was allocated for; a request fits when its rows and length are no larger."""

    num_layers: int
    batch_rows: int
    num_heads: int
    head_dim: int
    max_positions: int
    dtype: torch.dtype
    device: torch.device

    def fits(self, other: CacheShape) -> bool:
        """True when a cache of this shape can serve a request of shape `other` as is."""
        return (
            self.num_layers == other.num_layers
            and self.batch_rows == other.batch_rows
            and self.num_heads == other.num_heads
            and self.head_dim == other.head_dim
            and self.max_positions >= other.max_positions
            and self.dtype == other.dtype
            and self.device == other.device
        )


class StaticKVCache:
    """Self-attention keys/values as `(rows, heads, max_positions, head_dim)` buffers per layer.

    Positions are written in place (`write`) and read back as a prefix view (`prefix`) or as the
    whole buffer (`full`, for graph capture with a position mask). The buffers are reused across
    requests: nothing is cleared, because attention never reads past the current position.
    Cross-attention keys/values are set once per request with `set_cross`.
    """

    def __init__(self, shape: CacheShape) -> None:
        self.shape = shape
        dims = (shape.batch_rows, shape.num_heads, shape.max_positions, shape.head_dim)
        self.keys = [
            torch.zeros(dims, dtype=shape.dtype, device=shape.device)
            for _ in range(shape.num_layers)
        ]
        self.values = [
            torch.zeros(dims, dtype=shape.dtype, device=shape.device)
            for _ in range(shape.num_layers)
        ]
        self.cross_keys: list[torch.Tensor] = []
        self.cross_values: list[torch.Tensor] = []

    @property
    def nbytes(self) -> int:
        tensors = self.keys + self.values + self.cross_keys + self.cross_values
        return sum(t.numel() * t.element_size() for t in tensors)

    def write(self, layer: int, start: int, keys: torch.Tensor, values: torch.Tensor) -> None:
        """Store `(rows, heads, n, head_dim)` keys/values at positions `start .. start + n`."""
        stop = start + keys.shape[2]
        if stop > self.shape.max_positions:
            raise ValueError(
                f"KV cache: position {stop} exceeds the allocated {self.shape.max_positions}; "
                "allocate a longer cache"
            )
        self.keys[layer][:, :, start:stop].copy_(keys)
        self.values[layer][:, :, start:stop].copy_(values)

    def write_at(
        self, layer: int, position: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
    ) -> None:
        """Store one position given as a 1-element device tensor (no host sync, graph-safe)."""
        self.keys[layer].index_copy_(2, position, keys)
        self.values[layer].index_copy_(2, position, values)

    def prefix(self, layer: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Views of positions `0 .. length` (no copy)."""
        return self.keys[layer][:, :, :length], self.values[layer][:, :, :length]

    def full(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.keys[layer], self.values[layer]

    def set_cross(self, keys: list[torch.Tensor], values: list[torch.Tensor]) -> None:
        """The per-layer cross-attention keys/values of this request, computed once."""
        self.cross_keys = keys
        self.cross_values = values
