"""REAPER's time map as the scripts use it: bar lines, quarter notes, the time signature and
tempo at a time, and where on a track a take has room."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .api import ReaperApi

__all__ = [
    "EPSILON_SECONDS",
    "MAX_TAKE_SECONDS",
    "SAME_TEMPO",
    "Grid",
    "bar_line_at_or_after",
    "free_bar_position",
    "grid_at",
    "is_null_pointer",
    "quarter_notes_between",
    "seconds_of_quarter_notes",
    "take_placement",
]

#: The longest take the sidecar makes in one model window (30 s less the 0.5 s of prompt it
#: keeps at least): one window comes back soonest (a longer take is made window after
#: window). A `bars` setting asks for more.
MAX_TAKE_SECONDS = 29.5

#: How far apart two times may be and still count as the same (0.1 ms, about 5 samples at
#: 48 kHz): a take may be a few samples longer than its bars (the sidecar delivers whole
#: samples), and REAPER's time map rounds; neither should push a take one bar further on.
EPSILON_SECONDS = 1e-4

#: How far a take's tempo may be from the project's where it goes and still play at its own
#: speed (a millionth: 30 µs over a 30-s take); further off, it is played faster or slower.
SAME_TEMPO = 1e-6

_NULL_POINTER = re.compile(r"^\([^)]*\)0x0+$")


def is_null_pointer(pointer: str) -> bool:
    """Whether a ReaScript pointer is NULL: ReaScript gives `(PCM_source*)0x0000000000000000`
    for a NULL return, a non-empty string, so a plain truth test does not catch it."""
    return not pointer or _NULL_POINTER.match(str(pointer)) is not None


def bar_line_at_or_after(api: ReaperApi, seconds: float) -> float:
    """The first bar line at or after `seconds` on the project's time map (tempo and time
    signature changes included: REAPER counts the measures)."""
    measure = int(api.RPR_TimeMap2_timeToBeats(0, seconds, 0, 0, 0.0, 0)[3])
    bar = float(api.RPR_TimeMap2_beatsToTime(0, 0.0, measure)[0])
    if bar < seconds - EPSILON_SECONDS:
        bar = float(api.RPR_TimeMap2_beatsToTime(0, 0.0, measure + 1)[0])
    return bar


def quarter_notes_between(api: ReaperApi, start_seconds: float, end_seconds: float) -> float:
    """Quarter notes from `start_seconds` to `end_seconds` on the project's time map."""
    start = float(api.RPR_TimeMap2_timeToQN(0, start_seconds))
    return float(api.RPR_TimeMap2_timeToQN(0, end_seconds)) - start


def seconds_of_quarter_notes(api: ReaperApi, start_seconds: float, quarter_notes: float) -> float:
    """How long `quarter_notes` last from `start_seconds` on the project's time map (each
    tempo in turn, where the tempo changes on the way)."""
    start = float(api.RPR_TimeMap2_timeToQN(0, start_seconds))
    return float(api.RPR_TimeMap2_QNToTime(0, start + quarter_notes)) - start_seconds


@dataclass(frozen=True)
class Grid:
    """The project's time signature and tempo at one time, counted as the sidecar counts."""

    #: beats a minute (REAPER's tempo is quarter notes a minute: `bpm * beat_quarters`)
    bpm: float
    beats_per_bar: int
    #: quarter notes in one beat: 0.5 in 7/8 (eighth-note beats), else 1
    beat_quarters: float = 1.0

    @property
    def bar_quarters(self) -> float:
        return self.beats_per_bar * self.beat_quarters

    def most_bars(self) -> int:
        """The most whole bars of this tempo in one model window (the sidecar's 30 s)."""
        return max(1, math.floor(MAX_TAKE_SECONDS * self.bpm / (60.0 * self.beats_per_bar) + 1e-9))


def grid_at(api: ReaperApi, seconds: float) -> Grid:
    """The time signature and tempo in effect at `seconds`."""
    signature = api.RPR_TimeMap_GetTimeSigAtTime(0, seconds, 0, 0, 0.0)
    numerator, denominator, bpm = int(signature[2]), int(signature[3]), float(signature[4])
    quarter_beats = numerator * 4.0 / max(1, denominator)
    if quarter_beats.is_integer():
        return Grid(bpm=bpm, beats_per_bar=int(quarter_beats))
    # 7/8: seven eighth-note beats at twice the quarter-note tempo, so that the bar the sidecar
    # counts lasts 3.5 quarter notes.
    beat_quarters = 4.0 / max(1, denominator)
    return Grid(bpm=bpm / beat_quarters, beats_per_bar=numerator, beat_quarters=beat_quarters)


def _item_spans(api: ReaperApi, track: str, ignored_item: str) -> list[tuple[float, float]]:
    spans = []
    for index in range(int(api.RPR_CountTrackMediaItems(track))):
        item = api.RPR_GetTrackMediaItem(track, index)
        if is_null_pointer(item) or item == ignored_item:
            continue
        start = float(api.RPR_GetMediaItemInfo_Value(item, "D_POSITION"))
        spans.append((start, start + float(api.RPR_GetMediaItemInfo_Value(item, "D_LENGTH"))))
    return spans


def free_bar_position(
    api: ReaperApi, track: str, after_seconds: float, length: float, ignored_item: str = ""
) -> float:
    """The first bar line at or after `after_seconds` from which `length` seconds of `track`
    are free of items.

    A stem's sample 0 is a downbeat, so it goes on a bar line; REAPER mixes overlapping items
    on one track, so earlier takes and the producer's own items are never covered.
    `ignored_item` is the one being placed.
    """
    spans = _item_spans(api, track, ignored_item)
    position = bar_line_at_or_after(api, after_seconds)
    moved = True
    while moved:  # each move goes past an item's end, never back: at most one per item
        moved = False
        for start, end in spans:
            if start < position + length - EPSILON_SECONDS and end > position + EPSILON_SECONDS:
                position = bar_line_at_or_after(api, end)
                moved = True
    return position


def take_placement(
    api: ReaperApi,
    track: str,
    after_seconds: float,
    file_seconds: float,
    quarter_notes: float,
    ignored_item: str = "",
) -> tuple[float, float]:
    """Where a take goes on `track` and how long it lasts there: (position, seconds).

    The take is `file_seconds` of audio that lasts `quarter_notes` at the tempo it was made
    for. It goes on the first bar line at or after `after_seconds` from which it is free of
    items (see `free_bar_position`) for as long as its quarter notes last there on the
    project's time map: its file's length where the tempo is the one it was made for, less
    where the project is faster (a tempo change since the request, or a later bar), more where
    it is slower.
    """
    position = bar_line_at_or_after(api, after_seconds)
    while True:  # each move goes past an item's end, never back: at most one per item
        length = seconds_of_quarter_notes(api, position, quarter_notes)
        if abs(length - file_seconds) <= SAME_TEMPO * file_seconds:
            length = file_seconds
        free = free_bar_position(api, track, position, length, ignored_item)
        if free <= position + EPSILON_SECONDS:
            return position, length
        position = free
