"""REAPER: continue the selected media item through the sidecar and insert the stems after it."""

from __future__ import annotations

import math
import random
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from plugin_host.ableton import addresses
from plugin_host.ableton.link import LinkError, SidecarLink
from plugin_host.ableton.osc_codec import OscMessage
from plugin_host.ableton.placement import clip_name

from .request import (
    CANCEL_KEY,
    EXT_SECTION,
    SidecarRequest,
    last_request_id,
    new_seed,
    save_last_request,
)
from .settings import Settings

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

#: The longest take the sidecar makes in one model window (30 s less the 0.5 s of prompt it
#: keeps at least); a longer one is made in several windows, which cannot be looped.
_MAX_SECONDS = 29.5

#: How far apart two times may be and still count as the same (0.1 ms, about 5 samples at
#: 48 kHz): a take may be a few samples longer than its bars (the sidecar delivers whole
#: samples), and REAPER's time map rounds; neither should push a take one bar further on.
_EPSILON_SECONDS = 1e-4

#: How far a take's tempo may be from the project's where it goes and still play at its own
#: speed (a millionth: 30 µs over a 30-s take); further off, it is played faster or slower.
_SAME_TEMPO = 1e-6

#: The sidecar's range for `clip_bpm` (sidecar/osc/fields.py): a file's tempo outside it is
#: sent as the nearest end.
_CLIP_BPM_RANGE = (20.0, 300.0)

#: The shortest last pass through a looped file that is sent as the prompt (a looped item that
#: ends less than this into the file sends the whole file instead).
_MIN_PASS_SECONDS = 1.0

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
    if bar < seconds - _EPSILON_SECONDS:
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
        return max(1, math.floor(_MAX_SECONDS * self.bpm / (60.0 * self.beats_per_bar) + 1e-9))


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


def _item_spans(api: ReaperApi, track: str) -> list[tuple[float, float]]:
    spans = []
    for index in range(int(api.RPR_CountTrackMediaItems(track))):
        item = api.RPR_GetTrackMediaItem(track, index)
        if is_null_pointer(item):
            continue
        start = float(api.RPR_GetMediaItemInfo_Value(item, "D_POSITION"))
        spans.append((start, start + float(api.RPR_GetMediaItemInfo_Value(item, "D_LENGTH"))))
    return spans


def free_bar_position(api: ReaperApi, track: str, after_seconds: float, length: float) -> float:
    """The first bar line at or after `after_seconds` from which `length` seconds of `track`
    are free of items.

    A stem's sample 0 is a downbeat, so it goes on a bar line; REAPER mixes overlapping items
    on one track, so earlier takes and the producer's own items are never covered.
    """
    spans = _item_spans(api, track)
    position = bar_line_at_or_after(api, after_seconds)
    moved = True
    while moved:  # each move goes past an item's end, never back: at most one per item
        moved = False
        for start, end in spans:
            if start < position + length - _EPSILON_SECONDS and end > position + _EPSILON_SECONDS:
                position = bar_line_at_or_after(api, end)
                moved = True
    return position


