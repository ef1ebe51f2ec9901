"""③ Decode benchmark: stock generate vs the fast engine's modes, side by side, same weights.

Run `python -m bench.decode_bench --size small --device cpu --seconds 2 --json out.json`.
Builds a real-size MusicGen (decoder, T5-base text encoder, 32 kHz EnCodec) with random weights,
then times every engine on the same continuation request (text + audio prompt, CFG, greedy so
that tokens can be compared), interleaving the engines round by round to share the noise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

if __package__ in (None, ""):  # `python bench/decode_bench.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sidecar.engine.base import Engine, GenerationSpec
from sidecar.engine.fast import DecodeMode, FastMusicgenEngine
from sidecar.engine.musicgen import MusicgenEngine
from sidecar.engine.precision import place_model
from sidecar.engine.tiny import REAL_SIZES, build_random_model

__all__ = ["SIZES", "EngineRun", "build_model", "main", "measure"]

#: Decoder (hidden, layers, heads, ffn) of the released checkpoints.
SIZES = REAL_SIZES


@dataclass
class EngineRun:
    """One timed generation."""

    engine: str
    wall_s: float
    first_step_s: float
    ms_per_step: float
    #: Median of the per-step intervals: robust to bursts of load from other processes.
    ms_per_step_median: float
    steps: int
    audio_seconds: float
    first_audio_s: float
    peak_rss_mb: float
    peak_vram_mb: float | None
    codes: Any = field(default=None, repr=False)
    audio: Any = field(default=None, repr=False)


def build_model(size: str, device: str, seed: int = 0) -> tuple[Any, Any]:
    """A real-size MusicGen with random weights (T5-base, 32 kHz EnCodec), placed for `device`
    as the server places it, and the byte tokenizer."""
    model, tokenizer = build_random_model(size, seed)
    return place_model(model, device), tokenizer


class _PeakRss:
    """Samples this process's resident set size in a thread while a run lasts."""

    def __init__(self, interval_s: float = 0.02) -> None:
        self.interval_s = interval_s
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    @staticmethod
    def rss_bytes() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, self.rss_bytes())
            time.sleep(self.interval_s)

    def __enter__(self) -> _PeakRss:
        self.peak_bytes = self.rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _stock_codes(engine: Any) -> Callable[[], Any]:
    """Record the codes stock generate hands to EnCodec (the de-delayed tokens)."""
    codec = engine.model.audio_encoder
    original = codec.decode
    seen: list[torch.Tensor] = []

    def decode(codes: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        seen.append(codes[0].clone())
        return original(codes, *args, **kwargs)

    codec.decode = decode

    def finish() -> Any:
        del codec.decode
        return seen[0] if seen else None

    return finish


def measure(
    name: str, engine: Engine, spec: GenerationSpec, device: str, stream_every_s: float | None
) -> EngineRun:
    """Time one `engine.generate(spec)`; the hook for end-to-end numbers elsewhere."""
    marks: list[float] = []
    first_audio: list[float] = []

    def progress(step: int, total: int) -> None:
        marks.append(time.perf_counter())

    def on_audio(chunk: np.ndarray, seconds_ready: float) -> None:
        if not first_audio:
            first_audio.append(time.perf_counter())

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    finish = _stock_codes(engine) if type(engine) is MusicgenEngine else None
    codes = None
    _sync(device)
    with _PeakRss() as rss:
        start = time.perf_counter()
        if isinstance(engine, FastMusicgenEngine):
            kwargs: dict[str, Any] = {}
            if stream_every_s is not None:
                kwargs = {"on_audio": on_audio, "audio_every_seconds": stream_every_s}
            audio = engine.generate(spec, progress, **kwargs)
        else:
            try:
                audio = engine.generate(spec, progress)
            finally:
                codes = finish() if finish else None
        _sync(device)
        end = time.perf_counter()
    if isinstance(engine, FastMusicgenEngine):
        codes = engine.last_codes
    steps = len(marks)
    first_step = marks[0] - start
    ms_per_step = (marks[-1] - marks[0]) / max(1, steps - 1) * 1e3
    return EngineRun(
        engine=name,
        wall_s=end - start,
        first_step_s=first_step,
        ms_per_step=ms_per_step,
        ms_per_step_median=statistics.median(np.diff(marks)) * 1e3 if steps > 1 else ms_per_step,
        steps=steps,
        audio_seconds=spec.duration_seconds,
        first_audio_s=(first_audio[0] - start) if first_audio else end - start,
        peak_rss_mb=rss.peak_bytes / 2**20,
        peak_vram_mb=(
            torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None
        ),
        codes=None if codes is None else codes.cpu(),
        audio=audio,
    )


def _agreement(ref: EngineRun, run: EngineRun, prompt_frames: int) -> dict[str, Any]:
    """Tokens compared over the new frames only (the prompt's codes are shared by construction)."""
    a, b = ref.codes, run.codes
    out: dict[str, Any] = {}
    if a is not None and b is not None and a.shape == b.shape:
        a, b = a[..., prompt_frames:], b[..., prompt_frames:]
        same = a == b
        out["token_agreement"] = float(same.float().mean())
        frames_equal = same.all(dim=(0, 1))
        diverge = (~frames_equal).nonzero()
        out["first_divergent_frame"] = int(diverge[0]) if len(diverge) else None
        out["new_frames"] = int(a.shape[-1])
    diff = np.asarray(ref.audio, dtype=np.float64) - np.asarray(run.audio, dtype=np.float64)
    scale = float(np.sqrt(np.mean(np.square(ref.audio, dtype=np.float64)))) or 1.0
    out["audio_max_abs_diff"] = float(np.max(np.abs(diff)))
    out["audio_rel_rms_diff"] = float(np.sqrt(np.mean(np.square(diff))) / scale)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seconds", type=float, default=2.0, help="new audio per request")
    parser.add_argument("--prompt-seconds", type=float, default=1.0, help="audio prompt length")
    parser.add_argument("--batch", type=int, default=1, help="variations in one batch")
    parser.add_argument("--guidance", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds per engine")
    parser.add_argument("--modes", default="stock,exact,fp32,fast,int8")
    parser.add_argument(
        "--stream-every",
        type=float,
        default=0.5,
        help="seconds between streamed chunks in the extra streaming run",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()

    t0 = time.perf_counter()
    model, tokenizer = build_model(args.size, args.device)
    build_s = time.perf_counter() - t0
    engines: dict[str, Engine] = {}
    for mode in args.modes.split(","):
        if mode == "stock":
            engines[mode] = MusicgenEngine(
                model, tokenizer, f"random-{args.size}", args.device, is_random=True
            )
        else:
            engines[mode] = FastMusicgenEngine(
                model,
                tokenizer,
                f"random-{args.size}",
                args.device,
                is_random=True,
                mode=cast(DecodeMode, mode),
            )
    rate = 32000
    prompt = 0.1 * np.sin(np.arange(int(args.prompt_seconds * rate)) * 2 * np.pi * 220 / rate)
    spec = GenerationSpec(
        duration_seconds=args.seconds,
        prompt="lo-fi beat with warm keys",
        audio_prompt=prompt.astype(np.float32)[None],
        variations=args.batch,
        guidance_scale=args.guidance,
        temperature=0.0,
        seed=0,
    )
    warm = GenerationSpec(
        duration_seconds=0.1,
        prompt="warm",
        audio_prompt=spec.audio_prompt,
        variations=args.batch,
        guidance_scale=args.guidance,
        temperature=0.0,
    )
    for engine in engines.values():  # packing, graph capture, allocator: not part of a request
        engine.generate(warm)
    runs: dict[str, list[EngineRun]] = {name: [] for name in engines}
    for _ in range(args.rounds):
        for name, engine in engines.items():
            runs[name].append(measure(name, engine, spec, args.device, None))
            print(f"  {name:6s} {runs[name][-1].ms_per_step:8.1f} ms/step", flush=True)
    stream_name = next((n for n in ("fast", "int8", "exact") if n in engines), None)
    stream_run = None
    if stream_name is not None:
        stream_run = measure(
            stream_name, engines[stream_name], spec, args.device, args.stream_every
        )
    return _report(args, runs, stream_name, stream_run, build_s, load_before)


def _report(
    args: argparse.Namespace,
    runs: dict[str, list[EngineRun]],
    stream_name: str | None,
    stream_run: EngineRun | None,
    build_s: float,
    load_before: tuple[float, float, float],
) -> dict[str, Any]:
    ref_name = "stock" if "stock" in runs else next(iter(runs))
    ref = runs[ref_name][0]
    ref_ms = statistics.median(r.ms_per_step for r in runs[ref_name])
    ref_best = min(r.ms_per_step for r in runs[ref_name])
    ref_step = statistics.median(r.ms_per_step_median for r in runs[ref_name])
    ref_wall = statistics.median(r.wall_s for r in runs[ref_name])
    rows = []
    for name, group in runs.items():
        ms = statistics.median(r.ms_per_step for r in group)
        wall = statistics.median(r.wall_s for r in group)
        best = min(group, key=lambda r: r.ms_per_step)
        row = {
            "engine": name,
            "ms_per_step": ms,
            "ms_per_step_best": best.ms_per_step,
            "ms_per_step_median_interval": statistics.median(r.ms_per_step_median for r in group),
            "ms_per_step_all": [r.ms_per_step for r in group],
            "wall_s": wall,
            "first_step_s": statistics.median(r.first_step_s for r in group),
            "real_time_factor": args.seconds / wall,
            "first_audio_s": statistics.median(r.first_audio_s for r in group),
            "peak_rss_mb": max(r.peak_rss_mb for r in group),
            "peak_vram_mb": best.peak_vram_mb,
            "speedup_per_step": ref_ms / ms,
            "speedup_per_step_best": ref_best / best.ms_per_step,
            "speedup_median_interval": ref_step
            / statistics.median(r.ms_per_step_median for r in group),
            "speedup_wall": ref_wall / wall,
            "steps": best.steps,
        }
        prompt_frames = int(args.prompt_seconds * 32000) // 640
        agreement = _agreement(ref, group[0], prompt_frames)
        row.update({f"vs_{ref_name}_{k}": v for k, v in agreement.items()})
        rows.append(row)
    cuda = args.device.startswith("cuda")
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "size": args.size,
        "device": args.device,
        "seconds": args.seconds,
        "prompt_seconds": args.prompt_seconds,
        "batch": args.batch,
        "guidance": args.guidance,
        "rounds": args.rounds,
        "build_s": build_s,
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "cuda": torch.cuda.get_device_name() if cuda else None,
        },
        "engines": rows,
        "stream": None
        if stream_run is None
        else {
            "engine": stream_name,
            "every_s": args.stream_every,
            "first_audio_s": stream_run.first_audio_s,
            "wall_s": stream_run.wall_s,
        },
    }
    print(
        f"\n{args.size} on {args.device}: {args.seconds:g} s continuation of "
        f"{args.prompt_seconds:g} s, batch {args.batch}, CFG {args.guidance:g}, greedy, "
        f"{args.rounds} rounds; load average {load_before[0]:.1f} → {os.getloadavg()[0]:.1f}"
    )
    print("ms/step: mean over a run (median of runs), best run, median step interval")
    print(
        f"{'engine':8s} {'ms/step':>8s} {'best':>7s} {'med.int':>7s} {'×' + ref_name[:6]:>7s} "
        f"{'best':>6s} {'med.int':>7s} {'wall s':>7s} {'RTF':>6s} {'1st audio':>9s} "
        f"{'RSS MB':>7s} {'tokens=':>8s} {'audio rel':>9s}"
    )
    for row in rows:
        agree = row.get(f"vs_{ref_name}_token_agreement")
        print(
            f"{row['engine']:8s} {row['ms_per_step']:8.1f} {row['ms_per_step_best']:7.1f} "
            f"{row['ms_per_step_median_interval']:7.1f} {row['speedup_per_step']:7.2f} "
            f"{row['speedup_per_step_best']:6.2f} {row['speedup_median_interval']:7.2f} "
            f"{row['wall_s']:7.2f} {row['real_time_factor']:6.3f} {row['first_audio_s']:9.2f} "
            f"{row['peak_rss_mb']:7.0f} {'-' if agree is None else f'{agree:.3f}':>8s} "
            f"{row[f'vs_{ref_name}_audio_rel_rms_diff']:9.2e}"
        )
    if stream_run is not None:
        print(
            f"streamed ({stream_name}, chunks every {args.stream_every:g} s): first audio after "
            f"{stream_run.first_audio_s:.2f} s of {stream_run.wall_s:.2f} s"
        )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
    sys.exit(0)
