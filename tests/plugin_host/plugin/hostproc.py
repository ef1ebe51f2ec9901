"""Drive a JSON-lines host process (the C++ test host or the DawDreamer host) from a test."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from pathlib import Path
from typing import Any

__all__ = ["HostError", "HostProcess"]


class HostError(RuntimeError):
    """The host answered ok=false, died, or did not answer in time."""


class HostProcess:
    """One host subprocess: `call(cmd, **fields)` sends a command line and returns its reply.

    stderr goes to a log file (never a pipe nobody reads). A reply that does not come within
    the timeout raises HostError after killing the host, so a hung plugin fails the test
    instead of hanging it.
    """

    def __init__(self, argv: list[str], log_path: Path, env: dict[str, str] | None = None):
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env={**os.environ, **(env or {})},
            text=True,
            bufsize=1,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def call(self, cmd: str, timeout_seconds: float = 60.0, **fields: Any) -> dict[str, Any]:
        """Send {"cmd": cmd, **fields}; return the reply; raise HostError unless ok."""
        if self.process.poll() is not None:
            raise HostError(f"host exited with {self.process.returncode}: {self.log()}")
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"cmd": cmd, **fields}) + "\n")
        self.process.stdin.flush()
        while True:
            try:
                line = self._lines.get(timeout=timeout_seconds)
            except queue.Empty:
                self.process.kill()
                raise HostError(f"no reply to {cmd} in {timeout_seconds} s: {self.log()}") from None
            if line is None:
                code = self.process.wait(10)
                raise HostError(f"host exited with {code} during {cmd}: {self.log()}")
            if line.startswith("{"):
                break  # anything else on stdout is a plugin's or library's chatter
        reply: dict[str, Any] = json.loads(line)
        if not reply.get("ok"):
            raise HostError(f"{cmd} failed: {reply.get('error')}")
        return reply

    def close(self, timeout_seconds: float = 20.0) -> int:
        """Ask the host to quit; kill it if it does not exit in time (a hang on unload)."""
        code: int | None = self.process.poll()
        if code is None:
            try:
                self.call("quit", timeout_seconds=timeout_seconds)
                code = self.process.wait(timeout_seconds)
            except (HostError, subprocess.TimeoutExpired, BrokenPipeError, OSError):
                self.process.kill()
                code = self.process.wait(5)
                raise HostError(f"host did not quit in {timeout_seconds} s: {self.log()}") from None
            finally:
                self._log.close()
        return code

    def __enter__(self) -> HostProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        else:
            self.process.kill()
            self.process.wait(5)
            self._log.close()
