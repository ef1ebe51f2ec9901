"""③ Benchmark: separating a take into its parts with Demucs, beside the generation it follows.

For each separator (real architecture and size, random weights: `random-htdemucs`, ...) and
each take length (8 bars at 120 BPM = 16 s, and 30 s; stereo, the model's 32 kHz), times one
separation as the sidecar runs it (`Separator.separate`: resampled to 44.1 kHz, 7.8 s segments
with 25 % overlap, one batch) and, in the same run, one generation of the same length by a
released-size MusicGen with random weights (`--model random-small`, the server's `auto`
decoder). Prints seconds, the real-time factor, separation / generation, the separator's
weight memory, and the shape and alignment checks that random weights allow: every part as
long as the take, and each part's best lag against the take at 0 samples. The residual
(mix minus the sum of the parts) needs the released weights and is not reported here.

    python -m bench.separation_bench [--separators random-htdemucs,random-htdemucs_6s]
        [--seconds 16,30] [--model random-small] [--device cpu] [--no-generation]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from sidecar.engine.base import GenerationSpec
from sidecar.engine.separator import Separator

RATE = 32000


def test_take(seconds: float, seed: int = 0) -> np.ndarray:
    """A stereo take with a beat, a bass line and noise: `(1, 2, samples)` at 32 kHz."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * RATE))) / RATE
    kick = np.exp(-30.0 * (t % 0.5)) * np.sin(2 * np.pi * 55.0 * t)
    bass = 0.3 * np.sin(2 * np.pi * 110.0 * t) * (np.sin(2 * np.pi * 1.0 * t) > 0)
    left = kick + bass + 0.02 * rng.standard_normal(t.size)
    right = kick + 0.8 * bass + 0.02 * rng.standard_normal(t.size)
    return np.stack([left, right])[np.newaxis].astype(np.float32) * 0.5


def best_lag(part: np.ndarray, take: np.ndarray, reach: int = 2000) -> int:
    """The lag (samples) within ±`reach` where `part` correlates best with `take` (mono)."""
    a, b = part.mean(axis=0), take.mean(axis=0)
    n = 1 << int(np.ceil(np.log2(a.size + b.size)))
    corr = np.fft.irfft(np.fft.rfft(a, n) * np.conj(np.fft.rfft(b, n)), n)
    lags = np.concatenate([corr[: reach + 1], corr[n - reach :]])
    index = int(np.argmax(np.abs(lags)))
    return index if index <= reach else index - (2 * reach + 1)


def time_generation(model: str, device: str, seconds: float) -> float:
    from sidecar.engine.loader import load_engine

    engine = load_engine(model, device, decoder="auto")
    engine.generate(GenerationSpec(duration_seconds=0.5, prompt="warm up", seed=0))
    started = time.perf_counter()
    engine.generate(GenerationSpec(duration_seconds=seconds, prompt="funk drums", seed=1))
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--separators", default="random-htdemucs,random-htdemucs_6s")
    parser.add_argument("--seconds", default="16,30")
    parser.add_argument("--model", default="random-small")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-generation", action="store_true")
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args(argv)
    lengths = [float(s) for s in args.seconds.split(",")]

    rows = []
    for name in args.separators.split(","):
        started = time.perf_counter()
        separator = Separator.load(name, args.device)
        load_seconds = time.perf_counter() - started
        separator.separate(test_take(1.0), RATE)  # warm up
        for seconds in lengths:
            take = test_take(seconds)
            started = time.perf_counter()
            parts = separator.separate(take, RATE)
            took = time.perf_counter() - started
            lags = [best_lag(parts[0, p], take[0]) for p in range(parts.shape[1])]
            row = {
                "separator": name,
                "device": args.device,
                "take_seconds": seconds,
                "separate_seconds": round(took, 3),
                "realtime_factor": round(seconds / took, 2),
                "load_seconds": round(load_seconds, 2),
                "weights_mb": round(separator.info.memory_bytes / 1e6, 1),
                "parts": ",".join(separator.info.parts),
                "same_length": bool(parts.shape[-1] == take.shape[-1]),
                "part_lags_samples": lags,
            }
            rows.append(row)
            print(
                f"{name:<20} {seconds:4.0f} s take: separate {took:7.2f} s "
                f"({row['realtime_factor']:5.2f}x real time); {row['weights_mb']} MB; "
                f"same length {row['same_length']}; lags {lags}",
                flush=True,
            )
        del separator
    # The generation each separation follows, in the same run (the separator let go first).
    if not args.no_generation:
        for seconds in lengths:
            generated = time_generation(args.model, args.device, seconds)
            print(f"generation {args.model} {seconds:4.0f} s: {generated:7.2f} s", flush=True)
            for row in rows:
                if row["take_seconds"] == seconds:
                    row["generate_seconds"] = round(generated, 3)
                    row["separate_over_generate"] = round(row["separate_seconds"] / generated, 3)
                    print(
                        f"  {row['separator']:<20} separation / generation "
                        f"{row['separate_over_generate']:.3f}",
                        flush=True,
                    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
