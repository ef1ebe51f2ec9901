"""Faults: out-of-memory, worker exceptions, disk full, kill -9, SIGTERM, remote binds."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from sidecar.engine.musicgen import MusicgenEngine
from sidecar.jobs.queue import Job
from sidecar.jobs.runner import JobRunner
from sidecar.osc import addresses as A
from sidecar.osc.client import SidecarClient
from sidecar.osc.schema import GenerateRequest, Stem
from sidecar.output.delivery import Delivery
from tests.support.server import free_udp_port, running_sidecar, serve_command, wait_ready


class Recorder:
    """A Reporter that keeps what the worker said."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def progress(self, job: Job, fraction: float, eta_seconds: float) -> None:
        self.calls.append(("progress", fraction))

    def stem(self, job: Job, stem: Stem) -> None:
        self.calls.append(("stem", stem))

    def done(self, job: Job, n_files: int) -> None:
        self.calls.append(("done", n_files))

    def error(self, job: Job, code: str, message: str) -> None:
        self.calls.append(("error", (code, message)))

    def cancelled(self, job: Job) -> None:
        self.calls.append(("cancelled", None))

    def terminal(self) -> tuple[str, Any]:
        ends = [c for c in self.calls if c[0] in ("done", "error", "cancelled")]
        assert len(ends) == 1, ends
        return ends[0]


@pytest.fixture(scope="module")
def engine() -> MusicgenEngine:
    return MusicgenEngine.load("tiny", "cpu")


class FlakyDevice:
    """Wraps the model's `generate` at the device edge: OOM above a batch size, or one crash."""

    def __init__(
        self, engine: MusicgenEngine, max_batch: int | None = None, crash_once: bool = False
    ) -> None:
        self.engine, self.real = engine, engine.model.generate
        self.max_batch, self.crash_once, self.batches = max_batch, crash_once, []

    def __call__(self, **kwargs: Any) -> Any:
        batch = kwargs["input_ids"].shape[0]
        self.batches.append(batch)
        if self.crash_once:
            self.crash_once = False
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        if self.max_batch is not None and batch > self.max_batch:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.real(**kwargs)

    def __enter__(self) -> FlakyDevice:
        self.engine.model.generate = self  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        self.engine.model.generate = self.real  # type: ignore[method-assign]


def run(engine: MusicgenEngine, out: Path, **fields: Any) -> Recorder:
    recorder = Recorder()
    job = Job(
        request=GenerateRequest(request_id=fields.pop("rid", "j"), **fields), reply_to=("", 0)
    )
    job.start()
    JobRunner(engine, Delivery(out), recorder).run(job)
    return recorder


def test_oom_retries_variations_in_smaller_batches(engine: MusicgenEngine, tmp_path: Path) -> None:
    with FlakyDevice(engine, max_batch=2) as device:
        rec = run(engine, tmp_path, prompt="x", seconds=0.3, variations=4)
    assert device.batches == [4, 2, 2]
    assert rec.terminal() == ("done", 4)
    assert [c[1].index for c in rec.calls if c[0] == "stem"] == [0, 1, 2, 3]


def test_oom_on_one_take_fails_clearly_and_the_next_job_runs(
    engine: MusicgenEngine, tmp_path: Path
) -> None:
    with FlakyDevice(engine, max_batch=0):
        rec = run(engine, tmp_path, rid="oom", prompt="x", seconds=0.3)
    code, message = rec.terminal()[1]
    assert code == "out_of_memory" and "out of memory on cpu" in message
    assert run(engine, tmp_path, rid="next", prompt="x", seconds=0.3).terminal() == ("done", 1)


def test_worker_exception_is_answered_and_the_worker_recovers(
    engine: MusicgenEngine, tmp_path: Path
) -> None:
    with FlakyDevice(engine, crash_once=True):
        rec = run(engine, tmp_path, rid="crash", prompt="x", seconds=0.3)
        code, message = rec.terminal()[1]
        assert code == "internal" and "illegal memory access" in message
        assert run(engine, tmp_path, rid="ok", prompt="x", seconds=0.3).terminal() == ("done", 1)


