"""③ A small append-only journal of running jobs, so a restart after `kill -9` can tell."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import IO

from sidecar.errors import DeliveryError

__all__ = ["LOCK_NAME", "Journal"]

log = logging.getLogger(__name__)

_NAME = ".sidecar-journal.jsonl"
#: The advisory lock one server holds on its output folder (doctor probes it too).
LOCK_NAME = ".sidecar.lock"


def _claim(output_dir: Path) -> IO[str] | None:
    """Hold `output_dir` for this process (an advisory lock the OS drops when it exits).

    A second server on the same folder would delete the first one's files in progress (its
    start-up cleans `.partial` files) and restart its journal, so it is refused instead.
    Platforms without `fcntl` (Windows) go unguarded.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return None
    output_dir.mkdir(parents=True, exist_ok=True)
    handle = open(output_dir / LOCK_NAME, "a+")  # held open for the process
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise DeliveryError(
            f"output_dir: '{output_dir}' is in use by another sidecar ({holder}); give each "
            "server its own --output-dir"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}\n")
    handle.flush()
    return handle


class Journal:
    """`start`/`end` lines per job; on open, jobs started but never ended were interrupted."""

    def __init__(self, output_dir: Path) -> None:
        self.path = output_dir / _NAME
        self._lock = threading.Lock()
        self._owner = _claim(output_dir)
        self.interrupted: dict[str, str] = self._recover()

    def close(self) -> None:
        """Give the output folder up (another server may use it from now on)."""
        if self._owner is not None:
            self._owner.close()
            self._owner = None

    def _recover(self) -> dict[str, str]:
        """Read the last run's journal, clean its partial files, start a fresh journal."""
        open_jobs: dict[str, str] = {}  # request id → when it started
        if self.path.exists():
            for line in self.path.read_text(errors="replace").splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by the crash itself
                rid = str(entry.get("request_id", ""))
                if entry.get("event") == "start":
                    open_jobs[rid] = str(entry.get("time", ""))
                elif entry.get("event") == "end":
                    open_jobs.pop(rid, None)
        for rid in open_jobs:
            log.warning("request %s was interrupted by the last shutdown", rid)
        self._remove_partials(self.path.parent)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("")
        return open_jobs

    @staticmethod
    def _remove_partials(folder: Path) -> None:
        """Delete temporary files a crash left (hidden `.name.partial` files) under `folder`."""
        if not folder.is_dir():
            return
        for tmp in folder.glob("**/.*.partial*"):
            try:
                tmp.unlink()
            except OSError as e:
                log.warning("cannot remove partial file %s: %s", tmp, e)

    def _append(self, entry: dict[str, str]) -> None:
        """Best effort: the journal only helps a restart explain itself, so a line that cannot
        be written (the output folder deleted meanwhile, a full disk) is logged, never raised;
        a deleted folder is made again."""
        line = json.dumps(entry) + "\n"
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(self.path, "a") as fh:
                    fh.write(line)
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as e:
                log.error("cannot write the job journal %s: %s", self.path, e)

    def start(self, request_id: str) -> None:
        self._append({"event": "start", "request_id": request_id, "time": f"{time.time():.3f}"})

    def end(self, request_id: str, state: str) -> None:
        self._append({"event": "end", "request_id": request_id, "state": state})
