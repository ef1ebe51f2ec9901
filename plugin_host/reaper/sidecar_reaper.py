"""REAPER: continue the selected media item through the sidecar and insert the stems after it."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from plugin_host.ableton import addresses
from plugin_host.ableton.link import LinkError, SidecarLink
from plugin_host.ableton.osc_codec import OscMessage

if TYPE_CHECKING:
    from typing import Protocol

    class ReaperApi(Protocol):
        """The ReaScript Python functions this script calls (signatures as REAPER's API doc).

        ReaScript returns a function's out-parameters by giving back every argument in a
        tuple, after the return value when there is one.
        """

        def RPR_CountSelectedMediaItems(self, proj: int) -> int: ...
        def RPR_GetSelectedMediaItem(self, proj: int, selitem: int) -> str: ...
        def RPR_GetActiveTake(self, item: str) -> str: ...
        def RPR_GetMediaItem_Track(self, item: str) -> str: ...
        def RPR_GetMediaItemTake_Source(self, take: str) -> str: ...
        def RPR_GetMediaSourceFileName(
            self, source: str, filenamebuf: str, filenamebuf_sz: int
        ) -> tuple[str, str, int]: ...
        def RPR_GetMediaSourceLength(
            self, source: str, lengthIsQNOut: bool
        ) -> tuple[float, str, bool]: ...
        def RPR_GetMediaItemInfo_Value(self, item: str, parmname: str) -> float: ...
        def RPR_SetMediaItemInfo_Value(self, item: str, parmname: str, newvalue: float) -> bool: ...
        def RPR_GetMediaItemTakeInfo_Value(self, take: str, parmname: str) -> float: ...
        def RPR_GetSetMediaItemTakeInfo_String(
            self, tk: str, parmname: str, stringNeedBig: str, setNewValue: bool
        ) -> tuple[bool, str, str, str, bool]: ...
        def RPR_TimeMap_GetTimeSigAtTime(
            self,
            proj: int,
            time: float,
            timesig_numOut: int,
            timesig_denomOut: int,
            tempoOut: float,
        ) -> tuple[int, float, int, int, float]: ...
        def RPR_AddMediaItemToTrack(self, tr: str) -> str: ...
        def RPR_AddTakeToMediaItem(self, item: str) -> str: ...
        def RPR_PCM_Source_CreateFromFile(self, filename: str) -> str: ...
        def RPR_SetMediaItemTake_Source(self, take: str, source: str) -> bool: ...
        def RPR_UpdateArrange(self) -> None: ...
        def RPR_Undo_BeginBlock(self) -> None: ...
        def RPR_Undo_EndBlock(self, descchange: str, extraflags: int) -> None: ...
        def RPR_ShowConsoleMsg(self, msg: str) -> None: ...
        def RPR_GetExtState(self, section: str, key: str) -> str: ...
        def RPR_SetExtState(self, section: str, key: str, value: str, persist: bool) -> None: ...


__all__ = [
    "EXT_SECTION",
    "ItemSelection",
    "ReaperSession",
    "SelectionError",
    "read_selected_item",
]

#: ExtState section shared by the generate and cancel actions.
EXT_SECTION = "musicgen_sidecar"
_MAX_SECONDS = 30.0  # the sidecar's longest generation
_MAX_SEED = 2**31 - 1


class SelectionError(ValueError):
    """No media item with an audio file is selected."""


@dataclass(frozen=True)
class ItemSelection:
    """The selected item: its file, the played range of the file, and the project grid there."""

    track: str
    file_path: str
    position_seconds: float
    length_seconds: float
    source_start_seconds: float
    source_end_seconds: float
    bpm: float
    beats_per_bar: int

    @property
    def source_start_beats(self) -> float:
        return self.source_start_seconds * self.bpm / 60.0

    @property
    def source_end_beats(self) -> float:
        return self.source_end_seconds * self.bpm / 60.0

    @property
    def end_seconds(self) -> float:
        return self.position_seconds + self.length_seconds

    def bars(self) -> int:
        """Whole bars the item spans at the project tempo, capped at the sidecar's 30 s."""
        length_beats = self.length_seconds * self.bpm / 60.0
        most = max(1, math.floor(_MAX_SECONDS * self.bpm / (60.0 * self.beats_per_bar) + 1e-9))
        return min(most, max(1, round(length_beats / self.beats_per_bar)))


def read_selected_item(api: ReaperApi) -> ItemSelection:
    """The first selected media item; raises SelectionError when there is none to use."""
    if api.RPR_CountSelectedMediaItems(0) < 1:
        raise SelectionError("select a media item first")
    item = api.RPR_GetSelectedMediaItem(0, 0)
    take = api.RPR_GetActiveTake(item)
    if not take:
        raise SelectionError("the selected item has no take")
    source = api.RPR_GetMediaItemTake_Source(take)
    file_path = str(api.RPR_GetMediaSourceFileName(source, "", 4096)[1])
    if not file_path:
        raise SelectionError("the selected item's take has no audio file (MIDI or empty?)")
    position = float(api.RPR_GetMediaItemInfo_Value(item, "D_POSITION"))
    length = float(api.RPR_GetMediaItemInfo_Value(item, "D_LENGTH"))
    offset = float(api.RPR_GetMediaItemTakeInfo_Value(take, "D_STARTOFFS"))
    rate = float(api.RPR_GetMediaItemTakeInfo_Value(take, "D_PLAYRATE")) or 1.0
    signature = api.RPR_TimeMap_GetTimeSigAtTime(0, position, 0, 0, 0.0)
    numerator, denominator, bpm = int(signature[2]), int(signature[3]), float(signature[4])
    quarter_beats = numerator * 4.0 / max(1, denominator)
    return ItemSelection(
        track=api.RPR_GetMediaItem_Track(item),
        file_path=file_path,
        position_seconds=position,
        length_seconds=length,
        source_start_seconds=offset,
        source_end_seconds=offset + length * rate,
        bpm=bpm,
        beats_per_bar=int(quarter_beats) if quarter_beats.is_integer() else numerator,
    )


def request_arguments(
    request_id: str, item: ItemSelection, seed: int, variations: int, prompt: str
) -> list[Any]:
    """`/sidecar/continue` arguments; the range goes in seconds (the sidecar takes one unit)."""
    pairs: list[tuple[str, Any]] = [
        ("clip", item.file_path),
        ("clip_start", item.source_start_seconds),
        ("clip_end", item.source_end_seconds),
        ("bpm", item.bpm),
        ("beats_per_bar", item.beats_per_bar),
        ("bars", item.bars()),
        ("seed", seed),
        ("variations", variations),
    ]
    if prompt:
        pairs.append(("prompt", prompt))
    arguments: list[Any] = [request_id]
    for key, value in pairs:
        arguments += [key, value]
    return arguments


class ReaperSession:
    """One generate press: send, then `step()` from REAPER's defer loop until it returns False."""

    def __init__(
        self,
        api: ReaperApi,
        link: SidecarLink,
        *,
        variations: int = 1,
        prompt: str = "",
        timeout_steps: int = 100,
    ) -> None:
        self._api = api
        self._link = link
        self._variations = variations
        self._prompt = prompt
        self._timeout_steps = timeout_steps
        self.request_id = "reaper-" + "".join(random.choice("0123456789abcdef") for _ in range(10))
        self.seed = random.randint(0, _MAX_SEED)
        self.item: ItemSelection | None = None
        self.inserted: list[str] = []
        self._next_position = 0.0
        self._silent_steps = 0
        self._accepted = False
        self._cancelling = False
        self._reported_decile = -1

    def _say(self, text: str) -> None:
        self._api.RPR_ShowConsoleMsg("MusicGen: " + text + "\n")

    def start(self) -> bool:
        """Read the selection and send the request; False when there is nothing to wait for."""
        self._api.RPR_SetExtState(EXT_SECTION, "cancel", "", False)
        try:
            self.item = read_selected_item(self._api)
            self._link.send(
                addresses.CONTINUE,
                request_arguments(
                    self.request_id, self.item, self.seed, self._variations, self._prompt
                ),
            )
        except SelectionError as error:
            self._say(str(error))
            return False
        except LinkError as error:
            self._say(f"{error}; start it with `sidecar serve`")
            return False
        self._next_position = self.item.end_seconds
        self._say(f"asked for {self.item.bars()} bars at {self.item.bpm:g} bpm (seed {self.seed})")
        return True

    def step(self) -> bool:
        """Handle waiting replies; True while the request is still running."""
        if self._api.RPR_GetExtState(EXT_SECTION, "cancel") == "1" and not self._cancelling:
            self._api.RPR_SetExtState(EXT_SECTION, "cancel", "", False)
            self._cancelling = True
            self._silent_steps = 0
            try:
                self._link.send(addresses.CANCEL, [self.request_id])
            except LinkError as error:
                self._say(str(error))
                return False
        try:
            messages = self._link.poll()
        except LinkError as error:
            self._say(f"{error}; start it with `sidecar serve`")
            return False
        self._silent_steps += 1
        for message in messages:
            if not self._handle(message):
                return False
        if self._silent_steps > self._timeout_steps:
            where = "{}:{}".format(*self._link.address)
            if self._cancelling:
                self._say("cancelled (the sidecar did not confirm)")
            elif not self._accepted:
                self._say(f"sidecar not answering at {where}: start it with `sidecar serve`")
            else:
                self._say(f"no news from the sidecar at {where}; gave up")
            return False
        return True

    def _handle(self, message: OscMessage) -> bool:
        arguments = message.arguments
        if not arguments or str(arguments[0]) != self.request_id:
            return True  # another client's, or an older request's reply
        self._silent_steps = 0
        self._accepted = True
        if message.address == addresses.PROGRESS and len(arguments) > 1:
            value = arguments[1]
            fraction = float(value) if isinstance(value, int | float) else 0.0
            decile = int(fraction * 10)
            if decile > self._reported_decile:
                self._reported_decile = decile
                self._say(f"{decile * 10}%")
        elif message.address == addresses.STEM and len(arguments) > 2 and not self._cancelling:
            self._insert(str(arguments[2]), arguments[3:])
        elif message.address == addresses.DONE:
            self._say(f"done: {len(self.inserted)} item(s) inserted")
            return False
        elif message.address == addresses.ERROR:
            details = " ".join(str(a) for a in arguments[1:])
            self._say(f"sidecar error: {details}")
            return False
        elif message.address == addresses.CANCELLED:
            self._say("cancelled")
            return False
        return True

    def _insert(self, path: str, extras: tuple[Any, ...]) -> None:
        api = self._api
        selection = self.item
        if selection is None:
            return
        options = {str(extras[i]): extras[i + 1] for i in range(0, len(extras) - 1, 2)}
        seed = options.get("seed", self.seed + len(self.inserted))
        name = f"musicgen s{seed} {selection.bpm:g}bpm"
        api.RPR_Undo_BeginBlock()
        try:
            item = api.RPR_AddMediaItemToTrack(selection.track)
            take = api.RPR_AddTakeToMediaItem(item)
            source = api.RPR_PCM_Source_CreateFromFile(path)
            api.RPR_SetMediaItemTake_Source(take, source)
            length = float(api.RPR_GetMediaSourceLength(source, False)[0])
            api.RPR_SetMediaItemInfo_Value(item, "D_POSITION", self._next_position)
            api.RPR_SetMediaItemInfo_Value(item, "D_LENGTH", length)
            api.RPR_GetSetMediaItemTakeInfo_String(take, "P_NAME", name, True)
        finally:
            api.RPR_Undo_EndBlock("MusicGen: insert " + name, -1)
        api.RPR_UpdateArrange()
        self._next_position += length
        self.inserted.append(name)
        self._say(f"inserted '{name}' ({path})")
