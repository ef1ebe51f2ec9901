"""③→⑥ Benchmark: back-to-back requests through the worker, pipelined and not, side by side.

`--requests` continuation requests for `--bars` bars at 120 BPM are queued at once, and a real
`Worker` runs them with a real `JobRunner`, `Delivery` and model (`--model`, random weights of
the released sizes or `tiny`), first finishing each job before the next decodes, then with the
pipeline (job N post-processed and delivered while job N+1 decodes); modes alternate for
`--rounds` rounds. Random weights make noise, and noise takes the tempo contract's cheap path
(no pulse: no stretch), so after the model has decoded (its full cost) the take is swapped for
a synthesized drum take at 118 BPM of the same length, which the contract measures, stretches
to 120 BPM, cuts and matches in loudness, as it would real music. Each round also times one
request alone: what the server adds beyond the model's own time with a real stretch (the
overhead target's case, without OSC, which `bench/overhead_bench.py` adds).

    python -m bench.pipeline_bench [--model tiny] [--device cpu] [--requests 4] [--bars 8]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from sidecar.cli.examples import drum_loop, write_example_clip
from sidecar.engine.base import Engine, EngineInfo, GenerationSpec, ProgressCallback
from sidecar.engine.loader import load_engine
from sidecar.jobs.queue import Job, JobQueue
from sidecar.jobs.runner import JobRunner
from sidecar.jobs.worker import Worker
from sidecar.osc.schema import GenerateRequest, Stem
from sidecar.output.delivery import Delivery
from sidecar.post.resample import resample
from sidecar.post.warm import warm_up

SOURCE_BPM = 118.0


class DrumTakes(Engine):
    """Runs the real model (its whole cost), then hands back drums at 118 BPM of that shape."""

    def __init__(self, inner: Engine) -> None:
        self.inner = inner
        rate = inner.info.sample_rate
        loop = drum_loop(SOURCE_BPM, 2, sample_rate=48000)
        self._loop = resample(loop, 48000, rate).astype(np.float32)
        self.decode_seconds: list[float] = []

    @property
    def info(self) -> EngineInfo:
        return self.inner.info

    def generate(
        self, spec: GenerationSpec, progress: ProgressCallback | None = None
    ) -> np.ndarray:
        started = time.perf_counter()
        made = np.asarray(self.inner.generate(spec, progress))
        self.decode_seconds.append(time.perf_counter() - started)
        rows, channels, samples = made.shape
        loop = np.resize(self._loop, (channels, self._loop.shape[-1]))
        take = np.tile(loop, (1, samples // loop.shape[-1] + 1))[:, :samples]
        return np.stack([take] * rows).astype(np.float32)


class Quiet:
    """A reporter that keeps the stems' JSON paths and nothing else."""

    def __init__(self) -> None:
        self.stems: list[str] = []

    def progress(self, job: Job, fraction: float, eta_seconds: float) -> None:
        pass

    def preview(self, job: Job, path: str, seconds_ready: float) -> None:
        pass

    def stem(self, job: Job, stem: Stem) -> None:
        self.stems.append(stem.path)

    def done(self, job: Job, n_files: int) -> None:
        pass

    def error(self, job: Job, code: str, message: str) -> None:
        raise RuntimeError(f"{job.request_id}: {code}: {message}")

    def cancelled(self, job: Job) -> None:
        raise RuntimeError(f"{job.request_id}: cancelled")


def run_queue(
    engine: DrumTakes, clip: Path, out: Path, requests: int, bars: int, pipeline: bool
) -> dict[str, Any]:
    """Queue `requests` jobs at once and time the worker until the last is delivered."""
    queue, reporter = JobQueue(), Quiet()
    runner = JobRunner(engine, Delivery(out), reporter)
    jobs = [
        Job(
            GenerateRequest(
                request_id=f"{'pipe' if pipeline else 'serial'}-{time.monotonic_ns()}-{i}",
                mode="continue",
                clip=str(clip),
                bars=bars,
                bpm=120.0,
                seed=i,
            ),
            ("", 0),
        )
        for i in range(requests)
    ]
    engine.decode_seconds.clear()
    started = time.perf_counter()
    for job in jobs:
        queue.submit(job)
    worker = Worker(queue, runner, pipeline)
    worker.start()
    while not all(job.state.finished for job in jobs):
        time.sleep(0.002)
    wall = time.perf_counter() - started
    queue.drain()
    worker.join()
    metas = [json.loads(Path(p).with_suffix(".json").read_text()) for p in reporter.stems]
    timings = [meta["timings"] for meta in metas]
    return {
        "wall_seconds": wall,
        "model_seconds": sum(engine.decode_seconds),
        "post_seconds": sum(t["post_seconds"] + t["key_seconds"] for t in timings),
        "waited_seconds": sum(t["finish_wait_seconds"] for t in timings),
        "decisions": sorted({meta["report"]["decision"] for meta in metas}),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--device", default=None)
    parser.add_argument("--decoder", default="auto")
    parser.add_argument("--requests", type=int, default=4)
    parser.add_argument("--bars", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="pipeline-bench-"))
    clip = write_example_clip(work / "clip.wav", bpm=120.0, bars=2)
    engine = DrumTakes(load_engine(args.model, args.device, args.decoder))
    engine.inner.warm_up()
    warm_up()
    run_queue(engine, clip, work, 1, args.bars, True)  # the first request's one-off costs
    results: dict[str, list[dict[str, Any]]] = {"single": [], "serial": [], "pipelined": []}
    for _ in range(args.rounds):
        for mode in results:
            requests = 1 if mode == "single" else args.requests
            results[mode].append(
                run_queue(engine, clip, work, requests, args.bars, mode != "serial")
            )
    info = engine.info
    print(
        f"{args.requests} requests of {args.bars} bars at 120 BPM queued at once; "
        f"{info.name} on {info.device} ({info.dtype}), {args.rounds} rounds"
    )
    print(
        f"{'mode':>10} {'wall s':>8} {'model s':>8} {'post s':>7} {'waited s':>9} "
        f"{'req/min':>8} {'beyond model':>13}"
    )
    for mode, runs in results.items():
        for r in runs:
            requests = 1 if mode == "single" else args.requests
            beyond = (r["wall_seconds"] - r["model_seconds"]) / r["model_seconds"]
            r["beyond_model_ratio"] = beyond
            print(
                f"{mode:>10} {r['wall_seconds']:8.2f} {r['model_seconds']:8.2f} "
                f"{r['post_seconds']:7.2f} {r['waited_seconds']:9.2f} "
                f"{60 * requests / r['wall_seconds']:8.1f} {beyond:13.1%}"
            )
    single = statistics.median(r["beyond_model_ratio"] for r in results["single"])
    print(
        f"one request alone: {single:.1%} beyond the model's own time (queue, tempo contract "
        "with a stretch, key, files; no OSC); target <= 5 %"
    )
    serial = statistics.median(r["wall_seconds"] for r in results["serial"])
    pipelined = statistics.median(r["wall_seconds"] for r in results["pipelined"])
    print(f"pipelined / serial throughput: {serial / pipelined:.2f}x (median wall times)")
    summary = {
        "model": info.name,
        "device": info.device,
        "dtype": info.dtype,
        "requests": args.requests,
        "bars": args.bars,
        "results": results,
        "throughput_ratio": serial / pipelined,
        "single_beyond_model_ratio": single,
    }
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
