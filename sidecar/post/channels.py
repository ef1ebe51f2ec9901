"""⑤ Audio array checks and channel layout: (channels, samples) float32, downmix and upmix."""

from __future__ import annotations

import numpy as np

from sidecar.errors import AudioError

__all__ = ["MAX_CHANNELS", "as_audio", "to_channels", "to_mono"]

#: More channels than this is almost certainly a transposed `(samples, channels)` array.
MAX_CHANNELS = 8


def as_audio(
    audio: np.ndarray, what: str = "audio", max_channels: int = MAX_CHANNELS
) -> np.ndarray:
    """Return `audio` as a contiguous float32 `(channels, samples)` array, or raise `AudioError`.

    A 1-D array is taken as mono. `what` names the array in error messages; `max_channels`
    is more only for stems stacked to be processed as one (a separated set).
    """
    array = np.asarray(audio)
    if array.ndim == 1:
        array = array[np.newaxis, :]
    if array.ndim != 2:
        raise AudioError(f"{what}: expected a (channels, samples) array; got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        raise AudioError(f"{what}: expected float samples in [-1, 1]; got dtype {array.dtype}")
    channels, samples = array.shape
    if channels < 1 or channels > max_channels:
        raise AudioError(
            f"{what}: {channels} channels in shape {array.shape}; expected 1 to {max_channels} "
            "(is the array (samples, channels)? transpose it)"
        )
    if samples == 0:
        raise AudioError(f"{what}: holds no samples (shape {array.shape})")
    out = np.ascontiguousarray(array, dtype=np.float32)
    if not np.all(np.isfinite(out)):
        raise AudioError(f"{what}: holds NaN or Inf samples")
    return out


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Average the channels of `(channels, samples)` audio into one 1-D float32 signal."""
    if audio.shape[0] == 1:
        return np.asarray(audio[0], dtype=np.float32)
    return np.asarray(audio.mean(axis=0), dtype=np.float32)


def to_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    """Downmix or upmix `(channels, samples)` audio to `channels` (1 or 2).

    Mono is the average of all channels (no gain change for correlated material). Stereo from
    mono duplicates the channel; stereo from more than two channels keeps the first two
    (front left and right in the usual WAV channel order).
    """
    if channels not in (1, 2):
        raise ValueError(f"channels must be 1 or 2; got {channels}")
    have = audio.shape[0]
    if have == channels:
        return audio
    if channels == 1:
        return to_mono(audio)[np.newaxis, :]
    if have == 1:
        return np.ascontiguousarray(np.repeat(audio, 2, axis=0))
    return np.ascontiguousarray(audio[:2])
