"""Preallocated single-producer ring buffer of audio frames, addressed by absolute frame index."""

from __future__ import annotations

import numpy as np

__all__ = ["AudioRing", "RingOverrunError"]


class RingOverrunError(Exception):
    """The requested frames were already overwritten (or not yet written)."""


class AudioRing:
    """`capacity_frames` × `channels` float32 frames; one writer (the audio callback), any readers.

    The writer copies a block in at most two slices and then publishes the new absolute frame
    count with a single attribute store, so a reader never waits and never sees a torn block.
    Frames are addressed by their absolute index since the stream started; a reader copies a range
    out and re-checks the frame count afterwards, so data overwritten during the copy is detected.
    """

    def __init__(self, capacity_frames: int, channels: int) -> None:
        if capacity_frames <= 0:
            raise ValueError(f"capacity_frames must be > 0; got {capacity_frames}")
        if channels <= 0:
            raise ValueError(f"channels must be > 0; got {channels}")
        self._data = np.zeros((capacity_frames, channels), dtype=np.float32)
        self._capacity = capacity_frames
        self._channels = channels
        self._frames_written = 0

    @property
    def capacity_frames(self) -> int:
        return self._capacity

    @property
    def channels(self) -> int:
        return self._channels

    @property
    def frames_written(self) -> int:
        """Absolute count of frames written since the start (the index of the next frame)."""
        return self._frames_written

    def write(self, block: np.ndarray) -> None:
        """Append a `(frames, channels)` block. Real-time safe: copies only, no allocation of data.

        A block longer than the capacity keeps only its last `capacity_frames` frames.
        """
        frames = block.shape[0]
        start = self._frames_written
        if frames > self._capacity:
            block = block[frames - self._capacity :]
            start += frames - self._capacity
            frames = self._capacity
        pos = start % self._capacity
        first = min(frames, self._capacity - pos)
        np.copyto(self._data[pos : pos + first], block[:first])
        if first < frames:
            np.copyto(self._data[: frames - first], block[first:frames])
        self._frames_written = start + frames

    def oldest_frame(self) -> int:
        """Absolute index of the oldest frame still held."""
        return max(0, self._frames_written - self._capacity)

    def read(self, start_frame: int, num_frames: int, out: np.ndarray | None = None) -> np.ndarray:
        """Copy frames `[start_frame, start_frame + num_frames)` out as `(num_frames, channels)`.

        Raises `RingOverrunError` if part of the range is not held (too old or not yet written),
        including when the writer overwrote it during the copy.
        """
        if num_frames < 0:
            raise ValueError(f"num_frames must be >= 0; got {num_frames}")
        if num_frames > self._capacity:
            raise RingOverrunError(
                f"asked for {num_frames} frames; the ring holds at most {self._capacity}"
            )
        if out is None:
            out = np.empty((num_frames, self._channels), dtype=np.float32)
        elif out.shape != (num_frames, self._channels):
            raise ValueError(f"out has shape {out.shape}; expected {(num_frames, self._channels)}")
        self._check_range(start_frame, num_frames)
        pos = start_frame % self._capacity
        first = min(num_frames, self._capacity - pos)
        np.copyto(out[:first], self._data[pos : pos + first])
        if first < num_frames:
            np.copyto(out[first:], self._data[: num_frames - first])
        self._check_range(start_frame, num_frames)
        return out

    def _check_range(self, start_frame: int, num_frames: int) -> None:
        written = self._frames_written
        if start_frame + num_frames > written:
            raise RingOverrunError(
                f"frames [{start_frame}, {start_frame + num_frames}) are not written yet "
                f"(written: {written})"
            )
        if start_frame < written - self._capacity:
            raise RingOverrunError(
                f"frame {start_frame} was overwritten; the oldest held frame is "
                f"{written - self._capacity} (capacity {self._capacity} frames)"
            )
