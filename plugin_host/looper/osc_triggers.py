"""Listen for OSC trigger messages (/looper/capture, /looper/undo…) on a UDP port."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import ThreadingOSCUDPServer

from plugin_host.looper.triggers import TriggerEvent, TriggerMap

__all__ = ["OscTriggerServer"]

logger = logging.getLogger(__name__)


class OscTriggerServer:
    """Maps every configured OSC address to `on_event`; other addresses are logged and dropped."""

    def __init__(
        self,
        triggers: TriggerMap,
        on_event: Callable[[TriggerEvent], None],
        host: str = "127.0.0.1",
        port: int = 9320,
    ) -> None:
        self._triggers = triggers
        self._on_event = on_event
        dispatcher = Dispatcher()
        for address in triggers.osc_addresses:
            dispatcher.map(address, self._handle)
        dispatcher.set_default_handler(self._unknown)
        self._server = ThreadingOSCUDPServer((host, port), dispatcher)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="osc-triggers", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()
        logger.info("OSC triggers on udp port %d: %s", self.port, self._triggers.osc_addresses)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=1.0)

    def _handle(self, address: str, *args: Any) -> None:
        event = self._triggers.match_osc(address, tuple(args), time.monotonic())
        if event is not None:
            self._on_event(event)

    def _unknown(self, address: str, *args: Any) -> None:
        logger.warning(
            "OSC %s is not a looper trigger; known: %s", address, self._triggers.osc_addresses
        )
