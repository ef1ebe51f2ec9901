"""Waveform peaks for the page: per channel, the min and max of each of N equal slices."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sidecar.files.audiofile import read_audio

__all__ = ["MAX_BUCKETS", "PEAK_SCALE", "Peaks", "peaks_of", "read_peaks"]

#: The most slices a page may ask for (a wide screen at 2x is ~4000 pixels).
MAX_BUCKETS = 8192
#: Peaks are sent as integers: sample value × PEAK_SCALE.
PEAK_SCALE = 1000


@dataclass(frozen=True)
class Peaks:
    sample_rate: int
    frames: int
    #: `(channels, slices, 2)`: each slice's min and max.
    minmax: np.ndarray

    @property
    def duration_seconds(self) -> float:
        return self.frames / self.sample_rate

    def to_json(self) -> dict[str, object]:
        return {
            "sample_rate": self.sample_rate,
            "frames": self.frames,
            "duration_seconds": self.duration_seconds,
            # In thousandths (a pixel of a 1000-pixel lane): short integers, small JSON.
            "scale": PEAK_SCALE,
            "channels": np.round(np.clip(self.minmax, -4.0, 4.0) * PEAK_SCALE)
            .astype(np.int32)
            .tolist(),
        }


def peaks_of(audio: np.ndarray, sample_rate: int, buckets: int) -> Peaks:
    """`(channels, samples)` audio → `buckets` (min, max) pairs per channel."""
    frames = audio.shape[1]
    n = max(1, min(buckets, frames))
    edges = np.linspace(0, frames, n + 1).astype(np.int64)
    starts = edges[:-1]
    lo = np.minimum.reduceat(audio, starts, axis=1)
    hi = np.maximum.reduceat(audio, starts, axis=1)
    return Peaks(sample_rate, frames, np.stack([lo, hi], axis=-1))


def read_peaks(path: Path, buckets: int) -> Peaks:
    """Peaks of an audio file (decoded by the clip reader, with its limits and errors)."""
    audio, sample_rate = read_audio(path)
    return peaks_of(audio, sample_rate, buckets)
