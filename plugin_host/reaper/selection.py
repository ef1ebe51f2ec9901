"""The selected media item: its file, the part of the file it plays, and the tempos there."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .host import is_recording, take_file
from .timemap import EPSILON_SECONDS, grid_at, is_null_pointer, quarter_notes_between

if TYPE_CHECKING:
    from .api import ReaperApi

__all__ = [
    "ItemSelection",
    "SelectionError",
    "played_source_range",
    "read_selected_item",
]

#: The shortest last pass through a looped file that is sent as the prompt (a looped item that
#: ends less than this into the file sends the whole file instead).
_MIN_PASS_SECONDS = 1.0


class SelectionError(ValueError):
    """No media item with an audio file is selected."""


def played_source_range(
    offset: float, played_seconds: float, source_seconds: float, loops: bool
) -> tuple[float, float]:
    """The part of its file that an item plays up to its end, in seconds of the file.

    The item plays `played_seconds` of the file (its length times its playrate) from `offset`
    (its start offset). A looped item (`B_LOOPSRC`) starts the file again at its end, so when
    it plays past the end of the file the range is its last pass through the file: from the
    file's start to where the item ends in it, which is where the continuation follows on (the
    whole file when the item ends with the file, or less than `_MIN_PASS_SECONDS` into it). An
    item that does not loop is silent past the file's end, so its range stops there.
    """
    if not source_seconds > 0.0:
        return offset, offset + played_seconds  # no length from REAPER: the sidecar checks it
    if loops:
        start = offset % source_seconds
        end = start + played_seconds
        if end <= source_seconds + EPSILON_SECONDS:
            return start, min(end, source_seconds)
        passes = math.floor((end - EPSILON_SECONDS) / source_seconds)
        last = end - passes * source_seconds
        return 0.0, source_seconds if last < _MIN_PASS_SECONDS else min(last, source_seconds)
    start, end = max(0.0, offset), min(offset + played_seconds, source_seconds)
    if end <= start + EPSILON_SECONDS:
        raise SelectionError(
            "the selected item plays none of its file (it starts past the file's end)"
        )
    return start, end


@dataclass(frozen=True)
class ItemSelection:
    """The selected item: its file, the played range of the file, and the project grid there."""

    track: str
    file_path: str
    position_seconds: float
    length_seconds: float
    source_start_seconds: float
    source_end_seconds: float
    #: the item's length in quarter notes on the project's time map
    quarter_notes: float
    #: quarter notes in a bar of the time signature at the item's start
    bar_quarters: float
    #: the take's D_PLAYRATE: REAPER plays the file this much faster
    playrate: float = 1.0

    @property
    def end_seconds(self) -> float:
        return self.position_seconds + self.length_seconds

    @property
    def source_bpm(self) -> float:
        """The file's own tempo in quarter notes a minute: the project's tempo over the item
        (the item plays in time with it), divided by the playrate (at 1.2, a 100-bpm file
        plays at 120)."""
        return self.quarter_notes * 60.0 / self.length_seconds / self.playrate

    def bars(self) -> int:
        """Whole bars the item spans, in its own time signature."""
        return max(1, round(self.quarter_notes / self.bar_quarters))


def read_selected_item(api: ReaperApi) -> ItemSelection:
    """The first selected media item; raises SelectionError when there is none to use."""
    if is_recording(api):
        # A clip being recorded is still being written: its file is not whole yet.
        raise SelectionError(
            "REAPER is recording: a clip is still being written; stop recording, then run Continue"
        )
    if api.RPR_CountSelectedMediaItems(0) < 1:
        raise SelectionError("select a media item first")
    item = api.RPR_GetSelectedMediaItem(0, 0)
    take = api.RPR_GetActiveTake(item)
    if is_null_pointer(take):
        raise SelectionError("the selected item has no take")
    source = api.RPR_GetMediaItemTake_Source(take)
    played = take_file(api, source)
    if not played.path:
        raise SelectionError("the selected item's take has no audio file (MIDI or empty?)")
    if played.reversed or int(api.RPR_GetTakeNumStretchMarkers(take)) > 0:
        # Reversed, the take plays its file backwards; stretch markers move parts of the file
        # in time: either way offset + length × playrate is not the part the item plays, nor
        # is the project tempo the file's. Glued, it is plain audio.
        what = "is reversed" if played.reversed else "has stretch markers"
        raise SelectionError(
            f"the selected item {what}; glue it first (Item → Glue items) and run "
            "Continue on the glued item"
        )
    _seconds, _source, length_in_quarter_notes = api.RPR_GetMediaSourceLength(source, False)
    if length_in_quarter_notes:
        raise SelectionError("the selected item's take is MIDI; Continue needs an audio item")
    position = float(api.RPR_GetMediaItemInfo_Value(item, "D_POSITION"))
    length = float(api.RPR_GetMediaItemInfo_Value(item, "D_LENGTH"))
    if not length > 0.0:
        raise SelectionError("the selected item has no length")
    offset = float(api.RPR_GetMediaItemTakeInfo_Value(take, "D_STARTOFFS"))
    rate = float(api.RPR_GetMediaItemTakeInfo_Value(take, "D_PLAYRATE")) or 1.0
    loops = bool(api.RPR_GetMediaItemInfo_Value(item, "B_LOOPSRC"))
    # The range is in the take's source; a section source starts that far into the file.
    source_start, source_end = played_source_range(
        offset, length * rate, played.length_seconds, loops
    )
    return ItemSelection(
        track=api.RPR_GetMediaItem_Track(item),
        file_path=played.path,
        position_seconds=position,
        length_seconds=length,
        source_start_seconds=played.offset_seconds + source_start,
        source_end_seconds=played.offset_seconds + source_end,
        quarter_notes=quarter_notes_between(api, position, position + length),
        bar_quarters=grid_at(api, position).bar_quarters,
        playrate=rate,
    )
