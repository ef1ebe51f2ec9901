"""Talk to the sidecar over OSC: send /sidecar/continue from one UDP socket, collect the replies."""

from __future__ import annotations

import logging
import queue
import socket
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket, ParseError

from sidecar.osc.addresses import (
    ACCEPTED,
    CANCEL,
    CANCELLED,
    CONTINUE,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DONE,
    ERROR,
    PING,
    PONG,
    PROGRESS,
    STEM,
)

__all__ = ["ContinueRequest", "SidecarClient", "SidecarReply"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ContinueRequest:
    """The fields of one `/sidecar/continue` the looper sends."""

    clip: Path
    bars: int
    bpm: float
    beats_per_bar: int = 4
    loop: bool = True
    variations: int = 1
    sample_rate: int | None = None
    prompt: str | None = None
    seed: int | None = None
    request_id: str = field(default_factory=lambda: f"loop-{uuid.uuid4().hex[:10]}")

    def to_osc_args(self) -> list[Any]:
        args: list[Any] = [
            self.request_id,
            "clip",
            str(self.clip),
            "bars",
            int(self.bars),
            "bpm",
            float(self.bpm),
            "beats_per_bar",
            int(self.beats_per_bar),
            "loop",
            1 if self.loop else 0,
            "variations",
            int(self.variations),
        ]
        if self.sample_rate is not None:
            args += ["sample_rate", int(self.sample_rate)]
        if self.prompt:
            args += ["prompt", self.prompt]
        if self.seed is not None:
            args += ["seed", int(self.seed)]
        return args


@dataclass(frozen=True)
class SidecarReply:
    """One reply datagram: its address and arguments (request id first where there is one)."""

    address: str
    args: tuple[Any, ...]

    @property
    def request_id(self) -> str:
        return str(self.args[0]) if self.args and self.address != PONG else ""

    @property
    def terminal(self) -> bool:
        return self.address in (DONE, ERROR, CANCELLED)


def _build(address: str, args: list[Any]) -> bytes:
    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return bytes(builder.build().dgram)


class SidecarClient:
    """One UDP socket: requests go out from it, so the sidecar's replies come back to it.

    A receiver thread parses replies and puts `SidecarReply` objects on `replies` (a queue the
    looper's control loop drains). Nothing here blocks the audio thread.
    """

    def __init__(
        self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, bind_host: str = "127.0.0.1"
    ) -> None:
        self.host = host
        self.port = port
        self.replies: queue.SimpleQueue[SidecarReply] = queue.SimpleQueue()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((bind_host, 0))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._receive_loop, name="sidecar-replies", daemon=True
        )
        self._thread.start()

    @property
    def local_port(self) -> int:
        return int(self._sock.getsockname()[1])

    def send(self, address: str, args: list[Any]) -> None:
        self._sock.sendto(_build(address, args), (self.host, self.port))

    def request_continue(self, request: ContinueRequest) -> str:
        self.send(CONTINUE, request.to_osc_args())
        logger.info(
            "sent %s %s (%d bars at %.2f BPM)",
            CONTINUE,
            request.request_id,
            request.bars,
            request.bpm,
        )
        return request.request_id

    def cancel(self, request_id: str) -> None:
        self.send(CANCEL, [request_id])

    def ping(self) -> None:
        self.send(PING, [])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)
        self._sock.close()

    def _receive_loop(self) -> None:
        known = {ACCEPTED, PROGRESS, STEM, DONE, ERROR, CANCELLED, PONG}
        while not self._stop.is_set():
            try:
                data, _ = self._sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                packet = OscPacket(data)
            except ParseError as e:
                logger.warning("ignoring an unparsable datagram from the sidecar: %s", e)
                continue
            for timed in packet.messages:
                message = timed.message
                if message.address not in known:
                    logger.debug("ignoring %s from the sidecar", message.address)
                    continue
                self.replies.put(SidecarReply(message.address, tuple(message.params)))
