"""④ Benchmark: encoding a clip prompt for a batch of variations, before and after `PromptCodes`.

Run: python -m bench.prompt_bench [--size small] [--seconds 4] [--batch 4] [--device cpu]
[--runs 4]. Builds the released-size EnCodec (random weights: same cost) and encodes one clip
repeated `--batch` times three ways, side by side in one run: `whole batch` (every row through
the codec, as transformers' generate and the fast engine did), `PromptCodes, new clip` (each
distinct row once) and `PromptCodes, re-roll` (the same clip again: from the cache), in
alternating order after a warm-up of both shapes. Checks
that all three give the same codes, and prints the median time of each and the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from bench.decode_bench import build_model
from sidecar.engine.prompt_codes import PromptCodes


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", default="small")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--runs", type=int, default=4)
    args = parser.parse_args(argv)
    model, _ = build_model(args.size, args.device)
    codec = model.audio_encoder

    def encode(values: torch.Tensor) -> torch.Tensor:
        pad = torch.ones(values.shape[0], values.shape[-1], dtype=torch.long, device=values.device)
        codes: torch.Tensor = codec.encode(input_values=values, padding_mask=pad).audio_codes
        return codes

    def timed(
        fn: Callable[[torch.Tensor], torch.Tensor], values: torch.Tensor
    ) -> tuple[float, torch.Tensor]:
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        started = time.perf_counter()
        out = fn(values)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - started, out

    samples = int(args.seconds * 32000) // 640 * 640
    results: dict[str, list[float]] = {"whole": [], "new": [], "reroll": []}
    with torch.inference_mode():
        warm = torch.zeros(args.batch, 1, samples, device=args.device)
        encode(warm), encode(warm[:1])  # warm-up: both shapes
        for run in range(args.runs):
            generator = torch.Generator().manual_seed(run)
            clip = (torch.randn(1, 1, samples, generator=generator) * 0.1).to(args.device)
            batch = clip.expand(args.batch, -1, -1)
            codes = PromptCodes(encode)
            if run % 2 == 0:  # alternate the order, so neither side always goes first
                seconds, whole = timed(encode, batch)
                results["whole"].append(seconds)
            seconds, new = timed(codes, batch)
            results["new"].append(seconds)
            seconds, again = timed(codes, batch)
            results["reroll"].append(seconds)
            if run % 2 == 1:
                seconds, whole = timed(encode, batch)
                results["whole"].append(seconds)
            if not (torch.equal(whole, new) and torch.equal(whole, again)):
                raise RuntimeError("PromptCodes gave other codes than encoding the whole batch")
    median = {k: statistics.median(v) for k, v in results.items()}
    print(
        f"{args.size} codec on {args.device}: a {args.seconds:.1f} s clip for {args.batch} "
        f"variations, median of {args.runs} (codes identical in every run)"
    )
    print(f"  whole batch            {median['whole'] * 1e3:9.1f} ms   1.00x")
    print(
        f"  PromptCodes, new clip  {median['new'] * 1e3:9.1f} ms   "
        f"{median['whole'] / median['new']:.2f}x"
    )
    print(
        f"  PromptCodes, re-roll   {median['reroll'] * 1e3:9.1f} ms   "
        f"{median['whole'] / median['reroll']:.0f}x"
    )
    return median


if __name__ == "__main__":
    main()
