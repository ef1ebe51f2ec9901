"""Stems into the set: each reply's file placed after its source clip, then shaped."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .placement import (
    Inserted,
    InsertError,
    clip_name,
    creates_audio_clips,
    free_arrangement_position,
    insert_in_arrangement,
    insert_in_session,
    slot_index,
    track_name,
    warp_mode_for,
)
from .request import ContinueRequest
from .selection import Target
from .settings import Settings
from .shaping import ClipShape, ClipShaper, file_seconds
from .siblings import MIX_PART, is_separated_part, part_track

if TYPE_CHECKING:
    from Live.Clip import Clip
    from Live.ClipSlot import ClipSlot
    from Live.Track import Track

    from .host import Host

__all__ = ["Job", "StemPlacer", "osc_number"]

#: What the status bar's messages start with (the controller's too).
PREFIX = "MusicGen: "


@dataclass
class Job:
    """One request in flight (mutable: it advances as replies arrive)."""

    request: ContinueRequest
    target: Target
    sent_tick: int
    last_heard_tick: int
    accepted: bool = False
    cancelling: bool = False
    stems_inserted: int = 0
    #: the Session slot of the last stem placed (its index is looked up at each insert:
    #: scenes added or removed meanwhile move it)
    last_slot: ClipSlot | None = None
    next_position_beats: float = 0.0
    #: Separated takes: the track made for each part, and where each variation's mix went
    #: (Session slot or Arrangement beat) for its parts to line up with.
    part_tracks: dict[str, Track] = field(default_factory=dict)
    mix_places: dict[int, Inserted] = field(default_factory=dict)


def osc_number(value: Any, default: float) -> float:
    """An OSC number (int or float) as float; anything else gives `default`."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return default


def _asks_for_loop(request: ContinueRequest) -> bool:
    """Whether the request asks the sidecar for a seamless loop (a `loop` preset)."""
    return bool(dict(request.preset_values).get("loop", 0))


def _pairs(arguments: tuple[Any, ...]) -> dict[str, Any]:
    return {
        str(arguments[i]): arguments[i + 1]
        for i in range(0, len(arguments) - 1, 2)
        if isinstance(arguments[i], str)
    }


