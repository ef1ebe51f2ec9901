"""③ Benchmark: what an engine holds, before and after freeing the weights its packing copied.

Loads a released-size MusicGen with random weights (`--size small|medium|large`) for a decode
mode, then either packs the decoder for one short take and frees the model's decoder weights
that the packed copies replaced afterwards, or (`--free-while-packing`, what `load_engine` does
for the server) packs and frees layer by layer; then makes the same take again. Prints the
process RSS, its peak and the engine's own count (`/sidecar/model/list`) at each point.

    python -m bench.memory_bench [--size small] [--mode fp32] [--device cpu]
"""

from __future__ import annotations

import argparse
import gc
import os
import time

import numpy as np

from sidecar.engine.base import GenerationSpec
from sidecar.engine.fast import DecodeMode, FastMusicgenEngine
from sidecar.jobs.models import engine_bytes


def rss_megabytes(field: str = "VmRSS") -> float:
    """Resident memory of this process, or its peak with "VmHWM" (Linux `/proc`; else 0)."""
    try:
        with open(f"/proc/{os.getpid()}/status") as fh:
            for line in fh:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="small", choices=["small", "medium", "large"])
    parser.add_argument("--mode", default="fp32", choices=["exact", "fp32", "fast", "int8"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--free-while-packing", action="store_true")
    args = parser.parse_args(argv)
    mode: DecodeMode = args.mode

    def show(label: str, engine: FastMusicgenEngine) -> None:
        gc.collect()
        print(
            f"{label:<38} RSS {rss_megabytes():6.0f} MB  peak {rss_megabytes('VmHWM'):6.0f} MB  "
            f"engine {engine_bytes(engine) / 1e6:6.0f} MB"
        )

    started = time.perf_counter()
    engine = FastMusicgenEngine.load(f"random-{args.size}", args.device, mode=mode)
    seconds = time.perf_counter() - started
    print(f"random-{args.size}, {mode} on {args.device}, loaded in {seconds:.1f} s")
    show("loaded", engine)
    spec = GenerationSpec(duration_seconds=0.2, prompts=("x",), seed=1, temperature=0.0)
    if args.free_while_packing:
        freed = engine.release_replaced_weights()
        show(f"packed, freeing as it went ({freed / 1e6:.0f} MB)", engine)
        before = engine.generate(spec)
        show("one take made", engine)
    else:
        before = engine.generate(spec)
        show("packed, one take made", engine)
        freed = engine.release_replaced_weights()
        show(f"replaced weights freed ({freed / 1e6:.0f} MB)", engine)
    same = np.array_equal(engine.generate(spec), before)
    show(f"the same take again: {'identical' if same else 'DIFFERENT'}", engine)


if __name__ == "__main__":
    main()
