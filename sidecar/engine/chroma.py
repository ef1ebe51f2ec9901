"""③ Melody conditioning features: the one-hot chroma that MusicGen-Melody was trained on."""

from __future__ import annotations

import functools

import numpy as np
import torch
from transformers.audio_utils import chroma_filter_bank

from sidecar.errors import RequestError

__all__ = ["melody_features"]

_N_FFT = 16384
_HOP = 4096
_WINDOW_SECONDS = 30


@functools.lru_cache(maxsize=4)
def _filters(sample_rate: int) -> torch.Tensor:
    bank = chroma_filter_bank(
        sampling_rate=sample_rate, num_frequency_bins=_N_FFT, tuning=0, num_chroma=12
    )
    return torch.from_numpy(bank).float()


def _one_hot_chroma(mono: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """`(frames, 12)` one-hot dominant chroma of one mono signal (already cut to the window)."""
    if mono.shape[0] < _N_FFT:  # as the feature extractor: centred in zeros up to one FFT
        pad = _N_FFT - mono.shape[0]
        mono = torch.nn.functional.pad(mono, (pad // 2, pad - pad // 2))
    window = torch.hann_window(_N_FFT)
    spec = torch.stft(
        mono,
        n_fft=_N_FFT,
        hop_length=_HOP,
        window=window,
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )
    power = (spec.abs() / window.pow(2).sum().sqrt()).pow(2)
    raw = torch.einsum("cf,ft->ct", _filters(sample_rate), power)
    norm = torch.nn.functional.normalize(raw, p=float("inf"), dim=0, eps=1e-6).T
    onehot = torch.zeros_like(norm)
    onehot.scatter_(1, norm.argmax(dim=1, keepdim=True), 1.0)
    return onehot


def melody_features(audio: np.ndarray, sample_rate: int, batch: int) -> torch.Tensor:
    """One-hot dominant-chroma frames `(batch, frames, 12)` of mono-mixed `audio`.

    `audio` is one melody `(channels, samples)` for every row, or one per row
    `(batch, channels, samples)`. Same recipe as transformers' MusicgenMelodyFeatureExtractor
    (power STFT of n_fft 16384, hop 4096, window-normalized, chroma filter bank, argmax per
    frame), computed with torch.stft so no torchaudio is needed: a clip is cut to the 30 s
    window and not padded to it (the extractor pads a batch only to its longest clip), so its
    `1 + samples // 4096` frames are tiled over the window by the model: a 2-bar loop's chords
    repeat through the take, as in audiocraft.
    """
    rows = audio if audio.ndim == 3 else audio[None]
    if rows.ndim != 3 or rows.shape[0] not in (1, batch):
        raise RequestError(
            f"melody: shape {audio.shape} is not (channels, samples) or ({batch}, channels, "
            "samples)",
            "melody",
        )
    length = min(rows.shape[-1], _WINDOW_SECONDS * sample_rate)
    mono = torch.from_numpy(np.ascontiguousarray(rows[..., :length], dtype=np.float32)).mean(dim=1)
    frames = torch.stack([_one_hot_chroma(row, sample_rate) for row in mono])
    return frames.expand(batch, -1, -1).contiguous()
