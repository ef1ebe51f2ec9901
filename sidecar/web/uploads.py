"""Clips dropped on the page: size-limited, checked as audio like any clip, kept in the output."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from sidecar.errors import AudioError, SidecarError
from sidecar.files.audiofile import MAX_CLIP_SECONDS, read_audio, write_bytes_atomic
from sidecar.web import MAX_UPLOAD_BYTES

__all__ = ["AUDIO_SUFFIXES", "MAX_UPLOAD_BYTES", "Upload", "UploadStore"]

log = logging.getLogger(__name__)

#: The file types the clip reader decodes.
AUDIO_SUFFIXES = (".wav", ".aif", ".aiff", ".flac", ".mp3", ".ogg")
_MAX_NAME = 255


@dataclass(frozen=True)
class Upload:
    """A stored clip: where it is, what it was called, and what the reader found in it."""

    path: Path
    name: str
    sample_rate: int
    channels: int
    duration_seconds: float


def _suffix(name: str) -> str:
    """The audio suffix of a file name the browser sent, or `AudioError` naming the file."""
    if not name or len(name) > _MAX_NAME or "\x00" in name:
        raise AudioError(
            f"file: a name of {len(name)} characters; allowed: 1..{_MAX_NAME} characters, "
            f"ending in {', '.join(AUDIO_SUFFIXES)}"
        )
    # Only the last part of the name counts (a browser may send a path; a path never matters).
    base = PureWindowsPath(PurePosixPath(name).name).name
    suffix = PurePosixPath(base).suffix.lower()
    if suffix not in AUDIO_SUFFIXES:
        raise AudioError(
            f"file: {base[:80]!r} is not an audio file name; allowed: {', '.join(AUDIO_SUFFIXES)}"
        )
    return suffix


class UploadStore:
    """`<output>/uploads/<content hash><suffix>`: the same bytes are stored once."""

    def __init__(self, output_dir: Path, max_bytes: int = MAX_UPLOAD_BYTES) -> None:
        self.folder = output_dir / "uploads"
        self.max_bytes = max_bytes

    def check_size(self, name: str, size_bytes: int) -> None:
        """`AudioError` once an upload is known to be too big (before or while it is read)."""
        if size_bytes > self.max_bytes:
            raise AudioError(
                f"file: {name[:80]!r} is over {self.max_bytes / 1e6:.0f} MB; allowed: at most "
                f"{self.max_bytes / 1e6:.0f} MB (send the excerpt to continue)"
            )

    def store(self, name: str, data: bytes) -> Upload:
        """Check the name, size and audio of an upload; keep it only if the clip reader takes it."""
        suffix = _suffix(name)
        self.check_size(name, len(data))
        if not data:
            raise AudioError(f"file: {name[:80]!r} is empty (0 bytes)")
        path = self.folder / f"{hashlib.sha256(data).hexdigest()[:24]}{suffix}"
        existed = path.is_file()
        write_bytes_atomic(path, data)
        try:
            audio, sample_rate = read_audio(path, max_seconds=MAX_CLIP_SECONDS)
        except SidecarError:
            if not existed:
                path.unlink(missing_ok=True)
            raise
        if float(abs(audio).max()) < 1e-6:
            path.unlink(missing_ok=True)
            raise AudioError(f"file: {name[:80]!r} is silent; a continuation needs sound")
        log.info("upload %s stored as %s", name[:80], path)
        return Upload(path, name, sample_rate, int(audio.shape[0]), audio.shape[1] / sample_rate)
