"""④→⑥ Benchmark: what streaming previews cost the decoding thread, before and after.

Run: python bench/preview_bench.py [--seconds 30] [--every 0.25] [--runs 3]. Publishes a
stereo 32 kHz take in chunks of `--every` seconds two ways, side by side in one run:
`in the decoding thread` (each chunk: join the take so far and write it, fsync and rename, as the
worker did before `PreviewWriter`), and `PreviewWriter.push` (the writer thread does that, without
fsync, skipping to the newest state when behind). Prints the decoding thread's time spent
publishing, its worst single call, and how many files were written. On a GPU a 30 s take
decodes in well under a second, so that time is what previews add to the request.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from sidecar.files.audiofile import write_audio_atomic
from sidecar.output.preview import PreviewWriter

RATE = 32000


def _chunks(seconds: float, every: float) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    size = int(every * RATE)
    return [
        (0.2 * rng.standard_normal((2, size))).astype(np.float32)
        for _ in range(int(seconds / every))
    ]


def _in_thread(folder: Path, chunks: list[np.ndarray], every: float) -> tuple[float, float, int]:
    so_far: list[np.ndarray] = []
    spent = worst = 0.0
    for chunk in chunks:
        started = time.perf_counter()
        so_far.append(chunk)
        write_audio_atomic(folder / "sync.wav", np.concatenate(so_far, axis=-1), RATE, "pcm16")
        took = time.perf_counter() - started
        spent, worst = spent + took, max(worst, took)
    return spent, worst, len(chunks)


def _writer(folder: Path, chunks: list[np.ndarray], every: float) -> tuple[float, float, int]:
    written = [0]

    def published(path: str, seconds_ready: float) -> None:
        written[0] += 1

    writer = PreviewWriter(folder / "async.wav", RATE, published)
    spent = worst = 0.0
    for i, chunk in enumerate(chunks):
        started = time.perf_counter()
        writer.push(chunk, every * (i + 1))
        took = time.perf_counter() - started
        spent, worst = spent + took, max(worst, took)
        time.sleep(0.002)  # a GPU decodes 0.25 s of audio in a few milliseconds
    writer.close()
    return spent, worst, written[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--every", type=float, default=0.25)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    chunks = _chunks(args.seconds, args.every)
    results: dict[str, list[tuple[float, float, int]]] = {"in thread": [], "writer": []}
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:  # the disk, not a RAM disk
        folder = Path(tmp)
        for _ in range(args.runs):  # interleaved, so both see the same machine
            results["in thread"].append(_in_thread(folder, chunks, args.every))
            results["writer"].append(_writer(folder, chunks, args.every))
    print(
        f"{args.seconds:g} s stereo take at {RATE} Hz, a preview every {args.every:g} s "
        f"({len(chunks)} chunks), median of {args.runs}:"
    )
    spent = {}
    for label, runs in results.items():
        spent[label] = statistics.median(r[0] for r in runs)
        worst = statistics.median(r[1] for r in runs)
        files = statistics.median(r[2] for r in runs)
        print(
            f"  {label:<10} decoding thread {spent[label] * 1000:8.1f} ms in all, "
            f"worst call {worst * 1000:6.2f} ms, {files:.0f} files written"
        )
    print(f"  ratio {spent['in thread'] / spent['writer']:.0f}x less time in the decoding thread")


if __name__ == "__main__":
    main()
