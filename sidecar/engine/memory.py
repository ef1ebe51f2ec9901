"""③ What an engine holds in memory: the model's tensors plus what the fast loop adds."""

from __future__ import annotations

import ctypes
import dataclasses
import logging
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from typing import Any

import torch

log = logging.getLogger(__name__)

__all__ = ["release_replaced", "return_freed_memory", "tensor_bytes", "tensors_in"]


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


def release_replaced(module: torch.nn.Module, kept: Iterable[torch.Tensor]) -> int:
    """Empty every parameter of `module` whose memory no tensor in `kept` shares; bytes freed.

    For a decoder whose weights were packed into copies (oneDNN layouts, bf16, int8): the
    copies are what decodes, and the originals only double the memory. Afterwards the
    module's own forward cannot run (its weights are empty: a shape error, never a wrong
    result), so this is only for a model that nothing else uses. The memory goes back to the
    OS at once (`return_freed_memory`).
    """
    keep = {k for k in (_storage_key(t) for t in kept) if k is not None}
    freed = 0
    for sub in module.modules():
        for name, param in list(sub.named_parameters(recurse=False)):
            key = _storage_key(param)
            if key is None or key in keep:
                continue
            freed += int(param.untyped_storage().nbytes())
            empty = torch.empty(0, dtype=param.dtype, device=param.device)
            setattr(sub, name, torch.nn.Parameter(empty, requires_grad=False))
    if freed:
        return_freed_memory()
    return freed


def return_freed_memory() -> bool:
    """Hand memory freed inside the C heap back to the OS (glibc's `malloc_trim`).

    Weights of a few MB to tens of MB live in glibc's heap, which keeps what is freed for
    later allocations: releasing small's replaced decoder weights (1.4 GB) lowered the RSS by
    0.8 GB, and by 1.4 GB after a trim. False where there is no glibc (macOS, musl, Windows).
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError) as e:
        log.debug("no malloc_trim in this C library (%s): freed memory stays with the heap", e)
        return None
    return trim
