"""Audio files at the edge: read a prompt clip (range, limits, checks), write a stem atomically."""

from __future__ import annotations

import contextlib
import os
import stat
import uuid
from pathlib import Path

import numpy as np
from pedalboard.io import AudioFile

from sidecar.errors import AudioError, DeliveryError, ForbiddenError, NotFoundError
from sidecar.files.settle import wait_until_whole
from sidecar.post.fmt import SampleFormat
from sidecar.post.prompt import RANGE_OVERSHOOT_SECONDS, past_the_end

__all__ = [
    "MAX_CLIP_BYTES",
    "MAX_CLIP_SECONDS",
    "SampleFormat",
    "check_clip_path",
    "read_audio",
    "write_audio_atomic",
    "write_bytes_atomic",
]

MAX_CLIP_BYTES = 2 * 1024**3
MAX_CLIP_SECONDS = 600.0

_BIT_DEPTH: dict[str, int] = {"pcm16": 16, "pcm24": 24, "float32": 32}


def check_clip_path(path: Path, field: str = "clip") -> os.stat_result:
    """Stat `path`; `NotFoundError` if missing, `ForbiddenError` unless a regular file."""
    try:
        info = path.stat()
    except FileNotFoundError as e:
        raise NotFoundError(f"{field}: file '{path}' does not exist") from e
    except OSError as e:
        raise NotFoundError(f"{field}: cannot read '{path}': {e.strerror}") from e
    if not stat.S_ISREG(info.st_mode):
        raise ForbiddenError(
            f"{field}: '{path}' is not a regular file (directories, devices and FIFOs are refused)"
        )
    return info


def read_audio(
    path: str | os.PathLike[str],
    start_seconds: float | None = None,
    end_seconds: float | None = None,
    max_seconds: float = MAX_CLIP_SECONDS,
    max_bytes: int = MAX_CLIP_BYTES,
) -> tuple[np.ndarray, int]:
    """Read `path` (WAV, AIFF, FLAC, MP3, OGG) as float32 `(channels, samples)` and its rate.

    Only the range [start_seconds, end_seconds) is decoded. Raises `AudioError` for files that
    cannot be decoded, hold NaN/Inf, or whose range is empty or longer than `max_seconds`.
    """
    file_path = Path(path)
    check_clip_path(file_path)
    wait_until_whole(file_path)  # a clip the DAW is still writing: briefly, else AudioError
    info = check_clip_path(file_path)
    if info.st_size == 0:
        raise AudioError(f"clip: '{file_path}' is empty (0 bytes)")
    if info.st_size > max_bytes:
        raise AudioError(
            f"clip: '{file_path}' is {info.st_size / 1e6:.0f} MB; at most {max_bytes / 1e6:.0f} MB"
        )
    try:
        with AudioFile(str(file_path)) as f:
            sample_rate = int(round(f.samplerate))
            total_frames = int(f.frames)
            start = 0 if start_seconds is None else int(round(start_seconds * sample_rate))
            end = total_frames if end_seconds is None else int(round(end_seconds * sample_rate))
            clip_seconds = total_frames / sample_rate
            if end_seconds is not None and end_seconds > clip_seconds + RANGE_OVERSHOOT_SECONDS:
                raise AudioError(past_the_end("clip_end", end_seconds, clip_seconds))
            end = min(end, total_frames)
            if start >= total_frames:
                raise AudioError(
                    f"clip_start: {start_seconds} s is at or past the clip's end "
                    f"({total_frames / sample_rate:.3f} s)"
                )
            if end <= start:
                raise AudioError(
                    f"clip range: [{start_seconds}, {end_seconds}) s selects no audio "
                    f"(clip is {total_frames / sample_rate:.3f} s)"
                )
            if (end - start) / sample_rate > max_seconds:
                raise AudioError(
                    f"clip: the selected range is {(end - start) / sample_rate:.1f} s; "
                    f"at most {max_seconds:.0f} s is read"
                )
            f.seek(start)
            audio = f.read(end - start)
    except AudioError:
        raise
    except (ValueError, RuntimeError, OSError) as e:
        raise AudioError(f"clip: cannot decode '{file_path}': {e}") from e
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    if audio.ndim != 2 or audio.shape[1] == 0:
        raise AudioError(f"clip: '{file_path}' decoded to no samples")
    if not np.all(np.isfinite(audio)):
        raise AudioError(f"clip: '{file_path}' holds NaN or Inf samples")
    return audio, sample_rate


def write_audio_atomic(
    path: str | os.PathLike[str],
    audio: np.ndarray,
    sample_rate: int,
    sample_format: SampleFormat = "pcm24",
    durable: bool = True,
) -> Path:
    """Write `(channels, samples)` float audio as a WAV at `path`, never visible half-written.

    The file is written under a temporary name in the same directory, flushed to disk (unless
    not `durable`: a preview that is rewritten every fraction of a second), then renamed into
    place, so a reader sees either nothing or the whole file.
    """
    target = Path(path)
    if audio.ndim != 2:
        raise DeliveryError(f"audio must be (channels, samples); got shape {audio.shape}")
    bit_depth = _BIT_DEPTH[sample_format]
    data = np.ascontiguousarray(audio, dtype=np.float32)
    if sample_format != "float32":
        data = np.clip(data, -1.0, 1.0)
    tmp = target.with_name(f".{target.stem}.{uuid.uuid4().hex[:8]}.partial{target.suffix}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with AudioFile(
            str(tmp), "w", samplerate=sample_rate, num_channels=data.shape[0], bit_depth=bit_depth
        ) as f:
            f.write(data)
        if durable:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    except (OSError, RuntimeError, ValueError) as e:
        # Nothing to remove when the folder could not be made (a file stands in its place).
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            tmp.unlink()
        raise DeliveryError(f"cannot write '{target}': {e}") from e
    return target


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write bytes (JSON, MIDI) under a temporary name, then rename into place."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Created 0666 less the umask, like the audio beside it (mkstemp would make it 0600,
        # unreadable to a DAW or sampler running as another user).
        tmp_name = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
        fd = os.open(tmp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
    except OSError as e:
        raise DeliveryError(f"cannot write '{target}': {e}") from e
    return target
