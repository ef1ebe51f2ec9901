"""⑤ Learned beat and downbeat activations: madmom's trained downbeat RNNs, run fast here."""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from functools import cache
from typing import Any

import numba
import numpy as np

from sidecar.post.madmom_import import MadmomUnavailable, madmom
from sidecar.post.resample import resample

__all__ = ["NETWORKS", "BeatActivations", "learned_activations", "learned_available"]

logger = logging.getLogger(__name__)

#: madmom's downbeat models: Böck, Krebs & Widmer, "Joint beat and downbeat tracking with
#: recurrent neural networks" (ISMIR 2016): 8 bidirectional LSTMs (3 layers of 25 units, with
#: peepholes) over a multi-resolution log spectrogram at 100 frames/s, trained on pop, rock,
#: dance, jazz, Latin and classical sets. Weights CC BY-NC-SA 4.0 (madmom's model licence).
FRAME_RATE = 100.0
_MODEL_RATE = 44100
#: How many of the 8 networks are averaged. Measured on the real-music set (bench/tempo_eval.py):
#: the bar line is as often right with 4 as with 8, at half the cost.
NETWORKS = 4


@dataclass(frozen=True)
class BeatActivations:
    """Per-frame probabilities (`FRAME_RATE` frames/s from sample 0) of a beat that is not a
    downbeat, and of a downbeat."""

    beat: np.ndarray
    downbeat: np.ndarray
    frame_rate: float = FRAME_RATE

    @property
    def any_beat(self) -> np.ndarray:
        return np.asarray(self.beat + self.downbeat)


def learned_available() -> bool:
    """Whether madmom's models can be loaded here."""
    try:
        _networks(NETWORKS)
    except MadmomUnavailable:
        return False
    return True


def learned_activations(
    mono: np.ndarray, sample_rate: int, networks: int = NETWORKS
) -> BeatActivations:
    """Beat and downbeat activations of 1-D float `mono` audio, the mean of the first
    `networks` (1-8) of madmom's downbeat networks (MadmomUnavailable without madmom)."""
    layers, output = _networks(networks)
    signal = resample(mono[np.newaxis, :].astype(np.float32), sample_rate, _MODEL_RATE)[0]
    madmom()
    from madmom.audio.signal import Signal

    features = np.asarray(_preprocessor()(Signal(signal, sample_rate=_MODEL_RATE)), np.float32)
    probabilities = _run(features, layers, output)
    return BeatActivations(beat=probabilities[:, 1], downbeat=probabilities[:, 2])


_THREAD = threading.local()


def _preprocessor() -> Any:
    """madmom's own feature chain for these models (one per thread: it caches FFT buffers)."""
    chain = getattr(_THREAD, "chain", None)
    if chain is None:
        madmom()
        from madmom.audio.signal import FramedSignalProcessor
        from madmom.audio.spectrogram import (
            FilteredSpectrogramProcessor,
            LogarithmicSpectrogramProcessor,
            SpectrogramDifferenceProcessor,
        )
        from madmom.audio.stft import ShortTimeFourierTransformProcessor
        from madmom.processors import ParallelProcessor, SequentialProcessor

        branches = []
        for frame_size, bands in ((1024, 3), (2048, 6), (4096, 12)):
            branches.append(
                SequentialProcessor(
                    (
                        FramedSignalProcessor(frame_size=frame_size, fps=FRAME_RATE),
                        ShortTimeFourierTransformProcessor(),
                        FilteredSpectrogramProcessor(
                            num_bands=bands, fmin=30, fmax=17000, norm_filters=True
                        ),
                        LogarithmicSpectrogramProcessor(mul=1, add=1),
                        SpectrogramDifferenceProcessor(
                            diff_ratio=0.5, positive_diffs=True, stack_diffs=np.hstack
                        ),
                    )
                )
            )
        chain = SequentialProcessor((ParallelProcessor(branches), np.hstack))
        _THREAD.chain = chain
    return chain


