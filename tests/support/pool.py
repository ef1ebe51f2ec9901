"""Run a real `sidecar pool serve` subprocess (Ray Serve on loopback) for tests and benchmarks."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["PoolProcess", "free_tcp_port", "pool_get", "ray_stop", "running_pool"]

#: Ray and two replicas need about two minutes on a loaded 2-core machine; far less when idle.
POOL_READY_SECONDS = 420.0


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PoolProcess:
    port: int
    token: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def status(self) -> dict[str, Any]:
        return pool_get(self.port, "/v1/status", self.token)[1]


def pool_get(port: int, path: str, token: str | None) -> tuple[int, dict[str, Any]]:
    """One GET to the pool on loopback: the HTTP status and the JSON body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def ray_stop() -> None:
    """Stop every Ray process of this machine (CI machines run one pool at a time)."""
    subprocess.run(
        [sys.executable, "-m", "ray.scripts.scripts", "stop", "--force"],
        capture_output=True,
        timeout=120,
        check=False,
    )


@contextmanager
def running_pool(
    log_dir: Path, *extra_args: str, token: str = "pool-test-token", replicas: int = 2
) -> Iterator[PoolProcess]:
    """`sidecar pool serve --model tiny --decoder exact` with `replicas` replicas; waits until
    it prints `pool ready`, and afterwards stops it and every Ray process, even on failure."""
    port = free_tcp_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"pool-{port}.log"
    cmd = [
        sys.executable, "-m", "sidecar", "pool", "serve", "--model", "tiny", "--decoder", "exact",
        "--token", token, "--port", str(port), "--min-replicas", str(replicas),
        "--max-replicas", str(replicas), "--cpus-per-replica", "0.5", "--cluster-cpus", "4",
        "--no-warm-up", *extra_args,
    ]  # fmt: skip
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            cmd, stdout=log_file, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    pool = PoolProcess(port, token, proc, log_path)
    try:
        deadline = time.monotonic() + POOL_READY_SECONDS
        while "pool ready on" not in pool.log():
            if proc.poll() is not None:
                raise RuntimeError(f"the pool exited with {proc.returncode}:\n{pool.log()}")
            if time.monotonic() > deadline:
                late = f"the pool was not ready in {POOL_READY_SECONDS} s"
                raise RuntimeError(f"{late}:\n{pool.log()}")
            time.sleep(0.5)
        yield pool
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        ray_stop()
