"""④ `sidecar pool serve`: Ray (local or joined) and the pool's deployments, until stopped."""

from __future__ import annotations

import logging
import re
import signal
import threading
from dataclasses import dataclass
from typing import Any

import ray
from ray import serve
from ray.serve.config import RequestRouterConfig

from sidecar.pool.board import BOARD_NAME, NAMESPACE, PoolBoard
from sidecar.pool.ingress import Ingress
from sidecar.pool.replica import Replica

__all__ = ["APP_NAME", "PoolConfig", "build_app", "run_pool"]

log = logging.getLogger(__name__)

APP_NAME = "sidecar-pool"


@dataclass(frozen=True)
class PoolConfig:
    """What `sidecar pool serve` was asked for (its flags, one to one)."""

    models: tuple[str, ...]
    token: str
    host: str = "127.0.0.1"
    port: int = 8750
    address: str | None = None
    device: str | None = None
    decoder: str = "auto"
    min_replicas: int = 1
    max_replicas: int = 1
    gpus_per_replica: float = 0.0
    cpus_per_replica: float = 1.0
    max_batch_size: int = 4
    batch_wait_ms: float = 30.0
    warm_up: bool = True
    cluster_cpus: int | None = None


def _deployment_name(model: str) -> str:
    return "model-" + re.sub(r"[^A-Za-z0-9]+", "-", model).strip("-").lower()


def build_app(config: PoolConfig) -> Any:
    """The pool as a Serve application: one `Replica` deployment per model behind the ingress."""
    handles = {}
    for model in config.models:
        scaling: dict[str, Any]
        if config.max_replicas > config.min_replicas:
            scaling = {
                "autoscaling_config": {
                    "min_replicas": config.min_replicas,
                    "max_replicas": config.max_replicas,
                    "target_ongoing_requests": config.max_batch_size,
                }
            }
        else:
            scaling = {"num_replicas": config.min_replicas}
        deployment: Any = serve.deployment(
            Replica,
            name=_deployment_name(model),
            ray_actor_options={
                "num_gpus": config.gpus_per_replica,
                "num_cpus": config.cpus_per_replica,
            },
            max_ongoing_requests=max(2, 4 * config.max_batch_size),
            request_router_config=RequestRouterConfig(
                request_router_class="sidecar.pool.router:BucketRouter",  # type: ignore[arg-type]
                request_router_kwargs={
                    "batch_wait_seconds": config.batch_wait_ms / 1000.0,
                    "max_batch_size": config.max_batch_size,
                },
            ),
            **scaling,
        )
        handles[model] = deployment.bind(
            model,
            config.device,
            config.decoder,
            config.max_batch_size,
            config.batch_wait_ms / 1000.0,
            config.warm_up,
        )
    ingress: Any = serve.deployment(
        Ingress, name="ingress", num_replicas=1, ray_actor_options={"num_cpus": 0}
    )
    return ingress.bind(handles, config.token)


def run_pool(config: PoolConfig, stop: threading.Event | None = None) -> None:
    """Start (or join) Ray, deploy, and serve until `stop` is set or SIGINT/SIGTERM arrives."""
    if not config.token:
        raise ValueError(
            "token: the pool serves nobody without one; pass --token or set SIDECAR_POOL_TOKEN"
        )
    init: dict[str, Any] = {"namespace": NAMESPACE, "include_dashboard": False}
    if config.address:
        init["address"] = config.address
    else:  # a cluster of this machine alone: every Ray process on loopback
        init["_node_ip_address"] = "127.0.0.1"
        if config.cluster_cpus is not None:
            init["num_cpus"] = config.cluster_cpus
    ray.init(**init)
    stop = stop or threading.Event()
    try:
        PoolBoard.options(  # type: ignore[attr-defined]
            name=BOARD_NAME, namespace=NAMESPACE, get_if_exists=True, lifetime="detached"
        ).remote()
        serve.start(http_options={"host": config.host, "port": config.port})
        serve.run(build_app(config), name=APP_NAME, route_prefix="/")
        log.info(
            "pool ready on http://%s:%d: %s", config.host, config.port, ", ".join(config.models)
        )
        print(f"pool ready on http://{config.host}:{config.port}", flush=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
    finally:
        serve.shutdown()
        ray.shutdown()
