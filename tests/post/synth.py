"""Test material of known tempo: click tracks and kick/snare/hat patterns, synthesized."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.signal

__all__ = [
    "Material",
    "arpeggio",
    "clicks",
    "compound",
    "drums",
    "half_time_trap",
    "noise",
    "offbeat_house",
    "onset_times",
    "placed",
    "tonal_note",
]


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


def _bass_note(sample_rate: int, freq: float, seconds: float, gain: float) -> np.ndarray:
    """A synth bass note: a saw (harmonics to 3 kHz) through a 900 Hz low-pass, 4 ms attack."""
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    tone = _band_limited_saw(sample_rate, freq, n, 0.0, 3000.0)
    tone = scipy.signal.sosfilt(scipy.signal.butter(2, 900.0, fs=sample_rate, output="sos"), tone)
    envelope = np.minimum(1.0, t / 0.004) * np.clip((seconds - t) / 0.015, 0.0, 1.0)
    return gain * envelope * (0.7 + 0.3 * np.exp(-t / 0.2)) * tone


def _pluck(sample_rate: int, freq: float, gain: float) -> np.ndarray:
    """A plucked synth note: a saw (harmonics to 5 kHz), 2 ms attack, 0.18 s decay."""
    n = int(0.4 * sample_rate)
    t = np.arange(n) / sample_rate
    tone = _band_limited_saw(sample_rate, freq, n, 0.0, 5000.0)
    return gain * np.minimum(1.0, t / 0.002) * np.exp(-t / 0.18) * tone


def _sub808(sample_rate: int, freq: float, seconds: float, gain: float) -> np.ndarray:
    """An 808 sub: a sine that drops from 1.6x to its pitch in ~30 ms, held for `seconds`."""
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    freqs = freq * (1.0 + 0.6 * np.exp(-t / 0.03))
    phase = 2 * np.pi * np.cumsum(freqs) / sample_rate
    release = np.clip((seconds - t) / 0.02, 0.0, 1.0)
    return gain * np.minimum(1.0, t / 0.002) * release * np.exp(-t / 1.2) * np.sin(phase)


def _midi_hz(note: int) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def offbeat_house(
    bpm: float,
    bars: float = 8,
    sample_rate: int = 32000,
    channels: int = 1,
    bass_gain: float = 0.3,
    lead_seconds: float = 0.25,
    seed: int = 0,
) -> Material:
    """Four on the floor with an off-beat bass: kick on every beat (0.9 on 1, 0.75 on 2-4),
    clap on 2 and 4, a filtered saw bass note on every "and", quiet sixteenth hats.

    A harmonic bass note lights more spectral bands than a kick, so a full-band onset curve
    peaks on the bass: the beat is still the kick.
    """
    rng = np.random.default_rng(seed)
    beat = 60.0 / bpm
    hits = []
    notes = (45, 45, 48, 43)
    for i in range(int(np.ceil(bars * 4))):
        when = lead_seconds + i * beat
        hits.append((when, kick(sample_rate, 0.9 if i % 4 == 0 else 0.75)))
        if i % 2 == 1:
            hits.append((when, _snare(sample_rate, rng, 0.4)))
        freq = _midi_hz(notes[(i // 4) % 4])
        hits.append((when + beat / 2, _bass_note(sample_rate, freq, 0.45 * beat, bass_gain)))
        for q in range(4):
            hits.append((when + q * beat / 4, _hat(sample_rate, rng, 0.12 if q % 2 else 0.06)))
    total = lead_seconds + bars * 4 * beat + 0.3
    return Material(_render(hits, total, sample_rate, channels), sample_rate, bpm, lead_seconds)


def arpeggio(
    bpm: float,
    bars: float = 8,
    sample_rate: int = 32000,
    channels: int = 1,
    lead_seconds: float = 0.0,
) -> Material:
    """No drums: a sixteenth-note plucked arpeggio over four chords, and a low chord tone
    (a held electric-piano-like note) on each bar's downbeat. Every sixteenth is an equal
    onset; only the low note says where the beat and the bar begin."""
    beat = 60.0 / bpm
    chords = ((57, 60, 64, 69), (53, 57, 60, 65), (48, 52, 55, 60), (55, 59, 62, 67))
    hits = []
    t = np.arange(int(2.0 * sample_rate)) / sample_rate
    for bar in range(int(np.ceil(bars))):
        chord = chords[bar % 4]
        start = lead_seconds + bar * 4 * beat
        for q in range(16):
            order = q % 4 if (q // 4) % 2 == 0 else 3 - q % 4
            hits.append(
                (start + q * beat / 4, _pluck(sample_rate, _midi_hz(chord[order] + 12), 0.22))
            )
        root = _midi_hz(chord[0] - 12)
        low = sum(
            a * np.sin(2 * np.pi * h * root * t) * np.exp(-t * (1.2 + 0.8 * h))
            for h, a in ((1, 1.0), (2, 0.5), (3, 0.25), (4, 0.12))
        )
        hits.append((start, 0.35 * np.minimum(1.0, t / 0.003) * low))
    total = lead_seconds + bars * 4 * beat + 0.3
    return Material(_render(hits, total, sample_rate, channels), sample_rate, bpm, lead_seconds)


def half_time_trap(
    bpm: float,
    bars: float = 8,
    sample_rate: int = 32000,
    channels: int = 1,
    lead_seconds: float = 0.18,
    seed: int = 0,
) -> Material:
    """Half-time trap counted at `bpm`: kick + 808 on 1, "a" of 2 (1.75) and "and" of 4
    (3.5), snare and clap on 3, sixteenth hats with a triplet roll every other bar.

    The 808 under the syncopated kick on 3.5 is the loudest low hit of the bar: an accent
    curve alone would put the beat half a beat late; the snare on 3 and the kick on 1 say
    otherwise."""
    rng = np.random.default_rng(seed)
    beat = 60.0 / bpm
    hits = []
    for bar in range(int(np.ceil(bars))):
        start = lead_seconds + bar * 4 * beat
        sub = _midi_hz(34 if bar % 4 < 2 else 37)
        for pos, gain, freq, length in ((0.0, 0.9, sub, 1.6), (1.75, 0.7, _midi_hz(34), 0.7)):
            hits.append((start + pos * beat, kick(sample_rate, gain)))
            hits.append((start + pos * beat, _sub808(sample_rate, freq, length * beat, 0.7)))
        hits.append((start + 3.5 * beat, kick(sample_rate, 0.7)))
        hits.append((start + 3.5 * beat, _sub808(sample_rate, _midi_hz(41), 0.45 * beat, 0.7)))
        hits.append((start + 2 * beat, _snare(sample_rate, rng, 0.6)))
        for q in range(16):
            hits.append((start + q * beat / 4, _hat(sample_rate, rng, 0.14 if q % 2 else 0.2)))
        if bar % 2 == 1:
            for j in range(6):
                hits.append((start + (3 + j / 6) * beat, _hat(sample_rate, rng, 0.1)))
    total = lead_seconds + bars * 4 * beat + 0.3
    return Material(_render(hits, total, sample_rate, channels), sample_rate, bpm, lead_seconds)


def compound(
    dotted_bpm: float,
    bars: float = 8,
    sample_rate: int = 32000,
    channels: int = 1,
    dotted_per_bar: int = 2,
    lead_seconds: float = 0.2,
    seed: int = 0,
) -> Material:
    """6/8 (`dotted_per_bar` 2) or 12/8 (4): bars of dotted-quarter beats of three eighths.

    Kick on 1, snare on every other dotted quarter, a soft kick on the bar's last eighth,
    eighth-note hats, a bass note on each dotted quarter. `Material.bpm` is what a DAW sends
    for it: the quarter-note tempo, 1.5 x `dotted_bpm` (a 6/8 bar is 3 quarter beats, 12/8 6).
    """
    rng = np.random.default_rng(seed)
    dotted = 60.0 / dotted_bpm
    eighth = dotted / 3
    hits = []
    for bar in range(int(np.ceil(bars))):
        start = lead_seconds + bar * dotted_per_bar * dotted
        for d in range(dotted_per_bar):
            when = start + d * dotted
            hits.append(
                (when, kick(sample_rate, 0.9) if d % 2 == 0 else _snare(sample_rate, rng, 0.6))
            )
            note = 40 + 5 * (bar % 2) if d % 2 == 0 else 47
            hits.append((when, _bass_note(sample_rate, _midi_hz(note), 0.45 * dotted, 0.3)))
            for e in range(3):
                hits.append((when + e * eighth, _hat(sample_rate, rng, 0.2 if e == 0 else 0.1)))
        hits.append((start + (3 * dotted_per_bar - 1) * eighth, kick(sample_rate, 0.5)))
    total = lead_seconds + bars * dotted_per_bar * dotted + 0.3
    audio = _render(hits, total, sample_rate, channels)
    return Material(audio, sample_rate, dotted_bpm * 1.5, lead_seconds)
