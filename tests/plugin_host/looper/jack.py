"""Start a private `jackd -d dummy` for tests and re-initialise PortAudio so it sees it."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sounddevice as sd

__all__ = [
    "JackServer",
    "jack_available",
    "jack_connect",
    "jack_dummy",
    "jack_interface",
    "jack_ports",
]


@dataclass(frozen=True)
class JackServer:
    name: str
    sample_rate: int
    period_frames: int
    device: int  # the PortAudio device index of the JACK "system" device


def jack_available() -> bool:
    return shutil.which("jackd") is not None and shutil.which("jack_lsp") is not None


def jack_ports(connections: bool = False) -> list[str]:
    cmd = ["jack_lsp"] + (["-c"] if connections else [])
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
    return [line for line in out.stdout.splitlines() if line.strip()]


def jack_connect(source: str, destination: str, connect: bool = True) -> None:
    tool = "jack_connect" if connect else "jack_disconnect"
    subprocess.run([tool, source, destination], check=True, timeout=10, capture_output=True)


def _die_with_parent() -> None:
    """Linux: SIGTERM jackd if the test process dies without tearing down (e.g. killed)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@contextmanager
def jack_dummy(
    sample_rate: int = 48000, period_frames: int = 256, realtime: bool = False
) -> Iterator[JackServer]:
    """A dummy-driver JACK server with a unique name, for the duration of the block.

    Non-realtime by default (works in any container). `realtime=True` asks for SCHED_FIFO
    (`-R`); where that is not permitted jackd2 says so and runs without it.
    """
    name = f"looper-test-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    previous = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_AUDIO_RESERVATION")}
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_AUDIO_RESERVATION"] = "1"
    cmd = [
        "jackd", "-n", name, "-R" if realtime else "-r", "-t", "10000",
        "-d", "dummy", "-r", str(sample_rate), "-p", str(period_frames), "-C", "2", "-P", "2",
    ]  # fmt: skip
    # jackd's log goes to a file, never to a pipe: nobody reads a pipe while tests run, and
    # once its 64 KiB fill up (jackd logs every failed cycle: "ProcessGraphAsyncMaster: Process
    # error") every jackd thread blocks writing to it and the server stops answering; the
    # next client (PortAudio re-initialising) then hangs in jack_client_open forever.
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
    try:
        deadline = time.monotonic() + 15.0
        while "system:playback_1" not in jack_ports():
            if proc.poll() is not None:
                log.seek(0)
                output = log.read().decode(errors="replace")
                raise RuntimeError(f"jackd exited with {proc.returncode}:\n{output}")
            if time.monotonic() > deadline:
                raise RuntimeError("jackd did not come up in 15 s")
            time.sleep(0.1)
        sd._terminate()
        sd._initialize()
        device = next(
            i
            for i, d in enumerate(sd.query_devices())
            if "JACK" in sd.query_hostapis(d["hostapi"])["name"]
        )
        yield JackServer(name, sample_rate, period_frames, device)
    finally:
        sd._terminate()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        sd._initialize()


@contextmanager
def jack_interface(
    name: str, capture_frames: int, playback_frames: int, physical: bool = True
) -> Iterator[int]:
    """A client on the running server standing in for an interface reporting these latencies.

    Yields its PortAudio device index (PortAudio is re-initialised to see it, and again after
    it is gone). `physical=False` leaves the ports without JackPortIsPhysical (see
    jack_interface.py). Streams opened on PortAudio must be closed before the block ends.
    """
    script = Path(__file__).with_name("jack_interface.py")
    cmd = [sys.executable, str(script), name, str(capture_frames), str(playback_frames)]
    proc = subprocess.Popen(
        [*cmd, *([] if physical else ["--virtual"])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_die_with_parent,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        line = proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"{script.name} did not start: {line}{proc.stdout.read()}")
        sd._terminate()
        sd._initialize()
        yield next(i for i, d in enumerate(sd.query_devices()) if d["name"] == name)
    finally:
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        proc.stdout.close()
        sd._terminate()
        sd._initialize()
