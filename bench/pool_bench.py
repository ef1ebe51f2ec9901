"""④ Benchmark: the GPU pool (`sidecar pool serve`) against local decoding, side by side.

Run: python -m bench.pool_bench [--model tiny] [--seconds 2] [--takes 3] [--parts all].
Prints, measured in one run:

* `pool`: takes per minute and per-request latency with 1, 2 and 4 concurrent producers
  (each a `RemoteEngine`, as a producer's sidecar holds one), against a pool of ONE replica
  batching (`--max-batch 4`) and the same pool unbatched (`--max-batch 1`); the ratios are
  throughput against one producer and latency against solo. On a GPU the target is >= 3x
  throughput with 4 producers and latency <= 1.5x solo; a CPU shows the shape only.
* `overhead`: one take through the pool against the same take decoded in this process, both
  `exact` and with one torch thread (as Ray runs the replica).
* `formats`: the prompt up as FLAC against EnCodec codes computed here, the take back as FLAC
  against codes decoded here: bytes, this CPU's encode/decode times with the released-size
  32 kHz EnCodec (random weights: the same cost), and the transfer at 100 Mbit/s and 1 Gbit/s.
"""

from __future__ import annotations

import argparse
import io
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import numpy as np

from sidecar.engine.base import Engine, GenerationSpec
from sidecar.engine.wire import audio_from_payload, audio_to_payload

#: The links a producer's laptop meets: a home/office uplink and a studio LAN.
LINKS_BITS_PER_SECOND = {"100 Mbit/s": 100e6, "1 Gbit/s": 1e9}


def _spec(seconds: float, seed: int) -> GenerationSpec:
    return GenerationSpec(duration_seconds=seconds, prompt="drums", seed=seed)


def _producers(engines: list[Engine], seconds: float, takes: int) -> tuple[float, float]:
    """Every engine makes `takes` takes, all at once: (takes per minute, median latency s)."""
    latencies: list[float] = []
    lock = threading.Lock()

    def producer(index: int, engine: Engine) -> None:
        for take in range(takes):
            started = time.perf_counter()
            engine.generate(_spec(seconds, 100 * index + take))
            with lock:
                latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=producer, args=(i, e)) for i, e in enumerate(engines)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return 60.0 * len(engines) * takes / wall, statistics.median(latencies)


def bench_pool(model: str, seconds: float, takes: int, wait_ms: float) -> dict[str, Any]:
    from sidecar.engine.remote import RemoteEngine
    from tests.support.pool import running_pool

    results: dict[str, Any] = {}
    with TemporaryDirectory() as logs:
        for label, batch in (("batched", 4), ("unbatched", 1)):
            args = ("--max-batch", str(batch), "--batch-wait-ms", str(wait_ms))
            started = time.perf_counter()
            with running_pool(Path(logs), *args, replicas=1) as pool:
                print(f"{label} pool ready in {time.perf_counter() - started:.0f} s", flush=True)
                engines = [RemoteEngine(pool.url, model, pool.token) for _ in range(4)]
                engines[0].generate(_spec(seconds, 0))  # warm the replica
                for producers in (1, 2, 4):
                    rate, latency = _producers(engines[:producers], seconds, takes)
                    results[f"{label} x{producers}"] = (rate, latency)
                    print(
                        f"  {label:<9} {producers} producer(s): {rate:6.1f} takes/min, "
                        f"median latency {latency:5.2f} s",
                        flush=True,
                    )
                results[f"{label} batch sizes"] = pool.status()["batch_sizes"]
    print("\npool, side by side (ratios against 1 producer / solo of the same pool):")
    for label in ("batched", "unbatched"):
        one_rate, one_latency = results[f"{label} x1"]
        for producers in (2, 4):
            rate, latency = results[f"{label} x{producers}"]
            print(
                f"  {label:<9} x{producers}: throughput {rate / one_rate:4.2f}x, "
                f"latency {latency / one_latency:4.2f}x solo"
            )
        print(f"  {label:<9} batch sizes seen: {results[f'{label} batch sizes']}")
    return results


def bench_overhead(model: str, seconds: float, runs: int) -> dict[str, float]:
    """The same take decoded here and through a 1-replica pool (both exact: the same work)."""
    import torch

    from sidecar.engine.loader import load_engine
    from sidecar.engine.remote import RemoteEngine
    from tests.support.pool import running_pool

    # Ray runs a replica of `--cpus-per-replica 0.5` with one torch thread: so does this side
    torch.set_num_threads(1)
    local = load_engine(model, "cpu", "exact")
    local.generate(_spec(seconds, 0))
    with TemporaryDirectory() as logs:
        args = ("--max-batch", "1", "--batch-wait-ms", "0", "--decoder", "exact")
        with running_pool(Path(logs), *args, replicas=1) as pool:
            remote = RemoteEngine(pool.url, model, pool.token)
            remote.generate(_spec(seconds, 0))
            times: dict[str, list[float]] = {"local": [], "remote": []}
            for run in range(runs):  # alternating, so load drifts hit both
                for name, engine in (("local", local), ("remote", remote)):
                    started = time.perf_counter()
                    engine.generate(_spec(seconds, run))
                    times[name].append(time.perf_counter() - started)
    local_s, remote_s = (statistics.median(times[k]) for k in ("local", "remote"))
    print(
        f"\noverhead: a {seconds:g} s take of {model}: local {local_s:.3f} s, through the pool "
        f"{remote_s:.3f} s: +{remote_s - local_s:.3f} s ({remote_s / local_s:.2f}x)"
    )
    return {"local_s": local_s, "remote_s": remote_s}


