"""`sidecar doctor --engine URL`: the pool reachable, the token accepted, the model served."""

from __future__ import annotations

import subprocess

from sidecar.cli.doctor import check_engine
from tests.support.cli import run_sidecar
from tests.support.pool import PoolProcess, free_tcp_port


def engine_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stdout.splitlines() if line.split()[1:2] == ["engine"]]
    assert len(lines) == 1, done.stdout + done.stderr
    return lines[0]


def test_doctor_checks_the_pool_its_token_and_its_models(pool: PoolProcess) -> None:
    def doctor(*args: str) -> subprocess.CompletedProcess[str]:
        return run_sidecar("doctor", "--model", "remote:tiny", *args, timeout=120)

    good = doctor("--engine", pool.url, "--engine-token", pool.token)
    assert engine_line(good).startswith("ok") and "serves tiny" in engine_line(good)
    # a remote model is not looked for in this machine's cache
    assert not [line for line in good.stdout.splitlines() if line.split()[1:2] == ["model"]]

    wrong = doctor("--engine", pool.url, "--engine-token", "not-the-token")
    assert engine_line(wrong).startswith("fail") and "refused the token" in engine_line(wrong)
    assert wrong.returncode == 1 and "not ready: " in wrong.stdout

    # the other answers, asked of the same check in this process (doctor's CLI is slow to start)
    missing = check_engine(pool.url, pool.token, "remote:large")
    assert missing.status == "fail" and "does not serve 'large'; it serves: tiny" in missing.detail
    closed = check_engine(f"http://127.0.0.1:{free_tcp_port()}", pool.token)
    assert closed.status == "fail" and "cannot be reached" in closed.detail
    assert check_engine(pool.url, pool.token).status == "ok"  # no model asked for: any will do
