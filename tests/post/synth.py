"""Test material of known tempo: click tracks and kick/snare/hat patterns, synthesized."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["Material", "clicks", "drums", "noise", "onset_times", "placed", "tonal_note"]


@dataclass(frozen=True)
class Material:
    audio: np.ndarray  # float32 (channels, samples)
    sample_rate: int
    bpm: float
    first_downbeat_seconds: float


def kick(sample_rate: int, gain: float) -> np.ndarray:
    t = np.arange(int(0.35 * sample_rate)) / sample_rate
    freq = 50.0 + 110.0 * np.exp(-t / 0.03)
    phase = 2 * np.pi * np.cumsum(freq) / sample_rate
    attack = np.minimum(1.0, t / 0.001)
    return gain * attack * np.exp(-t / 0.12) * np.sin(phase - phase[0])


def _snare(sample_rate: int, rng: np.random.Generator, gain: float) -> np.ndarray:
    t = np.arange(int(0.2 * sample_rate)) / sample_rate
    attack = np.minimum(1.0, t / 0.001)
    body = np.sin(2 * np.pi * 190.0 * t) * np.exp(-t / 0.05)
    rattle = np.diff(rng.standard_normal(t.size + 1)) * 0.5 * np.exp(-t / 0.07)
    return gain * attack * (0.6 * body + 0.5 * rattle)


def _hat(sample_rate: int, rng: np.random.Generator, gain: float) -> np.ndarray:
    t = np.arange(int(0.06 * sample_rate)) / sample_rate
    noise = np.diff(np.diff(rng.standard_normal(t.size + 2)))
    return gain * 0.25 * noise * np.exp(-t / 0.012)


def _click(sample_rate: int, freq: float, gain: float) -> np.ndarray:
    t = np.arange(int(0.03 * sample_rate)) / sample_rate
    return gain * np.sin(2 * np.pi * freq * t) * np.exp(-t / 0.006)


def _band_limited_saw(
    sample_rate: int, freq: float, num_samples: int, phase: float, top_hz: float
) -> np.ndarray:
    """A sawtooth from its harmonics up to `top_hz` (no aliasing), peak about 1."""
    t = np.arange(num_samples) / sample_rate
    out = np.zeros(num_samples)
    for k in range(1, int(top_hz / freq) + 1):
        out += (-1) ** (k + 1) * np.sin(2 * np.pi * k * freq * t + k * phase) / k
    return out * 2 / np.pi


def tonal_note(
    sample_rate: int,
    freq: float,
    attack_seconds: float,
    wave: Literal["sine", "saw", "pad"] = "sine",
    phase: float = 0.0,
    seconds: float = 0.6,
    gain: float = 0.5,
) -> np.ndarray:
    """A held note whose onset is sample 0: a linear attack from silence, then a slow decay.

    "sine" and "saw" (harmonics up to 6 kHz) play `freq` starting at `phase`; "pad" is a chord
    of saws (harmonics up to 3 kHz): the root twice, 0.3 % flat and sharp, its major third and
    its fifth. The envelope rises from 0 at sample 0 to `gain` at `attack_seconds`.
    """
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    if wave == "sine":
        tone = np.sin(2 * np.pi * freq * t + phase)
    elif wave == "saw":
        tone = _band_limited_saw(sample_rate, freq, n, phase, 6000.0)
    else:
        voices = (freq * 0.997, freq * 1.003, freq * 2 ** (4 / 12), freq * 2 ** (7 / 12))
        tone = (
            sum(
                _band_limited_saw(sample_rate, f, n, phase + i, 3000.0)
                for i, f in enumerate(voices)
            )
            / 3
        )
    envelope = np.minimum(1.0, t / attack_seconds) * np.exp(-np.maximum(0.0, t - attack_seconds))
    return gain * envelope * tone


def placed(
    sound: np.ndarray,
    onset_seconds: float,
    total_seconds: float,
    sample_rate: int,
    noise_dbfs: float = -60.0,
    seed: int = 0,
) -> np.ndarray:
    """`sound` starting at `onset_seconds` over a white-noise floor: float32 `(1, samples)`."""
    rng = np.random.default_rng(seed)
    out = 10 ** (noise_dbfs / 20) * rng.standard_normal(int(round(total_seconds * sample_rate)))
    start = int(round(onset_seconds * sample_rate))
    end = min(out.size, start + sound.size)
    out[start:end] += sound[: end - start]
    return out.astype(np.float32)[np.newaxis, :]


def _render(
    hits: list[tuple[float, np.ndarray]], total_seconds: float, sample_rate: int, channels: int
) -> np.ndarray:
    out = np.zeros(int(round(total_seconds * sample_rate)), dtype=np.float64)
    for when, sound in hits:
        start = int(round(when * sample_rate))
        if start >= out.size:
            continue
        end = min(out.size, start + sound.size)
        out[start:end] += sound[: end - start]
    stereo = np.stack([out] * channels)
    if channels == 2:
        stereo[1] *= 0.9  # not dual mono
    return stereo.astype(np.float32)


def _beat_times(bpm: float, bars: float, beats_per_bar: int, pickup_beats: int) -> np.ndarray:
    beat = 60.0 / bpm
    count = int(np.ceil(bars * beats_per_bar)) + pickup_beats
    return np.arange(count) * beat


def clicks(
    bpm: float,
    bars: float = 8,
    sample_rate: int = 48000,
    channels: int = 2,
    beats_per_bar: int = 4,
    pickup_beats: int = 0,
    tail_seconds: float = 0.5,
) -> Material:
    """A metronome: accented 2 kHz click on each downbeat, 1 kHz on the other beats."""
    beat = 60.0 / bpm
    hits = []
    for i, when in enumerate(_beat_times(bpm, bars, beats_per_bar, pickup_beats)):
        is_downbeat = (i - pickup_beats) % beats_per_bar == 0
        hits.append(
            (
                when,
                _click(sample_rate, 2000.0 if is_downbeat else 1000.0, 0.9 if is_downbeat else 0.5),
            )
        )
    total = (bars * beats_per_bar + pickup_beats) * beat + tail_seconds
    audio = _render(hits, total, sample_rate, channels)
    return Material(audio, sample_rate, bpm, pickup_beats * beat)


def drums(
    bpm: float,
    bars: float = 8,
    sample_rate: int = 48000,
    channels: int = 2,
    beats_per_bar: int = 4,
    pickup_beats: int = 0,
    tail_seconds: float = 0.5,
    seed: int = 0,
) -> Material:
    """Kick on 1 (accented) and 3, snare on 2 and 4, closed hats on every eighth note."""
    rng = np.random.default_rng(seed)
    beat = 60.0 / bpm
    hits = []
    for i, when in enumerate(_beat_times(bpm, bars, beats_per_bar, pickup_beats)):
        pos = (i - pickup_beats) % beats_per_bar
        if pos == 0:
            hits.append((when, kick(sample_rate, 0.9)))
        elif pos % 2 == 0:
            hits.append((when, kick(sample_rate, 0.6)))
        else:
            hits.append((when, _snare(sample_rate, rng, 0.5)))
        hits.append((when, _hat(sample_rate, rng, 0.3)))
        hits.append((when + beat / 2, _hat(sample_rate, rng, 0.2)))
    total = (bars * beats_per_bar + pickup_beats) * beat + tail_seconds
    audio = _render(hits, total, sample_rate, channels)
    return Material(audio, sample_rate, bpm, pickup_beats * beat)


def noise(seconds: float, sample_rate: int = 32000, channels: int = 1, seed: int = 0) -> np.ndarray:
    """White noise at about -20 dBFS RMS: what a random-weight model produces, no tempo."""
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal((channels, int(seconds * sample_rate)))).astype(np.float32)


def onset_times(audio: np.ndarray, sample_rate: int, threshold: float = 0.1) -> np.ndarray:
    """Attack times in seconds, independent of the code under test.

    An attack is where the 1 ms peak envelope first exceeds `threshold` x the overall peak
    after at least 40 ms below it: fine for sparse percussive test material.
    """
    mono = np.abs(audio).max(axis=0)
    hop = max(1, sample_rate // 1000)
    frames = mono[: mono.size // hop * hop].reshape(-1, hop).max(axis=1)
    above = frames > threshold * frames.max()
    times = []
    quiet = 40
    for i, flag in enumerate(above):
        if flag and quiet >= 40:
            start = i * hop
            seg = mono[start : start + hop]
            times.append((start + int(np.argmax(seg > threshold * frames.max()))) / sample_rate)
        quiet = 0 if flag else quiet + 1
    return np.asarray(times)
