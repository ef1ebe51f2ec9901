"""③ A Demucs separator kept warm beside MusicGen: takes in, their parts out, cancellable."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sidecar.engine.demucs_models import (
    RANDOM_PREFIX,
    SEPARATOR_MODELS,
    TINY_DEMUCS_6S_NAME,
    TINY_DEMUCS_NAME,
    build_random_demucs,
    build_tiny_demucs,
    separator_names,
    separator_parts,
)
from sidecar.engine.memory import tensor_bytes
from sidecar.errors import ModelLoadError, OutOfMemoryError

__all__ = [
    "DEFAULT_SEPARATOR",
    "SeparationProgress",
    "Separator",
    "SeparatorInfo",
    "SeparatorSlot",
    "fetch_command",
    "is_cached",
]

log = logging.getLogger(__name__)

DEFAULT_SEPARATOR = "htdemucs"
#: Overlap between the segments a take is cut into (Demucs's own default).
_OVERLAP = 0.25
#: Takes separated in one batch at most on a CPU (more only queue up on the same cores).
_MAX_CPU_BATCH = 4
_MAX_GPU_BATCH = 16

#: Called with (segments done, segments total) after each segment; may raise to cancel.
SeparationProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class SeparatorInfo:
    """What `/sidecar/model/list` and the stems' JSON say about the separator."""

    name: str
    device: str
    parts: tuple[str, ...]
    #: Demucs's own rate (44.1 kHz); takes are resampled to it and their parts back.
    sample_rate: int
    memory_bytes: int
    is_random: bool
    #: Length of the pieces a take is separated in (the transformer's training segment).
    segment_seconds: float
    #: Models run per segment (4 for the `htdemucs_ft` bag).
    models: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "separator": self.name,
            "separator_device": self.device,
            "separator_parts": ",".join(self.parts),
            "separator_sample_rate": self.sample_rate,
            "separator_memory_bytes": self.memory_bytes,
            "separator_is_random": self.is_random,
        }


def fetch_command(name: str) -> str:
    """The shell command that downloads `name`'s weights into the cache."""
    return f"python -m sidecar fetch-separator {name}"


def is_cached(name: str) -> bool:
    """Whether `name` loads without the network: built in code, or its weights in the
    Hugging Face cache (where Demucs 4.1 downloads them)."""
    if name not in SEPARATOR_MODELS:
        return separator_parts(name) is not None
    import yaml
    from demucs.hf import DEFAULT_NAMESPACE, hf_repo_name
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    repo = f"{DEFAULT_NAMESPACE}/{hf_repo_name(name)}"
    try:
        with open(hf_hub_download(repo, f"{name}.yaml", local_files_only=True)) as f:
            bag = yaml.safe_load(f)
        for sig in bag["models"]:
            hf_hub_download(repo, f"{sig}.safetensors", local_files_only=True)
    except (LocalEntryNotFoundError, FileNotFoundError) as e:
        log.debug("separator %s not in the Hugging Face cache: %s", name, e)
        return _in_torch_hub(name)
    return True


def _in_torch_hub(name: str) -> bool:
    """Whether Demucs's older download (torch hub checkpoints, its fallback) holds `name`."""
    import yaml
    from demucs.pretrained import REMOTE_ROOT

    bag = yaml.safe_load((REMOTE_ROOT / f"{name}.yaml").read_text())
    files = [line.strip() for line in (REMOTE_ROOT / "files.txt").read_text().splitlines()]
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    for sig in bag["models"]:
        names = [f for f in files if f.startswith(f"{sig}-")]
        if not names or not (folder / names[0]).is_file():
            return False
    return True


def _load_model(name: str) -> tuple[Any, bool]:
    """(model, is_random) for `name`; real weights through Demucs's own loader."""
    if name == TINY_DEMUCS_NAME:
        return build_tiny_demucs(SEPARATOR_MODELS["htdemucs"]), True
    if name == TINY_DEMUCS_6S_NAME:
        return build_tiny_demucs(SEPARATOR_MODELS["htdemucs_6s"]), True
    if name.startswith(RANDOM_PREFIX) and name[len(RANDOM_PREFIX) :] in SEPARATOR_MODELS:
        return build_random_demucs(name[len(RANDOM_PREFIX) :]), True
    if name not in SEPARATOR_MODELS:
        raise ModelLoadError(
            f"separator: got {name!r}; expected one of {', '.join(separator_names())}"
        )
    from demucs.pretrained import get_model

    try:
        return get_model(name), False
    except Exception as e:  # Demucs raises whatever its download raised (URLError, OSError...)
        raise ModelLoadError(
            f"separator: {name!r} is not in the cache and could not be downloaded "
            f"({type(e).__name__}: {e}); fetch it once where the network is reachable: "
            f'`{fetch_command(name)}` (or python3 -c "from demucs.pretrained import '
            f"get_model; get_model('{name}')\")"
        ) from e


