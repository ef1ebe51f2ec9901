"""A fake REAPER project behind the ReaScript Python API's function names, return shapes and
pointer bridge."""

from __future__ import annotations

import math
import os
import re
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: What ReaScript gives back for a NULL pointer (`rpr_unpackp` formats 0 like any pointer).
NULL_SOURCE = "(PCM_source*)0x0000000000000000"
NULL_ITEM = "(MediaItem*)0x0000000000000000"
NULL_TRACK = "(MediaTrack*)0x0000000000000000"
NULL_PROJECT = "(ReaProject*)0x0000000000000000"
#: The project the fake models, and the other project tab `switch_tab` makes active.
PROJECT = "(ReaProject*)0x00000000000A0001"
OTHER_PROJECT = "(ReaProject*)0x00000000000A0002"

#: The pattern `rpr_packp` in REAPER's generated reaper_python.py accepts: a type in
#: parentheses, then 0x and upper-case hex digits (`rpr_unpackp` writes 16 of them).
_PACKED = re.compile(r"^\((\w+\*|HWND)\)0x([0-9A-F]+)$")
#: The types `ValidatePtr2` knows (ReaScript help, ValidatePtr2).
_VALIDATED_TYPES = ("ReaProject*", "MediaTrack*", "MediaItem*", "MediaItem_Take*", "PCM_source*")
#: `GetPlayState` bits (ReaScript help: &1 playing, &2 paused, &4 recording).
RECORDING = 4


def pointer(kind: str, number: int) -> str:
    """A pointer as `rpr_unpackp` writes one: `(MediaItem*)0x` and 16 upper-case hex digits."""
    return f"({kind})0x{number >> 32:08X}{number & 0xFFFFFFFF:08X}"


@dataclass
class Source:
    """A PCM_source: a file, or a section of its `parent` source (REAPER wraps a take's file
    in a SECTION source for Item properties' "Section" and for a reversed take: ReaScript help,
    GetMediaSourceParent and PCM_Source_GetSectionInfo)."""

    file_path: str = ""
    parent: str = ""
    section_offset_seconds: float = 0.0
    section_length_seconds: float = 0.0
    reversed: bool = False
    #: whether a take of the project holds it: only then does the bridge pass it on
    in_project: bool = False


@dataclass
class Take:
    #: the file the take plays (its root source's), for tests to read
    source: str
    name: str = ""
    start_offset_seconds: float = 0.0
    playrate: float = 1.0
    #: B_PPITCH: a playrate other than 1 keeps the pitch
    preserve_pitch: bool = False
    #: (position in the item, position in the source) of each stretch marker, in seconds
    stretch_markers: list[tuple[float, float]] = field(default_factory=list)
    source_pointer: str = NULL_SOURCE


@dataclass
class Item:
    track: str
    position_seconds: float
    length_seconds: float
    takes: list[Take] = field(default_factory=list)
    #: B_LOOPSRC: the item plays its source again from the start at the source's end
    loop_source: bool = False

    @property
    def end_seconds(self) -> float:
        return self.position_seconds + self.length_seconds


