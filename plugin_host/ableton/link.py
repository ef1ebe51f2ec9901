"""A non-blocking UDP link to the sidecar: send OSC, and drain replies from the host's tick."""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Sequence

from .osc_codec import OscArgument, OscDecodeError, OscMessage, decode_packet, encode_message

__all__ = ["LinkError", "LinkResolveError", "SidecarLink"]

_MAX_DATAGRAM_BYTES = 65535
_UNREACHABLE_ERRNOS = (errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH)
#: Datagrams kept while the host name is being looked up (a ping and a few requests).
_MAX_WAITING_DATAGRAMS = 32


class LinkError(OSError):
    """The sidecar cannot be reached (the port is closed, or the socket failed)."""


class LinkResolveError(LinkError):
    """The sidecar's host name cannot be looked up (a typo in the settings, or no network)."""


class _Lookup:
    """One host-name lookup on its own thread: the DNS may take seconds, and Live's main
    thread (which runs every Remote Script callback) must not wait on it. The thread calls
    only `socket.getaddrinfo`, never Live's API; the main thread reads the result once
    `done` is set."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.address: tuple[str, int] | None = None
        self.error = ""
        self.done = threading.Event()
        thread = threading.Thread(target=self._run, name="MusicGenSidecar lookup", daemon=True)
        thread.start()

    def _run(self) -> None:
        try:
            found = socket.getaddrinfo(self.host, self.port, socket.AF_INET, socket.SOCK_DGRAM)
            if found:
                numeric = found[0][4]
                self.address = (str(numeric[0]), int(numeric[1]))
            else:
                self.error = f"cannot find the sidecar host {self.host!r}: no IPv4 address"
        except (OSError, UnicodeError) as error:  # socket.gaierror; IDNA errors for bad names
            self.error = f"cannot find the sidecar host {self.host!r}: {error}"
        finally:
            self.done.set()


def _numeric_address(host: str) -> str | None:
    """The IPv4 address `host` already is (or localhost's), else None: no lookup needed."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        return socket.inet_ntoa(socket.inet_aton(host)) if host.count(".") == 3 else None
    except OSError:
        return None


class SidecarLink:
    """One UDP socket bound to an ephemeral port; replies come back to it.

    Nothing here blocks: `send` is a single `sendto` to the numeric address found once
    (a host *name* given to every `sendto` would be looked up on every send, on the host's
    main thread, however slow the DNS), and `poll` reads whatever datagrams are already
    waiting and returns at once.

    A numeric address (or localhost) is used at once. A name is looked up on a thread of
    its own (`resolve`); until it is found, `send` keeps the datagrams (up to 32) and
    `poll` sends them once it is. A failed lookup raises `LinkResolveError` from the next
    `poll` (or `send`), with `resolve_error` saying why, until `resolve()` succeeds.

    `address` is the host and port as configured (for messages); `resolved_address` is the
    numeric one sent to.

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
        self._lookup: _Lookup | None = None
        self._waiting: list[bytes] = []
        self._error_reported = False
        self.resolve()

    def resolve(self) -> None:
        """Find the host's address again (after a failure, or the network's return): at
        once for a numeric address, else on a lookup thread; never waits."""
        host, port = self.address
        numeric = _numeric_address(host)
        if numeric is not None:
            self.resolved_address, self.resolve_error = (numeric, port), ""
            return
        if self._lookup is None:
            self.resolved_address = None
            self._error_reported = False
            self._lookup = _Lookup(host, port)

    @property
    def looking_up(self) -> bool:
        """Whether a host-name lookup is still running."""
        self._finish_lookup()
        return self._lookup is not None

    def _finish_lookup(self) -> None:
        lookup = self._lookup
        if lookup is None or not lookup.done.is_set():
            return
        self._lookup = None
        self.resolved_address, self.resolve_error = lookup.address, lookup.error
        waiting, self._waiting = self._waiting, []
        if self.resolved_address is not None:
            for datagram in waiting:
                self._sendto(datagram, self.resolved_address)

    @property
    def local_port(self) -> int:
        return int(self._open().getsockname()[1])

    def _open(self) -> socket.socket:
        if self._socket is None:
            raise LinkError("the sidecar link is closed")
        return self._socket

    def send(self, address: str, arguments: Sequence[OscArgument] = ()) -> None:
        """Send one message (or keep it while the host is looked up); raises LinkError when
        the OS already knows nobody listens, LinkResolveError when the lookup failed."""
        tail: list[OscArgument] = ["token", self._token] if self._token else []
        self._open()
        datagram = encode_message(address, [*arguments, *tail])
        self._finish_lookup()
        target = self.resolved_address
        if target is not None:
            self._sendto(datagram, target)
        elif self._lookup is not None:
            if len(self._waiting) >= _MAX_WAITING_DATAGRAMS:
                raise LinkError(f"still looking up the sidecar host {self.address[0]!r}")
            self._waiting.append(datagram)
        else:
            self._error_reported = True
            raise LinkResolveError(self.resolve_error)

    def _sendto(self, datagram: bytes, target: tuple[str, int]) -> None:
        try:
            self._open().sendto(datagram, target)
        except OSError as error:
            raise LinkError(
                f"cannot send to the sidecar at {self.address[0]}:{self.address[1]}: {error}"
            ) from error

    def poll(self, max_datagrams: int = 64) -> list[OscMessage]:
        """Every message already waiting (up to `max_datagrams` datagrams); never blocks.

        Raises LinkError when the OS reports the sidecar's port closed (an ICMP
        port-unreachable surfaces on the next read on Windows and some other systems).
        Datagrams that are not OSC are skipped and their errors kept in `undecodable`.
        A lookup that failed since the last call raises LinkResolveError here, once.
        """
        sock = self._open()
        self._finish_lookup()
        if self.resolved_address is None and self._lookup is None and not self._error_reported:
            self._error_reported = True
            raise LinkResolveError(self.resolve_error)
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
