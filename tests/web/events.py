"""Reading the studio page's event stream (a real WebSocket) in tests."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from websockets.sync.client import ClientConnection, connect

__all__ = ["events_until", "open_events"]


def open_events(url: str, **headers: str) -> ClientConnection:
    """The page's event stream of the server at `url` (http://host:port)."""
    return connect(url.replace("http://", "ws://") + "/api/events", additional_headers=headers)


def events_until(
    ws: ClientConnection,
    done: Callable[[dict[str, Any]], bool],
    timeout_seconds: float = 120.0,
) -> list[dict[str, Any]]:
    """Every event up to and including the first for which `done` is true."""
    deadline = time.monotonic() + timeout_seconds
    seen: list[dict[str, Any]] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            kinds = [(e["type"], e.get("request_id")) for e in seen][-20:]
            raise TimeoutError(f"no matching event within {timeout_seconds} s; last: {kinds}")
        event = json.loads(ws.recv(timeout=remaining))
        seen.append(event)
        if done(event):
            return seen