@dataclass
class FakeReaper:
    """Pointers are strings like REAPER's; out-parameters come back in tuples as in ReaScript.

    A tempo (`bpm`, in quarter notes as REAPER's tempo is) and one time signature from the
    project start at 0 s, where measure 0 begins; REAPER's beats are the signature's
    denominator notes (eighths in 6/8). `tempo_markers` change the tempo later on, as REAPER's
    tempo markers without a gradual change do: `(seconds, bpm)`, or `(seconds, bpm, numerator,
    denominator)` for a time signature marker, which REAPER puts on a bar line and which
    starts a new measure there. The time map's functions count quarter notes, beats and
    measures across them.

    Every pointer argument goes through `_pack`, the fake's copy of the rules of
    `rpr_packp` in REAPER's generated reaper_python.py (see there). The API is what a script
    finds on the `reaper_python` module: `RPR_defer`, `RPR_atexit` and `RPR_runloop` are not
    on it (see `script_globals`).
    """

    bpm: float = 120.0
    numerator: int = 4
    denominator: int = 4
    #: (seconds, quarter-note bpm[, numerator, denominator]) in time order
    tempo_markers: list[tuple[float, ...]] = field(default_factory=list)
    items: dict[str, Item] = field(default_factory=dict)
    takes: dict[str, Take] = field(default_factory=dict)
    sources: dict[str, Source] = field(default_factory=dict)
    selected: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    ext_state: dict[tuple[str, str], str] = field(default_factory=dict)
    deferred: list[str] = field(default_factory=list)
    undo_blocks: list[str] = field(default_factory=list)
    #: the project's tracks, in order (a set's `discard` deletes one, as tests do)
    tracks: dict[str, None] = field(default_factory=dict)
    #: Per track: P_NAME, and I_FOLDERDEPTH as Get/SetMediaTrackInfo_Value see it
    track_names: dict[str, str] = field(default_factory=dict)
    track_values: dict[str, dict[str, float]] = field(default_factory=dict)
    #: sources created and neither given to a take nor destroyed (a leak if left at the end)
    open_sources: list[str] = field(default_factory=list)
    #: code given to `atexit`, run once when the script ends (see `run_deferred`, `terminate`)
    at_exit: list[str] = field(default_factory=list)
    #: the project tab the producer has in front: PROJECT, or OTHER_PROJECT after `switch_tab`
    active_project: str = PROJECT
    #: GetPlayState's bits: RECORDING while REAPER records
    play_state: int = 0
    resource_path: str = ""
    _next_pointer: int = 0x100

    # ---- the project, as tests build it --------------------------------------------------

    def _new_pointer(self, kind: str) -> str:
        self._next_pointer += 1
        return pointer(kind, self._next_pointer)

    def add_track(self) -> str:
        track = self._new_pointer("MediaTrack*")
        self.tracks[track] = None
        return track

    def new_source(self, path: str, *, in_project: bool, **section: Any) -> str:
        """A file source, wrapped in a section source when `section` gives its offset,
        length or reversal."""
        found = self._new_pointer("PCM_source*")
        self.sources[found] = Source(file_path=path, in_project=in_project)
        if section:
            parent, found = found, self._new_pointer("PCM_source*")
            self.sources[found] = Source(parent=parent, in_project=in_project, **section)
        return found

    def add_item(
        self,
        track: str,
        position: float,
        length: float,
        source: str,
        offset: float = 0.0,
        loop: bool = False,
        **section: Any,
    ) -> str:
        self.tracks.setdefault(track, None)
        item_pointer = self._new_pointer("MediaItem*")
        take = Take(
            source=source,
            start_offset_seconds=offset,
            source_pointer=self.new_source(source, in_project=True, **section),
        )
        self.takes[self._new_pointer("MediaItem_Take*")] = take
        self.items[item_pointer] = Item(track, position, length, [take], loop_source=loop)
        return item_pointer

    def take_pointer(self, take: Take) -> str:
        return next(p for p, t in self.takes.items() if t is take)

    def switch_tab(self, to: str = OTHER_PROJECT) -> None:
        """The producer brings another project tab to the front."""
        self.active_project = to

    # ---- the bridge ----------------------------------------------------------------------

    def _pack(self, kind: str, value: Any) -> str | None:
        """The pointer the C function gets, None for NULL: as `rpr_packp` in REAPER's generated
        reaper_python.py, a string of the pattern above whose type is `kind` (or any type
        when `kind` is `void*`) that `RPR_ValidatePtr` accepts; anything else is NULL.
        `ValidatePtr` checks against the active project (ReaScript help: ValidatePtr, see
        ValidatePtr2), and knows no `void*`: so a pointer packed as `void*` is always NULL
        (reapy 0.7's changelog: `RPR_ValidatePtr2` always returns False), and so is a source
        that no take of the active project holds (reapy issue #38), or any object of a
        project tab that is not in front. The hex split is rpr_packp's: 8 digits and the rest
        (a shorter string raises ValueError there too)."""
        match = _PACKED.match(str(value))
        if match is None:
            return None
        found_kind, digits = match.groups()
        if found_kind != kind and kind != "void*":
            return None
        int(digits[:8], 16), int(digits[8:], 16)
        return value if self._valid(value, kind) else None

    def _valid(self, value: str, kind: str) -> bool:
        """ValidatePtr: the object exists in the active project (a project is valid while its
        tab is open)."""
        if kind == "ReaProject*":
            return value in (PROJECT, OTHER_PROJECT)
        if kind not in _VALIDATED_TYPES or self.active_project != PROJECT:
            return False
        if kind == "MediaTrack*":
            return value in self.tracks
        if kind == "MediaItem*":
            return value in self.items and self.items[value].track in self.tracks
        if kind == "MediaItem_Take*":
            return value in self.takes
        return value in self.sources and self.sources[value].in_project

    def _item(self, item: Any) -> Item | None:
        found = self._pack("MediaItem*", item)
        return None if found is None else self.items[found]

    def _take(self, take: Any) -> Take | None:
        found = self._pack("MediaItem_Take*", take)
        return None if found is None else self.takes[found]

    def _source(self, source: Any) -> Source | None:
        found = self._pack("PCM_source*", source)
        return None if found is None else self.sources[found]

    def _track(self, track: Any) -> str | None:
        return self._pack("MediaTrack*", track)

    # ---- the time map --------------------------------------------------------------------

    @property
    def beat_seconds(self) -> float:
        """A beat at the tempo from the project start."""
        return 60.0 / self.bpm * 4.0 / self.denominator

    @property
    def bar_seconds(self) -> float:
        return self.numerator * self.beat_seconds

    def _tempo_segments(self) -> list[tuple[float, float, float]]:
        """(start seconds, quarter notes before it, bpm) of each stretch of one tempo."""
        segments = [(0.0, 0.0, self.bpm)]
        for seconds, bpm, *_signature in self.tempo_markers:
            start, quarter_notes, before = segments[-1]
            segments.append((seconds, quarter_notes + (seconds - start) * before / 60.0, bpm))
        return segments

    def _signature_segments(self) -> list[tuple[float, int, int, int]]:
        """(start quarter notes, numerator, denominator, first measure) of each stretch of one
        time signature: a marker with a signature starts a measure."""
        segments = [(0.0, self.numerator, self.denominator, 0)]
        for seconds, _bpm, *signature in self.tempo_markers:
            if not signature:
                continue
            start, numerator, denominator, measure = segments[-1]
            quarter_notes = self._time_to_qn(seconds)
            measures = (quarter_notes - start) * denominator / 4.0 / numerator
            segments.append(
                (quarter_notes, int(signature[0]), int(signature[1]), measure + round(measures))
            )
        return segments

    def _signature_at_qn(self, quarter_notes: float) -> tuple[float, int, int, int]:
        segments = self._signature_segments()
        return next((s for s in reversed(segments) if s[0] <= quarter_notes + 1e-9), segments[0])

    def _time_to_qn(self, seconds: float) -> float:
        segments = self._tempo_segments()
        start, quarter_notes, bpm = next(
            (s for s in reversed(segments) if s[0] <= seconds), segments[0]
        )
        return quarter_notes + (seconds - start) * bpm / 60.0

    def _qn_to_time(self, quarter_notes: float) -> float:
        segments = self._tempo_segments()
        start, before, bpm = next(
            (s for s in reversed(segments) if s[1] <= quarter_notes), segments[0]
        )
        return start + (quarter_notes - before) * 60.0 / bpm

    def _tempo_at(self, seconds: float) -> float:
        return next((s[2] for s in reversed(self._tempo_segments()) if s[0] <= seconds), self.bpm)

    # ---- ReaScript functions: selection and items ----------------------------------------

    def RPR_CountSelectedMediaItems(self, proj: Any) -> int:
        return len(self.selected) if self.active_project == PROJECT else 0

    def RPR_GetSelectedMediaItem(self, proj: Any, selitem: int) -> str:
        if self.active_project != PROJECT or not 0 <= selitem < len(self.selected):
            return NULL_ITEM
        return self.selected[selitem]

    def RPR_GetActiveTake(self, item: str) -> str:
        found = self._item(item)
        if found is None or not found.takes:
            return pointer("MediaItem_Take*", 0)
        return self.take_pointer(found.takes[-1])

    def RPR_GetMediaItem_Track(self, item: str) -> str:
        found = self._item(item)
        return NULL_TRACK if found is None else found.track

    def RPR_GetMediaItemTake_Source(self, take: str) -> str:
        found = self._take(take)
        return NULL_SOURCE if found is None else found.source_pointer

    def RPR_GetMediaSourceFileName(self, source: str, buf: str, size: int) -> tuple[str, str, int]:
        """A file source's file; "" for a section source (its file is its parent's) and for
        NULL."""
        found = self._source(source)
        return (source, "" if found is None else found.file_path, size)

    def RPR_GetMediaSourceParent(self, src: str) -> str:
        """The source a section source wraps; NULL for a file source (ReaScript help)."""
        found = self._source(src)
        return NULL_SOURCE if found is None or not found.parent else found.parent

    def RPR_PCM_Source_GetSectionInfo(
        self, src: str, offs: float, length: float, rev: bool
    ) -> tuple[bool, str, float, float, int]:
        """(is a section, src, offset, length, reversed) (ReaScript help)."""
        found = self._source(src)
        if found is None or not found.parent:
            return (False, src, offs, length, int(rev))
        return (
            True,
            src,
            found.section_offset_seconds,
            found.section_length_seconds,
            int(found.reversed),
        )

    def RPR_GetMediaSourceLength(self, source: str, is_qn: bool) -> tuple[float, str, int]:
        """The source's length in seconds; 0.0 for NULL (what the bridge makes of a source in
        no project) and for a file REAPER cannot decode."""
        found = self._source(source)
        if found is None:
            return (0.0, source, 0)
        if found.parent:
            return (found.section_length_seconds, source, 0)
        try:
            with wave.open(found.file_path, "rb") as handle:
                return (handle.getnframes() / handle.getframerate(), source, 0)
        except (OSError, EOFError, wave.Error):
            return (0.0, source, 0)

    def RPR_CountTrackMediaItems(self, track: str) -> int:
        found = self._track(track)
        return 0 if found is None else len(self._track_item_pointers(found))

    def RPR_GetTrackMediaItem(self, track: str, index: int) -> str:
        found = self._track(track)
        pointers = [] if found is None else self._track_item_pointers(found)
        return pointers[index] if 0 <= index < len(pointers) else NULL_ITEM

    def _track_item_pointers(self, track: str) -> list[str]:
        """The track's items as REAPER keeps them: sorted by position."""
        found = [
            (item.position_seconds, p) for p, item in self.items.items() if item.track == track
        ]
        return [p for _position, p in sorted(found)]

    def RPR_GetMediaItemInfo_Value(self, item: str, name: str) -> float:
        found = self._item(item)
        if found is None:
            return 0.0
        return {
            "D_POSITION": found.position_seconds,
            "D_LENGTH": found.length_seconds,
            "B_LOOPSRC": float(found.loop_source),
        }[name]

    def RPR_SetMediaItemInfo_Value(self, item: str, name: str, value: float) -> bool:
        found = self._item(item)
        if found is None:
            return False
        if name == "D_POSITION":
            found.position_seconds = value
        elif name == "D_LENGTH":
            found.length_seconds = value
        elif name == "B_LOOPSRC":
            found.loop_source = bool(value)
        else:
            raise NotImplementedError(name)
        return True

    def RPR_GetMediaItemTakeInfo_Value(self, take: str, name: str) -> float:
        found = self._take(take)
        if found is None:
            return 0.0
        return {
            "D_STARTOFFS": found.start_offset_seconds,
            "D_PLAYRATE": found.playrate,
            "B_PPITCH": float(found.preserve_pitch),
        }[name]

    def RPR_SetMediaItemTakeInfo_Value(self, take: str, name: str, value: float) -> bool:
        """Sets the take only (the item keeps its length, as from a script in REAPER)."""
        found = self._take(take)
        if found is None:
            return False
        if name == "D_PLAYRATE":
            found.playrate = value
        elif name == "B_PPITCH":
            found.preserve_pitch = bool(value)
        else:
            raise NotImplementedError(name)
        return True

    def RPR_GetTakeNumStretchMarkers(self, take: str) -> int:
        found = self._take(take)
        return 0 if found is None else len(found.stretch_markers)

    def RPR_GetTakeStretchMarker(
        self, take: str, idx: int, pos: float, srcpos: float
    ) -> tuple[int, str, int, float, float]:
        """(index or -1 when there is no such marker, take, idx, position, source position)."""
        found = self._take(take)
        markers = [] if found is None else found.stretch_markers
        if not 0 <= idx < len(markers):
            return (-1, take, idx, pos, srcpos)
        return (idx, take, idx, *markers[idx])

    def RPR_GetSetMediaItemTakeInfo_String(
        self, take: str, name: str, value: str, set_new: bool
    ) -> tuple[bool, str, str, str, bool]:
        found = self._take(take)
        if found is None:
            return (False, take, name, value, set_new)
        if set_new and name == "P_NAME":
            found.name = value
        return (True, take, name, found.name, set_new)

    # ---- the time map's functions ----------------------------------------------------------

    def RPR_TimeMap_GetTimeSigAtTime(
        self, proj: Any, time: float, num: int, denom: int, tempo: float
    ) -> tuple[Any, float, int, int, float]:
        """(proj, time, numerator, denominator, tempo in effect at `time`): a marker's tempo
        and time signature from its own time on."""
        _start, numerator, denominator, _measure = self._signature_at_qn(self._time_to_qn(time))
        return (proj, time, numerator, denominator, self._tempo_at(time))

    def RPR_TimeMap2_timeToBeats(
        self, proj: Any, tpos: float, measures: int, cml: int, fullbeats: float, cdenom: int
    ) -> tuple[float, Any, float, int, int, float, int]:
        """(beats since the measure, proj, tpos, measure, numerator, full beats, denominator):
        ReaScript always passes the out-pointers, so the return value is the beats since the
        measure began. Beats are the denominator notes of the signature at `tpos`."""
        quarter_notes = self._time_to_qn(tpos)
        start, numerator, denominator, first = self._signature_at_qn(quarter_notes)
        beats = (quarter_notes - start) * denominator / 4.0
        measure = first + math.floor(beats / numerator + 1e-9)
        since = beats - (measure - first) * numerator
        full = quarter_notes * denominator / 4.0
        return (since, proj, tpos, measure, numerator, full, denominator)

    def RPR_TimeMap2_beatsToTime(
        self, proj: Any, tpos: float, measures_in: int
    ) -> tuple[float, Any, float, int]:
        """`tpos` beats after the start of measure `measures_in` (the pointer is never NULL
        from ReaScript), in seconds."""
        segments = self._signature_segments()
        start, numerator, denominator, first = next(
            (s for s in reversed(segments) if s[3] <= measures_in), segments[0]
        )
        quarter_notes = start + ((measures_in - first) * numerator + tpos) * 4.0 / denominator
        return (self._qn_to_time(quarter_notes), proj, tpos, measures_in)

    def RPR_TimeMap2_timeToQN(self, proj: Any, tpos: float) -> float:
        return self._time_to_qn(tpos)

    def RPR_TimeMap2_QNToTime(self, proj: Any, qn: float) -> float:
        return self._qn_to_time(qn)

    def RPR_CountTempoTimeSigMarkers(self, proj: Any) -> int:
        return len(self.tempo_markers)

    # ---- tracks, projects and pointers -----------------------------------------------------

    def RPR_ValidatePtr2(self, proj: Any, pointer: str, ctypename: str) -> bool:
        """As reaper_python.py has it: `pointer` is packed as `void*`, which is always NULL,
        so this is never true through the bridge (reapy 0.7's changelog)."""
        self._pack("ReaProject*", proj)
        packed = self._pack("void*", pointer)
        return packed is not None and self._valid(packed, ctypename)

    def RPR_GetMediaTrackInfo_Value(self, tr: str, parmname: str) -> float:
        """IP_TRACKNUMBER: 1 for the first track, 0 when not found (ReaScript help): a NULL
        from the bridge too."""
        if parmname == "I_FOLDERDEPTH":  # 1 opens a folder, -n closes n (REAPER's API doc)
            return self.track_values.get(tr, {}).get(parmname, 0.0)
        if parmname != "IP_TRACKNUMBER":
            raise NotImplementedError(parmname)
        found = self._track(tr)
        return 0.0 if found is None else float(list(self.tracks).index(found) + 1)

    def RPR_EnumProjects(self, idx: int, projfn: str, projfn_sz: int) -> tuple[str, int, str, int]:
        """idx -1: the project tab in front; 0, 1: the open tabs; NULL past the last."""
        if idx == -1:
            return (self.active_project, idx, "", projfn_sz)
        tabs = [PROJECT, OTHER_PROJECT] if self.active_project == OTHER_PROJECT else [PROJECT]
        return (tabs[idx] if 0 <= idx < len(tabs) else NULL_PROJECT, idx, "", projfn_sz)

    def RPR_CountTracks(self, proj: Any) -> int:
        return len(self.tracks) if self.active_project == PROJECT else 0

    def RPR_GetTrack(self, proj: Any, trackidx: int) -> str:
        tracks = list(self.tracks) if self.active_project == PROJECT else []
        return tracks[trackidx] if 0 <= trackidx < len(tracks) else NULL_TRACK

    def RPR_InsertTrackAtIndex(self, idx: int, wantDefaults: bool) -> None:
        tracks = list(self.tracks)
        tracks.insert(idx, self._new_pointer("MediaTrack*"))
        self.tracks = dict.fromkeys(tracks)

    def RPR_SetMediaTrackInfo_Value(self, tr: str, parmname: str, newvalue: float) -> bool:
        if parmname != "I_FOLDERDEPTH":
            raise NotImplementedError(parmname)
        self.track_values.setdefault(tr, {})[parmname] = float(newvalue)
        return True

    def RPR_GetSetMediaTrackInfo_String(
        self, tr: str, parmname: str, stringNeedBig: str, setNewValue: bool
    ) -> tuple[bool, str, str, str, bool]:
        """P_NAME; ReaScript gives every argument back, the string as it is now."""
        if parmname != "P_NAME":
            raise NotImplementedError(parmname)
        if setNewValue:
            self.track_names[tr] = stringNeedBig
        return True, tr, parmname, self.track_names.get(tr, ""), setNewValue

    def folder_children(self, parent: str) -> list[str]:
        """The tracks inside `parent`'s folder, by I_FOLDERDEPTH as REAPER reads it."""
        order = list(self.tracks)
        depth = self.RPR_GetMediaTrackInfo_Value(parent, "I_FOLDERDEPTH")
        if depth < 1:
            return []
        children = []
        for track in order[order.index(parent) + 1 :]:
            children.append(track)
            depth += self.RPR_GetMediaTrackInfo_Value(track, "I_FOLDERDEPTH")
            if depth < 1:
                break
        return children

    def RPR_DeleteTrack(self, tr: str) -> None:
        found = self._track(tr)
        if found is None:
            return
        for item in [p for p, i in self.items.items() if i.track == found]:
            self._forget_item(item)
        del self.tracks[found]

    def RPR_GetPlayState(self) -> int:
        return self.play_state

    def RPR_GetAppVersion(self) -> str:
        return "7.08/fake"

    def RPR_GetResourcePath(self) -> str:
        return self.resource_path

    # ---- making items --------------------------------------------------------------------

    def RPR_AddMediaItemToTrack(self, tr: str) -> str:
        found = self._track(tr)
        if found is None:
            return NULL_ITEM
        item = self._new_pointer("MediaItem*")
        self.items[item] = Item(found, 0.0, 0.0, [])
        return item

    def RPR_DeleteTrackMediaItem(self, tr: str, it: str) -> bool:
        found, item = self._track(tr), self._pack("MediaItem*", it)
        if found is None or item is None or self.items[item].track != found:
            return False
        self._forget_item(item)
        return True

    def _forget_item(self, item: str) -> None:
        for take in self.items.pop(item).takes:
            pointer_of = self.take_pointer(take)
            del self.takes[pointer_of]
            source = self.sources.get(take.source_pointer)
            while source is not None:
                source.in_project = False
                source = self.sources.get(source.parent)
        if item in self.selected:
            self.selected.remove(item)

    def RPR_AddTakeToMediaItem(self, item: str) -> str:
        found = self._item(item)
        if found is None:
            return pointer("MediaItem_Take*", 0)
        take = Take(source="")
        take_pointer = self._new_pointer("MediaItem_Take*")
        self.takes[take_pointer] = take
        found.takes.append(take)
        return take_pointer

    def RPR_PCM_Source_CreateFromFile(self, filename: str) -> str:
        """A new source that no project holds: the bridge passes it on as NULL from then on."""
        if not os.path.isfile(filename):
            return NULL_SOURCE
        source = self.new_source(filename, in_project=False)
        self.open_sources.append(source)
        return source

    def RPR_PCM_Source_Destroy(self, source: str) -> None:
        found = self._pack("PCM_source*", source)
        if found is not None:
            self.open_sources.remove(found)

    def RPR_SetMediaItemTake_Source(self, take: str, source: str) -> bool:
        found, packed = self._take(take), self._pack("PCM_source*", source)
        if found is None or packed is None:
            return False
        found.source_pointer = packed
        found.source = self._root_file(packed)
        if packed in self.open_sources:
            self.open_sources.remove(packed)  # the take owns it now
        return True

    def _root_file(self, source: str) -> str:
        found = self.sources[source]
        return found.file_path if not found.parent else self._root_file(found.parent)

    def RPR_SetItemStateChunk(self, item: str, chunk: str, isundo: bool) -> bool:
        """Sets the item from an RPPXML chunk (REAPER's project file syntax): POSITION, LENGTH,
        LOOP and one take whose `<SOURCE WAVE` (or FLAC...) has a FILE, maybe inside a
        `<SOURCE SECTION` with LENGTH, STARTPOS and MODE 2 (reversed). The take's source then
        belongs to the project. A chunk without a source or file is refused."""
        found = self._item(item)
        if found is None:
            return False
        values = dict(_chunk_values(chunk))
        file_match = re.search(r'^\s*FILE\s+(["\'`])(.*)\1\s*$', chunk, re.MULTILINE)
        if not chunk.lstrip().startswith("<ITEM") or file_match is None:
            return False
        path = file_match.group(2)
        section: dict[str, Any] = {}
        if "<SOURCE SECTION" in chunk:
            section = {
                "section_offset_seconds": float(values.get("STARTPOS", "0")),
                "section_length_seconds": float(values.get("SECTION_LENGTH", "0")),
                "reversed": values.get("MODE", "0") == "2",
            }
        found.position_seconds = float(values.get("POSITION", found.position_seconds))
        found.length_seconds = float(values.get("LENGTH", found.length_seconds))
        found.loop_source = values.get("LOOP", "0") == "1"
        for take in list(found.takes):
            del self.takes[self.take_pointer(take)]
        take = Take(source=path, source_pointer=self.new_source(path, in_project=True, **section))
        self.takes[self._new_pointer("MediaItem_Take*")] = take
        found.takes = [take]
        return True

    # ---- undo, console, state ------------------------------------------------------------

    def RPR_UpdateArrange(self) -> None:
        return None

    def RPR_Undo_BeginBlock(self) -> None:
        self.undo_blocks.append("begin")

    def RPR_Undo_EndBlock(self, description: str, flags: int) -> None:
        self.undo_blocks.append(description)

    def RPR_ShowConsoleMsg(self, message: str) -> None:
        self.console.append(message)

    def RPR_GetExtState(self, section: str, key: str) -> str:
        return self.ext_state.get((section, key), "")

    def RPR_SetExtState(self, section: str, key: str, value: str, persist: bool) -> None:
        self.ext_state[(section, key)] = value

    # ---- the script's own built-ins ------------------------------------------------------

    def script_globals(self) -> dict[str, Callable[..., Any]]:
        """What REAPER puts in a Python script's globals besides the API: `RPR_defer`,
        `RPR_atexit` and `RPR_runloop` are there only, not on the reaper_python module
        (ReaScript help, Python section; reapy calls `sys.modules["__main__"].RPR_defer`,
        dawscript takes them from the script's globals)."""
        api = {name: getattr(self, name) for name in dir(self) if name.startswith("RPR_")}
        return {
            **api,
            "RPR_defer": self._defer,
            "RPR_atexit": self._atexit,
            "RPR_runloop": self._defer,
        }

    def _defer(self, code: str) -> None:
        self.deferred.append(code)

    def _atexit(self, code: str) -> None:
        self.at_exit.append(code)

    def run_deferred(self, namespace: dict) -> int:
        """One pass of REAPER's defer loop: evaluate what was deferred, as REAPER does; when
        nothing is deferred again the script has finished, and its `atexit` code runs.

        (REAPER keeps a defer queue and an `atexit` list per running script; the fake has one
        of each, so with two actions running they end together.)"""
        pending, self.deferred = self.deferred, []
        for code in pending:
            exec(code, namespace)
        if not self.deferred:
            self._run_at_exit(namespace)
        return len(self.deferred)

    def terminate(self, namespace: dict) -> None:
        """The producer ends the running script (Actions → Running scripts → Terminate, or
        running the action again and choosing to terminate): its deferred code never runs
        again, its `atexit` code runs."""
        self.deferred.clear()
        self._run_at_exit(namespace)

    def _run_at_exit(self, namespace: dict) -> None:
        pending, self.at_exit = self.at_exit, []
        for code in pending:
            exec(code, namespace)

    def items_on(self, track: str) -> list[Item]:
        return sorted(
            (i for i in self.items.values() if i.track == track), key=lambda i: i.position_seconds
        )


def _chunk_values(chunk: str) -> list[tuple[str, str]]:
    """`KEY value` lines of an RPPXML chunk; a SECTION source's LENGTH is SECTION_LENGTH."""
    values = []
    in_section = False
    for raw in chunk.splitlines():
        line = raw.strip()
        if line.startswith("<SOURCE"):
            in_section = line == "<SOURCE SECTION"
            continue
        parts = line.split(None, 1)
        if len(parts) == 2 and not line.startswith("<"):
            key = "SECTION_LENGTH" if in_section and parts[0] == "LENGTH" else parts[0]
            values.append((key, parts[1]))
    return values
