"""The loops played so far, each with its variations: undo goes back, variation cycles."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

__all__ = ["LoopEntry", "LoopHistory"]


@dataclass(frozen=True, eq=False)
class LoopEntry:
    """One generated loop: its variations as `(frames, channels)` float32 at the stream rate."""

    loop_id: int
    request_id: str
    bars: int
    bpm: float
    variations: tuple[np.ndarray, ...]
    paths: tuple[Path, ...] = ()
    selected: int = 0
    latency_s: float | None = None  # trigger → ready

    @property
    def audio(self) -> np.ndarray:
        return self.variations[self.selected]

    def with_selected(self, index: int) -> LoopEntry:
        return replace(self, selected=index % len(self.variations))


class LoopHistory:
    """A bounded list of loops and a cursor on the one playing (None: nothing played yet)."""

    def __init__(self, max_entries: int = 16) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1; got {max_entries}")
        self._max = max_entries
        self._entries: list[LoopEntry] = []
        self._cursor: int | None = None

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def current(self) -> LoopEntry | None:
        return None if self._cursor is None else self._entries[self._cursor]

    @property
    def entries(self) -> tuple[LoopEntry, ...]:
        return tuple(self._entries)

    def push(self, entry: LoopEntry) -> LoopEntry:
        """Append a new loop and make it current."""
        self._entries.append(entry)
        if len(self._entries) > self._max:
            self._entries.pop(0)
        self._cursor = len(self._entries) - 1
        return entry

    def previous(self) -> LoopEntry | None:
        """The loop before the current one, without moving (None if there is none)."""
        if self._cursor is None or self._cursor == 0:
            return None
        return self._entries[self._cursor - 1]

    def undo(self) -> LoopEntry | None:
        """Move back one loop and return it, or None when there is nothing before."""
        entry = self.previous()
        if entry is not None and self._cursor is not None:
            self._cursor -= 1
        return entry

    def replace_current(self, entry: LoopEntry) -> None:
        """Swap in `entry` (the same loop with another variation selected)."""
        if self._cursor is None:
            raise ValueError("no current loop to replace")
        self._entries[self._cursor] = entry

    def next_variation(self) -> LoopEntry | None:
        """Select the current loop's next variation (wrapping) and return the entry."""
        if self._cursor is None:
            return None
        entry = self._entries[self._cursor]
        entry = entry.with_selected(entry.selected + 1)
        self._entries[self._cursor] = entry
        return entry
