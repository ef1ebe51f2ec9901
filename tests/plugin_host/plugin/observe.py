"""The plugin's observable side (INTERFACE.md): its environment, status file and event log."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["PluginWatch"]


@dataclass(frozen=True)
class PluginWatch:
    """Files one plugin instance reports into, and the env that points it there."""

    folder: Path
    sidecar_port: int

    @property
    def status_path(self) -> Path:
        return self.folder / "status.json"

    @property
    def event_log_path(self) -> Path:
        return self.folder / "events.jsonl"

    @property
    def capture_dir(self) -> Path:
        return self.folder / "captures"

    def env(self, **extra: str) -> dict[str, str]:
        """MUSICGEN_SIDECAR_* overrides from INTERFACE.md for a host process."""
        return {
            "MUSICGEN_SIDECAR_HOST": "127.0.0.1",
            "MUSICGEN_SIDECAR_PORT": str(self.sidecar_port),
            "MUSICGEN_SIDECAR_STATUS_FILE": str(self.status_path),
            "MUSICGEN_SIDECAR_EVENT_LOG": str(self.event_log_path),
            "MUSICGEN_SIDECAR_CAPTURE_DIR": str(self.capture_dir),
            "MUSICGEN_SIDECAR_SEED": "7",
            **extra,
        }

    def status(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.status_path.read_text())
            return data
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        try:
            lines = self.event_log_path.read_text().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line being appended right now
            if name is None or event.get("event") == name:
                out.append(event)
        return out

    def wait_for(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        what: str,
        timeout_seconds: float = 90.0,
        pump: Callable[[], object] | None = None,
    ) -> dict[str, Any]:
        """Poll the status file until `predicate(status)`; `pump` runs between polls."""
        deadline = time.monotonic() + timeout_seconds
        while True:
            status = self.status()
            if status and predicate(status):
                return status
            if time.monotonic() > deadline:
                tail = "\n".join(json.dumps(e) for e in self.events()[-15:])
                raise AssertionError(f"plugin never reached {what}; status {status}\n{tail}")
            if pump is not None:
                pump()
            else:
                time.sleep(0.05)

    def wait_for_take(self, timeout_seconds: float = 120.0, **kw: Any) -> dict[str, Any]:
        """Until a take is loaded (and the request is done or failed, which fails the test)."""

        def ready(status: dict[str, Any]) -> bool:
            request = status.get("request", {})
            if request.get("state") in ("error", "stalled", "unanswered", "cancelled"):
                raise AssertionError(f"request ended {request}: {status.get('status')}")
            return any(t.get("loaded") for t in status.get("takes", []))

        return self.wait_for(ready, "a loaded take", timeout_seconds, **kw)
