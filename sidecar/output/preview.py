"""④→⑥ Streaming previews: a take's audio so far as one WAV, written off the decoding thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sidecar.files.audiofile import SampleFormat, write_audio_atomic

__all__ = ["PreviewWriter"]

log = logging.getLogger(__name__)


class PreviewWriter:
    """Publishes the first take's audio so far at `path`, always as a complete file.

    `push` (called from the decoding loop) only keeps the chunk and wakes a writer thread, so
    decoding never waits on the disk: on a GPU a 30 s take decodes in under a second, and
    rewriting a growing WAV every 0.25 s took 0.8 s of that thread's time here. The writer
    writes the whole take so far under a temporary name and renames it into place (no fsync:
    a preview is not kept), then calls `on_published(path, seconds_ready)`. If chunks arrive
    faster than the disk takes them, it writes the newest state and skips the ones between, so
    every reply names a complete file holding at least what it says.

    `close()` writes what is pending and stops the thread; `close(discard=True)` drops it (on a
    cancel or an error). A failed write is raised by the next `push` or by `close()`.
    """

    def __init__(
        self,
        path: Path,
        sample_rate: int,
        on_published: Callable[[str, float], None],
        sample_format: SampleFormat = "pcm16",
    ) -> None:
        self.path = path
        self.sample_rate = sample_rate
        self.on_published = on_published
        self.sample_format = sample_format
        self._chunks: list[np.ndarray] = []
        self._seconds_ready = 0.0
        self._written = 0  # chunks in the file on disk
        self._error: BaseException | None = None
        self._closing = False
        self._discard = False
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="sidecar-preview", daemon=True)
        self._thread.start()

    def push(self, chunk: np.ndarray, seconds_ready: float) -> None:
        """Adds `chunk` (`(channels, samples)` of the first take) and returns at once."""
        with self._wake:
            if self._error is not None:
                raise self._error
            self._chunks.append(chunk)
            self._seconds_ready = seconds_ready
            self._wake.notify()

    def close(self, discard: bool = False) -> None:
        """Writes what is pending (unless `discard`), then stops the writer thread."""
        with self._wake:
            self._closing = True
            self._discard = discard
            self._wake.notify()
        self._thread.join()
        if self._error is not None and not discard:
            raise self._error

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._closing and len(self._chunks) == self._written:
                    self._wake.wait()
                if self._discard or len(self._chunks) == self._written:
                    return
                count, seconds = len(self._chunks), self._seconds_ready
                chunks = self._chunks[:count]
            try:
                audio = np.concatenate(chunks, axis=-1)
                write_audio_atomic(
                    self.path, audio, self.sample_rate, self.sample_format, durable=False
                )
                self.on_published(str(self.path), round(seconds, 3))
            except Exception as e:  # handed to the decoding thread, which fails the job
                log.warning("preview %s: %s", self.path.name, e)
                with self._wake:
                    self._error = e
                return
            self._written = count
