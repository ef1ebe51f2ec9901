"""Put a returned stem into the set: the next empty slot below, or after the arrangement clip."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from Live.Clip import Clip
    from Live.ClipSlot import ClipSlot
    from Live.Song import Song
    from Live.TakeLane import TakeLane
    from Live.Track import Track

__all__ = [
    "INSERT_VERSIONS",
    "WARP_MODE_BEATS",
    "WARP_MODE_COMPLEX",
    "InsertError",
    "Inserted",
    "can_insert",
    "clip_name",
    "create_audio_clip",
    "creates_audio_clips",
    "free_arrangement_position",
    "insert_in_arrangement",
    "insert_in_session",
    "slot_index",
    "track_name",
    "warp_mode_for",
]

#: The Lives with ClipSlot.create_audio_clip and Track.create_audio_clip: from 11.3.25
#: (its release notes: new audio clips "via the Max for Live API"), not in 12.0.0's API,
#: and again from 12.0.5 (PhotonicVelocity/LiveAPI's stubs generated inside 11.3.25,
#: 12.0.0 and 12.0.5). TakeLane.create_audio_clip came with take lanes in 12.2.
INSERT_VERSIONS = (((11, 3, 25), (12, 0, 0)), ((12, 0, 5), None))

#: Live.Clip.WarpMode values: Beats keeps drum hits where they are when the set's tempo
#: changes later; Complex suits everything else (mixes, bass, chords, pads).
WARP_MODE_BEATS = 0
WARP_MODE_COMPLEX = 4
#: A stem is percussive when its part, the script preset or the sidecar preset names one of
#: these (`drums`, `drum-loop`, `breakbeat`, `percussion`). Prompts are not read: "no drums".
_PERCUSSIVE_WORDS = ("drum", "perc", "break")


class InsertError(RuntimeError):
    """Live refused the new clip (frozen or MIDI track, unreadable file, no room)."""


@dataclass(frozen=True)
class Inserted:
    """Where a stem landed: a Session slot, or an Arrangement span in beats."""

    slot_index: int | None
    start_beats: float | None
    end_beats: float | None
    clip: Clip | None = None
    slot: ClipSlot | None = None

    def describe(self) -> str:
        if self.slot_index is not None:
            return f"slot {self.slot_index + 1}"
        return f"beat {self.start_beats:g}"


def can_insert(version: tuple[int, int, int]) -> bool:
    """Whether Live `version` has create_audio_clip (see INSERT_VERSIONS)."""
    return any(
        low <= tuple(version) and (high is None or tuple(version) < high)
        for low, high in INSERT_VERSIONS
    )


def creates_audio_clips(owner: Any) -> bool:
    """Whether this slot, track or take lane has create_audio_clip in the running Live
    (asked of the object: a version table can be wrong about a build)."""
    return callable(getattr(owner, "create_audio_clip", None))


def create_audio_clip(
    owner: ClipSlot | Track | TakeLane, path: str, position_beats: float | None = None
) -> Clip:
    """`owner.create_audio_clip(path[, position])`, or InsertError in a Live without it
    (looked up by name: not every Live the script runs in has it, see INSERT_VERSIONS)."""
    arguments: tuple[Any, ...] = (path,) if position_beats is None else (path, position_beats)
    return _create(owner, arguments)


def _create(owner: Any, arguments: tuple[Any, ...]) -> Clip:
    create = getattr(owner, "create_audio_clip", None)
    if not callable(create):
        raise InsertError("this Live cannot add clips from a script (11.3.25 and 12.0.5 on can)")
    clip: Clip = create(*arguments)
    return clip


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
    clips: list[Clip], after_beats: float, length_beats: float, bar_beats: float
) -> float:
    """The first bar line at or after `after_beats` from which `length_beats` are free of clips.

    A stem starts on a downbeat, so it goes on a bar line (bars counted from beat 0, one
    signature throughout); earlier takes and the producer's own `clips` on the lane are
    never covered: a new clip in the Arrangement replaces whatever lies under it.
    """
    spans = []
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


def _finish(clip: Clip, name: str, color_index: int) -> None:
    clip.name = name
    clip.color_index = color_index


def insert_in_session(
    song: Song,
    track: Track,
    path: str,
    after_index: int,
    name: str,
    color_index: int,
) -> Inserted:
    """Create the clip in the first empty slot below `after_index`, adding a scene if none.

    The clip is named and coloured here; its tempo and length are set over the next ticks
    (shaping.ClipShaper).
    """
    try:
        slots: list[ClipSlot] = list(track.clip_slots)  # annotated: the stubs' Vector is Any
        index = next((i for i in range(after_index + 1, len(slots)) if not slots[i].has_clip), None)
        if index is None:
            song.create_scene(-1)
            slots = list(track.clip_slots)
            index = len(slots) - 1
        clip = create_audio_clip(slots[index], path)
        _finish(clip, name, color_index)
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
    )


def insert_in_arrangement(
    track: Track,
    lane: TakeLane | None,
    path: str,
    position_beats: float,
    name: str,
    color_index: int,
) -> Inserted:
    """Create the clip on `track` (on take `lane` when given: Live 12.2+) starting at
    `position_beats` in the Arrangement. `end_beats` is Live's end for the new clip, before
    it is shaped; the caller takes the shaped length from the shape."""
    try:
        clip = create_audio_clip(lane if lane is not None else track, path, position_beats)
        _finish(clip, name, color_index)
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
    )
