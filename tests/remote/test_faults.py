"""Faults between a producer's sidecar and the pool: a replica killed mid-take, the pool
unreachable, the network cut mid-stream, a wrong or missing token. One terminal reply each."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sidecar.engine.remote import RemoteEngine
from sidecar.errors import ModelLoadError
from sidecar.osc import addresses as A
from sidecar.osc.client import SidecarClient
from tests.remote.test_producers import one_terminal
from tests.support.forwarder import TcpForwarder
from tests.support.pool import PoolProcess, free_tcp_port, pool_get
from tests.support.server import SidecarProcess, free_udp_port, running_sidecar, serve_command


def wait_for_progress(client: SidecarClient, rid: str) -> None:
    while True:
        reply = client.receive(240)
        assert reply is not None, f"{rid}: no progress"
        if reply[0] == A.PROGRESS and reply[1][0] == rid and reply[1][1] > 0.01:
            return


def test_a_replica_killed_mid_take_costs_the_request_nothing_but_a_retry(
    pool: PoolProcess, producer_a: SidecarProcess
) -> None:
    with SidecarClient(producer_a.host, producer_a.port) as client:
        client.send(A.GENERATE, "pa-kill", "prompt", "x", "seconds", 8.0, "seed", 3)
        wait_for_progress(client, "pa-kill")
        status = pool.status()
        (replica,) = set(status["active"].values())
        os.kill(status["replicas"][replica], signal.SIGKILL)  # the process dies mid-decode
        replies = one_terminal(client, "pa-kill", 300)
        assert replies[-1] == (A.DONE, ("pa-kill", 1)), replies
        # the pool keeps serving (the other replica; Serve starts a new one beside it)
        client.send(A.GENERATE, "pa-after-kill", "prompt", "x", "seconds", 0.5)
        assert one_terminal(client, "pa-after-kill")[-1][0] == A.DONE


@pytest.fixture(scope="module")
def local_sidecar(
    tmp_path_factory: pytest.TempPathFactory, pool: PoolProcess
) -> Iterator[tuple[SidecarProcess, int]]:
    """A producer's sidecar on a local tiny whose `--engine` port nothing listens on yet."""
    port = free_tcp_port()
    with running_sidecar(
        tmp_path_factory.mktemp("local"),
        "--engine",
        f"http://127.0.0.1:{port}",
        "--no-warm-up",
        env={"SIDECAR_ENGINE_TOKEN": pool.token},
    ) as proc:
        yield proc, port


def test_an_unreachable_pool_is_one_clear_error_and_local_models_stay_usable(
    local_sidecar: tuple[SidecarProcess, int],
) -> None:
    server, port = local_sidecar
    with SidecarClient(server.host, server.port) as client:
        client.send(A.MODEL_LOAD, "load-remote", "remote:tiny")
        last = one_terminal(client, "load-remote", 60)[-1]
        assert last[0] == A.ERROR and last[1][1] == "model_error", last
        assert f"the pool at http://127.0.0.1:{port} cannot be reached" in last[1][2]
        client.send(A.MODEL_LOAD, "load-local", "tiny")
        assert one_terminal(client, "load-local", 60)[-1] == (A.DONE, ("load-local", 0))
        client.send(A.GENERATE, "local-take", "prompt", "x", "seconds", 0.5)
        assert one_terminal(client, "local-take")[-1][0] == A.DONE


def test_a_sidecar_started_on_an_unreachable_pool_exits_with_one_clear_error(
    tmp_path: Path,
) -> None:
    port = free_tcp_port()
    url = f"http://127.0.0.1:{port}"
    cmd = serve_command(free_udp_port(), tmp_path, "--model", "remote:tiny", "--engine", url)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 1, done.stderr
    assert f"the pool at http://127.0.0.1:{port} cannot be reached" in done.stderr
    assert "local models still load with /sidecar/model/load" in done.stderr


def test_the_network_cut_mid_take_is_one_clear_error_after_a_bounded_wait(
    pool: PoolProcess, local_sidecar: tuple[SidecarProcess, int]
) -> None:
    server, port = local_sidecar
    forwarder = TcpForwarder(port, pool.port)
    with SidecarClient(server.host, server.port) as client:
        client.send(A.MODEL_LOAD, "load-fwd", "remote:tiny")
        assert one_terminal(client, "load-fwd", 60)[-1] == (A.DONE, ("load-fwd", 0))
        client.send(A.GENERATE, "cut", "prompt", "x", "seconds", 20.0)
        wait_for_progress(client, "cut")
        cut_at = time.monotonic()
        forwarder.cut()
        last = one_terminal(client, "cut", 60)[-1]
        assert last[0] == A.ERROR and last[1][1] == "model_error", last
        assert "remote engine http://127.0.0.1" in last[1][2] and "mid-take" in last[1][2]
        assert time.monotonic() - cut_at < 45  # the stall guard is 30 s; a reset is at once
    assert forwarder.bytes_relayed > 0
    # the pool heard the producer go away: the request's ticket is freed
    deadline = time.monotonic() + 30
    while pool.status()["active"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert pool.status()["active"] == {}


def test_a_wrong_or_missing_token_is_refused(pool: PoolProcess) -> None:
    for token in (None, "not-the-token"):
        status, body = pool_get(pool.port, "/v1/models", token)
        assert status == 401 and body["code"] == "unauthorized"
        with pytest.raises(ModelLoadError, match="refused the token"):
            RemoteEngine(pool.url, "tiny", token)
    assert pool_get(pool.port, "/v1/models", pool.token)[0] == 200
    assert pool_get(pool.port, "/v1/health", None) == (200, {"ok": True})  # liveness only


def test_the_pool_refuses_to_start_without_a_token() -> None:
    env = {k: v for k, v in os.environ.items() if k != "SIDECAR_POOL_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-m", "sidecar", "pool", "serve", "--model", "tiny"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "--token: the pool serves nobody without a token" in done.stderr
