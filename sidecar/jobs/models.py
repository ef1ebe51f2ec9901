"""③ Models in memory: which are loaded, how big, which one the worker uses; load and evict."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import torch

from sidecar.engine.base import Engine
from sidecar.engine.remote import remote_model_name
from sidecar.engine.separator import SeparatorSlot
from sidecar.errors import ModelLoadError, OutOfMemoryError

__all__ = ["LoadedModel", "ModelManager", "available_memory_bytes", "engine_bytes"]

log = logging.getLogger(__name__)

#: Keep this share of free memory spare when deciding whether two models fit side by side.
_HEADROOM = 1.3
#: Parameter counts of the released checkpoints (decoder + T5 + EnCodec), to size a load
#: before it happens; other models are assumed as large as the current one.
_KNOWN_PARAMS = {"small": 590e6, "medium": 2.0e9, "large": 3.4e9, "melody": 1.5e9}
#: Of those, T5-base and EnCodec, which stay fp32 beside a half-precision decoder
#: (`sidecar.engine.precision`).
_FP32_PARAMS = 170e6


@dataclass(frozen=True)
class LoadedModel:
    name: str
    device: str
    bytes: int
    current: bool
    #: "model" (MusicGen) or "separator" (the Demucs separator kept warm beside it).
    role: str = "model"


def engine_bytes(engine: Engine) -> int:
    """Bytes the engine holds on its device: the model's weights and buffers, plus what its
    decode loop keeps beside them (packed weights, KV caches, captured steps)."""
    model = getattr(engine, "model", None)
    if model is None:
        return 0
    tensors = [*model.parameters(), *model.buffers()]
    total = sum(t.numel() * t.element_size() for t in tensors)
    extra = getattr(engine, "extra_memory_bytes", None)
    return int(total + (extra() if callable(extra) else 0))


def available_memory_bytes(device: str) -> int:
    """Free memory on `device`: CUDA's free bytes, or the system's MemAvailable."""
    if device.startswith("cuda") and torch.cuda.is_available():
        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _expected_bytes(name: str, bytes_per_param: int, fallback: int) -> int:
    for key, params in _KNOWN_PARAMS.items():
        if key in name:
            return int(params * bytes_per_param + _FP32_PARAMS * (4 - bytes_per_param))
    return fallback


class ModelManager:
    """Holds the loaded engines; `switch` makes one current, evicting others if memory is short.

    `switch` runs on the worker thread between jobs (it is queued like a job), so a request
    never sees its model change under it.
    """

    def __init__(self, loader: Callable[[str], Engine]) -> None:
        self._loader = loader
        self._engines: dict[str, Engine] = {}
        self._current: str | None = None
        self._lock = threading.Lock()
        self.loading: str | None = None
        #: The separator kept warm beside the models (listed once it is loaded).
        self.separators: SeparatorSlot | None = None

    @property
    def current(self) -> Engine:
        with self._lock:
            if self._current is None:
                raise ModelLoadError("no model is loaded")
            return self._engines[self._current]

    @property
    def current_name(self) -> str | None:
        return self._current

    def listing(self) -> list[LoadedModel]:
        with self._lock:
            out = [
                LoadedModel(name, e.info.device, engine_bytes(e), name == self._current)
                for name, e in self._engines.items()
            ]
        separator = None if self.separators is None else self.separators.loaded
        if separator is not None:
            info = separator.info
            out.append(LoadedModel(info.name, info.device, info.memory_bytes, False, "separator"))
        return out

    def switch(self, name: str) -> Engine:
        """Make `name` current, loading it if needed; on failure the previous one stays."""
        with self._lock:
            if name in self._engines:
                self._current = name
                return self._engines[name]
        previous = self._current
        self.loading = name
        try:
            self._make_room(name)
            engine = self._loader(name)
        except Exception as e:
            self._restore(previous)
            if isinstance(e, torch.OutOfMemoryError):
                raise OutOfMemoryError(f"not enough memory to load '{name}'") from e
            raise
        finally:
            self.loading = None
        with self._lock:
            self._engines[name] = engine
            self._current = name
        log.info(
            "model %s loaded (%.0f MB); previous: %s", name, engine_bytes(engine) / 1e6, previous
        )
        return engine

    def _restore(self, previous: str | None) -> None:
        """After a failed load: make the previous model current again, reloading if evicted."""
        if previous is None:
            return
        with self._lock:
            if previous in self._engines:
                self._current = previous
                return
        log.warning("reloading %s after the failed load", previous)
        engine = self._loader(previous)
        with self._lock:
            self._engines[previous] = engine
            self._current = previous

    def _make_room(self, name: str) -> None:
        """Evict loaded models unless memory allows the new one beside them."""
        if remote_model_name(name) is not None:  # decoded on the pool: no memory here
            return
        with self._lock:
            local = [e for n, e in self._engines.items() if remote_model_name(n) is None]
            if not local:
                return
            sample = local[0]
            per_param = 2 if sample.info.dtype in ("float16", "bfloat16") else 4
            need = _expected_bytes(name, per_param, engine_bytes(sample))
            free = available_memory_bytes(sample.info.device)
            if free >= need * _HEADROOM:
                return
            evicted = list(self._engines)
            self._engines.clear()
            self._current = None
        log.info(
            "evicting %s to make room for %s (%.0f MB free, %.0f MB needed)",
            ", ".join(evicted),
            name,
            free / 1e6,
            need * _HEADROOM / 1e6,
        )
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def add(self, name: str, engine: Engine) -> None:
        """Register an engine loaded at start-up as the current one."""
        with self._lock:
            self._engines[name] = engine
            self._current = name
