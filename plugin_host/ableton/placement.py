"""Put a returned stem into the set: the next empty slot below, or after the arrangement clip."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from Live.Clip import Clip, WarpMode
    from Live.ClipSlot import ClipSlot
    from Live.Song import Song
    from Live.Track import Track

__all__ = [
    "INSERT_MIN_VERSION",
    "WARP_MODE_BEATS",
    "WARP_MODE_COMPLEX",
    "ClipShape",
    "InsertError",
    "Inserted",
    "can_insert",
    "clip_name",
    "free_arrangement_position",
    "insert_in_arrangement",
    "insert_in_session",
    "is_shaped",
    "shape_clip",
    "slot_index",
    "track_name",
    "warp_mode_for",
]

#: ClipSlot.create_audio_clip and Track.create_audio_clip arrived in Live 12.0.5.
INSERT_MIN_VERSION = (12, 0, 5)

#: Live.Clip.WarpMode values: Beats keeps drum hits where they are when the set's tempo
#: changes later; Complex suits everything else (mixes, bass, chords, pads).
WARP_MODE_BEATS = 0
WARP_MODE_COMPLEX = 4
#: A stem is percussive when its part, the script preset or the sidecar preset names one of
#: these (`drums`, `drum-loop`, `breakbeat`, `percussion`). Prompts are not read: "no drums".
_PERCUSSIVE_WORDS = ("drum", "perc", "break")
#: How far a warp marker may sit off the pinned line and still count as on it (seconds).
_PIN_TOLERANCE_SECONDS = 0.001


class InsertError(RuntimeError):
    """Live refused the new clip (frozen or MIDI track, unreadable file, no room)."""


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


@dataclass(frozen=True)
class Inserted:
    """Where a stem landed (a Session slot, or an Arrangement span in beats), and whether
    its tempo and length could be pinned (`problem` says what could not, else "")."""

    slot_index: int | None
    start_beats: float | None
    end_beats: float | None
    clip: Clip | None = None
    slot: ClipSlot | None = None
    problem: str = ""

    def describe(self) -> str:
        if self.slot_index is not None:
            return f"slot {self.slot_index + 1}"
        return f"beat {self.start_beats:g}"


def can_insert(version: tuple[int, int, int]) -> bool:
    return tuple(version) >= INSERT_MIN_VERSION


def clip_name(
    preset_name: str, seed: int, bpm: float, take: int = 1, takes: int = 1, part: str = ""
) -> str:
    """What made the clip, in the clip's name: `drums s1234 120bpm`, `drums s1234 v2/4 120bpm`,
    `band bass s1234 120bpm` for one part of a stem set.

    The takes of one request share its seed (they are one batch), so the take number tells
    them apart.
    """
    variation = f" v{take}/{takes}" if takes > 1 else ""
    part_name = f" {part}" if part else ""
    return f"{preset_name}{part_name} s{seed}{variation} {bpm:g}bpm"


def slot_index(track: Track, slot: ClipSlot) -> int | None:
    """Index of `slot` in its track, or None when it is gone."""
    slots: list[ClipSlot] = list(track.clip_slots)  # annotated: the stubs' Vector is Any
    for index, candidate in enumerate(slots):
        if candidate == slot:
            return index
    return None


def track_name(track: Track) -> str:
    """The track's name for a message; Live raises on a track deleted meanwhile."""
    try:
        return str(track.name)
    except Exception:  # Live's Boost errors for a deleted object
        return "a deleted track"


def free_arrangement_position(
    track: Track, after_beats: float, length_beats: float, bar_beats: float
) -> float:
    """The first bar line at or after `after_beats` from which `length_beats` are free of clips.

    A stem starts on a downbeat, so it goes on a bar line (bars counted from beat 0, one
    signature throughout); earlier takes and the producer's own clips on the track are
    never covered: a new clip in the Arrangement replaces whatever lies under it.
    """
    spans = []
    clips: list[Clip] = list(track.arrangement_clips)  # annotated: the stubs' Vector is Any
    for clip in clips:
        spans.append((float(clip.start_time), float(clip.end_time)))
    epsilon = 1e-6

    def bar_line_from(beats: float) -> float:
        return math.ceil(beats / bar_beats - epsilon) * bar_beats

    position = bar_line_from(after_beats)
    moved = True
    while moved:
        moved = False
        for start, end in spans:
            if start < position + length_beats - epsilon and end > position + epsilon:
                position = bar_line_from(end)
                moved = True
    return position


def warp_mode_for(*names: str) -> int:
    """Beats for a percussive stem (see `_PERCUSSIVE_WORDS`), Complex for any other."""
    lowered = " ".join(names).lower()
    if any(word in lowered for word in _PERCUSSIVE_WORDS):
        return WARP_MODE_BEATS
    return WARP_MODE_COMPLEX


def _file_seconds(clip: Clip) -> float:
    return float(clip.sample_length) / float(clip.sample_rate)


def _on_line(clip: Clip, seconds: float, beats: float) -> bool:
    """Whether the clip's warp markers pin the line (0 s, beat 0)-(`seconds`, `beats`).

    The first marker is at (0, 0), one more is on the line, and so is every other marker
    but the last: Live lists its shadow marker last, a 32nd note after the last marker,
    where it likes (it cannot be moved or removed, and it does not change the tempo).
    """
    markers = [(float(m.beat_time), float(m.sample_time)) for m in list(clip.warp_markers)]

    def on_line(beat: float, sample: float) -> bool:
        return abs(sample - beat * seconds / beats) <= _PIN_TOLERANCE_SECONDS

    if len(markers) < 2 or abs(markers[0][0]) > 1e-6 or abs(markers[0][1]) > 1e-6:
        return False
    if not any(beat > 1e-6 and on_line(beat, sample) for beat, sample in markers):
        return False
    return all(on_line(beat, sample) for beat, sample in markers[:-1])


