"""A fake REAPER project behind the ReaScript Python API's function names and return shapes."""

from __future__ import annotations

import math
import os
import wave
from dataclasses import dataclass, field

#: What ReaScript gives back for a NULL pointer (`rpr_unpackp` formats 0 like any pointer).
NULL_SOURCE = "(PCM_source*)0x0000000000000000"
NULL_ITEM = "(MediaItem*)0x0000000000000000"


@dataclass
class Take:
    source: str
    name: str = ""
    start_offset_seconds: float = 0.0
    playrate: float = 1.0
    #: B_PPITCH: a playrate other than 1 keeps the pitch
    preserve_pitch: bool = False
    #: (position in the item, position in the source) of each stretch marker, in seconds
    stretch_markers: list[tuple[float, float]] = field(default_factory=list)


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
    tempo markers without a gradual change do: the time map's functions count quarter notes,
    beats and measures across them.
    """

    bpm: float = 120.0
    numerator: int = 4
    denominator: int = 4
    #: (seconds, quarter-note bpm) in time order: the tempo from that time on
    tempo_markers: list[tuple[float, float]] = field(default_factory=list)
    items: dict[str, Item] = field(default_factory=dict)
    takes: dict[str, Take] = field(default_factory=dict)
    selected: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    ext_state: dict[tuple[str, str], str] = field(default_factory=dict)
    deferred: list[str] = field(default_factory=list)
    undo_blocks: list[str] = field(default_factory=list)
    tracks: set[str] = field(default_factory=set)
    #: sources created and neither given to a take nor destroyed (a leak if left at the end)
    open_sources: list[str] = field(default_factory=list)
    #: the file of the action script running now (`get_action_context` gives it)
    action_script: str = ""
    #: code given to `atexit`, run once when the script ends (see `run_deferred`, `terminate`)
    at_exit: list[str] = field(default_factory=list)

    def add_item(
        self,
        track: str,
        position: float,
        length: float,
        source: str,
        offset: float = 0.0,
        loop: bool = False,
    ) -> str:
        self.tracks.add(track)
        pointer = f"(MediaItem*)0x{len(self.items) + 1:04x}"
        take = Take(source=source, start_offset_seconds=offset)
        take_pointer = f"(MediaItem_Take*)0x{len(self.takes) + 1:04x}"
        self.takes[take_pointer] = take
        self.items[pointer] = Item(track, position, length, [take], loop_source=loop)
        return pointer

    def take_pointer(self, take: Take) -> str:
        return next(p for p, t in self.takes.items() if t is take)

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
        for seconds, bpm in self.tempo_markers:
            start, quarter_notes, before = segments[-1]
            segments.append((seconds, quarter_notes + (seconds - start) * before / 60.0, bpm))
        return segments

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

    # ---- ReaScript functions ----------------------------------------------------------

    def RPR_CountSelectedMediaItems(self, proj: int) -> int:
        return len(self.selected)

    def RPR_GetSelectedMediaItem(self, proj: int, selitem: int) -> str:
        return self.selected[selitem]

    def RPR_GetActiveTake(self, item: str) -> str:
        takes = self.items[item].takes
        return self.take_pointer(takes[-1]) if takes else ""

    def RPR_GetMediaItem_Track(self, item: str) -> str:
        return self.items[item].track

    def RPR_GetMediaItemTake_Source(self, take: str) -> str:
        return "(PCM_source*)" + self.takes[take].source

    def RPR_GetMediaSourceFileName(self, source: str, buf: str, size: int) -> tuple[str, str, int]:
        return (source, source.removeprefix("(PCM_source*)"), size)

    def RPR_GetMediaSourceLength(self, source: str, is_qn: bool) -> tuple[float, str, bool]:
        path = source.removeprefix("(PCM_source*)")
        try:
            with wave.open(path, "rb") as handle:
                return (handle.getnframes() / handle.getframerate(), source, False)
        except (OSError, EOFError, wave.Error):
            return (0.0, source, False)  # a source REAPER cannot decode has no length

    def RPR_CountTrackMediaItems(self, track: str) -> int:
        return len(self._track_item_pointers(track))

    def RPR_GetTrackMediaItem(self, track: str, index: int) -> str:
        pointers = self._track_item_pointers(track)
        return pointers[index] if 0 <= index < len(pointers) else NULL_ITEM

    def _track_item_pointers(self, track: str) -> list[str]:
        """The track's items as REAPER keeps them: sorted by position."""
        found = [
            (item.position_seconds, p) for p, item in self.items.items() if item.track == track
        ]
        return [p for _position, p in sorted(found)]

    def RPR_GetMediaItemInfo_Value(self, item: str, name: str) -> float:
        found = self.items[item]
        return {
            "D_POSITION": found.position_seconds,
            "D_LENGTH": found.length_seconds,
            "B_LOOPSRC": float(found.loop_source),
        }[name]

    def RPR_SetMediaItemInfo_Value(self, item: str, name: str, value: float) -> bool:
        found = self.items[item]
        if name == "D_POSITION":
            found.position_seconds = value
        elif name == "D_LENGTH":
            found.length_seconds = value
        return True

    def RPR_GetMediaItemTakeInfo_Value(self, take: str, name: str) -> float:
        found = self.takes[take]
        return {
            "D_STARTOFFS": found.start_offset_seconds,
            "D_PLAYRATE": found.playrate,
            "B_PPITCH": float(found.preserve_pitch),
        }[name]

    def RPR_SetMediaItemTakeInfo_Value(self, take: str, name: str, value: float) -> bool:
        """Sets the take only (the item keeps its length, as from a script in REAPER)."""
        found = self.takes[take]
        if name == "D_PLAYRATE":
            found.playrate = value
        elif name == "B_PPITCH":
            found.preserve_pitch = bool(value)
        else:
            raise NotImplementedError(name)
        return True

    def RPR_GetTakeNumStretchMarkers(self, take: str) -> int:
        return len(self.takes[take].stretch_markers)

    def RPR_GetTakeStretchMarker(
        self, take: str, idx: int, pos: float, srcpos: float
    ) -> tuple[int, str, int, float, float]:
        """(index or -1 when there is no such marker, take, idx, position, source position)."""
        markers = self.takes[take].stretch_markers
        if not 0 <= idx < len(markers):
            return (-1, take, idx, pos, srcpos)
        return (idx, take, idx, *markers[idx])

    def RPR_GetSetMediaItemTakeInfo_String(
        self, take: str, name: str, value: str, set_new: bool
    ) -> tuple[bool, str, str, str, bool]:
        if set_new and name == "P_NAME":
            self.takes[take].name = value
        return (True, take, name, self.takes[take].name, set_new)

    def RPR_TimeMap_GetTimeSigAtTime(
        self, proj: int, time: float, num: int, denom: int, tempo: float
    ) -> tuple[int, float, int, int, float]:
        """(proj, time, numerator, denominator, tempo in effect at `time`): a marker's tempo
        from its own time on."""
        return (proj, time, self.numerator, self.denominator, self._tempo_at(time))

    def RPR_TimeMap2_timeToBeats(
        self, proj: int, tpos: float, measures: int, cml: int, fullbeats: float, cdenom: int
    ) -> tuple[float, int, float, int, int, float, int]:
        """(beats since the measure, proj, tpos, measure, numerator, full beats, denominator):
        ReaScript always passes the out-pointers, so the return value is the beats since the
        measure began."""
        full = self._time_to_qn(tpos) * self.denominator / 4.0
        measure = math.floor(full / self.numerator)
        since = full - measure * self.numerator
        return (since, proj, tpos, measure, self.numerator, full, self.denominator)

    def RPR_TimeMap2_beatsToTime(
        self, proj: int, tpos: float, measures_in: int
    ) -> tuple[float, int, float, int]:
        """`tpos` beats after the start of measure `measures_in` (the pointer is never NULL
        from ReaScript), in seconds."""
        quarter_notes = (measures_in * self.numerator + tpos) * 4.0 / self.denominator
        return (self._qn_to_time(quarter_notes), proj, tpos, measures_in)

    def RPR_TimeMap2_timeToQN(self, proj: int, tpos: float) -> float:
        return self._time_to_qn(tpos)

    def RPR_TimeMap2_QNToTime(self, proj: int, qn: float) -> float:
        return self._qn_to_time(qn)

    def RPR_ValidatePtr2(self, proj: int, pointer: str, ctypename: str) -> bool:
        if ctypename == "MediaTrack*":
            return pointer in self.tracks
        raise NotImplementedError(ctypename)

    def RPR_AddMediaItemToTrack(self, track: str) -> str:
        pointer = f"(MediaItem*)0x{len(self.items) + 1:04x}"
        self.items[pointer] = Item(track, 0.0, 0.0, [])
        return pointer

    def RPR_AddTakeToMediaItem(self, item: str) -> str:
        take = Take(source="")
        pointer = f"(MediaItem_Take*)0x{len(self.takes) + 1:04x}"
        self.takes[pointer] = take
        self.items[item].takes.append(take)
        return pointer

    def RPR_PCM_Source_CreateFromFile(self, filename: str) -> str:
        if not os.path.isfile(filename):
            return NULL_SOURCE
        source = "(PCM_source*)" + filename
        self.open_sources.append(source)
        return source

    def RPR_PCM_Source_Destroy(self, source: str) -> None:
        self.open_sources.remove(source)

    def RPR_SetMediaItemTake_Source(self, take: str, source: str) -> bool:
        self.takes[take].source = source.removeprefix("(PCM_source*)")
        self.open_sources.remove(source)  # the take owns it now
        return True

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

    def RPR_get_action_context(self) -> tuple[bool, str, int, int, int, int, int, str]:
        """(is_new_value, filename, sectionID, cmdID, mode, resolution, val, contextstr), as
        ReaScript gives them to a script run from the main section's action list."""
        return (False, self.action_script, 0, 54321, -1, -1, -1, "")

    def RPR_defer(self, code: str) -> None:
        self.deferred.append(code)

    def RPR_atexit(self, code: str) -> None:
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
