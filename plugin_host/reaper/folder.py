"""Separated parts in REAPER: new tracks in a folder under the item's track, one per part."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import ReaperApi

__all__ = ["MIX_PART", "PartFolder", "is_separated_part"]

#: The part name the sidecar gives a separated set's mix (it goes where any take goes).
MIX_PART = "mix"


def is_separated_part(extras: dict[str, Any]) -> bool:
    """Whether a `/sidecar/stem` reply is one part (not the mix) of a separated take."""
    part = extras.get("part")
    return bool(extras.get("separator")) and isinstance(part, str) and part not in ("", MIX_PART)


class PartFolder:
    """The item's track made a folder whose children are the parts, in the order they come.

    REAPER's `I_FOLDERDEPTH` is a change of depth at the track: 1 opens a folder, -n closes
    n. The item's track opens the folder (unless it is a folder already: the parts then go
    first inside it), and the last part closes it with the depth change the item's track had.
    """

    def __init__(self, api: ReaperApi, parent: str) -> None:
        self._api = api
        self._parent = parent
        self.tracks: dict[str, str] = {}
        self._closing = 0.0

    def track(self, part: str) -> str:
        """The part's track, inserted under the folder on its first take."""
        made = self.tracks.get(part)
        if made is not None:
            return made
        api = self._api
        number = int(api.RPR_GetMediaTrackInfo_Value(self._parent, "IP_TRACKNUMBER"))
        index = number + len(self.tracks)  # 0-based: after the parent and the parts before
        api.RPR_InsertTrackAtIndex(index, True)
        track = api.RPR_GetTrack(0, index)
        name = api.RPR_GetSetMediaTrackInfo_String(self._parent, "P_NAME", "", False)[3]
        label = f"{name} {part}" if name else part
        api.RPR_GetSetMediaTrackInfo_String(track, "P_NAME", label, True)
        if not self.tracks:
            depth = api.RPR_GetMediaTrackInfo_Value(self._parent, "I_FOLDERDEPTH")
            if depth < 1:
                api.RPR_SetMediaTrackInfo_Value(self._parent, "I_FOLDERDEPTH", 1.0)
                self._closing = depth - 1.0
        else:
            last = list(self.tracks.values())[-1]
            api.RPR_SetMediaTrackInfo_Value(last, "I_FOLDERDEPTH", 0.0)
        api.RPR_SetMediaTrackInfo_Value(track, "I_FOLDERDEPTH", self._closing)
        self.tracks[part] = track
        return track
