"""Follow Ableton Link through the optional `aalink` package (pip install aalink)."""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
import time
from typing import Any

from plugin_host.looper.clock import Clock, ClockSource

__all__ = ["LinkClock", "LinkUnavailableError", "link_available"]

logger = logging.getLogger(__name__)


class LinkUnavailableError(RuntimeError):
    """aalink is not installed or could not be loaded on this machine."""


def _import_aalink() -> Any:
    try:
        return importlib.import_module("aalink")
    except ImportError as e:
        raise LinkUnavailableError(
            "Ableton Link needs the optional 'aalink' package, which is not importable here "
            f"({e}). Install it with `pip install aalink` (wheels exist for Linux x86-64, macOS "
            "and Windows), or use --clock midi or --clock fixed."
        ) from e


def link_available() -> bool:
    try:
        _import_aalink()
    except LinkUnavailableError:
        return False
    return True


class LinkClock(Clock):
    """Polls a Link session's beat and tempo every `poll_s` and anchors the clock to them.

    Link's quantum is the bar length, so Link's beat 0, 4, 8… are our downbeats. Start/stop sync
    is followed when a peer enables it; otherwise the session counts as running.
    """

    source: ClockSource = "link"

    def __init__(self, bpm: float = 120.0, beats_per_bar: int = 4, poll_s: float = 0.005) -> None:
        super().__init__(bpm, beats_per_bar)
        self._aalink = _import_aalink()
        self._poll_s = poll_s
        self._link: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._peers = 0

    def detail(self) -> str:
        return f"Ableton Link, {self._peers} peer(s)"

    def start(self) -> None:
        ready = threading.Event()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._follow(ready)), name="link-clock", daemon=True
        )
        self._thread.start()
        if not ready.wait(5.0):
            raise LinkUnavailableError("the Link session did not start within 5 s")

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)

    async def _follow(self, ready: threading.Event) -> None:
        """aalink wants a running event loop: this thread owns one and polls the session."""
        self._link = self._aalink.Link(self.bpm)
        self._link.quantum = float(self.beats_per_bar)
        self._link.enabled = True
        self._link.start_stop_sync_enabled = True
        self._poll()
        ready.set()
        try:
            while not self._stop.is_set():
                await asyncio.sleep(self._poll_s)
                try:
                    self._poll()
                except Exception:  # keep following; one bad read must not kill the clock
                    logger.exception("reading the Link session failed")
        finally:
            self._link.enabled = False

    def _poll(self) -> None:
        link = self._link
        now = time.monotonic()
        beat = float(link.beat)
        tempo = float(link.tempo)
        self._peers = int(link.num_peers)
        playing = bool(link.playing) if self._peers else True
        self._set_anchor(now, beat, tempo)
        self._set_running(playing)
