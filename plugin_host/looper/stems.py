"""Load delivered stems as loops: resample, match channels, pad or trim to the bar grid."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from plugin_host.looper.scheduler import fit_to_length
from sidecar.errors import SidecarError
from sidecar.files.audiofile import read_audio

__all__ = ["load_loop", "to_stream_layout"]

logger = logging.getLogger(__name__)


def to_stream_layout(
    audio: np.ndarray, file_sample_rate: int, sample_rate: int, channels: int
) -> np.ndarray:
    """`(channels, frames)` at `file_sample_rate` → `(frames, channels)` float32 at `sample_rate`.

    Resampling is linear interpolation: a fallback for a sidecar that did not deliver the
    requested rate, not a quality path. Mono is copied to every channel; extra channels dropped.
    """
    if file_sample_rate != sample_rate:
        n_out = max(1, round(audio.shape[1] * sample_rate / file_sample_rate))
        x_old = np.arange(audio.shape[1], dtype=np.float64) / file_sample_rate
        x_new = np.arange(n_out, dtype=np.float64) / sample_rate
        audio = np.stack([np.interp(x_new, x_old, ch) for ch in audio])
    if audio.shape[0] < channels:
        audio = np.concatenate([audio] + [audio[-1:]] * (channels - audio.shape[0]))
    return np.ascontiguousarray(audio[:channels].T, dtype=np.float32)


def load_loop(path: Path, sample_rate: int, channels: int, num_frames: int) -> np.ndarray | None:
    """Read one stem and fit it to exactly `num_frames`; None (logged) if it cannot be read."""
    try:
        audio, rate = read_audio(path)
    except SidecarError as e:
        logger.error("cannot read stem %s: %s", path, e)
        return None
    return fit_to_length(to_stream_layout(audio, rate, sample_rate, channels), num_frames)
