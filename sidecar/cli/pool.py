"""`sidecar pool serve`: run the GPU pool the producers' sidecars reach with `--engine URL`."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from sidecar.cli.args import positive_int, udp_port

__all__ = ["POOL_TOKEN_ENV", "register"]

POOL_TOKEN_ENV = "SIDECAR_POOL_TOKEN"  # noqa: S105 (a variable name, not a secret)


def _serve(args: argparse.Namespace) -> int:
    try:
        from sidecar.pool.app import PoolConfig, run_pool
    except ImportError as e:
        sys.stderr.write(f"error: the pool needs Ray Serve: pip install 'ray[serve]' ({e})\n")
        return 1
    token = args.token or os.environ.get(POOL_TOKEN_ENV)
    if not token:
        sys.stderr.write(
            f"error: --token: the pool serves nobody without a token; pass --token or set "
            f"{POOL_TOKEN_ENV}\n"
        )
        return 2
    if args.max_replicas < args.min_replicas:
        sys.stderr.write(
            f"error: --max-replicas {args.max_replicas} is below --min-replicas "
            f"{args.min_replicas}\n"
        )
        return 2
    config = PoolConfig(
        models=tuple(args.model or ["facebook/musicgen-small"]),
        token=token,
        host=args.host,
        port=args.port,
        address=args.address,
        device=args.device,
        decoder=args.decoder,
        min_replicas=args.min_replicas,
        max_replicas=max(args.max_replicas, args.min_replicas),
        gpus_per_replica=args.gpus_per_replica,
        cpus_per_replica=args.cpus_per_replica,
        max_batch_size=args.max_batch,
        batch_wait_ms=args.batch_wait_ms,
        warm_up=not args.no_warm_up,
        cluster_cpus=args.cluster_cpus,
    )
    run_pool(config)
    return 0


def register(subparsers: Any) -> None:
    """Add `sidecar pool serve` to the CLI's subcommands."""
    pool = subparsers.add_parser("pool", help="the GPU pool (Ray Serve) for `serve --engine`")
    sub = pool.add_subparsers(dest="pool_command", required=True)
    p = sub.add_parser("serve", help="serve warm MusicGen replicas to sidecars over HTTP")
    p.add_argument("--model", action="append", help="a model to serve (repeatable)")
    p.add_argument(
        "--host", default="127.0.0.1", help="the ingress's address (TLS: docs/remote.md)"
    )
    p.add_argument("--port", type=udp_port, default=8750)
    p.add_argument("--token", default=None, help=f"required (or {POOL_TOKEN_ENV})")
    p.add_argument(
        "--address", default=None, help="join a Ray cluster (e.g. 'auto'); default: start one"
    )
    p.add_argument("--device", default=None, help="as for `sidecar serve`")
    p.add_argument("--decoder", default="auto", help="as for `sidecar serve`")
    p.add_argument("--min-replicas", type=positive_int, default=1)
    p.add_argument("--max-replicas", type=positive_int, default=1, help="> min: autoscaled")
    p.add_argument("--gpus-per-replica", type=float, default=0.0, help="1 on a GPU box")
    p.add_argument("--cpus-per-replica", type=float, default=1.0)
    p.add_argument("--max-batch", type=positive_int, default=4, help="requests per decode")
    p.add_argument("--batch-wait-ms", type=float, default=30.0, help="wait for a batch to fill")
    p.add_argument("--cluster-cpus", type=positive_int, default=None, help="a local cluster's CPUs")
    p.add_argument("--no-warm-up", action="store_true")
    p.set_defaults(func=_serve)
