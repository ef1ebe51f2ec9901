"""Command-line argument types shared by the subcommands: ports, counts, `key=value` pairs."""

from __future__ import annotations

import argparse
import os
from typing import Any

from sidecar.osc.fields import FIELDS

__all__ = ["parse_pairs", "positive_int", "udp_port"]


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def udp_port(text: str) -> int:
    """argparse type: a UDP port number, 0 (any free one) to 65535."""
    port = _whole(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port; allowed: 0 to 65535")
    return port


def positive_int(text: str) -> int:
    """argparse type: a whole number of 1 or more."""
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}; allowed: 1 or more")
    return value


def parse_pairs(pairs: list[str]) -> list[Any]:
    """`key=value` words → flat OSC key/value arguments, typed by the request schema."""
    out: list[Any] = []
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep:
            raise SystemExit(f"expected key=value, got {pair!r}")
        spec = FIELDS.get(key)
        value: Any = os.path.abspath(text) if key == "clip" else text
        if spec is not None and spec.kind in ("int", "bool"):
            try:
                value = int(float(text)) if float(text).is_integer() else float(text)
            except ValueError:
                value = text
        elif spec is not None and spec.kind == "float":
            try:
                value = float(text)
            except ValueError:
                value = text
        out.extend([key, value])
    return out
