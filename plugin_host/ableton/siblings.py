"""Separated parts in Live: a new audio track per part beside the source track, named by it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from Live.Song import Song
    from Live.Track import Track

__all__ = ["MIX_PART", "is_separated_part", "part_track", "part_track_name"]

#: The part name the sidecar gives a separated set's mix (it goes where any stem goes).
MIX_PART = "mix"


def is_separated_part(extras: dict[str, Any]) -> bool:
    """Whether a `/sidecar/stem` reply is one part (not the mix) of a separated take."""
    part = extras.get("part")
    return bool(extras.get("separator")) and isinstance(part, str) and part not in ("", MIX_PART)


def part_track_name(source_name: str, part: str) -> str:
    """`Audio 1 drums`: the source track's name and the part."""
    return f"{source_name} {part}"


def part_track(song: Song, source: Track, part: str, made: dict[str, Track]) -> Track:
    """The track for `part` beside `source`: made on the first stem of that part (a new audio
    track right after the source track and the parts made before it, in the order they come),
    then reused for the same part of later variations."""
    track = made.get(part)
    if track is not None:
        return track
    tracks = list(song.tracks)
    index = next((i for i, t in enumerate(tracks) if t is source), len(tracks) - 1)
    track = song.create_audio_track(index + 1 + len(made))
    track.name = part_track_name(str(source.name), part)
    made[part] = track
    return track
