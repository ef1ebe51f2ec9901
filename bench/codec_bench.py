"""④ Benchmark: EnCodec around the decoder for a batch of variations, before and after.

Run: python -m bench.codec_bench [--size small] [--seconds 4] [--batch 4] [--device cpu]
[--runs 4]. Builds the released-size EnCodec (random weights: same cost) and measures, side by
side in one run, in alternating order after a warm-up:

* encoding one clip repeated `--batch` times: `whole batch` (every row through the codec, as
  transformers' generate and the fast engine did), `PromptCodes, new clip` (each distinct row
  once) and `PromptCodes, re-roll` (the same clip again, from the cache); all three must give
  the same codes;
* decoding `--batch` rows of prompt + take (`--seconds` + 2.7 s): one batch (stock, `exact`)
  and one row at a time (`Codec(rows_apart=True)`, the CPU default outside `exact`), with the
  largest difference between the two.

Prints the median time of each and the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from bench.decode_bench import build_model
from sidecar.engine.codec import Codec
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

    encode = Codec(codec, 1, torch.device(args.device), rows_apart=False).encode_rows

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
        frames = int((args.seconds + 2.7) * 50)
        generator = torch.Generator().manual_seed(99)
        codes = torch.randint(0, 2048, (args.batch, 4, frames), generator=generator)
        codes = codes.to(args.device)
        batched = Codec(codec, 1, torch.device(args.device), rows_apart=False)
        apart = Codec(codec, 1, torch.device(args.device), rows_apart=True)
        batched.decode(codes), apart.decode(codes)  # warm-up
        difference = 0.0
        for run in range(args.runs):
            order = (batched, apart) if run % 2 == 0 else (apart, batched)
            outputs = {}
            for which in order:
                seconds, outputs[which.rows_apart] = timed(which.decode, codes)
                results.setdefault("decode_apart" if which.rows_apart else "decode_batch", [])
                results["decode_apart" if which.rows_apart else "decode_batch"].append(seconds)
            difference = max(difference, float((outputs[True] - outputs[False]).abs().max()))
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
    print(f"decoding {args.batch} rows of {args.seconds + 2.7:.1f} s (prompt + take)")
    print(f"  one batch              {median['decode_batch'] * 1e3:9.1f} ms   1.00x")
    print(
        f"  one row at a time      {median['decode_apart'] * 1e3:9.1f} ms   "
        f"{median['decode_batch'] / median['decode_apart']:.2f}x   (max difference "
        f"{difference:.1e})"
    )
    return median


if __name__ == "__main__":
    main()
