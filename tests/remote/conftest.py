"""One real pool for the module (Ray Serve on loopback, 2 replicas of tiny, exact decoding) and
producers' sidecars that decode on it with `--engine`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.pool import PoolProcess, running_pool
from tests.support.server import SidecarProcess, running_sidecar

#: Long enough that two producers' requests, sent at once, reliably meet in one batch on a
#: loaded machine (a request alone waits this long before its decode starts).
BATCH_WAIT_MS = 2500


@pytest.fixture(scope="package")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PoolProcess]:
    pytest.importorskip("ray.serve", reason="the pool tests need ray[serve] (the `pool` extra)")
    with running_pool(
        tmp_path_factory.mktemp("pool"), "--batch-wait-ms", str(BATCH_WAIT_MS)
    ) as proc:
        yield proc


def remote_sidecar(
    tmp_path_factory: pytest.TempPathFactory, pool: PoolProcess, name: str
) -> Iterator[SidecarProcess]:
    with running_sidecar(
        tmp_path_factory.mktemp(name),
        "--model",
        "remote:tiny",
        "--engine",
        pool.url,
        "--no-warm-up",
        env={"SIDECAR_ENGINE_TOKEN": pool.token},
    ) as proc:
        yield proc


@pytest.fixture(scope="package")
def producer_a(
    tmp_path_factory: pytest.TempPathFactory, pool: PoolProcess
) -> Iterator[SidecarProcess]:
    yield from remote_sidecar(tmp_path_factory, pool, "producer-a")


@pytest.fixture(scope="package")
def producer_b(
    tmp_path_factory: pytest.TempPathFactory, pool: PoolProcess
) -> Iterator[SidecarProcess]:
    yield from remote_sidecar(tmp_path_factory, pool, "producer-b")