class Separator:
    """One Demucs model (or bag) on one device. `separate` takes a batch of takes at any rate
    and gives back each take's parts at that rate, the same length and channels."""

    def __init__(self, model: Any, name: str, device: str, is_random: bool) -> None:
        self._model = model.to(device).eval()
        self._lock = threading.Lock()
        inner = list(getattr(model, "models", [model]))
        tensors = [*model.parameters(), *model.buffers()]
        self.info = SeparatorInfo(
            name=name,
            device=device,
            parts=tuple(model.sources),
            sample_rate=int(model.samplerate),
            memory_bytes=tensor_bytes(tensors),
            is_random=is_random,
            segment_seconds=float(min(float(m.segment) for m in inner)),
            models=len(inner),
        )
        self._max_batch = _MAX_GPU_BATCH if device.startswith("cuda") else _MAX_CPU_BATCH

    @classmethod
    def load(cls, name: str, device: str = "cpu") -> Separator:
        """Load `name` (a released model downloads on first use) on `device`."""
        model, is_random = _load_model(name)
        log.info("separator %s loaded on %s", name, device)
        return cls(model, name, device, is_random)

    def segments(self, num_samples: int, sample_rate: int) -> int:
        """Segments (times models in the bag) one take of `num_samples` is separated in."""
        length = int(round(num_samples * self.info.sample_rate / sample_rate))
        segment = int(self.info.sample_rate * self.info.segment_seconds)
        stride = int((1 - _OVERLAP) * segment)
        return len(range(0, length, stride)) * self.info.models

    def separate(
        self,
        takes: np.ndarray,
        sample_rate: int,
        progress: SeparationProgress | None = None,
    ) -> np.ndarray:
        """float32 `(takes, parts, channels, samples)` from `(takes, channels, samples)`.

        Mono takes are separated as dual mono and their parts folded back to mono. The takes
        go through as one batch (up to 4 on a CPU, 16 on a GPU; halves on out-of-memory).
        `progress` runs after each segment; an exception it raises (a cancel) stops the
        separation there, and nothing of it is returned.
        """
        if takes.ndim != 3 or takes.shape[1] not in (1, 2) or takes.shape[2] < 1:
            raise ValueError(f"takes: expected (takes, 1 or 2 channels, samples); {takes.shape}")
        count, channels, samples = takes.shape
        per_batch = self.segments(samples, sample_rate)
        groups = -(-count // self._max_batch)
        done, total = [0], [per_batch * groups]

        def tick(extra_batches: int = 0) -> None:
            # A batch split in halves (out of memory) runs its segments once more per half.
            total[0] += per_batch * extra_batches
            if extra_batches == 0:
                done[0] += 1
                if progress is not None:
                    progress(done[0], total[0])

        out: list[np.ndarray] = []
        with self._lock, torch.inference_mode():
            first = 0
            while first < count:
                size = min(self._max_batch, count - first)
                out.append(self._batch(takes[first : first + size], sample_rate, tick))
                first += size
        parts = np.concatenate(out, axis=0)
        if channels == 1:
            parts = parts.mean(axis=2, keepdims=True)
        return np.ascontiguousarray(parts, dtype=np.float32)

    def _batch(self, takes: np.ndarray, sample_rate: int, tick: Callable[..., None]) -> np.ndarray:
        try:
            return self._run(takes, sample_rate, tick)
        except torch.OutOfMemoryError as e:
            if takes.shape[0] < 2:
                raise OutOfMemoryError(
                    f"separator {self.info.name}: out of memory on {self.info.device}"
                ) from e
            log.warning("separator out of memory at batch %d; in halves", takes.shape[0])
        tick(extra_batches=1)
        half = takes.shape[0] // 2
        first = self._batch(takes[:half], sample_rate, tick)
        return np.concatenate([first, self._batch(takes[half:], sample_rate, tick)])

    def _run(self, takes: np.ndarray, sample_rate: int, tick: Callable[..., None]) -> np.ndarray:
        import julius
        from demucs.apply import apply_model

        rate, device = self.info.sample_rate, self.info.device
        mix = torch.from_numpy(np.ascontiguousarray(takes, dtype=np.float32)).to(device)
        if mix.shape[1] == 1:
            mix = mix.expand(-1, 2, -1)
        if sample_rate != rate:
            mix = julius.resample_frac(mix, sample_rate, rate)
        # As Demucs's own separate does: each take at zero mean and unit deviation (of its
        # mono sum) going in, its parts scaled back coming out.
        mono = mix.mean(dim=1, keepdim=True)
        offset = mono.mean(dim=-1, keepdim=True)
        scale = mono.std(dim=-1, keepdim=True).clamp_min(1e-8)
        mix = (mix - offset) / scale

        def on_segment(state: dict[str, Any]) -> None:
            if state.get("state") == "end":
                tick()

        parts = apply_model(
            self._model,
            mix,
            shifts=0,
            split=True,
            overlap=_OVERLAP,
            progress=False,
            callback=on_segment,
        )
        parts = parts * scale[:, None] + offset[:, None]
        if sample_rate != rate:
            parts = julius.resample_frac(parts, rate, sample_rate)
        samples = takes.shape[-1]
        parts = parts[..., :samples]
        if parts.shape[-1] < samples:
            parts = torch.nn.functional.pad(parts, (0, samples - parts.shape[-1]))
        return np.asarray(parts.float().cpu().numpy())


class SeparatorSlot:
    """The one separator kept warm: loaded at start (`load`) or on first use (`get`), on the
    model's device; asking for another model replaces it. Safe to use from any thread."""

    def __init__(self, default: str = DEFAULT_SEPARATOR, device: str | None = None) -> None:
        if separator_parts(default) is None:
            raise ModelLoadError(
                f"--separator: got {default!r}; expected one of {', '.join(separator_names())}"
            )
        self.default = default
        self.device = device
        self._loaded: Separator | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> Separator | None:
        return self._loaded

    def get(self, name: str | None = None, device: str | None = None) -> Separator:
        """The separator `name` (default: the server's), loading it if it is not warm."""
        wanted = name or self.default
        where = device or self.device or "cpu"
        with self._lock:
            current = self._loaded
            if current is not None and (current.info.name, current.info.device) == (
                wanted,
                where,
            ):
                return current
            self._loaded = None  # let go of the old one before the new one loads
            del current
            self._loaded = Separator.load(wanted, where)
            return self._loaded
