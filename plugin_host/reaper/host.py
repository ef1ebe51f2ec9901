"""REAPER's objects as the Python bridge lets a script reach them: tracks, the project tab in
front, a take's file and new items."""

# The bridge (REAPER's generated reaper_python.py, `rpr_packp`) checks every pointer argument
# with ValidatePtr against the project tab in front and passes NULL for one it does not find
# there. So, through Python:
# - RPR_ValidatePtr2 is always False: it packs its pointer as `void*`, which ValidatePtr never
#   accepts (reapy 0.7's changelog). A track is checked by its IP_TRACKNUMBER instead, 0 when
#   not found (ReaScript help, GetMediaTrackInfo_Value).
# - A source from PCM_Source_CreateFromFile is in no project: every later call gets NULL for
#   it, so its length reads 0, a take cannot be given it and it cannot be destroyed (reapy
#   issue #38). A new item gets its file from an RPPXML chunk instead (SetItemStateChunk on an
#   item from AddMediaItemToTrack), so REAPER makes the take and its source in the project.
# - Every object of a project tab that is not in front is NULL: a request remembers its
#   project (EnumProjects(-1)) and inserts nothing while another tab is in front.
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .timemap import is_null_pointer

if TYPE_CHECKING:
    from .api import ReaperApi

__all__ = [
    "RECORDING",
    "TakeFile",
    "current_project",
    "delete_item",
    "is_recording",
    "item_chunk",
    "new_item_with_file",
    "take_file",
    "track_exists",
]

#: GetPlayState's recording bit (ReaScript help: &1 playing, &2 paused, &4 recording).
RECORDING = 4

#: RPPXML source types by file extension (REAPER's project files); others are read as WAVE.
_SOURCE_TYPES = {".flac": "FLAC", ".mp3": "MP3", ".ogg": "VORBIS", ".opus": "OPUS"}


def current_project(api: ReaperApi) -> str:
    """The project tab in front (EnumProjects with index -1)."""
    return str(api.RPR_EnumProjects(-1, "", 0)[0])


def track_exists(api: ReaperApi, track: str) -> bool:
    """Whether `track` is a track of the project tab in front (its number is 0 when it is not:
    deleted, or in another tab)."""
    return float(api.RPR_GetMediaTrackInfo_Value(track, "IP_TRACKNUMBER")) >= 1.0


def is_recording(api: ReaperApi) -> bool:
    return bool(int(api.RPR_GetPlayState()) & RECORDING)


@dataclass(frozen=True)
class TakeFile:
    """The file a take plays and the part of it its source covers: a section source (Item
    properties' "Section", or a reversed take) wraps the file and plays `length_seconds` of it
    from `offset_seconds` (GetMediaSourceParent, PCM_Source_GetSectionInfo)."""

    path: str
    offset_seconds: float
    length_seconds: float
    reversed: bool


def take_file(api: ReaperApi, source: str) -> TakeFile:
    """The take's file, through any section sources; path "" when it has none (MIDI)."""
    offset, length, reversed_, sectioned = 0.0, 0.0, False, False
    for _depth in range(8):  # a section of a section...: REAPER nests a few at most
        path = str(api.RPR_GetMediaSourceFileName(source, "", 4096)[1])
        if path or is_null_pointer(source):
            break
        parent = str(api.RPR_GetMediaSourceParent(source))
        if is_null_pointer(parent):
            break
        is_section, _src, section_offset, section_length, section_reversed = (
            api.RPR_PCM_Source_GetSectionInfo(source, 0.0, 0.0, False)
        )
        if is_section:
            offset += float(section_offset)
            if not sectioned:
                length, sectioned = float(section_length), True
            reversed_ = reversed_ != bool(section_reversed)
        source = parent
    if not sectioned:
        length = float(api.RPR_GetMediaSourceLength(source, False)[0])
    return TakeFile(path, offset, length, reversed_)


def _quoted(path: str) -> str:
    """An RPPXML string: quoted with a quote mark the path does not contain."""
    quote = next((q for q in ('"', "'", "`") if q not in path), '"')
    return quote + path + quote


def item_chunk(path: str, position_seconds: float, length_seconds: float) -> str:
    """An item's RPPXML state with one take playing `path` from its start."""
    kind = _SOURCE_TYPES.get(os.path.splitext(path)[1].lower(), "WAVE")
    return (
        "<ITEM\n"
        f"POSITION {position_seconds!r}\n"
        f"LENGTH {length_seconds!r}\n"
        "LOOP 0\n"
        f"<SOURCE {kind}\n"
        f"FILE {_quoted(path)}\n"
        ">\n"
        ">\n"
    )


def new_item_with_file(api: ReaperApi, track: str, path: str) -> tuple[str, str, float]:
    """A new item on `track` playing `path`: (item, its take, the file's seconds as REAPER
    reads them). The seconds are 0.0 when REAPER reads no audio: the caller deletes the item."""
    item = str(api.RPR_AddMediaItemToTrack(track))
    if is_null_pointer(item):
        return item, "", 0.0
    if not api.RPR_SetItemStateChunk(item, item_chunk(path, 0.0, 1.0), False):
        return item, "", 0.0
    take = str(api.RPR_GetActiveTake(item))
    source = str(api.RPR_GetMediaItemTake_Source(take))
    return item, take, float(api.RPR_GetMediaSourceLength(source, False)[0])


def delete_item(api: ReaperApi, track: str, item: str) -> None:
    if not is_null_pointer(item):
        api.RPR_DeleteTrackMediaItem(track, item)
