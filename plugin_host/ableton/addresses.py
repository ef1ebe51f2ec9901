"""A copy of the sidecar's OSC addresses; tests/plugin_host checks it against sidecar/osc."""

# The Remote Script folder must import on its own inside Live, so it cannot import
# `sidecar.osc.addresses`; keep these strings equal to that module's constants.
from __future__ import annotations

__all__ = [
    "ACCEPTED",
    "CANCEL",
    "CANCELLED",
    "CONTINUE",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DONE",
    "ERROR",
    "GENERATE",
    "PING",
    "PONG",
    "PROGRESS",
    "STATUS",
    "STATUS_REPLY",
    "STEM",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9310

# Requests: client → sidecar.
GENERATE = "/sidecar/generate"
CONTINUE = "/sidecar/continue"
CANCEL = "/sidecar/cancel"
STATUS = "/sidecar/status"
PING = "/sidecar/ping"

# Replies: sidecar → client.
ACCEPTED = "/sidecar/accepted"
PROGRESS = "/sidecar/progress"
STEM = "/sidecar/stem"
DONE = "/sidecar/done"
ERROR = "/sidecar/error"
CANCELLED = "/sidecar/cancelled"
STATUS_REPLY = "/sidecar/status/reply"
PONG = "/sidecar/pong"
