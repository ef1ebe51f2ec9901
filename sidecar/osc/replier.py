"""⑥ OSC replies: encode and send from the server's socket, from any thread, in order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from pythonosc.osc_message_builder import OscMessageBuilder

from sidecar.jobs.queue import Job
from sidecar.osc import addresses as A
from sidecar.osc.schema import (
    Cancelled,
    Done,
    ErrorReply,
    OscArg,
    OscDouble,
    Progress,
    Stem,
)

__all__ = [
    "MAX_DATAGRAM_BYTES",
    "MAX_ERROR_TEXT",
    "PAGE",
    "OscReplier",
    "ReplyObserver",
    "encode_message",
    "fit_error",
]

log = logging.getLogger(__name__)

#: The largest UDP payload over IPv4; a bigger reply cannot be sent at all.
MAX_DATAGRAM_BYTES = 65_507
#: An error's request id and message are each cut to this many characters, so that a refusal
#: (≤ 2 × 4 bytes a character, plus the code) fits even macOS's default 9,216-byte datagram.
MAX_ERROR_TEXT = 1000

#: The reply address of requests made on the web page: its replies reach the observers (the
#: page's event stream) and no socket. Port 0 is never a UDP sender's port.
PAGE: tuple[str, int] = ("page", 0)

#: Called with (to, address, args) for every reply, before it is sent, on the sending thread.
ReplyObserver = Callable[[tuple[str, int], str, list[OscArg]], None]


def _cut(text: str, limit: int) -> str:
    """`text`, or its first characters and how many were cut: `limit` characters at most."""
    if len(text) <= limit:
        return text
    keep = limit - 40  # room for the tail
    return f"{text[:keep]}… ({len(text) - keep} characters cut)"


def fit_error(args: list[OscArg]) -> list[OscArg]:
    """`/sidecar/error` arguments with the request id and message cut to `MAX_ERROR_TEXT`."""
    return [_cut(a, MAX_ERROR_TEXT) if isinstance(a, str) else a for a in args]


def encode_message(address: str, args: list[OscArg] | tuple[OscArg, ...]) -> bytes:
    """One OSC message; bools as T/F, ints as int32 (int64 beyond), floats as float32
    (`OscDouble` as a 64-bit double)."""
    builder = OscMessageBuilder(address=address)
    for arg in args:
        if isinstance(arg, bool):
            builder.add_arg(arg, builder.ARG_TYPE_TRUE if arg else builder.ARG_TYPE_FALSE)
        elif isinstance(arg, int):
            fits = -(2**31) <= arg < 2**31
            builder.add_arg(arg, builder.ARG_TYPE_INT if fits else builder.ARG_TYPE_INT64)
        elif isinstance(arg, OscDouble):
            builder.add_arg(float(arg), builder.ARG_TYPE_DOUBLE)
        elif isinstance(arg, float):
            builder.add_arg(arg, builder.ARG_TYPE_FLOAT)
        else:
            builder.add_arg(str(arg), builder.ARG_TYPE_STRING)
    return builder.build().dgram


class OscReplier:
    """Sends replies through the server's transport; thread-safe, FIFO across threads."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.DatagramTransport | None = None
        #: Told of every reply (the web page's event bridge); they must not block.
        self.observers: list[ReplyObserver] = []

    def send(self, to: tuple[str, int], address: str, args: list[OscArg]) -> None:
        if address == A.ERROR:
            args = fit_error(args)
        for observe in self.observers:
            observe(to, address, args)
        if to == PAGE:
            return
        data = encode_message(address, args)
        if len(data) > MAX_DATAGRAM_BYTES:
            log.error(
                "reply %s to %s:%d dropped: %d bytes; one UDP datagram holds at most %d",
                address,
                *to,
                len(data),
                MAX_DATAGRAM_BYTES,
            )
            return
        self.loop.call_soon_threadsafe(self._sendto, data, to)

    def reply(self, to: tuple[str, int], message: Any) -> None:
        address, args = message.to_osc()
        self.send(to, address, args)

    def _sendto(self, data: bytes, to: tuple[str, int]) -> None:
        if self.transport is None or self.transport.is_closing():
            log.warning("reply to %s:%d dropped: the socket is closed", *to)
            return
        self.transport.sendto(data, to)

    # The worker's Reporter interface.
    def progress(self, job: Job, fraction: float, eta_seconds: float) -> None:
        self.reply(job.reply_to, Progress(job.request_id, fraction, eta_seconds))

    def preview(self, job: Job, path: str, seconds_ready: float) -> None:
        self.send(job.reply_to, A.PREVIEW, [job.request_id, path, seconds_ready])

    def stem(self, job: Job, stem: Stem) -> None:
        self.reply(job.reply_to, stem)

    def done(self, job: Job, n_files: int) -> None:
        self.reply(job.reply_to, Done(job.request_id, n_files))

    def error(self, job: Job, code: str, message: str) -> None:
        self.reply(job.reply_to, ErrorReply(job.request_id, code, message))

    def cancelled(self, job: Job) -> None:
        self.reply(job.reply_to, Cancelled(job.request_id))
