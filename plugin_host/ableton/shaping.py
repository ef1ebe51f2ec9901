"""Pin a new clip to the stem's tempo and bars, step by step on Live's tick, and keep it so.

What Live does, and where that is said:

* An unlooped clip's start and end are `loop_start` and `loop_end`; `loop_end` is what
  resizes an unlooped Arrangement clip on the timeline. While looping is off, writes to
  `start_marker` are ignored and `end_marker` writes read back without moving the end
  (Cycling '74 LOM, Clip.loop_start/loop_end: "for unlooped clips: clip start/end"; Push 2's
  script edits an unlooped clip's Start and End through loop_start/loop_end,
  Push2/clip_control.py; probes in Live 12.3). So the region is written with looping off
  first (loop_end, then loop_start), and the loop brace and markers after looping is on.
* Live applies `warping` later, not in the event that sets it (LOM, Clip.warping: "Live will
  defer the setting of this property"; Clip.looping: "Unwarped audio cannot be looped"),
  and setting `warping` and `looping` in one event could crash Live before 12.1.5 (12.1.5
  release notes: "Fixed a crash ... when setting the looping and warping API properties
  from the same event").
  So Warp is turned on in one tick and the clip is shaped on a later one, once `warping`
  reads back on; a clip Live imported warped is shaped at once (no `warping` write).
* A first import is analysed in the background (Auto-Warp Long Samples is on by default),
  and its markers can replace the script's a while after the insert; one look 100 ms later
  is too soon. So a new clip is watched for `WATCH_TICKS` and shaped again when Live
  changed it, up to `MAX_RESHAPES` times.
* Auto-Warp can leave a warp marker at beat 0 with a non-zero sample time; adding (0, 0)
  beside it is refused ("Segment length out of range"), and a warped clip keeps its last
  marker. So the end marker goes in first, then the odd first marker goes, then (0, 0).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from Live.Clip import Clip, WarpMode

__all__ = [
    "MAX_RESHAPES",
    "WARP_WAIT_TICKS",
    "WATCH_TICKS",
    "ClipShape",
    "ClipShaper",
    "is_shaped",
    "pin",
    "set_region",
    "shape_clip",
]

#: How long to wait for a `warping = True` write to read back (ticks of ~100 ms).
WARP_WAIT_TICKS = 20
#: How long a new clip is watched after it is shaped (ticks of ~100 ms): Auto-Warp's first
#: analysis of a long file can land seconds after the insert.
WATCH_TICKS = 60
#: How often a watched clip is shaped again before the script says it could not keep it.
MAX_RESHAPES = 3
#: How far a warp marker may sit off the pinned line and still count as on it (seconds).
_PIN_TOLERANCE_SECONDS = 0.001
_EPSILON = 1e-6


@dataclass(frozen=True)
class ClipShape:
    """How a new clip must play: its file pinned to whole bars, looped or not, a warp mode.

    Live is not told a file's tempo when it imports it: it reads a short sample as a loop
    of 1, 2, 4 or 8 bars at whatever tempo makes that fit, and a 3-bar stem comes out as 2
    or 4 bars at the wrong tempo. So the script pins the file: a warp marker at its start
    (beat 0) and one at its end (`beats`), which fixes the clip's tempo to the stem's.

    `bars` is the stem's length as the sidecar reports it; None takes the file's length at
    the stem's tempo (`bar_seconds` a bar), to whole bars. `bar_beats` is one bar in Live
    beats (quarter notes: 3.5 in 7/8).
    """

    bars: int | None
    bar_beats: float
    bar_seconds: float
    looping: bool
    warp_mode: int

    def beats(self, file_seconds: float) -> float:
        """The clip's length in Live beats, for a file of `file_seconds`."""
        bars = self.bars
        if bars is None:
            bars = max(1, round(file_seconds / self.bar_seconds)) if self.bar_seconds > 0 else 1
        return bars * self.bar_beats


def file_seconds(clip: Clip) -> float:
    return float(clip.sample_length) / float(clip.sample_rate)


