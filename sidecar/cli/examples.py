"""An example prompt clip the project makes itself: a drum loop of known tempo, for the demo."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sidecar.files.audiofile import write_audio_atomic

__all__ = ["drum_loop", "write_example_clip"]


def drum_loop(
    bpm: float = 120.0,
    bars: int = 2,
    beats_per_bar: int = 4,
    sample_rate: int = 48000,
    seed: int = 0,
) -> np.ndarray:
    """Kick on 1 and 3, snare on 2 and 4, closed hats on eighths: float32 (1, samples)."""
    rng = np.random.default_rng(seed)
    beat = 60.0 / bpm
    total = int(round(bars * beats_per_bar * beat * sample_rate))
    out = np.zeros(total, dtype=np.float64)

    def place(hit: np.ndarray, time_seconds: float) -> None:
        start = int(round(time_seconds * sample_rate))
        end = min(total, start + hit.size)
        out[start:end] += hit[: end - start]

    t = np.arange(int(0.35 * sample_rate)) / sample_rate
    kick = np.sin(2 * np.pi * (50 * t + 60 * (1 - np.exp(-t * 30)) / 30)) * np.exp(-t * 9)
    ts = np.arange(int(0.2 * sample_rate)) / sample_rate
    snare = (0.6 * rng.standard_normal(ts.size) + 0.4 * np.sin(2 * np.pi * 190 * ts)) * np.exp(
        -ts * 22
    )
    th = np.arange(int(0.05 * sample_rate)) / sample_rate
    hat = np.diff(rng.standard_normal(th.size + 1)) * np.exp(-th * 90) * 0.25
    for b in range(bars * beats_per_bar):
        place(0.9 * kick if b % 2 == 0 else 0.7 * snare, b * beat)
        place(hat, b * beat)
        place(hat * 0.7, (b + 0.5) * beat)
    peak = float(np.max(np.abs(out))) or 1.0
    return (out / peak * 0.8).astype(np.float32)[None, :]


def write_example_clip(
    path: Path, bpm: float = 120.0, bars: int = 2, sample_rate: int = 48000
) -> Path:
    """Write the example drum loop as a 24-bit WAV at `path`."""
    return write_audio_atomic(path, drum_loop(bpm, bars, sample_rate=sample_rate), sample_rate)
