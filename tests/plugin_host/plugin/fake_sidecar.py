"""A scripted OSC responder standing in for the sidecar, for faults a real server cannot make.

It follows docs/osc-protocol.md: it answers /sidecar/ping with
`/sidecar/pong version model device state`, and a /sidecar/continue with the replies a script
gives (`/sidecar/accepted id queue_position`, `/sidecar/stem id index path [key value]...`,
`/sidecar/done id n_files`, `/sidecar/error id code message`), each sent to the request's
source IP and port, as the sidecar does. Used for a stem file that cannot be read and for
replies carrying an id the plugin never sent; everything else uses a real `sidecar serve`.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any

from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

__all__ = ["FakeSidecar", "Reply"]

Reply = tuple[str, list[Any]]  # (address, arguments)


def encode(address: str, args: list[Any]) -> bytes:
    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


class FakeSidecar:
    """UDP on 127.0.0.1:<port>. `on_continue(request_id, args)` returns the replies to send."""

    def __init__(self, on_continue: Callable[[str, list[Any]], list[Reply]]):
        self.on_continue = on_continue
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self.received: list[tuple[str, list[Any]]] = []
        self.plugin_address: tuple[str, int] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def send(self, address: str, *args: Any) -> None:
        """Send one message to the plugin (the address its last message came from)."""
        assert self.plugin_address is not None, "the plugin has not sent anything yet"
        self.sock.sendto(encode(address, list(args)), self.plugin_address)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, source = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            message = OscMessage(data)
            args = list(message.params)
            self.received.append((message.address, args))
            self.plugin_address = source
            if message.address == "/sidecar/ping":
                self.send("/sidecar/pong", "fake-0", "fake-model", "cpu", "ready")
            elif message.address == "/sidecar/continue":
                for address, reply_args in self.on_continue(str(args[0]), args[1:]):
                    self.send(address, *reply_args)

    def __enter__(self) -> FakeSidecar:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
