"""Renders the protocol tables (addresses, keys, error codes) from the constants, for the docs."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from sidecar.errors import ERROR_CODES
from sidecar.osc import addresses as A
from sidecar.osc.fields import FIELDS

__all__ = ["check_file", "render_tables", "update_file"]

_BEGIN = "<!-- BEGIN GENERATED: python -m sidecar.osc.docs --write -->"
_END = "<!-- END GENERATED -->"


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_tables() -> str:
    """Markdown tables of requests, replies, request keys and error codes."""
    lines = [
        "**Requests** (client → sidecar, default `udp://127.0.0.1:9310`)",
        "",
        "| address | arguments | meaning |",
        "|---|---|---|",
    ]
    lines += [
        f"| `{a}` | `{_escape(args)}` | {_escape(m)} |" for a, (args, m) in A.REQUESTS.items()
    ]
    lines += [
        "",
        "**Replies** (sidecar → the sender's IP; `reply_port` changes the port)",
        "",
        "| address | arguments | meaning |",
        "|---|---|---|",
    ]
    lines += [f"| `{a}` | `{_escape(args)}` | {_escape(m)} |" for a, (args, m) in A.REPLIES.items()]
    lines += [
        "",
        "**Request keys** (`key value` pairs after the request id)",
        "",
        "| key | allowed | meaning |",
        "|---|---|---|",
    ]
    lines += [
        f"| `{f.name}` | {_escape(f.allowed())} | {_escape(f.help)} |" for f in FIELDS.values()
    ]
    lines += [
        "",
        "**Error codes** (`/sidecar/error <request_id> <code> <message>`)",
        "",
        "| code | meaning |",
        "|---|---|",
    ]
    lines += [f"| `{code}` | {_escape(meaning)} |" for code, meaning in ERROR_CODES.items()]
    return "\n".join(lines) + "\n"


def _block() -> str:
    return f"{_BEGIN}\n{render_tables()}{_END}"


def update_file(path: Path) -> bool:
    """Replace the generated block in `path`; True if the file changed."""
    text = path.read_text()
    pattern = re.compile(re.escape(_BEGIN) + ".*?" + re.escape(_END), re.S)
    if not pattern.search(text):
        raise ValueError(f"{path} has no generated block ({_BEGIN} ... {_END})")
    new = pattern.sub(lambda _: _block(), text)
    if new != text:
        path.write_text(new)
    return new != text


def check_file(path: Path) -> bool:
    """True if `path`'s generated block matches the constants."""
    return _block() in path.read_text()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="update README.md and the docs")
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[2]
    files = [root / "README.md", root / "docs" / "osc-protocol.md"]
    if args.write:
        for f in files:
            print(f, "updated" if update_file(f) else "unchanged")
        return 0
    print(render_tables())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
