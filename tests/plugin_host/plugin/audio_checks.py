"""Find a delivered stem inside a host's output, exactly, and the bar lines it must start on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import fftconvolve

__all__ = [
    "HOST_RATE",
    "Found",
    "bar_frames",
    "expected_take",
    "find_stem",
    "mono",
    "read_mono",
    "resample_to",
    "tile_loop",
    "write_amen_bar",
]

AMEN = Path("/usr/share/sonic-pi/samples/loop_amen.flac")  # Debian's sonic-pi-samples

HOST_RATE = 48000


def bar_frames(bpm: float, numerator: int, denominator: int, sample_rate: int) -> float:
    """One bar in frames (bpm in quarter notes a minute, as hosts report it)."""
    return numerator * 4.0 / denominator * 60.0 / bpm * sample_rate


def mono(audio: np.ndarray) -> np.ndarray:
    """(frames,) float64 from (frames,) or (frames, channels)."""
    a = np.asarray(audio, dtype=np.float64)
    return a if a.ndim == 1 else a.mean(axis=1)


def read_mono(path: Path) -> tuple[np.ndarray, int]:
    data, rate = sf.read(str(path), dtype="float64", always_2d=True)
    return mono(data), int(rate)


def resample_to(audio: np.ndarray, rate_from: int, rate_to: int) -> np.ndarray:
    if rate_from == rate_to:
        return audio
    import soxr

    return np.asarray(soxr.resample(audio, rate_from, rate_to, quality="VHQ"), dtype=np.float64)


@dataclass(frozen=True)
class Found:
    offset: int  # output frame where the stem's first frame is
    max_error: float  # largest |output - stem| over the compared frames
    correlation: float  # normalised, 1.0 = identical shape


def find_stem(
    output: np.ndarray, stem: np.ndarray, start: int = 0, stop: int | None = None,
    compare_frames: int = 24000,
) -> Found:
    """Where the first `compare_frames` of `stem` first occur in output[start:stop] (FFT
    correlation; the earliest of equally good matches, as a looping take repeats),
    and how exactly they match there (sample by sample, no gain or shift allowed)."""
    n = min(compare_frames, stem.size)
    template = stem[:n]
    region = output[start: (stop if stop is not None else output.size)]
    if region.size < n:
        raise AssertionError(f"output region of {region.size} frames is shorter than {n}")
    corr = fftconvolve(region, template[::-1], mode="valid")
    power = np.concatenate([[0.0], np.cumsum(region**2)])
    window = np.maximum(power[n:] - power[:-n], 0.0)  # energy of each n-frame window
    energy = np.sqrt(window * float(template @ template))
    score = corr / np.maximum(energy, 1e-12)
    best = int(np.nonzero(score >= score.max() - 1e-4)[0][0])  # the first of equal matches
    offset = start + best
    error = float(np.max(np.abs(output[offset: offset + n] - template)))
    return Found(offset, error, float(score[best]))


def tile_loop(loop: Path, bars: int, out: Path) -> Path:
    """`bars` copies of a one-bar loop, back to back."""
    data, rate = sf.read(str(loop), dtype="float32", always_2d=True)
    sf.write(str(out), np.tile(data, (bars, 1)), rate, subtype="FLOAT")
    return out


def expected_take(
    timeline: list[list[float]], stem: np.ndarray, start_ppq: float, take_bpm: float,
    take_frames: int, sample_rate: int = HOST_RATE, loop: bool = True,
) -> np.ndarray:
    """What a take player locked to the host grid outputs (mix 1), frame by frame.

    `timeline` is the test host's record, one [frames, ppq, bpm, playing, positioned] per
    block: the host's true position, also for blocks the plugin was shown no position. A frame
    at ppq p >= start_ppq plays stem[round((p - start_ppq) x 60 / take_bpm x rate) mod
    take_frames] (INTERFACE.md's timing model); silence while stopped. A looping take lies on
    the grid both ways from its start bar once it has started (a jump back before the start
    bar plays the frame that bar maps to); before it first starts it is silent.
    """
    out = []
    started = False  # silent until the take first reaches its start bar
    for frames, ppq, bpm, playing, _positioned in timeline:
        n = int(frames)
        block = np.zeros(n)
        if playing:
            p = ppq + np.arange(n) * bpm / 60.0 / sample_rate
            pos = np.round((p - start_ppq) * 60.0 / take_bpm * sample_rate).astype(np.int64)
            if started and loop:
                live = np.ones(n, dtype=bool)
            else:
                live = (pos >= 0) & (pos < take_frames if not loop else True)
                started = started or bool(live.any())
                if started and loop:  # from its first frame on, the loop plays everywhere
                    first = int(np.argmax(live))
                    live[first:] = True
            pos = np.mod(pos, take_frames)
            live &= pos < stem.size
            block[live] = stem[pos[live]]
        out.append(block)
    return np.concatenate(out) if out else np.zeros(0)


def write_amen_bar(folder: Path) -> tuple[Path, float]:
    """One bar of a recorded drum loop (the amen break) resampled to 48 kHz, as a float WAV in
    `folder`, and the tempo that makes it one 4/4 bar."""
    data, rate = sf.read(str(AMEN), dtype="float64", always_2d=True)
    channels = [resample_to(data[:, c], rate, HOST_RATE) for c in range(data.shape[1])]
    audio = np.stack(channels, axis=1).astype(np.float32)
    path = folder / "amen-48k.wav"
    sf.write(str(path), audio, HOST_RATE, subtype="FLOAT")
    return path, 4 * 60.0 * HOST_RATE / audio.shape[0]
