"""⑤ Benchmark: post-processing time for an 8-bar stereo stem at 120 BPM, 48 kHz, warm.

Run: python bench/post_bench.py [--runs 7]. Prints the median wall time of each pipeline
step and its share, for two inputs: a 48 kHz stereo file (the `conform` case) and 32 kHz
stereo model output (the server case), both drums at 118 BPM so that a stretch is needed,
with 10 % + 0.5 s of slack, delivered as a looped 8-bar stem at 120 BPM matching a prompt.
Target: <= 0.5 s in all on the 2-core development machine. Then a batch of 4 such takes (4
variations, or a stem set) post-processed one by one and side by side on the server's pool.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from sidecar.post.pipeline import PostSpec, process
from sidecar.post.warm import warm_up
from sidecar.takes.parallel import TakePool

BPM = 120.0
BARS = 8
SOURCE_BPM = 118.0


def _drums(sample_rate: int, seconds: float, bpm: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    out = np.zeros(int(seconds * sample_rate))
    t = np.arange(int(0.3 * sample_rate)) / sample_rate
    kick = np.sin(2 * np.pi * np.cumsum(50 + 110 * np.exp(-t / 0.03)) / sample_rate)
    kick *= np.exp(-t / 0.12) * np.minimum(1, t / 0.001)
    snare = (np.sin(2 * np.pi * 190 * t) + 0.8 * rng.standard_normal(t.size)) * np.exp(-t / 0.06)
    hat = np.diff(rng.standard_normal(t.size + 1)) * np.exp(-t / 0.012)
    pad_t = np.arange(out.size) / sample_rate
    out += 0.05 * np.sin(2 * np.pi * 110 * pad_t) * (1 + 0.3 * np.sin(2 * np.pi * 0.25 * pad_t))
    beat = 60.0 / bpm
    for k in range(int(seconds / beat)):
        for sound, offset, gain in ((kick if k % 2 == 0 else snare, 0.0, 0.6), (hat, 0.5, 0.1)):
            at = int((k + offset) * beat * sample_rate)
            end = min(out.size, at + sound.size)
            out[at:end] += gain * sound[: end - at]
    return np.stack([out, 0.9 * out]).astype(np.float32)


def _run(label: str, sample_rate: int, runs: int) -> float:
    grid_seconds = BARS * 4 * 60.0 / BPM
    audio = _drums(sample_rate, grid_seconds * 1.1 + 0.5, SOURCE_BPM)
    reference = 0.5 * _drums(sample_rate, 8.0, BPM)
    spec = PostSpec(sample_rate=48000, bpm=BPM, bars=BARS, loop=True)
    totals: list[float] = []
    cpu: list[float] = []
    steps: dict[str, list[float]] = {}
    report = None
    for _ in range(runs):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        _, report = process(audio, sample_rate, spec, reference, sample_rate)
        totals.append(time.perf_counter() - wall0)
        cpu.append(time.process_time() - cpu0)
        for name, seconds in report.step_seconds:
            steps.setdefault(name, []).append(seconds)
    assert report is not None
    total = statistics.median(totals)
    print(f"\n{label}: {audio.shape[0]} ch x {audio.shape[1]} samples at {sample_rate} Hz")
    print(
        f"  decision {report.decision}, engine {report.stretch_engine}, "
        f"ratio {report.stretch_ratio:.4f}, delivered {report.delivered_bpm:.3f} BPM"
    )
    for name, values in steps.items():
        median = statistics.median(values)
        print(f"  {name:<10} {median * 1000:7.1f} ms  {median / total * 100:5.1f} %")
    print(
        f"  {'total':<10} {total * 1000:7.1f} ms  (median of {runs}; "
        f"min {min(totals) * 1000:.1f} ms; CPU {statistics.median(cpu) * 1000:.1f} ms)"
    )
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--takes", type=int, default=4, help="takes in the batch test")
    args = parser.parse_args()
    started = time.perf_counter()
    warm_up()
    print(f"warm-up: {time.perf_counter() - started:.2f} s (once, at server start)")
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}")
    worst = max(
        _run("48 kHz stereo file (conform)", 48000, args.runs),
        _run("32 kHz stereo model output (server)", 32000, args.runs),
    )
    print(f"\nworst median total: {worst * 1000:.0f} ms (target <= 500 ms)")
    _batch(args.takes, max(3, args.runs // 2))
    return 0 if worst <= 0.5 else 1


def _batch(takes: int, runs: int) -> None:
    """A batch of takes (variations or a stem set), one by one against the server's pool."""
    sample_rate = 32000
    grid_seconds = BARS * 4 * 60.0 / BPM
    base = _drums(sample_rate, grid_seconds * 1.1 + 0.5, SOURCE_BPM)
    batch = [base * (0.4 + 0.1 * i) for i in range(takes)]
    reference = 0.5 * _drums(sample_rate, 8.0, BPM)
    spec = PostSpec(sample_rate=48000, bpm=BPM, bars=BARS, loop=True)
    serial, pooled = TakePool(1), TakePool()

    def one(audio: np.ndarray) -> np.ndarray:
        return process(audio, sample_rate, spec, reference, sample_rate)[0]

    times: dict[str, list[float]] = {"one by one": [], "side by side": []}
    for _ in range(runs):  # interleaved, so both see the same machine
        for label, pool in (("one by one", serial), ("side by side", pooled)):
            started = time.perf_counter()
            pool.map(one, batch, lambda: None)
            times[label].append(time.perf_counter() - started)
    pooled.close()
    one_by_one = statistics.median(times["one by one"])
    side_by_side = statistics.median(times["side by side"])
    print(f"\n{takes} takes of 8 stereo bars from 32 kHz (a batch; median of {runs}):")
    print(f"  one by one     {one_by_one * 1000:7.1f} ms")
    print(
        f"  side by side   {side_by_side * 1000:7.1f} ms  ({pooled.max_workers} threads; "
        f"{one_by_one / side_by_side:.2f}x)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
