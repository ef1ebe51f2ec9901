"""A one-line live status: clock source, tempo, bar:beat, queue, loop, latency and xruns."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TextIO

from plugin_host.looper.state import LooperStatus

__all__ = ["StatusLine", "format_status"]

_SOURCE_LABEL = {"fixed": "FIXED", "midi": "MIDI", "link": "LINK"}


def format_status(status: LooperStatus) -> str:
    """E.g. `MIDI 120.0 BPM ▶ 12:3 | generating 40% | loop 2 var 1/4 | ready 3.21 s | xruns 0`."""
    clock = status.clock
    source = _SOURCE_LABEL.get(clock.source, clock.source.upper())
    run = "▶" if clock.running else "■"
    position = f"{clock.bar}:{clock.beat}" if clock.bar is not None else "-:-"
    queue: str = status.queue
    if queue == "generating":
        queue = f"generating {status.progress * 100:.0f}%"
    elif queue in ("ready", "stopping") and status.switch_bar is not None:
        queue = f"{queue} → bar {status.switch_bar}"
    loop = "no loop"
    if status.loop_id is not None:
        loop = f"loop {status.loop_id} var {status.variation}/{status.variations}"
    latency = "-" if status.last_latency_s is None else f"{status.last_latency_s:.2f} s"
    parts = [
        f"{source} {clock.bpm:6.2f} BPM {run} {position:>6}",
        queue,
        f"{loop} ({status.history} in history)",
        f"trigger→ready {latency}",
        f"xruns {status.stream.xruns}",
    ]
    if status.message:
        parts.append(status.message)
    return " | ".join(parts)


class StatusLine:
    """Redraws the status on one terminal line every `period_s` from its own thread."""

    def __init__(
        self,
        get_status: Callable[[], LooperStatus],
        stream: TextIO | None = None,
        period_s: float = 0.1,
    ) -> None:
        self._get_status = get_status
        self._stream = stream if stream is not None else sys.stderr
        self._period_s = period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="looper-display", daemon=True)
        self._width = 0

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)
        self._stream.write("\n")
        self._stream.flush()

    def _run(self) -> None:
        while not self._stop.wait(self._period_s):
            line = format_status(self._get_status())
            pad = max(0, self._width - len(line))
            self._width = len(line)
            self._stream.write("\r" + line + " " * pad)
            self._stream.flush()
