"""A small blocking OSC client for the sidecar: `sidecar send`, scripts and tests."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

from pythonosc.osc_packet import OscPacket, ParseError

from sidecar.osc import addresses as A
from sidecar.osc.replier import encode_message
from sidecar.osc.schema import OscArg

__all__ = ["Reply", "SidecarClient"]

Reply = tuple[str, tuple[Any, ...]]


class SidecarClient:
    """Sends from its own UDP socket and reads the replies that come back to it."""

    def __init__(
        self,
        host: str = A.DEFAULT_HOST,
        port: int = A.DEFAULT_PORT,
        bind_host: str = "127.0.0.1",
        bind_port: int = 0,
        token: str | None = None,
    ) -> None:
        self.server = (host, port)
        self.token = token
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._grow_receive_buffer()
        self.sock.bind((bind_host, bind_port))

    def _grow_receive_buffer(self, size_bytes: int = 4 << 20) -> None:
        """Room for bursts of replies (many requests in flight): UDP drops what does not fit."""
        force = getattr(socket, "SO_RCVBUFFORCE", None)
        for option in (force, socket.SO_RCVBUF):
            if option is None:
                continue
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, option, size_bytes)
                return
            except OSError:
                continue

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> SidecarClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, address: str, *args: OscArg) -> None:
        """Send one message; with a token, `token <value>` goes last, as the server expects."""
        tail: list[OscArg] = ["token", self.token] if self.token else []
        self.sock.sendto(encode_message(address, [*args, *tail]), self.server)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendto(data, self.server)

    def receive(self, timeout_seconds: float = 5.0) -> Reply | None:
        """The next reply message, or None after `timeout_seconds`."""
        self.sock.settimeout(max(timeout_seconds, 1e-3))
        try:
            data, _ = self.sock.recvfrom(65536)
        except TimeoutError:
            return None
        try:
            packet = OscPacket(data)
        except ParseError:
            return ("", ("unparseable reply",))
        message = packet.messages[0].message
        return message.address, tuple(message.params)

    def replies(self, timeout_seconds: float = 60.0) -> Iterator[Reply]:
        """Replies until `timeout_seconds` pass without one more."""
        while True:
            reply = self.receive(timeout_seconds)
            if reply is None:
                return
            yield reply

    def until_terminal(self, request_id: str, timeout_seconds: float = 120.0) -> list[Reply]:
        """Every reply for `request_id` up to and including its terminal one."""
        deadline = time.monotonic() + timeout_seconds
        seen: list[Reply] = []
        while time.monotonic() < deadline:
            reply = self.receive(deadline - time.monotonic())
            if reply is None:
                break
            address, args = reply
            if args and args[0] == request_id:
                seen.append(reply)
                if address in A.TERMINAL_REPLIES:
                    return seen
        raise TimeoutError(
            f"no terminal reply for '{request_id}' within {timeout_seconds} s; got {seen}"
        )

    def ping(self, timeout_seconds: float = 2.0) -> tuple[Any, ...] | None:
        """The pong's arguments (version, model, device, state), or None."""
        self.send(A.PING)
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            reply = self.receive(deadline - time.monotonic())
            if reply is None:
                return None
            if reply[0] == A.PONG:
                return reply[1]
        return None