def _median_seconds(run: Callable[[], object], repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_formats(prompt_seconds: float, take_seconds: float) -> dict[str, dict[str, float]]:
    import torch
    from transformers import EncodecModel

    from sidecar.cli.examples import drum_loop
    from sidecar.engine.tiny import musicgen_config

    torch.manual_seed(0)
    config = musicgen_config(64, 1, 2, 64, codec_filters=64, codec_hidden=128)  # real EnCodec
    codec = EncodecModel(config.audio_encoder).eval()
    rate = int(codec.config.sampling_rate)
    bars = max(1, round(prompt_seconds / 2.0))
    music = np.atleast_2d(np.asarray(drum_loop(120.0, bars, sample_rate=rate), dtype=np.float32))
    music = music[:1] if music.shape[0] < music.shape[-1] else music.T[:1]
    take_samples = int(take_seconds * rate)
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, (1, int(take_seconds * rate)))
    cases = {  # 8 s: a 4-bar clip or take at 120 BPM
        "prompt up (drum loop)": music[:, : int(prompt_seconds * rate)],
        "take back (drum loop)": np.tile(music, (1, 1 + take_samples // music.shape[1]))[
            :, :take_samples
        ],
        "take back (noise: tiny's output, worst case)": noise.astype(np.float32),
    }
    results = {}
    print(f"\nformats: the released 32 kHz EnCodec (random weights), mono, {rate} Hz, this CPU")
    for name, audio in cases.items():
        seconds = audio.shape[1] / rate
        meta, flac = audio_to_payload(audio, rate)
        flac_encode = _median_seconds(lambda a=audio: audio_to_payload(a, rate))
        flac_decode = _median_seconds(lambda m=meta, f=flac: audio_from_payload(m, f))
        tensor = torch.from_numpy(np.ascontiguousarray(audio))[None]
        with torch.inference_mode():  # once each: the real-size codec is slow on this CPU
            started = time.perf_counter()
            codes = codec.encode(tensor).audio_codes
            codec_encode = time.perf_counter() - started
            codec_decode = _median_seconds(lambda c=codes: codec.decode(c, [None]), repeats=1)
        buffer = io.BytesIO()
        np.save(buffer, codes.numpy().astype(np.int16))  # 2048 entries: 11 bits, int16 on the wire
        code_bytes = len(buffer.getvalue())
        row = {
            "flac_bytes": float(len(flac)),
            "code_bytes": float(code_bytes),
            "flac_encode_s": flac_encode,
            "flac_decode_s": flac_decode,
            "codec_encode_s": codec_encode,
            "codec_decode_s": codec_decode,
        }
        results[name] = row
        here = codec_encode if name.startswith("prompt") else codec_decode
        flac_here = flac_encode + flac_decode
        print(
            f"  {name}, {seconds:.1f} s: FLAC {len(flac) / 1e3:8.1f} kB (encode+decode "
            f"{flac_here * 1e3:5.1f} ms); codes {code_bytes / 1e3:5.1f} kB (EnCodec "
            f"{'encode' if name.startswith('prompt') else 'decode'} here {here * 1e3:7.1f} ms)"
        )
        for link, bits in LINKS_BITS_PER_SECOND.items():
            flac_total = flac_here + len(flac) * 8 / bits
            codes_total = here + code_bytes * 8 / bits
            print(
                f"    at {link:<10}: FLAC {flac_total * 1e3:7.1f} ms in all, codes "
                f"{codes_total * 1e3:7.1f} ms in all"
            )
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="tiny", help="what the pool serves (built in)")
    parser.add_argument("--seconds", type=float, default=2.0, help="each take's length")
    parser.add_argument("--takes", type=int, default=3, help="takes per producer per run")
    parser.add_argument("--batch-wait-ms", type=float, default=50.0)
    parser.add_argument("--parts", default="all", help="pool, overhead, formats, or all")
    args = parser.parse_args(argv)
    parts = {"pool", "overhead", "formats"} if args.parts == "all" else {args.parts}
    out: dict[str, Any] = {}
    if "formats" in parts:
        out["formats"] = bench_formats(prompt_seconds=8.0, take_seconds=8.0)
    if "overhead" in parts:
        out["overhead"] = bench_overhead(args.model, args.seconds, runs=4)
    if "pool" in parts:
        out["pool"] = bench_pool(args.model, args.seconds, args.takes, args.batch_wait_ms)
    return out


if __name__ == "__main__":
    main()
