"""A non-blocking UDP link to the sidecar: send OSC, and drain replies from the host's tick."""

from __future__ import annotations

import errno
import socket
from collections.abc import Sequence

from .osc_codec import OscArgument, OscDecodeError, OscMessage, decode_packet, encode_message

__all__ = ["LinkError", "LinkResolveError", "SidecarLink"]

_MAX_DATAGRAM_BYTES = 65535
_UNREACHABLE_ERRNOS = (errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH)


class LinkError(OSError):
    """The sidecar cannot be reached (the port is closed, or the socket failed)."""


class LinkResolveError(LinkError):
    """The sidecar's host name cannot be looked up (a typo in the settings, or no network)."""


class SidecarLink:
    """One UDP socket bound to an ephemeral port; replies come back to it.

    Nothing here blocks after the constructor: `send` is a single `sendto` to the numeric
    address looked up once when the link is made (a host *name* given to every `sendto`
    would be looked up on every send, on the host's main thread, however slow the DNS), and
    `poll` reads whatever datagrams are already waiting and returns at once.

    `address` is the host and port as configured (for messages); `resolved_address` is the
    numeric one sent to. A failed lookup does not raise here: `resolve_error` says why, and
    `send` raises `LinkResolveError` with it until `resolve()` succeeds.

    With a `token` (a sidecar serving other machines needs one: `sidecar serve --allow-remote
    --token ...`), every message sent ends with the two arguments `token <value>`, as the
    sidecar's receiver expects; an empty token sends nothing extra.
    """

    def __init__(self, host: str, port: int, token: str = "") -> None:
        self.address: tuple[str, int] = (host, port)
        self.resolved_address: tuple[str, int] | None = None
        self.resolve_error = ""
        self._token = token
        bind_host = "127.0.0.1" if host in ("127.0.0.1", "localhost") else ""
        self._socket: socket.socket | None = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.setblocking(False)
        self._socket.bind((bind_host, 0))
        self.undecodable: list[str] = []
        self.resolve()

    def resolve(self) -> bool:
        """Look the host up (this may wait on the DNS); False when that fails.

        Call it again after the settings change or the network returns; sends go to the
        address found here.
        """
        host, port = self.address
        try:
            found = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_DGRAM)
        except (OSError, UnicodeError) as error:  # socket.gaierror; IDNA errors for bad names
            self.resolved_address = None
            self.resolve_error = f"cannot find the sidecar host {host!r}: {error}"
            return False
        if not found:
            self.resolved_address = None
            self.resolve_error = f"cannot find the sidecar host {host!r}: no IPv4 address"
            return False
        numeric = found[0][4]
        self.resolved_address = (str(numeric[0]), int(numeric[1]))
        self.resolve_error = ""
        return True

    @property
    def local_port(self) -> int:
        return int(self._open().getsockname()[1])

    def _open(self) -> socket.socket:
        if self._socket is None:
            raise LinkError("the sidecar link is closed")
        return self._socket

    def send(self, address: str, arguments: Sequence[OscArgument] = ()) -> None:
        """Send one message; raises LinkError when the OS already knows nobody listens, and
        LinkResolveError when the host name could not be looked up."""
        tail: list[OscArgument] = ["token", self._token] if self._token else []
        sock = self._open()
        target = self.resolved_address
        if target is None:
            raise LinkResolveError(self.resolve_error)
        try:
            sock.sendto(encode_message(address, [*arguments, *tail]), target)
        except OSError as error:
            raise LinkError(
                f"cannot send to the sidecar at {self.address[0]}:{self.address[1]}: {error}"
            ) from error

    def poll(self, max_datagrams: int = 64) -> list[OscMessage]:
        """Every message already waiting (up to `max_datagrams` datagrams); never blocks.

        Raises LinkError when the OS reports the sidecar's port closed (an ICMP
        port-unreachable surfaces on the next read on Windows and some other systems).
        Datagrams that are not OSC are skipped and their errors kept in `undecodable`.
        """
        sock = self._open()
        messages: list[OscMessage] = []
        for _ in range(max_datagrams):
            try:
                data, _sender = sock.recvfrom(_MAX_DATAGRAM_BYTES)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as error:
                if error.errno in _UNREACHABLE_ERRNOS or getattr(error, "winerror", 0) == 10054:
                    raise LinkError(
                        f"the sidecar at {self.address[0]}:{self.address[1]} is not listening"
                    ) from error
                raise LinkError(f"reading from the sidecar failed: {error}") from error
            try:
                messages.extend(decode_packet(data))
            except OscDecodeError as error:
                self.undecodable.append(str(error))
        return messages

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
