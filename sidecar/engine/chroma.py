"""③ Melody conditioning features: the one-hot chroma that MusicGen-Melody was trained on."""

from __future__ import annotations

import functools

import numpy as np
import torch
from transformers.audio_utils import chroma_filter_bank

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


def melody_features(audio: np.ndarray, sample_rate: int, batch: int) -> torch.Tensor:
    """One-hot dominant-chroma frames `(batch, frames, 12)` of mono-mixed `audio` (ch, samples).

    Same recipe as transformers' MusicgenMelodyFeatureExtractor (power STFT of n_fft 16384,
    hop 4096, window-normalized, chroma filter bank, argmax per frame), computed with torch.stft
    so no torchaudio is needed. The clip is padded or cut to the 30 s window.
    """
    mono = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)).mean(dim=0)
    length = _WINDOW_SECONDS * sample_rate
    mono = torch.nn.functional.pad(mono[:length], (0, max(0, length - mono.shape[0])))
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
    return onehot.unsqueeze(0).expand(batch, -1, -1).contiguous()
