"""① OSC receiver: parse, validate, enqueue and acknowledge; never generates on the event loop."""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import logging
import time
from collections.abc import Callable
from typing import Any, Literal

from pythonosc.osc_packet import OscPacket, ParseError

from sidecar import __version__
from sidecar.errors import RequestError, SidecarError, UnauthorizedError, UnknownAddressError
from sidecar.files.paths import PathPolicy
from sidecar.jobs.models import ModelManager
from sidecar.jobs.queue import Job, JobQueue, JobState
from sidecar.musical.presets import PresetLibrary
from sidecar.osc import addresses as A
from sidecar.osc.fields import FIELDS, check_value, shown
from sidecar.osc.replier import OscReplier
from sidecar.osc.resolve import apply_preset
from sidecar.osc.schema import (
    Accepted,
    Cancelled,
    ErrorReply,
    GenerateRequest,
    OscArg,
    Pong,
    parse_request_id,
)
from sidecar.osc.take_handlers import TakeHandlers
from sidecar.output.history import TakeHistory

__all__ = ["OscReceiver", "ServerState", "ServerStateName"]

log = logging.getLogger(__name__)


#: The server's own state in `/sidecar/pong` and `/sidecar/status` (documented at `A.PONG`).
ServerStateName = Literal["loading", "ready", "degraded", "stopping"]


class ServerState:
    """What `/sidecar/pong` and `/sidecar/status` report about the server itself."""

    def __init__(self, model: str, device: str) -> None:
        self.model = model
        self.device = device
        self.state: ServerStateName = "loading"


class _RateLimitedLog:
    """Logs at most `per_seconds` messages a second; counts what it drops."""

    def __init__(self, per_seconds: float = 5.0) -> None:
        self.per_seconds = per_seconds
        self.window = 0.0
        self.count = 0
        self.dropped = 0

    def warning(self, msg: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self.window >= 1.0:
            if self.dropped:
                log.warning("%d more rejected requests not logged", self.dropped)
            self.window, self.count, self.dropped = now, 0, 0
        if self.count < self.per_seconds:
            self.count += 1
            log.warning(msg, *args)
        else:
            self.dropped += 1


def _reply_port_of(args: tuple[Any, ...] | list[Any]) -> int | None:
    """A valid `reply_port` among raw key/value arguments, so even errors go where asked;
    valid as the request parser has it (an OSC int, or a whole float such as 9000.0)."""
    for key, value in zip(args[1::2], args[2::2], strict=False):
        if key == "reply_port":
            try:
                return int(check_value(FIELDS["reply_port"], value))
            except RequestError:
                return None
    return None


def _request_id_of(args: tuple[Any, ...] | list[Any]) -> str:
    """The request id to put in a refusal: the first argument as the request parser takes it
    (a string, or an OSC int as its decimal string); '' when there is none."""
    raw = args[0] if args else None
    if isinstance(raw, str):
        return raw
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw)
    return ""


def _refused_id(address: str, args: tuple[Any, ...]) -> str:
    """The id a refusal echoes: the request id of a request that carries one, the first
    argument of an unknown address (a typo such as /sidecar/generatex), else ''."""
    if address in A.WITH_REQUEST_ID or address not in A.REQUESTS:
        return _request_id_of(args)
    return ""