#: One layer of all networks, both directions stacked (2 * NETWORKS rows, forward first):
#: input weights (in, 4H), recurrent weights (H, 4H), bias (4H), peepholes (3, H) for the
#: input, forget and output gates; gate order input, forget, cell, output.
_Layer = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@cache
def _networks(count: int) -> tuple[tuple[_Layer, ...], tuple[np.ndarray, np.ndarray]]:
    try:
        madmom()
        from madmom.ml.nn import NeuralNetwork
        from madmom.models import DOWNBEATS_BLSTM
    except ImportError as error:
        raise MadmomUnavailable(f"madmom's downbeat models are not installed: {error}") from error
    nets = [NeuralNetwork.load(path) for path in sorted(DOWNBEATS_BLSTM)[:count]]
    depth = len(nets[0].layers) - 1
    layers = []
    for index in range(depth):
        rows = [net.layers[index].fwd_layer for net in nets]
        rows += [net.layers[index].bwd_layer for net in nets]
        layers.append(_stack(rows))
    weights = np.stack([net.layers[-1].weights for net in nets]).astype(np.float32)
    bias = np.stack([net.layers[-1].bias for net in nets]).astype(np.float32)
    logger.info("learned beat tracker: %d madmom downbeat networks loaded", len(nets))
    return tuple(layers), (weights, bias)


def _stack(rows: list[Any]) -> _Layer:
    gates = ("input_gate", "forget_gate", "cell", "output_gate")
    w = np.stack([np.hstack([getattr(r, g).weights for g in gates]) for r in rows])
    rec = np.stack([np.hstack([getattr(r, g).recurrent_weights for g in gates]) for r in rows])
    bias = np.stack([np.hstack([getattr(r, g).bias for g in gates]) for r in rows])
    peep = np.stack(
        [
            [getattr(r, g).peephole_weights for g in ("input_gate", "forget_gate", "output_gate")]
            for r in rows
        ]
    )
    return (
        w.astype(np.float32),
        np.ascontiguousarray(rec, dtype=np.float32),
        bias.astype(np.float32),
        peep.astype(np.float32),
    )


def _run(
    features: np.ndarray, layers: tuple[_Layer, ...], output: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """The ensemble's mean softmax (frames, 3: none, beat, downbeat) for `features`."""
    n = output[0].shape[0]
    data = np.broadcast_to(features, (2 * n, *features.shape))
    hidden = np.empty(0, dtype=np.float32)
    for weights, recurrent, bias, peep in layers:
        projected = np.matmul(data, weights) + bias[:, np.newaxis, :]
        hidden = np.empty((2 * n, features.shape[0], recurrent.shape[1]), dtype=np.float32)
        _scan(np.ascontiguousarray(projected, dtype=np.float32), recurrent, peep, n, hidden)
        joined = np.concatenate([hidden[:n], hidden[n:]], axis=2)
        data = np.concatenate([joined, joined], axis=0)
    logits = np.matmul(data[:n], output[0]) + output[1][:, np.newaxis, :]
    logits -= logits.max(axis=2, keepdims=True)
    odds = np.exp(logits)
    return np.asarray((odds / odds.sum(axis=2, keepdims=True)).mean(axis=0), dtype=np.float64)


@numba.njit(cache=True)
def _sigmoid(x: float) -> float:
    return 0.5 * math.tanh(0.5 * x) + 0.5


@numba.njit(cache=True)
def _scan(
    projected: np.ndarray, recurrent: np.ndarray, peep: np.ndarray, forward: int, out: np.ndarray
) -> None:  # pragma: no cover - compiled
    """The LSTM recurrence (madmom's: peepholes from the old state into the input and forget
    gates, from the new state into the output gate) for every row; rows from `forward` on run
    backwards in time, their outputs stored in forward time order."""
    rows, frames, width = projected.shape
    size = width // 4
    for row in range(rows):
        h = np.zeros(size, dtype=np.float32)
        c = np.zeros(size, dtype=np.float32)
        z = np.empty(width, dtype=np.float32)
        for step in range(frames):
            t = step if row < forward else frames - 1 - step
            for g in range(width):
                z[g] = projected[row, t, g]
            for k in range(size):
                hk = h[k]
                for g in range(width):
                    z[g] += hk * recurrent[row, k, g]
            for j in range(size):
                gate_in = _sigmoid(z[j] + c[j] * peep[row, 0, j])
                gate_forget = _sigmoid(z[size + j] + c[j] * peep[row, 1, j])
                state = math.tanh(z[2 * size + j]) * gate_in + c[j] * gate_forget
                gate_out = _sigmoid(z[3 * size + j] + state * peep[row, 2, j])
                c[j] = state
                h[j] = math.tanh(state) * gate_out
                out[row, t, j] = h[j]