def on_line(clip: Clip, seconds: float, beats: float) -> bool:
    """Whether the clip's warp markers pin the line (0 s, beat 0)-(`seconds`, `beats`).

    The first marker is at (0, 0), one more is on the line, and so is every other marker
    but the last: Live lists its shadow marker last, a 32nd note after the last marker,
    where it likes (it cannot be moved or removed, and it does not change the tempo).
    """
    markers = [(float(m.beat_time), float(m.sample_time)) for m in list(clip.warp_markers)]

    def fits(beat: float, sample: float) -> bool:
        return abs(sample - beat * seconds / beats) <= _PIN_TOLERANCE_SECONDS

    if len(markers) < 2 or abs(markers[0][0]) > _EPSILON or abs(markers[0][1]) > _EPSILON:
        return False
    if not any(beat > _EPSILON and fits(beat, sample) for beat, sample in markers):
        return False
    return all(fits(beat, sample) for beat, sample in markers[:-1])


def pin(clip: Clip, seconds: float, beats: float) -> str:
    """Warp markers at (0 s, beat 0) and (`seconds`, `beats`) and no others: "" or a problem.

    The clip must be warped already (add_warp_marker refuses an unwarped clip).
    """
    try:
        import Live  # only inside Live (WarpMarker and add_warp_marker: Live 11.0.5)

        warp_marker = Live.Clip.WarpMarker
        add = clip.add_warp_marker
    except (ImportError, AttributeError):
        return (
            "this Live cannot set warp markers from a script (11.0.5 can), so the clip "
            "keeps Live's own tempo reading: check its length"
        )
    markers = [(float(m.beat_time), float(m.sample_time)) for m in list(clip.warp_markers)]
    first = markers[0] if markers else None
    for beat, _sample in markers[1:]:
        # Live's shadow marker, a 32nd note after the last one, cannot be removed.
        with contextlib.suppress(Exception):
            clip.remove_warp_marker(beat)

    def add_end() -> None:
        try:
            add(warp_marker(seconds, beats))
        except Exception:  # e.g. the end rounds past the file: half way has the same tempo
            add(warp_marker(seconds / 2.0, beats / 2.0))

    try:
        if first is None or (abs(first[0]) <= _EPSILON and abs(first[1]) <= _EPSILON):
            add(warp_marker(0.0, 0.0))
            add_end()
        else:
            # Auto-Warp's first marker (beat 0 at a transient, not at 0 s) stays while it
            # is the only one, and (0, 0) beside it is refused: the end goes in first.
            add_end()
            clip.remove_warp_marker(first[0])
            add(warp_marker(0.0, 0.0))
    except Exception as error:  # Live raises RuntimeError or its own Boost error types
        return f"Live refused its warp markers ({error}): check its length"
    if not on_line(clip, seconds, beats):
        return "Live kept other warp markers: check its length"
    return ""


def _set_loop(clip: Clip, start: float, end: float) -> None:
    """loop_start/loop_end to `start`/`end`, in the order Live accepts (start < end)."""
    if end > float(clip.loop_start):
        clip.loop_end = end
        clip.loop_start = start
    else:
        clip.loop_start = start
        clip.loop_end = end


def _set_markers(clip: Clip, start: float, end: float) -> None:
    if end > float(clip.start_marker):
        clip.end_marker = end
        clip.start_marker = start
    else:
        clip.start_marker = start
        clip.end_marker = end


def set_region(clip: Clip, beats: float, looping: bool) -> None:
    """The clip plays beats 0 to `beats`: unlooped, loop_start/loop_end are its start and
    end (and an Arrangement clip's span); with `looping`, the loop brace and the start and
    end markers then cover the same span. The clip must be warped already."""
    if clip.looping:
        clip.looping = False
    _set_loop(clip, 0.0, beats)
    if looping:
        clip.looping = True
        _set_loop(clip, 0.0, beats)
        _set_markers(clip, 0.0, beats)


