"""What the server adds to a warm request: OSC, queue, post-processing, files vs decoding.

Starts `sidecar serve` with a released-size MusicGen of random weights (same cost as the real
one, no download), sends one warm-up request and then `--runs` measured `/sidecar/continue`
requests over real UDP, and splits each request's wall time (seen by the client, from send to
`/sidecar/done`) into the model's decoding (timed in the worker) and everything else.

    python bench/overhead_bench.py [--model random-small] [--decoder stock] [--bars 1] [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sidecar.cli.examples import write_example_clip  # noqa: E402
from sidecar.osc import addresses as A  # noqa: E402
from sidecar.osc.client import SidecarClient  # noqa: E402
from tests.support.server import running_sidecar  # noqa: E402


def one_request(client: SidecarClient, rid: str, clip: Path, bars: int) -> dict[str, float]:
    started = time.perf_counter()
    client.send(A.CONTINUE, rid, "clip", str(clip), "bars", bars, "bpm", 120.0, "seed", 1)
    replies = client.until_terminal(rid, timeout_seconds=1800)
    wall = time.perf_counter() - started
    if replies[-1][0] != A.DONE:
        raise RuntimeError(f"{rid}: {replies[-1]}")
    stem = next(args for a, args in replies if a == A.STEM)
    timings = json.loads(Path(stem[2]).with_suffix(".json").read_text())["timings"]
    decode = float(timings["decode_seconds"])
    post = float(timings["post_seconds"])
    key = float(timings["key_seconds"])
    return {
        "wall_seconds": wall,
        "decode_seconds": decode,
        "post_seconds": post,
        "key_seconds": key,
        # OSC both ways, queue, prompt loading, files and replies: what is left of the wall time.
        "rest_seconds": wall - decode - post - key,
        "overhead_seconds": wall - decode,
        "overhead_ratio": (wall - decode) / decode,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="random-small")
    parser.add_argument("--decoder", default="stock")
    parser.add_argument("--device", default=None)
    parser.add_argument("--bars", type=int, default=1, help="bars at 120 bpm per request")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="overhead-bench-"))
    clip = write_example_clip(work / "clip.wav", bpm=120.0, bars=2)
    extra = ["--model", args.model, "--decoder", args.decoder]
    if args.device:
        extra += ["--device", args.device]
    with (
        running_sidecar(work, *extra, ready_timeout_seconds=1800) as server,
        SidecarClient(server.host, server.port) as client,
    ):
        one_request(client, "warm", clip, args.bars)
        runs = [one_request(client, f"run-{i}", clip, args.bars) for i in range(args.runs)]
    summary = {
        "model": args.model,
        "decoder": args.decoder,
        "bars": args.bars,
        "runs": runs,
        "median_overhead_ratio": statistics.median(r["overhead_ratio"] for r in runs),
    }
    print(
        f"{'run':>6} {'wall s':>8} {'decode s':>9} {'post s':>7} {'key s':>6} "
        f"{'rest s':>7} {'overhead':>9}"
    )
    for i, r in enumerate(runs):
        print(
            f"{i:>6} {r['wall_seconds']:8.2f} {r['decode_seconds']:9.2f} "
            f"{r['post_seconds']:7.2f} {r['key_seconds']:6.2f} {r['rest_seconds']:7.2f} "
            f"{r['overhead_ratio']:9.1%}"
        )
    print(f"median overhead over decoding: {summary['median_overhead_ratio']:.1%} (target ≤ 5 %)")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
