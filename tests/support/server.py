"""Run a real `sidecar serve --model tiny` subprocess on a free loopback port for tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sidecar.osc.client import SidecarClient

__all__ = [
    "SidecarProcess",
    "free_tcp_port",
    "free_udp_port",
    "running_sidecar",
    "serve_command",
    "wait_ready",
]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SidecarProcess:
    host: str
    port: int
    output_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    #: The studio page's TCP port (None: started with --no-http).
    http_port: int | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def url(self) -> str:
        """The studio page's address."""
        return f"http://{self.host}:{self.http_port}"


def serve_command(port: int, output_dir: Path, *extra_args: str) -> list[str]:
    """`python -m sidecar serve --model tiny` on `port` (later `--model` flags win), without
    the studio page unless `extra_args` give `--http-port`."""
    page = [] if "--http-port" in extra_args else ["--no-http"]
    return [
        sys.executable,
        "-m",
        "sidecar",
        "serve",
        "--model",
        "tiny",
        "--port",
        str(port),
        "--output-dir",
        str(output_dir),
        *page,
        *extra_args,
    ]


def wait_ready(
    port: int,
    proc: subprocess.Popen[bytes],
    timeout_seconds: float = 120.0,
    token: str | None = None,
    log: Callable[[], str] = lambda: "",
    states: tuple[str, ...] = ("ready",),
) -> None:
    """Ping until the server answers one of `states` (`ready`); fail at once if it exits."""
    deadline = time.monotonic() + timeout_seconds
    with SidecarClient("127.0.0.1", port, token=token) as client:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"sidecar exited with {proc.returncode}:\n{log()}")
            pong = client.ping(0.5)
            if pong is not None and pong[3] in states:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"sidecar not ready in {timeout_seconds} s:\n{log()}")


@contextmanager
def running_sidecar(
    tmp_path: Path,
    *extra_args: str,
    ready_timeout_seconds: float = 120.0,
    env: dict[str, str] | None = None,
    token: str | None = None,
    http: bool = False,
    ready_states: tuple[str, ...] = ("ready",),
) -> Iterator[SidecarProcess]:
    """Start the server (with `http`, its studio page on a free port), wait for
    `/sidecar/pong ... ready` (or another of `ready_states`, such as `degraded`), stop it
    (SIGTERM) afterwards."""
    port = free_udp_port()
    http_port = free_tcp_port() if http else None
    if http_port is not None:
        extra_args = (*extra_args, "--http-port", str(http_port))
    tmp_path.mkdir(parents=True, exist_ok=True)
    output_dir = tmp_path / "stems"
    log_path = tmp_path / f"sidecar-{port}.log"
    cmd = serve_command(port, output_dir, *extra_args, *(["--token", token] if token else []))
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            cmd, stdout=log_file, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    server = SidecarProcess("127.0.0.1", port, output_dir, proc, log_path, http_port)
    try:
        wait_ready(port, proc, ready_timeout_seconds, token, server.log, ready_states)
        yield server
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
