"""③ What an engine holds in memory: the model's tensors plus what the fast loop adds."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from typing import Any

import torch

__all__ = ["tensor_bytes", "tensors_in"]


def tensors_in(obj: Any) -> Iterator[torch.Tensor]:
    """Every tensor reachable through dataclass fields, tuples, lists and dicts of `obj`."""
    if isinstance(obj, torch.Tensor):
        yield obj
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            yield from tensors_in(getattr(obj, f.name))
    elif isinstance(obj, tuple | list):
        for item in obj:
            yield from tensors_in(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from tensors_in(item)


def _storage_key(t: torch.Tensor) -> int | None:
    """An id of the memory behind `t` (None for oneDNN's opaque layouts, which own theirs)."""
    if t.is_mkldnn:
        return None
    return int(t.untyped_storage().data_ptr())


def tensor_bytes(tensors: Iterable[torch.Tensor], shared_with: Iterable[torch.Tensor] = ()) -> int:
    """Bytes of `tensors`, each storage once, leaving out storage that `shared_with` holds."""
    seen = {k for k in (_storage_key(t) for t in shared_with) if k is not None}
    total = 0
    for t in tensors:
        key = _storage_key(t)
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
            total += int(t.untyped_storage().nbytes())
        else:
            total += t.numel() * t.element_size()
    return total