def take_placement(
    api: ReaperApi, track: str, after_seconds: float, file_seconds: float, quarter_notes: float
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
        if abs(length - file_seconds) <= _SAME_TEMPO * file_seconds:
            length = file_seconds
        free = free_bar_position(api, track, position, length)
        if free <= position + _EPSILON_SECONDS:
            return position, length
        position = free


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
        if end <= source_seconds + _EPSILON_SECONDS:
            return start, min(end, source_seconds)
        passes = math.floor((end - _EPSILON_SECONDS) / source_seconds)
        last = end - passes * source_seconds
        return 0.0, source_seconds if last < _MIN_PASS_SECONDS else min(last, source_seconds)
    start, end = max(0.0, offset), min(offset + played_seconds, source_seconds)
    if end <= start + _EPSILON_SECONDS:
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
    if api.RPR_CountSelectedMediaItems(0) < 1:
        raise SelectionError("select a media item first")
    item = api.RPR_GetSelectedMediaItem(0, 0)
    take = api.RPR_GetActiveTake(item)
    if is_null_pointer(take):
        raise SelectionError("the selected item has no take")
    source = api.RPR_GetMediaItemTake_Source(take)
    file_path = str(api.RPR_GetMediaSourceFileName(source, "", 4096)[1])
    if not file_path:
        raise SelectionError("the selected item's take has no audio file (MIDI or empty?)")
    if int(api.RPR_GetTakeNumStretchMarkers(take)) > 0:
        # The markers move parts of the file in time: offset + length × playrate is not the
        # part the item plays, nor is the project tempo the file's. Glued, it is plain audio.
        raise SelectionError(
            "the selected item has stretch markers; glue it first (Item → Glue items) and run "
            "Continue on the glued item"
        )
    source_seconds, _source, length_in_quarter_notes = api.RPR_GetMediaSourceLength(source, False)
    if length_in_quarter_notes:
        raise SelectionError("the selected item's take is MIDI; Continue needs an audio item")
    position = float(api.RPR_GetMediaItemInfo_Value(item, "D_POSITION"))
    length = float(api.RPR_GetMediaItemInfo_Value(item, "D_LENGTH"))
    offset = float(api.RPR_GetMediaItemTakeInfo_Value(take, "D_STARTOFFS"))
    rate = float(api.RPR_GetMediaItemTakeInfo_Value(take, "D_PLAYRATE")) or 1.0
    loops = bool(api.RPR_GetMediaItemInfo_Value(item, "B_LOOPSRC"))
    source_start, source_end = played_source_range(
        offset, length * rate, float(source_seconds), loops
    )
    return ItemSelection(
        track=api.RPR_GetMediaItem_Track(item),
        file_path=file_path,
        position_seconds=position,
        length_seconds=length,
        source_start_seconds=source_start,
        source_end_seconds=source_end,
        quarter_notes=quarter_notes_between(api, position, position + length),
        bar_quarters=grid_at(api, position).bar_quarters,
        playrate=rate,
    )


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
    grid = grid_at(api, bar_line_at_or_after(api, item.end_seconds) + _EPSILON_SECONDS)
    source_bpm = item.source_bpm / grid.beat_quarters  # in the beats `bpm` counts
    clip_bpm = None
    if abs(source_bpm - grid.bpm) > _SAME_TEMPO * grid.bpm:
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

    def say(self, text: str) -> None:
        self._api.RPR_ShowConsoleMsg("MusicGen: " + text + "\n")

    def _where(self) -> str:
        return "{}:{}".format(*self._link.address)

    def start(self, request: SidecarRequest) -> bool:
        """Send the request; False when there is nothing to wait for (the reason is shown)."""
        self._cancel_token = str(self._api.RPR_GetExtState(EXT_SECTION, CANCEL_KEY))
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
        if not api.RPR_ValidatePtr2(0, request.track, "MediaTrack*"):
            self.say(f"the track is gone; '{name}' not inserted (file: {path})")
            return
        source = api.RPR_PCM_Source_CreateFromFile(path)
        if is_null_pointer(source):
            self.say(f"REAPER could not open the stem '{name}'; not inserted; the file is {path}")
            return
        file_seconds = float(api.RPR_GetMediaSourceLength(source, False)[0])
        if not file_seconds > 0.0:
            api.RPR_PCM_Source_Destroy(source)
            self.say(f"REAPER read no audio in the stem '{name}'; not inserted; the file is {path}")
            return
        quarter_notes = file_seconds * made_bpm(request, options) / 60.0
        position, length = take_placement(
            api, request.track, self._next_position_seconds, file_seconds, quarter_notes
        )
        # Where the project's tempo is not the take's, it plays faster or slower (pitch kept)
        # so that its bars last the project's bars there.
        playrate = file_seconds / length
        name = take_name(request, index, options, playrate)
        api.RPR_Undo_BeginBlock()
        try:
            item = api.RPR_AddMediaItemToTrack(request.track)
            take = api.RPR_AddTakeToMediaItem(item)
            api.RPR_SetMediaItemTake_Source(take, source)
            if playrate != 1.0:
                api.RPR_SetMediaItemTakeInfo_Value(take, "D_PLAYRATE", playrate)
                api.RPR_SetMediaItemTakeInfo_Value(take, "B_PPITCH", 1.0)
            api.RPR_SetMediaItemInfo_Value(item, "D_POSITION", position)
            api.RPR_SetMediaItemInfo_Value(item, "D_LENGTH", length)
            api.RPR_GetSetMediaItemTakeInfo_String(take, "P_NAME", name, True)
        finally:
            api.RPR_Undo_EndBlock("MusicGen: insert " + name, -1)
        api.RPR_UpdateArrange()
        self._next_position_seconds = position + length
        self.inserted.append(name)
        if last_request_id(api) == self.request_id:  # a re-roll goes after these takes
            save_last_request(api, self.request_id, request.placed_at(self._next_position_seconds))
        speed = "" if playrate == 1.0 else f", played at {playrate:.4g}x for the tempo there"
        self.say(f"inserted '{name}' at {position:.3f} s{speed} ({path})")