class OscReceiver(TakeHandlers, asyncio.DatagramProtocol):
    """Handles every datagram on the server socket."""

    def __init__(
        self,
        queue: JobQueue,
        replier: OscReplier,
        state: ServerState,
        policy: PathPolicy,
        token: str | None = None,
        presets: PresetLibrary | None = None,
        history: TakeHistory | None = None,
        models: ModelManager | None = None,
        switch_model: Callable[[str], None] | None = None,
    ) -> None:
        self.queue = queue
        self.replier = replier
        self.state = state
        self.policy = policy
        self.token = token
        self.presets = presets
        self.history = history
        self.models = models
        self.switch_model = switch_model
        self.rejections = _RateLimitedLog()
        self.handlers: dict[str, Callable[[tuple[Any, ...], tuple[str, int]], None]] = {
            A.GENERATE: self.on_generate,
            A.CONTINUE: self.on_continue,
            A.CANCEL: self.on_cancel,
            A.STATUS: self.on_status,
            A.PING: self.on_ping,
            A.PRESETS: self.on_presets,
            A.HISTORY: self.on_history,
            A.REROLL: self.on_reroll,
            A.RECALL: self.on_recall,
            A.MODEL_LIST: self.on_model_list,
            A.MODEL_LOAD: self.on_model_load,
        }

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.replier.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        sender = (addr[0], addr[1])
        try:
            packet = OscPacket(data)
        except (ParseError, ValueError, IndexError, TypeError, OverflowError) as e:
            # python-osc raises more than ParseError on hostile bytes (UnicodeDecodeError on
            # invalid UTF-8, found by tests/osc/test_fuzz.py): all of it is a malformed packet.
            self.rejections.warning("malformed OSC from %s:%d: %s", *sender, e)
            self.replier.reply(sender, ErrorReply("", "bad_request", f"malformed OSC packet: {e}"))
            return
        for timed in packet.messages:
            message = timed.message
            self.dispatch(message.address, tuple(message.params), sender)

    def error_received(self, exc: Exception) -> None:
        log.warning("socket error: %s", exc)

    def _authorize(self, sent: Any) -> None:
        """Refuse the message if a token is required and `sent` (the value of its trailing
        `token <value>` pair, None without one) is missing or wrong."""
        if self.token is not None and not (
            isinstance(sent, str) and hmac.compare_digest(sent.encode(), self.token.encode())
        ):
            raise UnauthorizedError(
                "token: missing or wrong; this server takes requests only with "
                "'token <value>' as the last two arguments"
            )

    def dispatch(self, address: str, args: tuple[Any, ...], sender: tuple[str, int]) -> None:
        handler = self.handlers.get(address)
        sent: Any = None
        if len(args) >= 2 and args[-2] == "token":  # the token pair is not the request's own
            sent, args = args[-1], args[:-2]
        try:
            self._authorize(sent)
            if handler is None:
                shown_address = address if len(address) <= 200 else shown(address, 200)
                raise UnknownAddressError(
                    f"no handler for {shown_address}; known: {', '.join(sorted(self.handlers))}"
                )
            handler(args, sender)
        except SidecarError as e:
            rid = _refused_id(address, args)
            port = _reply_port_of(args) if address in (A.GENERATE, A.CONTINUE) else None
            self.rejections.warning(
                "rejected %s from %s:%d: %s", address[:200], *sender, e.message[:500]
            )
            self.replier.reply((sender[0], port or sender[1]), ErrorReply(rid, e.code, e.message))
        except Exception as e:
            log.exception("handler for %s failed", address[:200])
            rid = _refused_id(address, args)
            self.replier.reply(sender, ErrorReply(rid, "internal", f"{type(e).__name__}: {e}"))

    # ------------------------------------------------------------------ handlers

    def on_generate(self, args: tuple[Any, ...], sender: tuple[str, int]) -> None:
        self._submit(A.GENERATE, args, sender)

    def on_continue(self, args: tuple[Any, ...], sender: tuple[str, int]) -> None:
        self._submit(A.CONTINUE, args, sender)

    def _submit(self, address: str, args: tuple[Any, ...], sender: tuple[str, int]) -> None:
        self.enqueue(GenerateRequest.from_osc(address, args), sender)

    def enqueue(self, request: GenerateRequest, sender: tuple[str, int]) -> None:
        """Apply the preset, check the clip's path, queue the job and acknowledge it."""
        request, preset = apply_preset(request, self.presets)
        if request.clip is not None:
            resolved = self.policy.check_clip(request.clip)
            request = dataclasses.replace(request, clip=str(resolved))
        reply_to = (sender[0], request.reply_port or sender[1])
        job = Job(request=request, reply_to=reply_to, preset=preset)
        position = self.queue.submit(job)
        self.replier.reply(reply_to, Accepted(request.request_id, position))

    def on_cancel(self, args: tuple[Any, ...], sender: tuple[str, int]) -> None:
        rid = parse_request_id(args, A.CANCEL)
        job, cancelled_here = self.queue.cancel(rid)
        if job is None:
            # Not an error: an error would read as a second terminal reply for an id the
            # client may have had refused (busy) or long forgotten.
            self.replier.send(sender, A.STATUS_REPLY, [rid, "unknown", -1, 0.0])
            return
        if cancelled_here:
            self.replier.reply(job.reply_to, Cancelled(rid))
        elif job.state.finished:
            self._send_job_status(job, sender)
        # A running job is answered by the worker at its next decoding step.

    def on_status(self, args: tuple[Any, ...], sender: tuple[str, int]) -> None:
        if not args:
            running = self.queue.running
            values: list[OscArg] = [
                "",
                self.state.state,
                len(self.queue),
                running.request_id if running else "",
            ]
            self.replier.send(sender, A.STATUS_REPLY, values)
            return
        rid = parse_request_id(args, A.STATUS)
        job = self.queue.get(rid)
        if job is None:
            self.replier.send(sender, A.STATUS_REPLY, [rid, "unknown", -1, 0.0])
            return
        self._send_job_status(job, sender)

    def _send_job_status(self, job: Job, to: tuple[str, int]) -> None:
        position = self.queue.position(job) if job.state is JobState.QUEUED else -1
        if job.state is JobState.RUNNING:
            position = 0
        self.replier.send(
            to,
            A.STATUS_REPLY,
            [job.request_id, job.state.value, position, round(job.progress, 4)],
        )

    def on_model_list(self, args: tuple[Any, ...], sender: tuple[str, int]) -> None:
        values: list[OscArg] = []
        listing = self.models.listing() if self.models is not None else []
        for model in listing:
            values += [
                model.name,
                model.device,
                round(model.bytes / 1e6, 1),
                "separator"
                if model.role == "separator"
                else ("current" if model.current else "loaded"),
            ]
        loading = self.models.loading if self.models is not None else None
        if loading is not None:
            values += [loading, self.state.device, 0.0, "loading"]
        self.replier.send(sender, A.MODEL_LIST_REPLY, [len(values) // 4, *values])

    def on_model_load(self, args: tuple[Any, ...], sender: tuple[str, int]) -> None:
        rid = parse_request_id(args, A.MODEL_LOAD)
        name = args[1] if len(args) > 1 else None
        if not isinstance(name, str) or not name or len(name) > 512:
            raise RequestError(
                f"name: {shown(name)}; allowed: a hub id, a local directory or tiny", "name"
            )
        switch = self.switch_model
        if switch is None:
            raise RequestError("name: this server cannot switch models", "name")
        job = Job(
            request=GenerateRequest(request_id=rid), reply_to=sender, action=lambda: switch(name)
        )
        self.replier.reply(sender, Accepted(rid, self.queue.submit(job)))

    def on_ping(self, args: tuple[Any, ...], sender: tuple[str, int]) -> None:
        self.replier.reply(
            sender, Pong(__version__, self.state.model, self.state.device, self.state.state)
        )
