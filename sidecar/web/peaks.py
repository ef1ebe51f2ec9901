"""Waveform peaks for the page: per channel, the min and max of each of N equal slices."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sidecar.files.audiofile import read_audio

__all__ = ["MAX_BUCKETS", "Peaks", "peaks_of", "read_peaks"]

#: The most slices a page may ask for (a wide screen at 2x is ~4000 pixels).
MAX_BUCKETS = 8192


@dataclass(frozen=True)
class Peaks:
    sample_rate: int
    frames: int
    #: Per channel, per slice: (min, max), rounded to 1/1000.
    minmax: tuple[tuple[tuple[float, float], ...], ...]

    @property
    def duration_seconds(self) -> float:
        return self.frames / self.sample_rate

    def to_json(self) -> dict[str, object]:
        return {
            "sample_rate": self.sample_rate,
            "frames": self.frames,
            "duration_seconds": self.duration_seconds,
            "channels": [[list(p) for p in channel] for channel in self.minmax],
        }


def peaks_of(audio: np.ndarray, sample_rate: int, buckets: int) -> Peaks:
    """`(channels, samples)` audio → `buckets` (min, max) pairs per channel."""
    channels, frames = audio.shape
    n = max(1, min(buckets, frames))
    edges = np.linspace(0, frames, n + 1).astype(np.int64)
    starts = edges[:-1]
    lo = np.minimum.reduceat(audio, starts, axis=1)
    hi = np.maximum.reduceat(audio, starts, axis=1)
    minmax = tuple(
        tuple(zip(np.round(lo[c], 3).tolist(), np.round(hi[c], 3).tolist(), strict=True))
        for c in range(channels)
    )
    return Peaks(sample_rate, frames, minmax)


def read_peaks(path: Path, buckets: int) -> Peaks:
    """Peaks of an audio file (decoded by the clip reader, with its limits and errors)."""
    audio, sample_rate = read_audio(path)
    return peaks_of(audio, sample_rate, buckets)