def test_disk_full_is_an_error_with_no_partial_file(
    engine: MusicgenEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sidecar.files.audiofile as audiofile

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(audiofile.os, "fsync", full)
    rec = run(engine, tmp_path, rid="full", prompt="x", seconds=0.3)
    code, message = rec.terminal()[1]
    assert code == "delivery_error" and "No space left on device" in message
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert leftovers == [], leftovers


def test_unwritable_output_is_an_error(engine: MusicgenEngine, tmp_path: Path) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("a file where the output folder should be")
    rec = run(engine, blocker, rid="nowrite", prompt="x", seconds=0.3)
    code, message = rec.terminal()[1]
    assert code == "delivery_error" and "out" in message


def spawn(port: int, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        serve_command(port, out, "--no-warm-up"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_progress(client: SidecarClient, rid: str) -> None:
    while True:
        reply = client.receive(60)
        assert reply is not None, "no progress"
        if reply[0] == A.PROGRESS and reply[1][0] == rid and reply[1][1] > 0.0:
            return


def test_kill_9_then_restart_reports_interrupted_and_hides_partials(tmp_path: Path) -> None:
    out, port = tmp_path / "stems", free_udp_port()
    proc = spawn(port, out)
    try:
        wait_ready(port, proc)
        with SidecarClient("127.0.0.1", port) as client:
            client.send(A.GENERATE, "doomed", "prompt", "x", "seconds", 30.0)
            wait_progress(client, "doomed")
            # What a crash in the middle of a write leaves behind.
            (out / "doomed").mkdir(parents=True, exist_ok=True)
            (out / "doomed" / ".doomed-1.0bad1dea.partial.wav").write_bytes(b"RIFF half")
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    proc = spawn(port, out)
    try:
        wait_ready(port, proc)
        with SidecarClient("127.0.0.1", port) as client:
            client.send(A.STATUS, "doomed")
            assert client.receive(5) == (A.STATUS_REPLY, ("doomed", "interrupted", -1, 0.0))
        assert not list(out.rglob("*.partial*"))
        assert not list(out.rglob("*.wav"))
    finally:
        proc.terminate()
        proc.wait(20)


def test_sigterm_cancels_and_answers_everything_then_exits_0(tmp_path: Path) -> None:
    port = free_udp_port()
    proc = spawn(port, tmp_path / "stems")
    try:
        wait_ready(port, proc)
        with SidecarClient("127.0.0.1", port) as client:
            client.send(A.GENERATE, "running", "prompt", "x", "seconds", 30.0)
            client.send(A.GENERATE, "waiting", "prompt", "x", "seconds", 30.0)
            wait_progress(client, "running")
            proc.send_signal(signal.SIGTERM)
            ends = {}
            while len(ends) < 2:
                reply = client.receive(20)
                assert reply is not None, ends
                if reply[0] in A.TERMINAL_REPLIES:
                    ends[reply[1][0]] = reply[0]
            assert ends == {"running": A.CANCELLED, "waiting": A.CANCELLED}
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_remote_bind_needs_allow_remote_and_a_token(tmp_path: Path) -> None:
    env = {**os.environ}
    env.pop("SIDECAR_TOKEN", None)
    for extra, fragment in [((), "--allow-remote"), (("--allow-remote",), "token")]:
        result = subprocess.run(
            serve_command(0, tmp_path / "o", "--host", "0.0.0.0", "--no-warm-up", *extra),
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert result.returncode == 1
        assert "refusing to listen on 0.0.0.0" in result.stderr and fragment in result.stderr


def test_token_is_required_on_every_request(tmp_path: Path) -> None:
    token = "studio-secret-123"
    refusal = (
        "token: missing or wrong; this server takes requests only with "
        "'token <value>' as the last two arguments"
    )
    with (
        running_sidecar(tmp_path, "--no-warm-up", token=token) as server,
        SidecarClient(server.host, server.port) as client,
    ):
        client.send(A.GENERATE, "no-token", "seconds", 0.2)
        assert client.receive(5) == (A.ERROR, ("no-token", "unauthorized", refusal))
        client.send(A.GENERATE, "bad-token", "seconds", 0.2, "token", "guess")
        assert client.receive(5) == (A.ERROR, ("bad-token", "unauthorized", refusal))
        client.send(A.PING)
        assert client.receive(5) == (A.ERROR, ("", "unauthorized", refusal))
        # A wrong token on a message without a request id: nothing else is taken for one.
        client.send(A.PING, "token", "guess")
        assert client.receive(5) == (A.ERROR, ("", "unauthorized", refusal))
        client.send(A.HISTORY, "/some/clip.wav", "token", "guess")
        assert client.receive(5) == (A.ERROR, ("", "unauthorized", refusal))
        client.token = token
        client.send(A.GENERATE, "good", "seconds", 0.2)
        assert client.until_terminal("good", 60)[-1][0] == A.DONE
        json_files = list(server.output_dir.rglob("*.json"))
        assert json_files and all(token not in p.read_text() for p in json_files)


def test_output_folder_deleted_while_serving_does_not_stop_the_server(tmp_path: Path) -> None:
    """A producer cleans up the stems folder (job journal and all): the next requests are
    still made and delivered (the folder is made again), and the server keeps answering."""
    import shutil

    with (
        running_sidecar(tmp_path, "--no-warm-up") as server,
        SidecarClient(server.host, server.port) as client,
    ):
        client.send(A.GENERATE, "before", "seconds", 0.3)
        assert client.until_terminal("before", 60)[-1][0] == A.DONE
        journal = server.output_dir / ".sidecar-journal.jsonl"
        deadline = time.monotonic() + 10
        while '"end"' not in journal.read_text() and time.monotonic() < deadline:
            time.sleep(0.02)  # the job's last journal line follows its `done`
        shutil.rmtree(server.output_dir)
        for rid in ("after-1", "after-2"):
            client.send(A.GENERATE, rid, "seconds", 0.3)
            replies = client.until_terminal(rid, 60)
            assert replies[-1] == (A.DONE, (rid, 1)), replies
            stem = next(r for r in replies if r[0] == A.STEM)
            assert Path(stem[1][2]).is_file()
        client.send(A.STATUS)
        reply = client.receive(5)
        assert reply is not None and reply[0] == A.STATUS_REPLY and "ready" in reply[1]
        assert server.process.poll() is None


def test_a_second_server_on_the_same_output_folder_is_refused(tmp_path: Path) -> None:
    """Its start-up would delete the first one's files in progress and restart its journal."""
    with running_sidecar(tmp_path, "--no-warm-up") as first:
        result = subprocess.run(
            serve_command(free_udp_port(), first.output_dir, "--no-warm-up"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 1
        assert f"output_dir: '{first.output_dir}' is in use by another sidecar" in result.stderr
        assert f"pid {first.process.pid}" in result.stderr
        with SidecarClient(first.host, first.port) as client:  # the first one serves on
            client.send(A.GENERATE, "still", "seconds", 0.3)
            assert client.until_terminal("still", 60)[-1] == (A.DONE, ("still", 1))
