"""④ The remote engine's wire format: length-prefixed frames (JSON + bytes), audio as FLAC."""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass, fields
from typing import IO, Any

import numpy as np
import soundfile

from sidecar.engine.base import EngineInfo, GenerationSpec

__all__ = [
    "Frame",
    "audio_from_payload",
    "audio_to_payload",
    "encode_frame",
    "info_from_json",
    "info_to_json",
    "read_frame",
    "spec_from_wire",
    "spec_to_wire",
]

#: A frame: `>I` JSON length, the JSON, `>I` payload length, the payload (often empty).
_LENGTH = struct.Struct(">I")
#: Frames larger than this are refused (a 30 s stereo take is ~6 MB of FLAC).
MAX_FRAME_BYTES = 256 * 1024 * 1024
#: The spec fields that travel as JSON (the audio ones travel as FLAC payloads).
_SCALARS: tuple[str, ...] = ("duration_seconds", "prompt", "prompts", "variations")
_SCALARS += ("guidance_scale", "temperature", "top_k", "top_p", "seed")


@dataclass(frozen=True)
class Frame:
    """One message of a stream: `kind` and its fields, and a payload of bytes."""

    kind: str
    fields: dict[str, Any]
    payload: bytes = b""


def encode_frame(kind: str, payload: bytes = b"", **items: Any) -> bytes:
    head = json.dumps({"kind": kind, **items}, separators=(",", ":")).encode()
    return _LENGTH.pack(len(head)) + head + _LENGTH.pack(len(payload)) + payload


def read_frame(source: IO[bytes]) -> Frame | None:
    """The next frame, or None at a clean end of the stream (ValueError if cut mid-frame)."""
    head = _read_exact(source, _LENGTH.size, allow_end=True)
    if head is None:
        return None
    data = json.loads(_read_exact(source, _length(head)) or b"{}")
    payload = _read_exact(source, _length(_read_exact(source, _LENGTH.size) or b"")) or b""
    if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
        raise ValueError("frame: its JSON is not an object with a 'kind'")
    kind = data.pop("kind")
    return Frame(kind, data, payload)


def _length(raw: bytes) -> int:
    (n,) = _LENGTH.unpack(raw)
    if n > MAX_FRAME_BYTES:
        raise ValueError(f"frame: {n} bytes is more than the {MAX_FRAME_BYTES} allowed")
    return int(n)


def _read_exact(source: IO[bytes], n: int, allow_end: bool = False) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        chunk = source.read(n - got)
        if not chunk:
            if allow_end and got == 0:
                return None
            raise ValueError(f"stream cut: {got} of {n} bytes of a frame arrived")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def audio_to_payload(audio: np.ndarray, sample_rate: int) -> tuple[dict[str, Any], bytes]:
    """Float audio `(channels, samples)` or `(rows, channels, samples)` → 24-bit FLAC, one file
    per row (FLAC holds at most 8 channels); the metadata says the shape and each file's size."""
    rows = audio[None] if audio.ndim == 2 else audio
    blobs = []
    for row in rows:
        buffer = io.BytesIO()
        clipped = np.clip(np.asarray(row, dtype=np.float32).T, -1.0, 1.0)
        soundfile.write(buffer, clipped, sample_rate, format="FLAC", subtype="PCM_24")
        blobs.append(buffer.getvalue())
    meta = {"shape": list(audio.shape), "sizes": [len(b) for b in blobs]}
    return meta, b"".join(blobs)


def audio_from_payload(meta: dict[str, Any], payload: bytes) -> np.ndarray:
    """The inverse of `audio_to_payload`."""
    shape = tuple(int(n) for n in meta["shape"])
    rows, offset = [], 0
    for size in meta["sizes"]:
        decoded, _ = soundfile.read(
            io.BytesIO(payload[offset : offset + int(size)]), dtype="float32", always_2d=True
        )
        rows.append(decoded.T)
        offset += int(size)
    return np.ascontiguousarray(np.stack(rows)).reshape(shape)


def spec_to_wire(spec: GenerationSpec, sample_rate: int) -> tuple[dict[str, Any], bytes]:
    """A spec's scalar fields as JSON, and its prompt/melody as one payload of FLAC parts."""
    head: dict[str, Any] = {name: getattr(spec, name) for name in _SCALARS}
    parts: list[bytes] = []
    for name in ("audio_prompt", "melody"):
        audio = getattr(spec, name)
        if audio is not None:
            meta, blob = audio_to_payload(audio, sample_rate)
            head[name] = meta
            parts.append(blob)
    return head, b"".join(parts)


def spec_from_wire(head: dict[str, Any], payload: bytes) -> GenerationSpec:
    """The inverse of `spec_to_wire`; unknown keys are refused, so versions cannot drift."""
    known = set(_SCALARS) | {"audio_prompt", "melody"}
    unknown = sorted(set(head) - known)
    if unknown:
        raise ValueError(f"spec: unknown field(s) {', '.join(unknown)}")
    values: dict[str, Any] = {k: head[k] for k in _SCALARS if k in head}
    if values.get("prompts") is not None:
        values["prompts"] = tuple(values["prompts"])
    offset = 0
    for name in ("audio_prompt", "melody"):
        if head.get(name):
            size = sum(int(n) for n in head[name]["sizes"])
            values[name] = audio_from_payload(head[name], payload[offset : offset + size])
            offset += size
    return GenerationSpec(**values)


def info_to_json(info: EngineInfo) -> dict[str, Any]:
    return {f.name: getattr(info, f.name) for f in fields(EngineInfo)}


def info_from_json(data: dict[str, Any]) -> EngineInfo:
    return EngineInfo(**{f.name: data[f.name] for f in fields(EngineInfo)})