class StemPlacer:
    """Places stems where their job's target says and shapes each new clip over the ticks
    that follow (shaping.ClipShaper); tells the producer through the host."""

    def __init__(self, host: Host, settings: Settings) -> None:
        self._host = host
        self._settings = settings
        self._shapers: list[ClipShaper] = []

    def _say(self, text: str) -> None:
        self._host.show_message(PREFIX + text)

    def _log(self, text: str) -> None:
        self._host.log_message("MusicGenSidecar: " + text)

    def step(self) -> None:
        """One step for each new clip still being shaped or watched (shaping.ClipShaper)."""
        shapers, self._shapers = self._shapers, []
        for shaper in shapers:
            reshapes = shaper.reshapes
            try:
                problem = shaper.step()
            except Exception as error:  # Live's own error types too: one clip, not the tick
                self._log(f"could not shape '{shaper.name}': {error!r}")
                continue
            if problem:
                self._log(f"'{shaper.name}': {problem}")
                self._say(f"'{shaper.name}': {problem}")
            elif shaper.reshapes > reshapes:
                self._log(f"'{shaper.name}': Live re-read the clip; its tempo is pinned again")
            if not shaper.done:
                self._shapers.append(shaper)

    @property
    def shaping(self) -> list[ClipShaper]:
        """The new clips still being shaped or watched."""
        return list(self._shapers)

    def clear(self) -> None:
        self._shapers = []

    def place(self, job: Job, arguments: tuple[Any, ...]) -> None:
        """Put one `/sidecar/stem` reply's file into the set, after the job's source clip."""
        if len(arguments) < 3:
            return
        index = int(osc_number(arguments[1], 0.0))
        path = str(arguments[2])
        extras = _pairs(arguments[3:])
        request = job.request
        seed = int(osc_number(extras.get("seed"), float(request.seed + index)))
        # The sidecar's bpm counts the beat of the metre (eighths in 7/8); names say Live's.
        beat_bpm = osc_number(extras.get("bpm"), request.context.beat_bpm)
        bpm = round(beat_bpm * request.context.beat_quarters, 3)
        part = extras.get("part")
        take = int(osc_number(extras.get("variation"), float(index))) + 1
        name = clip_name(
            request.preset_name,
            seed,
            bpm,
            take,
            request.variations,
            part if isinstance(part, str) else "",
        )
        target = job.target
        # Session stems come from ClipSlot.create_audio_clip, Arrangement ones from the take
        # lane's (12.2+) or, failing that, the track's.
        owners: list[Any] = [target.source_slot or target.track]
        if target.lane is not None:
            owners.append(target.lane)
        if not any(creates_audio_clips(owner) for owner in owners):
            shown = ".".join(str(part) for part in self._host.live_version())
            self._say(
                f"stem {index + 1} is at {path} (Live {shown} cannot add clips from a script; "
                "11.3.25 and 12.0.5 on can): drag it in from there"
            )
            return
        stem_bars = extras.get("bars")
        shape = ClipShape(
            bars=int(stem_bars) if isinstance(stem_bars, int) and stem_bars > 0 else None,
            bar_beats=request.context.bar_quarters,
            bar_seconds=request.context.beats_per_bar * 60.0 / beat_bpm if beat_bpm > 0 else 0.0,
            # Session clips loop (a slot is launched and plays until stopped); in the
            # Arrangement only a loop preset's stem loops (drag its end to repeat it).
            looping=not job.target.is_arrangement or _asks_for_loop(request),
            warp_mode=warp_mode_for(
                part if isinstance(part, str) else "",
                request.preset_name,
                str(dict(request.preset_values).get("preset", "")),
            ),
        )
        separated = is_separated_part(extras)
        try:
            if separated:
                inserted = self._insert_part(job, str(part), take - 1, path, name)
            else:
                inserted = self._insert(job, path, name, shape)
                if part == MIX_PART:
                    job.mix_places[take - 1] = inserted
        except Exception as error:  # InsertError, or Live's own on a track deleted meanwhile
            self._log(f"{error!r}")
            self._say(f"{error}; the file is at {path}")
            return
        job.stems_inserted += 1
        shown_track = job.part_tracks[str(part)] if separated else job.target.track
        self._say(f"'{name}' in {inserted.describe()} of '{track_name(shown_track)}'")
        if inserted.clip is not None:
            shaper = ClipShaper(inserted.clip, shape, name)
            problem = shaper.start()
            if problem:
                self._log(f"'{name}': {problem}")
                self._say(f"'{name}': {problem}")
            if not shaper.done:
                self._shapers.append(shaper)

    def _insert(self, job: Job, path: str, name: str, shape: ClipShape) -> Inserted:
        color = self._settings.clip_color_index
        target = job.target
        if target.is_arrangement:
            context = job.request.context
            lane = target.lane
            if lane is not None and not creates_audio_clips(lane):
                lane = None  # a take lane without create_audio_clip: the main lane then
            clips: list[Clip] = list((lane or target.track).arrangement_clips)
            position = free_arrangement_position(
                clips,
                job.next_position_beats,
                (shape.bars or job.request.bars) * context.bar_quarters,
                context.bar_quarters,
            )
            inserted = insert_in_arrangement(target.track, lane, path, position, name, color)
            job.next_position_beats = self._shaped_end(inserted, shape, position)
            return inserted
        inserted = insert_in_session(
            self._host.song(), target.track, path, self._anchor_index(job), name, color
        )
        job.last_slot = inserted.slot
        return inserted

    @staticmethod
    def _shaped_end(inserted: Inserted, shape: ClipShape, position: float) -> float:
        """Where the new Arrangement clip will end once shaped (it is shaped over the next
        ticks, so its end_time now may still be Live's reading)."""
        fallback = inserted.end_beats if inserted.end_beats is not None else position
        if inserted.clip is None:
            return fallback
        try:
            seconds = file_seconds(inserted.clip)
        except Exception:  # Live's Boost errors: fall back to Live's end
            return fallback
        return position + shape.beats(seconds) if seconds > 0 else fallback

    def _insert_part(self, job: Job, part: str, variation: int, path: str, name: str) -> Inserted:
        """One separated part on its own track beside the source: in the Session, in the
        slot row of its mix; in the Arrangement, at its mix's bar."""
        mix = job.mix_places.get(variation)
        if mix is None:
            raise InsertError(f"the mix of take {variation + 1} was not placed")
        song = self._host.song()
        track = part_track(song, job.target.track, part, job.part_tracks)
        color = self._settings.clip_color_index
        if mix.start_beats is not None:
            return insert_in_arrangement(track, None, path, mix.start_beats, name, color)
        row = slot_index(job.target.track, mix.slot) if mix.slot is not None else None
        if row is None:
            raise InsertError(f"the scene of the mix of take {variation + 1} was deleted")
        return insert_in_session(song, track, path, row - 1, name, color)

    def _anchor_index(self, job: Job) -> int:
        """Where the slot search starts, looked up now: scenes inserted or deleted above
        since the press have moved the source slot (and the last stem's)."""
        target = job.target
        for anchor in (job.last_slot, target.source_slot):
            if anchor is not None:
                index = slot_index(target.track, anchor)
                if index is not None:
                    return index
        raise InsertError(f"the scene of '{target.clip_name}' was deleted")
