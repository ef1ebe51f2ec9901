"""REAPER: continue the selected media item through the sidecar and insert the stems after it."""

from __future__ import annotations

import os
import random
import time
from typing import TYPE_CHECKING, Any

from plugin_host.ableton import addresses
from plugin_host.ableton.link import LinkError, SidecarLink
from plugin_host.ableton.osc_codec import OscMessage
from plugin_host.ableton.placement import clip_name
from plugin_host.ableton.request import MAX_BPM, MIN_BPM

from .folder import MIX_PART, PartFolder, is_separated_part
from .host import current_project, delete_item, new_item_with_file, track_exists
from .request import (
    CANCEL_KEY,
    EXT_SECTION,
    SidecarRequest,
    last_request_id,
    new_seed,
    save_last_request,
)
from .selection import ItemSelection, SelectionError, played_source_range, read_selected_item
from .settings import Settings
from .timemap import (
    EPSILON_SECONDS,
    SAME_TEMPO,
    Grid,
    bar_line_at_or_after,
    free_bar_position,
    grid_at,
    is_null_pointer,
    quarter_notes_between,
    seconds_of_quarter_notes,
    take_placement,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from .api import ReaperApi

__all__ = [
    "EXT_SECTION",
    "Grid",
    "ItemSelection",
    "ReaperSession",
    "SelectionError",
    "bar_line_at_or_after",
    "free_bar_position",
    "grid_at",
    "is_null_pointer",
    "made_bpm",
    "played_source_range",
    "quarter_notes_between",
    "read_selected_item",
    "request_from_selection",
    "seconds_of_quarter_notes",
    "take_name",
    "take_placement",
]

#: The sidecar's range for `bpm` and `clip_bpm` (sidecar/osc/fields.py, as the Live script
#: has it): a file's tempo outside it is sent as the nearest end.
_CLIP_BPM_RANGE = (MIN_BPM, MAX_BPM)


def request_from_selection(api: ReaperApi, settings: Settings) -> SidecarRequest:
    """The request for the selected item with the settings' preset; raises SelectionError.

    The take goes on the first bar line at or after the item's end, so it is made for the
    time signature and tempo there (a tempo change at the item's end counts). It has as many
    bars as the item (in the item's time signature), at most one model window of them. Where
    the file's own tempo is another (see `ItemSelection.source_bpm`) it goes as `clip_bpm`, in
    the same beats as `bpm`, so that the sidecar plays the prompt at the take's tempo.
    """
    item = read_selected_item(api)
    # Just past the bar line: a tempo marker on it counts however the time map rounds.
    grid = grid_at(api, bar_line_at_or_after(api, item.end_seconds) + EPSILON_SECONDS)
    low, high = _CLIP_BPM_RANGE  # the sidecar's bpm range too
    if not low <= grid.bpm <= high:
        shown = f"{grid.bpm * grid.beat_quarters:g} bpm"
        if grid.beat_quarters != 1.0:
            shown += f" counts {grid.bpm:g} beats of its metre a minute"
        raise SelectionError(
            f"the tempo where the take goes, {shown}: the sidecar takes {low:g} to {high:g} "
            "beats a minute, so nothing was sent"
        )
    source_bpm = item.source_bpm / grid.beat_quarters  # in the beats `bpm` counts
    clip_bpm = None
    if abs(source_bpm - grid.bpm) > SAME_TEMPO * grid.bpm:
        clip_bpm = min(max(source_bpm, _CLIP_BPM_RANGE[0]), _CLIP_BPM_RANGE[1])
    options = list(settings.preset_values())
    if settings.key != "off":
        options.append(("key", settings.key))
    return SidecarRequest(
        track=item.track,
        insert_at_seconds=item.end_seconds,
        file_path=item.file_path,
        source_start_seconds=item.source_start_seconds,
        source_end_seconds=item.source_end_seconds,
        bpm=grid.bpm,
        beats_per_bar=grid.beats_per_bar,
        bars=settings.bars if settings.bars is not None else min(item.bars(), grid.most_bars()),
        variations=settings.variations,
        seed=new_seed(),
        preset=settings.preset,
        options=tuple(options),
        beat_quarters=grid.beat_quarters,
        clip_bpm=clip_bpm,
    )


def made_bpm(request: SidecarRequest, extras: dict[str, Any]) -> float:
    """The tempo a take was made for, in quarter notes a minute (REAPER's unit): the `bpm`
    the sidecar reports with the stem, else the request's."""
    beat_bpm = extras.get("bpm", request.bpm)
    if not isinstance(beat_bpm, (int, float)) or isinstance(beat_bpm, bool) or beat_bpm <= 0:
        beat_bpm = request.bpm
    return float(beat_bpm) * request.beat_quarters


def take_name(
    request: SidecarRequest, index: int, extras: dict[str, Any], playrate: float = 1.0
) -> str:
    """`<preset> s<seed> [v<take>/<takes>] <bpm>bpm`: the takes of one request share a seed.

    The bpm is the one the take plays at, as REAPER shows it (quarter notes: the sidecar's
    counts the beat of the metre, eighths in 7/8 at twice the quarter-note tempo): the tempo
    it was made for, times the `playrate` it is played at.
    """
    seed = extras.get("seed", request.seed)
    if not isinstance(seed, int):
        seed = request.seed
    bpm = round(made_bpm(request, extras) * playrate, 3)
    return clip_name(request.preset, seed, bpm, index + 1, request.variations)


class ReaperSession:
    """One action run: `start()`, then `step()` from REAPER's defer loop until it returns False."""

    def __init__(
        self,
        api: ReaperApi,
        link: SidecarLink,
        *,
        connect_timeout_seconds: float = 5.0,
        stall_timeout_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = api
        self._link = link
        self._connect_timeout_seconds = connect_timeout_seconds
        self._stall_timeout_seconds = stall_timeout_seconds
        self._clock = clock
        self.request_id = "reaper-" + "".join(random.choice("0123456789abcdef") for _ in range(10))
        self.request: SidecarRequest | None = None
        self.inserted: list[str] = []
        self.ignored_replies = 0
        self._next_position_seconds = 0.0
        self._last_heard = 0.0
        self._accepted = False
        self._cancelling = False
        self._cancel_token = ""
        self._not_inserted = 0
        self._reported_decile = -1
        self._project = ""
        #: Separated takes: the parts' folder under the item's track, and where each
        #: variation's mix went (position, length) for its parts to line up with.
        self._parts: PartFolder | None = None
        self._mix_places: dict[int, tuple[float, float]] = {}

    def say(self, text: str) -> None:
        self._api.RPR_ShowConsoleMsg("MusicGen: " + text + "\n")

    def _where(self) -> str:
        return "{}:{}".format(*self._link.address)

    def start(self, request: SidecarRequest) -> bool:
        """Send the request; False when there is nothing to wait for (the reason is shown)."""
        self._cancel_token = str(self._api.RPR_GetExtState(EXT_SECTION, CANCEL_KEY))
        self._project = current_project(self._api)
        try:
            self._link.send(addresses.CONTINUE, request.to_osc_arguments(self.request_id))
        except LinkError as error:
            self.say(f"{error}; start it with `sidecar serve`")
            return False
        self.request = request
        self._next_position_seconds = request.insert_at_seconds
        self._last_heard = self._clock()
        save_last_request(self._api, self.request_id, request)
        self.say(
            f"asked for {request.bars} bars at {request.project_bpm:g} bpm "
            f"({request.preset}, seed {request.seed}, x{request.variations})"
        )
        return True

    def step(self) -> bool:
        """Handle the replies waiting; True while the request is still running."""
        now = self._clock()
        if not self._cancelling and self._cancel_requested():
            self._cancelling = True
            self._last_heard = now
            self.say("cancelling…")
            try:
                self._link.send(addresses.CANCEL, [self.request_id])
            except LinkError as error:
                self.say(f"cancelled ({error})")
                return False
        try:
            messages = self._link.poll()
        except LinkError as error:
            self.say(f"{error}; start it with `sidecar serve`")
            return False
        for message in messages:
            if not self._handle(message):
                return False
        return not self._timed_out(now)

    def abandon(self) -> None:
        """The script was ended while the request ran: ask the sidecar to cancel it, so that
        it stops making takes that nobody will insert."""
        if self.request is None:
            return
        try:
            self._link.send(addresses.CANCEL, [self.request_id])
        except LinkError:
            pass  # the sidecar is gone: nothing runs there to cancel
        self.say(f"the script was ended: request cancelled; {len(self.inserted)} item(s) inserted")

    def _cancel_requested(self) -> bool:
        return str(self._api.RPR_GetExtState(EXT_SECTION, CANCEL_KEY)) != self._cancel_token

    def _timed_out(self, now: float) -> bool:
        silent_seconds = now - self._last_heard
        if self._cancelling and silent_seconds > self._connect_timeout_seconds:
            self.say("cancelled (the sidecar did not confirm)")
        elif not self._accepted and silent_seconds > self._connect_timeout_seconds:
            self.say(f"sidecar not answering at {self._where()}: start it with `sidecar serve`")
        elif silent_seconds > self._stall_timeout_seconds:
            self.say(
                f"no news from the sidecar at {self._where()} for {silent_seconds:.0f} s; gave up"
            )
            try:
                self._link.send(addresses.CANCEL, [self.request_id])
            except LinkError:
                pass  # giving up anyway; the message above says so
        else:
            return False
        return True

    def _handle(self, message: OscMessage) -> bool:
        arguments = message.arguments
        if not arguments or str(arguments[0]) != self.request_id:
            self.ignored_replies += 1  # another client's, or a finished request's reply
            return True
        self._last_heard = self._clock()
        self._accepted = True
        if message.address == addresses.PROGRESS and len(arguments) > 1:
            self._progress(arguments[1])
        elif message.address == addresses.STEM and len(arguments) > 2:
            if self._cancelling:
                self._not_inserted += 1
            else:
                index = arguments[1] if isinstance(arguments[1], int) else len(self.inserted)
                self._insert(index, str(arguments[2]), arguments[3:])
        elif message.address == addresses.DONE:
            if self._cancelling:
                self.say(
                    f"the cancel came too late: the sidecar finished; "
                    f"{self._not_inserted} stem(s) not inserted"
                )
            else:
                self.say(f"done: {len(self.inserted)} item(s) inserted")
            return False
        elif message.address == addresses.ERROR:
            details = " ".join(str(a) for a in arguments[1:])
            self.say(f"sidecar error: {details}")
            return False
        elif message.address == addresses.CANCELLED:
            self.say("cancelled")
            return False
        return True

    def _progress(self, value: Any) -> None:
        fraction = float(value) if isinstance(value, (int, float)) else 0.0
        decile = int(fraction * 10)
        if decile > self._reported_decile:
            self._reported_decile = decile
            self.say(f"{decile * 10}%")

    def _insert(self, index: int, path: str, extras: tuple[Any, ...]) -> None:
        api = self._api
        request = self.request
        if request is None:
            return
        options = {str(extras[i]): extras[i + 1] for i in range(0, len(extras) - 1, 2)}
        name = take_name(request, index, options)
        if current_project(api) != self._project:
            # The bridge passes NULL for every object of a tab that is not in front.
            self.say(
                f"the project tab that asked for '{name}' is not in front; not inserted (file: "
                f"{path}); switch back to it before the next take comes"
            )
            return
        if not track_exists(api, request.track):
            self.say(f"the track is gone; '{name}' not inserted (file: {path})")
            return
        if not os.path.isfile(path):
            self.say(f"REAPER could not open the stem '{name}'; not inserted; the file is {path}")
            return
        variation = options.get("variation")
        variation = variation if isinstance(variation, int) else index
        # A separated part goes in the folder under the item's track, where its mix went.
        part = is_separated_part(options) and variation in self._mix_places
        label = str(options.get("part")) if part or options.get("part") == MIX_PART else ""
        track = request.track
        api.RPR_Undo_BeginBlock()
        try:
            if part:
                if self._parts is None:
                    self._parts = PartFolder(api, request.track)
                track = self._parts.track(label)
            item, take, file_seconds = new_item_with_file(api, track, path)
            if not file_seconds > 0.0:
                delete_item(api, track, item)
                self.say(
                    f"REAPER read no audio in the stem '{name}'; not inserted; the file is {path}"
                )
                return
            quarter_notes = file_seconds * made_bpm(request, options) / 60.0
            if part:
                position, length = self._mix_places[variation]
            else:
                position, length = take_placement(
                    api,
                    request.track,
                    self._next_position_seconds,
                    file_seconds,
                    quarter_notes,
                    ignored_item=item,
                )
                if label == MIX_PART:
                    self._mix_places[variation] = (position, length)
            # Where the project's tempo is not the take's, it plays faster or slower (pitch
            # kept) so that its bars last the project's bars there.
            playrate = file_seconds / length
            name = take_name(request, index, options, playrate)
            if label:
                name = f"{name} {label}"
            if playrate != 1.0:
                api.RPR_SetMediaItemTakeInfo_Value(take, "D_PLAYRATE", playrate)
                api.RPR_SetMediaItemTakeInfo_Value(take, "B_PPITCH", 1.0)
            api.RPR_SetMediaItemInfo_Value(item, "D_POSITION", position)
            api.RPR_SetMediaItemInfo_Value(item, "D_LENGTH", length)
            api.RPR_GetSetMediaItemTakeInfo_String(take, "P_NAME", name, True)
        finally:
            api.RPR_Undo_EndBlock("MusicGen: insert " + name, -1)
        api.RPR_UpdateArrange()
        if not part:
            self._next_position_seconds = position + length
        self.inserted.append(name)
        if last_request_id(api) == self.request_id:  # a re-roll goes after these takes
            save_last_request(api, self.request_id, request.placed_at(self._next_position_seconds))
        speed = "" if playrate == 1.0 else f", played at {playrate:.4g}x for the tempo there"
        self.say(f"inserted '{name}' at {position:.3f} s{speed} ({path})")
