"""A clip the DAW may still be writing: wait, briefly, until it is whole, or refuse it."""

# A DAW that records or renders a WAV writes its header first; a reader that comes too soon
# finds a header that promises more audio than the file holds (decoders pad the rest with
# silence, or stop short), or a file that is still growing. gary4live reads a clip only once
# its file stops growing, for this reason. This runs on the worker thread, before the clip is
# decoded: the OSC receiver never waits for it.
from __future__ import annotations

import os
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sidecar.errors import AudioError

__all__ = [
    "FRESH_SECONDS",
    "SETTLE_SECONDS",
    "STEADY_SECONDS",
    "WavLayout",
    "wait_until_whole",
    "wav_layout",
]

#: The longest a request waits for its clip to be whole (the worker runs nothing else
#: meanwhile, so it is short): a DAW finishes a file it is closing within this.
SETTLE_SECONDS = 2.0
#: A file modified this recently is watched for growth; an older one is taken as it is.
FRESH_SECONDS = 1.0
#: A watched file whose size and header stay the same this long has stopped growing.
STEADY_SECONDS = 0.3
_POLL_SECONDS = 0.05
#: What a streaming writer puts in a size field it fills in when it closes the file.
_PLACEHOLDER_SIZES = (0, 0xFFFFFFFF)


@dataclass(frozen=True)
class WavLayout:
    """Where a WAV's audio lies, as its header says (RIFF: the `fmt ` and `data` chunks)."""

    data_offset: int
    #: the data chunk's size field (a placeholder while a streaming writer is still writing)
    data_bytes: int
    bytes_per_second: int

    @property
    def promised_bytes(self) -> int:
        return self.data_offset + self.data_bytes

    def seconds(self, data_bytes: int) -> float:
        return max(0, data_bytes) / self.bytes_per_second if self.bytes_per_second else 0.0


def wav_layout(path: Path) -> WavLayout | None:
    """The layout of a RIFF/WAVE file's audio; None for other files (FLAC, MP3, RF64...) and
    for a header too short or odd to read (the decoder then says what is wrong)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            bytes_per_second = 0
            for _chunk in range(64):  # a header has a handful of chunks before its data
                chunk = handle.read(8)
                if len(chunk) < 8:
                    return None
                name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if name == b"data":
                    return WavLayout(handle.tell(), size, bytes_per_second)
                if name == b"fmt ":
                    body = handle.read(size + (size & 1))
                    if len(body) < 16:
                        return None
                    bytes_per_second = struct.unpack("<I", body[8:12])[0]
                else:
                    handle.seek(size + (size & 1), os.SEEK_CUR)
    except OSError:
        return None  # the decoder reports an unreadable file
    return None


def _problem(size: int, layout: WavLayout | None) -> str | None:
    """Why the file is not whole yet, or None."""
    if layout is None:
        return None
    held = size - layout.data_offset
    if layout.data_bytes in _PLACEHOLDER_SIZES and held > 0:
        return (
            f"its header gives no length yet (the DAW has not finished it); the file holds "
            f"{layout.seconds(held):.3f} s"
        )
    if size < layout.promised_bytes:
        return (
            f"its header promises {layout.seconds(layout.data_bytes):.3f} s of audio but the "
            f"file holds {layout.seconds(held):.3f} s"
        )
    return None


def wait_until_whole(
    path: Path,
    max_wait_seconds: float = SETTLE_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return once `path` is whole: not shorter than its header says, and, when it was
    modified within FRESH_SECONDS, unchanged for STEADY_SECONDS. Waits at most
    `max_wait_seconds`, then raises AudioError saying the file is incomplete, with the
    length its header promises and the length it holds (or how much it grew meanwhile)."""
    started = clock()
    info = path.stat()
    layout = wav_layout(path)
    problem = _problem(info.st_size, layout)
    if problem is None and time.time() - info.st_mtime > FRESH_SECONDS:
        return
    steady_since = started
    grew_bytes = 0
    while True:
        sleep(_POLL_SECONDS)
        now = clock()
        latest = path.stat()
        if (latest.st_size, latest.st_mtime_ns) != (info.st_size, info.st_mtime_ns):
            grew_bytes += latest.st_size - info.st_size
            info, layout, steady_since = latest, wav_layout(path), now
            problem = _problem(info.st_size, layout)
        if problem is None and now - steady_since >= STEADY_SECONDS:
            return
        if now - started >= max_wait_seconds:
            break
    if problem is None:  # whole as far as its header goes, but it kept changing
        problem = f"it grew by {grew_bytes} bytes while the sidecar waited, to {info.st_size}"
    raise AudioError(
        f"clip: '{path}' is incomplete: {problem} (waited {max_wait_seconds:g} s for the DAW "
        "to finish writing it); run the action again once it has"
    )