def shape_clip(clip: Clip, shape: ClipShape) -> str:
    """Pin a warped clip to `shape`, set its region and warp mode; never writes `warping`.

    Returns "" when the clip is as `shape` says, else what could not be done (the clip
    then keeps what Live made of it). Never raises: the clip is in the set either way.
    """
    try:
        if not clip.warping:
            return "Live did not turn Warp on: check the clip's tempo and length"
        seconds = file_seconds(clip)
        if seconds <= 0:
            return "Live has not read the file yet: check the clip's length"
        beats = shape.beats(seconds)
        problem = pin(clip, seconds, beats)
        if problem:
            # Markers at `beats` over Live's own tempo reading would cut or pad the take.
            if bool(clip.looping) != shape.looping:
                clip.looping = shape.looping
        else:
            set_region(clip, beats, shape.looping)
    except Exception as error:  # Live raises RuntimeError or its own Boost error types
        return f"Live refused its tempo, length or loop ({error}): check the clip"
    with contextlib.suppress(Exception):  # a warp mode this Live does not have: keep Live's
        clip.warp_mode = cast("WarpMode", shape.warp_mode)
    return problem


def is_shaped(clip: Clip, shape: ClipShape) -> bool:
    """Whether the clip still plays as `shape` says (Live may re-read a sample late).

    The region is read from loop_start/loop_end (the clip's start and end when unlooped),
    an Arrangement clip's span from its start and end time.
    """
    try:
        seconds = file_seconds(clip)
        beats = shape.beats(seconds)
        region = abs(float(clip.loop_start)) < _EPSILON and abs(float(clip.loop_end) - beats) < (
            _EPSILON
        )
        markers = not shape.looping or (
            abs(float(clip.start_marker)) < _EPSILON
            and abs(float(clip.end_marker) - beats) < _EPSILON
        )
        span = not clip.is_arrangement_clip or (
            abs(float(clip.end_time) - float(clip.start_time) - beats) < _EPSILON
        )
        return (
            bool(clip.warping)
            and bool(clip.looping) == shape.looping
            and region
            and markers
            and span
            and on_line(clip, seconds, beats)
        )
    except Exception:  # a clip deleted meanwhile, or a Live without warp markers
        return False


class ClipShaper:
    """One new clip's shaping, a step per tick: Warp on, then the pin and the region once
    Warp reads back on, then a watch for Live's late re-reads (see the module docstring).

    `start()` runs in the event that created the clip; `step()` on each later tick. Both
    return what to tell the producer ("" for nothing), and `done` says when to stop.
    `problem` is the last thing that could not be done ("" when the clip is shaped).
    """

    def __init__(self, clip: Clip, shape: ClipShape, name: str) -> None:
        self.clip = clip
        self.shape = shape
        self.name = name
        self.done = False
        self.problem = ""
        self.reshapes = 0
        self._waited_ticks = 0
        self._watched_ticks = 0
        self._warping_asked = False

    def start(self) -> str:
        if bool(self.clip.warping):
            return self._shape()
        self.clip.warping = True  # applied later; looping waits for a later tick
        self._warping_asked = True
        return ""

    def step(self) -> str:
        if self.done:
            return ""
        try:
            if self._warping_asked:
                if not bool(self.clip.warping):
                    self._waited_ticks += 1
                    if self._waited_ticks < WARP_WAIT_TICKS:
                        return ""
                    self.done = True
                    self.problem = "Live did not turn Warp on: check the clip's tempo and length"
                    return self.problem
                self._warping_asked = False
                return self._shape()
            self._watched_ticks += 1
            if self._watched_ticks > WATCH_TICKS:
                self.done = True
                return ""
            if is_shaped(self.clip, self.shape):
                return ""
        except Exception as error:  # the clip was deleted meanwhile: nothing to shape
            self.done = True
            return f"could not look at '{self.name}' again: {error!r}"
        if self.reshapes >= MAX_RESHAPES:
            self.done = True
            return "Live keeps re-reading the clip: check its tempo and length"
        self.reshapes += 1
        return self._shape()

    def _shape(self) -> str:
        """Shape the clip; a problem is said once: the same one again ends the watch."""
        problem = shape_clip(self.clip, self.shape)
        repeated = bool(problem) and problem == self.problem
        self.problem = problem
        if repeated or problem.startswith("this Live cannot set warp markers"):
            self.done = True  # nothing to watch for: it will not change
        return "" if repeated else problem
