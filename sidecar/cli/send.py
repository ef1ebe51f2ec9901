"""`sidecar send`: one OSC request to a running server, its replies printed until its answer."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from sidecar.osc import addresses as A

__all__ = ["AUTH_ENV", "register", "token_from"]

#: The environment variable that holds the shared token, for `serve` and `send` alike.
AUTH_ENV = "SIDECAR_TOKEN"


def token_from(args: argparse.Namespace) -> str | None:
    """The shared token: `--token`, else the `AUTH_ENV` environment variable, else None."""
    return args.token or os.environ.get(AUTH_ENV) or None


#: Replies that answer a request on their own (besides the terminal ones).
_ANSWERS = (A.PONG, A.STATUS_REPLY, A.PRESETS_REPLY, A.MODEL_LIST_REPLY, A.HISTORY_END)


def _number_or_text(word: str) -> Any:
    try:
        number = float(word)
    except ValueError:
        return word
    return int(number) if number.is_integer() and "." not in word else number


def _send(args: argparse.Namespace) -> int:
    from sidecar.cli.args import parse_pairs
    from sidecar.osc.client import SidecarClient

    address = args.address if args.address.startswith("/") else f"/sidecar/{args.address}"
    first = args.id
    if address == A.HISTORY and first is not None:
        first = os.path.abspath(first)  # the server reads the clip from its own directory
    osc_args: list[Any] = [] if first is None else [first]
    # Positional words (`reroll r1 take-7`, `model/load m1 tiny`, `history clip 5`) as they
    # are, numbers as numbers; then the key=value pairs.
    words = [w for w in args.pairs if "=" not in w]
    osc_args += [_number_or_text(w) for w in words]
    osc_args += parse_pairs([w for w in args.pairs if "=" in w])
    token = token_from(args)
    # With a token, the client ends every message with `token <value>`, as the DAW scripts do.
    with SidecarClient(args.host, args.port, token=token) as client:
        client.send(address, *osc_args)
        if address == A.CANCEL and args.id is not None:
            # The cancelled request's own replies go to whoever sent it: ask for its state.
            time.sleep(0.2)
            client.send(A.STATUS, args.id)
        for reply_address, reply_args in client.replies(args.timeout):
            print(reply_address, *reply_args, flush=True)
            if reply_address in A.TERMINAL_REPLIES or reply_address in _ANSWERS:
                return 1 if reply_address == A.ERROR else 0
    sys.stderr.write(f"no reply within {args.timeout} s from udp://{args.host}:{args.port}\n")
    return 1


def register(sub: Any) -> None:
    """Add the `send` subcommand to the `sidecar` subparsers."""
    from sidecar.cli.args import udp_port

    p = sub.add_parser(
        "send",
        help="send one OSC request to a running server and print its replies until its answer",
        description="Send one OSC request and print every reply, one per line, until the "
        "request's answer: done, error or cancelled, or the pong, status, presets, model list "
        "or history end. Exit status 0 on an answer, 1 on /sidecar/error or when no reply "
        "comes within --timeout.",
    )
    p.add_argument(
        "address",
        help="generate, continue, cancel, status, ping, presets, history, reroll, recall, "
        "model/list, model/load (under /sidecar/), or a full address",
    )
    p.add_argument(
        "id",
        nargs="?",
        default=None,
        help="the first argument: the request id (the clip path for history)",
    )
    p.add_argument(
        "pairs",
        nargs="*",
        metavar="key=value",
        help="request keys, typed as the server expects (clip= made absolute); words without "
        "'=' go through as they are, e.g. a take id or a model name",
    )
    p.add_argument("--host", default=A.DEFAULT_HOST)
    p.add_argument("--port", type=udp_port, default=A.DEFAULT_PORT)
    p.add_argument(
        "--token",
        default=None,
        help="the server's shared token (`serve --token`), sent as 'token <value>' at the end "
        f"of every message; prefer the {AUTH_ENV} environment variable",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="give up after this many seconds without a reply",
    )
    p.set_defaults(func=_send)