def _pin(clip: Clip, seconds: float, beats: float) -> str:
    """Warp markers at (0 s, beat 0) and (`seconds`, `beats`) and no others: "" or a problem."""
    try:
        import Live  # only inside Live (WarpMarker and add_warp_marker: Live 11.0.5)

        warp_marker = Live.Clip.WarpMarker
        add = clip.add_warp_marker
    except (ImportError, AttributeError):
        return (
            "this Live cannot set warp markers from a script (11.0.5 can), so the clip "
            "keeps Live's own tempo reading: check its length"
        )
    for marker in list(clip.warp_markers):
        beat, sample = float(marker.beat_time), float(marker.sample_time)
        if abs(beat) > 1e-9 or abs(sample) > 1e-9:
            # Live's shadow marker, a 32nd note after the last one, cannot be removed.
            with contextlib.suppress(Exception):
                clip.remove_warp_marker(beat)
    try:
        add(warp_marker(0.0, 0.0))
        try:
            add(warp_marker(seconds, beats))
        except Exception:  # e.g. the end rounds past the file: half way has the same tempo
            add(warp_marker(seconds / 2.0, beats / 2.0))
    except Exception as error:  # Live raises RuntimeError or its own Boost error types
        return f"Live refused its warp markers ({error}): check its length"
    if not _on_line(clip, seconds, beats):
        return "Live kept other warp markers: check its length"
    return ""


def _set_region(clip: Clip, beats: float, looping: bool) -> None:
    """Start and end markers at 0 and `beats`; with `looping`, the loop over the same span.

    Unlooped first: then the markers are the clip's ends (and an Arrangement clip's span).
    """
    clip.looping = False
    clip.start_marker = 0.0
    clip.end_marker = beats
    if looping:
        clip.looping = True
        clip.loop_start = 0.0
        clip.loop_end = beats


def shape_clip(clip: Clip, shape: ClipShape) -> str:
    """Warp on, the file pinned to its bars, markers and loop set, the warp mode chosen.

    Returns "" when the clip is as `shape` says, else what could not be done (the clip
    then keeps what Live made of it). Never raises: the clip is in the set either way.
    """
    try:
        clip.warping = True
        seconds = _file_seconds(clip)
        if seconds <= 0:
            return "Live has not read the file yet: check the clip's length"
        beats = shape.beats(seconds)
        problem = _pin(clip, seconds, beats)
        if problem:
            # Markers at `beats` over Live's own tempo reading would cut or pad the take.
            clip.looping = shape.looping
        else:
            _set_region(clip, beats, shape.looping)
    except Exception as error:  # Live raises RuntimeError or its own Boost error types
        return f"Live refused its tempo, length or loop ({error}): check the clip"
    with contextlib.suppress(Exception):  # a warp mode this Live does not have: keep Live's
        clip.warp_mode = cast("WarpMode", shape.warp_mode)
    return problem


def is_shaped(clip: Clip, shape: ClipShape) -> bool:
    """Whether the clip still plays as `shape` says (Live may re-read a sample late)."""
    try:
        seconds = _file_seconds(clip)
        beats = shape.beats(seconds)
        return (
            bool(clip.warping)
            and bool(clip.looping) == shape.looping
            and abs(float(clip.end_marker) - beats) < 1e-6
            and (not shape.looping or abs(float(clip.loop_end) - beats) < 1e-6)
            and _on_line(clip, seconds, beats)
        )
    except Exception:  # a clip deleted meanwhile, or a Live without warp markers
        return False


def _finish(clip: Clip, name: str, color_index: int, shape: ClipShape) -> str:
    problem = shape_clip(clip, shape)
    clip.name = name
    clip.color_index = color_index
    return problem


def insert_in_session(
    song: Song,
    track: Track,
    path: str,
    after_index: int,
    name: str,
    color_index: int,
    shape: ClipShape,
) -> Inserted:
    """Create the clip in the first empty slot below `after_index`, adding a scene if none."""
    try:
        slots: list[ClipSlot] = list(track.clip_slots)  # annotated: the stubs' Vector is Any
        index = next((i for i in range(after_index + 1, len(slots)) if not slots[i].has_clip), None)
        if index is None:
            song.create_scene(-1)
            slots = list(track.clip_slots)
            index = len(slots) - 1
        clip = slots[index].create_audio_clip(path)
        problem = _finish(clip, name, color_index, shape)
    except Exception as error:  # Live raises RuntimeError or its own Boost error types
        raise InsertError(
            f"Live could not create a clip on '{track_name(track)}': {error}"
        ) from error
    return Inserted(
        slot_index=index,
        start_beats=None,
        end_beats=None,
        clip=clip,
        slot=slots[index],
        problem=problem,
    )


def insert_in_arrangement(
    track: Track,
    path: str,
    position_beats: float,
    name: str,
    color_index: int,
    shape: ClipShape,
) -> Inserted:
    """Create the clip on `track` starting at `position_beats` in the Arrangement."""
    try:
        clip = track.create_audio_clip(path, position_beats)
        problem = _finish(clip, name, color_index, shape)
        end_beats = float(clip.end_time)
    except Exception as error:  # Live raises RuntimeError or its own Boost error types
        raise InsertError(
            f"Live could not create a clip on '{track_name(track)}' at beat {position_beats:g}: "
            f"{error}"
        ) from error
    return Inserted(
        slot_index=None,
        start_beats=position_beats,
        end_beats=end_beats,
        clip=clip,
        problem=problem,
    )
