"""Open MIDI inputs (a backend port by name, or mido's TCP socket ports) and read them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import mido
import mido.ports
import mido.sockets

__all__ = ["MessageHandler", "MidiReader", "input_names", "open_input"]

logger = logging.getLogger(__name__)

MessageHandler = Callable[[mido.Message, float], object]


def input_names() -> list[str]:
    """MIDI inputs the mido backend sees (empty when no backend, e.g. no rtmidi or ALSA)."""
    try:
        return list(mido.get_input_names())
    except (ImportError, OSError, RuntimeError) as e:
        logger.debug("no MIDI backend: %s", e)
        return []


def open_input(name: str) -> mido.ports.BaseInput:
    """`tcp:HOST:PORT` connects to a mido socket port server; anything else is a backend input.

    A backend name may be a unique substring of the full port name.
    """
    if name.startswith("tcp:"):
        host, _, port = name[4:].rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"MIDI port {name!r}: expected tcp:HOST:PORT")
        return mido.sockets.connect(host, int(port))
    names = input_names()
    chosen = name if name in names else None
    if chosen is None:
        matches = [n for n in names if name.lower() in n.lower()]
        if len(matches) != 1:
            listing = (
                ", ".join(names) or "none (is a MIDI backend such as python-rtmidi installed?)"
            )
            raise ValueError(f"MIDI input {name!r} not found or ambiguous; inputs: {listing}")
        chosen = matches[0]
    try:
        return mido.open_input(chosen)
    except (ImportError, OSError, RuntimeError) as e:
        raise ValueError(f"cannot open MIDI input {chosen!r}: {e}") from e


class MidiReader:
    """Polls one input port on its own thread and hands each message, stamped with
    `time.monotonic()` on arrival, to every handler. Real-time clock messages go first."""

    def __init__(
        self, port: mido.ports.BaseInput, handlers: list[MessageHandler], poll_s: float = 0.0005
    ) -> None:
        self.port = port
        self._handlers = list(handlers)
        self._poll_s = poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"midi-{port.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)
        self.port.close()

    def _run(self) -> None:
        port = self.port
        while not self._stop.is_set():
            try:
                msg = port.poll()
            except (OSError, ValueError, EOFError) as e:
                if not self._stop.is_set():
                    logger.error("MIDI input %s failed: %s", port.name, e)
                return
            if msg is None:
                time.sleep(self._poll_s)
                continue
            now = time.monotonic()
            for handler in self._handlers:
                try:
                    handler(msg, now)
                except Exception:  # one bad handler must not stop MIDI input
                    logger.exception("MIDI handler failed on %s", msg)
