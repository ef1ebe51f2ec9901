"""⑤ Delivery: stems, their JSON and MIDI tempo maps, written atomically in the output dir."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sidecar.errors import DeliveryError
from sidecar.files.audiofile import SampleFormat, write_audio_atomic, write_bytes_atomic

__all__ = ["DeliveredStem", "Delivery", "default_output_dir", "safe_name"]

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def default_output_dir() -> Path:
    """`<user data dir>/musicgen-sidecar/stems` (e.g. ~/.local/share/... on Linux)."""
    from platformdirs import user_data_path

    return user_data_path("musicgen-sidecar") / "stems"


def safe_name(text: str, max_length: int = 48) -> str:
    """A file-name-safe form of `text`; a short hash keeps altered names distinct."""
    cleaned = _UNSAFE.sub("_", text).strip("._")[:max_length] or "request"
    if cleaned != text:
        cleaned = f"{cleaned}-{hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:6]}"
    return cleaned


@dataclass(frozen=True)
class DeliveredStem:
    index: int
    path: Path
    json_path: Path
    midi_path: Path | None


class Delivery:
    """Writes a job's files under `output_dir/<request>/`; nothing is visible half-written."""

    def __init__(self, output_dir: Path) -> None:
        self.output_dir = output_dir.expanduser().resolve()

    def ensure_writable(self) -> None:
        try:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            probe = self.output_dir / ".write-probe"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            raise DeliveryError(f"output directory {self.output_dir} is not writable: {e}") from e

    @property
    def preview_dir(self) -> Path:
        """The streaming previews' folder: the sidecar's own, emptied at every start."""
        return self.output_dir / "previews"

    def preview_path(self, request_id: str) -> Path:
        """Where a request's streaming preview is published: `previews/<request>.wav`."""
        return self.preview_dir / f"{safe_name(request_id)}.wav"

    def remove_preview(self, request_id: str) -> None:
        """Remove a request's preview, if any: its stems are delivered, it was cancelled or
        failed, or its id starts again. A file that cannot be removed is logged and left."""
        path = self.preview_path(request_id)
        try:
            path.unlink(missing_ok=True)
        except OSError as e:
            log.warning("cannot remove preview %s: %s", path, e)

    def clear_previews(self) -> int:
        """At start-up: remove the previews a killed server left (`previews/*.wav`, the files
        it writes there; anything else is left alone). Returns how many were removed."""
        folder = self.preview_dir
        if not folder.is_dir():
            return 0
        removed = 0
        for path in sorted(folder.glob("*.wav")):
            if path.is_symlink() or not path.is_file():
                continue  # not a preview the sidecar wrote
            try:
                path.unlink()
            except OSError as e:
                log.warning("cannot remove stale preview %s: %s", path, e)
            else:
                removed += 1
        if removed:
            log.info("removed %d stale preview(s) from %s", removed, folder)
        return removed

    def job_dir(self, request_id: str) -> Path:
        """A fresh folder for one job; a re-used request id gets a numbered sibling."""
        base = safe_name(request_id)
        candidate = self.output_dir / base
        n = 2
        while candidate.exists():
            candidate = self.output_dir / f"{base}-{n}"
            n += 1
        try:
            candidate.mkdir(parents=True)
        except OSError as e:
            raise DeliveryError(f"cannot create {candidate}: {e}") from e
        return candidate

    def write_stem(
        self,
        folder: Path,
        stem_name: str,
        audio: np.ndarray,
        sample_rate: int,
        sample_format: SampleFormat,
        metadata: dict[str, Any],
        midi: Any | None = None,
    ) -> DeliveredStem:
        """Write `<stem>.json`, `<stem>.mid` (tempo map) and, last, `<stem>.wav`."""
        if folder.resolve().parent != self.output_dir:
            raise DeliveryError(f"refusing to write outside the output directory: {folder}")
        name = safe_name(stem_name, max_length=96)
        wav_path = folder / f"{name}.wav"
        json_path = folder / f"{name}.json"
        body = json.dumps({"file": wav_path.name, **metadata}, indent=2, default=_jsonable)
        write_bytes_atomic(json_path, body.encode())
        midi_path: Path | None = None
        if midi is not None:
            buffer = io.BytesIO()
            midi.save(file=buffer)
            midi_path = write_bytes_atomic(folder / f"{name}.mid", buffer.getvalue())
        write_audio_atomic(wav_path, audio, sample_rate, sample_format)
        log.info("delivered %s", wav_path)
        index = int(metadata.get("index", 0))
        return DeliveredStem(index=index, path=wav_path, json_path=json_path, midi_path=midi_path)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
