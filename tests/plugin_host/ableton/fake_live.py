"""A fake Live object model, shaped like ableton-live-stubs (checked by test_fakes_match_stubs)."""

from __future__ import annotations

import sys
import types
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.plugin_host.ableton.fake_clip import (
    AUTO_WARP_OFFSET_SECONDS,
    SHADOW_BEATS,
    FakeClip,
    FakeWarpMarker,
    live_loop_guess,
)
from tests.plugin_host.ableton.fake_versions import (
    CREATE_AUDIO_CLIP_VERSIONS,
    LATEST,
    LiveCrash,
    LiveError,
    running_version,
    set_running_version,
    since,
)

__all__ = [
    "AUTO_WARP_OFFSET_SECONDS",
    "LATEST",
    "SHADOW_BEATS",
    "FakeClip",
    "FakeClipSlot",
    "FakeSong",
    "FakeTakeLane",
    "FakeTrack",
    "FakeWarpMarker",
    "LiveCrash",
    "LiveError",
    "fake_live_module",
    "live_loop_guess",
    "running_version",
]

# Each fake class names the stub class it stands for; the conformance test reads this.
STUB_CLASSES = {
    "FakeClip": ("Clip", "Clip"),
    "FakeClipSlot": ("ClipSlot", "ClipSlot"),
    "FakeTrack": ("Track", "Track"),
    "FakeTakeLane": ("TakeLane", "TakeLane"),
    "FakeSong": ("Song", "Song"),
    "FakeSongView": ("Song", "Song.View"),
    "FakeScene": ("Scene", "Scene"),
    "FakeApplication": ("Application", "Application"),
    "FakeWarpMarker": ("Clip", "WarpMarker"),
}

#: Live's "Auto-Warp Long Samples" preference (Record, Warp & Launch) is on by default: a
#: sample up to this long is read as a loop (warped, looped, 1/2/4/8... bars); a longer one
#: comes in warped at the set's tempo, or unwarped with the preference off.
LONG_SAMPLE_SECONDS = 60.0
#: Main-loop passes (~100 ms each) before a first import's analysis lands: more than one, so
#: a single look 100 ms after the insert is too soon.
ANALYSIS_TICKS = 5


def wav_seconds(path: str) -> float:
    with wave.open(path, "rb") as handle:
        return handle.getnframes() / float(handle.getframerate())


def wav_rate(path: str) -> float:
    with wave.open(path, "rb") as handle:
        return float(handle.getframerate())


class FakeClipSlot:
    def __init__(self, track: FakeTrack) -> None:
        self._track = track
        self._clip: FakeClip | None = None

    @property
    def canonical_parent(self) -> FakeTrack:
        return self._track

    @property
    def has_clip(self) -> bool:
        return self._clip is not None

    @property
    def clip(self) -> FakeClip:
        if self._clip is None:
            raise LiveError("no clip in slot")
        return self._clip

    @property
    def is_recording(self) -> bool:
        return self._clip is not None and self._clip.is_recording

    def put(self, clip: FakeClip) -> FakeClip:
        self._clip = clip
        clip._parent = self
        return clip

    def delete_clip(self) -> None:
        if self._clip is None:
            raise LiveError("the slot is empty")
        self._clip = None

    @since((0, 0, 0), ranges=CREATE_AUDIO_CLIP_VERSIONS, is_property=False)
    def create_audio_clip(self, file_path: str, /) -> FakeClip:
        """Live 11.3.25 and 12.0.5 on; not in 12.0.0 (see CREATE_AUDIO_CLIP_VERSIONS)."""
        self._track._alive()
        if self._clip is not None:
            raise LiveError("slot is not empty")
        if not self._track.has_audio_input:
            raise LiveError("not an audio track")
        return live_import(self.put(unwarped_clip(file_path, None)), self._track.song)


class FakeTakeLane:
    """Live 12.2's take lane (stubs 12.2.0: arrangement_clips, name, create_audio_clip)."""

    def __init__(self, track: FakeTrack, name: str) -> None:
        self._track = track
        self.name = name
        self._clips: list[FakeClip] = []

    @property
    def canonical_parent(self) -> FakeTrack:
        return self._track

    @property
    def arrangement_clips(self) -> list[FakeClip]:
        return list(self._clips)

    def place_arrangement_clip(self, clip: FakeClip) -> FakeClip:
        clip._parent = self
        self._clips.append(clip)
        return clip

    def create_audio_clip(self, file_path: str, start_time: float, /) -> FakeClip:
        self._track._alive()
        if not self._track.has_audio_input:
            raise LiveError("not an audio track")
        clip = unwarped_clip(file_path, start_time)
        return live_import(self.place_arrangement_clip(clip), self._track.song)


class FakeTrack:
    def __init__(self, song: FakeSong, name: str, n_slots: int, audio: bool = True) -> None:
        self.song = song
        self._name = name
        self._audio = audio
        self._slots = [FakeClipSlot(self) for _ in range(n_slots)]
        self._arrangement: list[FakeClip] = []
        self._lanes: list[FakeTakeLane] = []
        self._deleted = False
        self.arm = False

    def mark_deleted(self) -> None:
        """Like a track the producer deleted: Live's Python object raises on every access."""
        self._deleted = True

    def _alive(self) -> None:
        if self._deleted:
            raise LiveError("the Track object has been deleted")

    @property
    def name(self) -> str:
        self._alive()
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._alive()
        self._name = value

    @property
    def clip_slots(self) -> list[FakeClipSlot]:
        self._alive()
        return list(self._slots)

    @property
    def arrangement_clips(self) -> list[FakeClip]:
        """The main lane's clips (take-lane clips are in `take_lanes`)."""
        self._alive()
        return list(self._arrangement)

    @since((12, 2, 0))
    def take_lanes(self) -> list[FakeTakeLane]:
        self._alive()
        return list(self._lanes)

    def add_take_lane(self, name: str) -> FakeTakeLane:
        lane = FakeTakeLane(self, name)
        self._lanes.append(lane)
        return lane

    @property
    def has_audio_input(self) -> bool:
        return self._audio

    @property
    def can_be_armed(self) -> bool:
        return True

    @property
    def canonical_parent(self) -> FakeSong:
        return self.song

    def add_slot(self) -> None:
        self._slots.append(FakeClipSlot(self))

    def all_clips(self) -> list[FakeClip]:
        clips = [slot._clip for slot in self._slots if slot._clip is not None]
        clips += self._arrangement
        for lane in self._lanes:
            clips += lane._clips
        return clips

    def place_arrangement_clip(self, clip: FakeClip) -> FakeClip:
        clip._parent = self
        self._arrangement.append(clip)
        return clip

    def delete_clip(self, clip: FakeClip, /) -> None:
        self._alive()
        if clip not in self._arrangement:
            raise LiveError("the clip belongs to another track")
        self._arrangement.remove(clip)

    @since((0, 0, 0), ranges=CREATE_AUDIO_CLIP_VERSIONS, is_property=False)
    def create_audio_clip(self, file_path: str, position: float, /) -> FakeClip:
        """Live 11.3.25 and 12.0.5 on; not in 12.0.0 (see CREATE_AUDIO_CLIP_VERSIONS)."""
        self._alive()
        if not self._audio:
            raise LiveError("not an audio track")
        clip = unwarped_clip(file_path, position)
        return live_import(self.place_arrangement_clip(clip), self.song)


def unwarped_clip(file_path: str, arrangement_start: float | None) -> FakeClip:
    """A clip over the file as it plays unwarped: its region in seconds, no warp markers."""
    seconds = wav_seconds(file_path)
    return FakeClip(
        file_path,
        file_seconds=seconds,
        warping=False,
        looping=False,
        loop_end=seconds,
        arrangement_start=arrangement_start,
        sample_rate=wav_rate(file_path),
        length_beats=seconds,  # replaced by the reading below, or by Warp
    )


def live_import(clip: FakeClip, song: FakeSong) -> FakeClip:
    """What Live makes of an imported file: a short one is read as a loop; a long one is
    warped at the set's tempo (Auto-Warp Long Samples, on by default) or left unwarped
    (off). A file Live has not analysed before gets Auto-Warp's markers later."""
    if clip._file_seconds <= LONG_SAMPLE_SECONDS:
        clip.apply_live_guess()
    elif song.auto_warp_long_samples:
        clip.apply_long_sample_reading()
    elif clip.is_arrangement_clip:
        clip._length_beats = clip._file_seconds * song.tempo / 60.0
    if clip.warping and clip.file_path not in song.analysed_files:
        song.analysed_files.add(clip.file_path)
        if song.analysis_ticks > 0:
            clip.analyse_later(song.analysis_ticks)
    return clip


class FakeScene:
    def __init__(self, name: str = "") -> None:
        self.name = name


class FakeSongView:
    def __init__(self) -> None:
        self.detail_clip: FakeClip | None = None
        self.selected_track: FakeTrack | None = None


class FakeSong:
    """The set. `advance()` is one pass of Live's main loop (tests run it before each tick);
    `auto_warp_long_samples` is Live's preference (on by default); `analysis_ticks` is how
    many passes a first import's analysis takes (0: files analysed already)."""

    def __init__(
        self,
        *,
        tempo: float = 120.0,
        n_tracks: int = 2,
        n_scenes: int = 8,
        numerator: int = 4,
        denominator: int = 4,
        auto_warp_long_samples: bool = True,
        analysis_ticks: int = ANALYSIS_TICKS,
    ) -> None:
        self.tempo = tempo
        self.signature_numerator = numerator
        self.signature_denominator = denominator
        self.root_note = 0
        self.scale_name = "Major"
        self.record_mode = False  # Arrangement Record
        self.is_playing = False
        self._scale_mode = False
        self.auto_warp_long_samples = auto_warp_long_samples
        self.analysis_ticks = analysis_ticks
        self.analysed_files: set[str] = set()
        self._view = FakeSongView()
        self._scenes = [FakeScene() for _ in range(n_scenes)]
        self._tracks = [FakeTrack(self, f"Audio {i + 1}", n_scenes) for i in range(n_tracks)]

    @since((12, 0, 5))
    def scale_mode(self) -> bool:
        """Song.scale_mode arrived in 12.0.5 (stubs 12.0.0 lack it, 12.0.5 have it)."""
        return self._scale_mode

    @scale_mode.setter
    def scale_mode(self, value: bool) -> None:
        self._scale_mode = value

    @property
    def view(self) -> FakeSongView:
        return self._view

    @property
    def tracks(self) -> list[FakeTrack]:
        return list(self._tracks)

    @property
    def scenes(self) -> list[FakeScene]:
        return list(self._scenes)

    def create_scene(self, index: int, /) -> FakeScene:
        scene = FakeScene()
        self._scenes.append(scene)
        for track in self._tracks:
            track.add_slot()
        return scene

    def create_audio_track(self, index: int | None = None, /) -> FakeTrack:
        track = FakeTrack(self, f"{len(self._tracks) + 1}-Audio", len(self._scenes))
        position = len(self._tracks) if index is None or index < 0 else index
        self._tracks.insert(position, track)
        return track

    def delete_track(self, index: int, /) -> None:
        if not 0 <= index < len(self._tracks):
            raise LiveError(f"track index {index} out of range")
        self._tracks.pop(index).mark_deleted()

    def advance(self) -> None:
        """One pass of Live's main loop over every clip in the set."""
        for track in list(self._tracks):
            for clip in track.all_clips():
                clip.advance()


@dataclass
class FakeApplication:
    version: tuple[int, int, int] = (12, 1, 0)

    def get_major_version(self) -> int:
        return self.version[0]

    def get_minor_version(self) -> int:
        return self.version[1]

    def get_bugfix_version(self) -> int:
        return self.version[2]


@dataclass
class FakeCInstance:
    """The handle Live passes to create_instance: a song, the status bar and Log.txt."""

    song_object: FakeSong
    messages: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    rebuilds: int = 0

    def song(self) -> FakeSong:
        return self.song_object

    def show_message(self, message: str) -> None:
        self.messages.append(message)

    def log_message(self, message: str) -> None:
        self.log.append(message)

    def handle(self) -> int:
        return 7

    def request_rebuild_midi_map(self) -> None:
        self.rebuilds += 1


@dataclass
class FakeLiveModule:
    application: FakeApplication
    forwarded: list[tuple[str, int, int, int, int]] = field(default_factory=list)


@contextmanager
def fake_live_module(
    version: tuple[int, int, int] = (12, 1, 0), warp_markers: bool = True
) -> Iterator[FakeLiveModule]:
    """Install a `Live` module (Application, MidiMap, Clip) as Live's Python has; remove it
    after. `warp_markers=False` is a Live before 11.0.5: no `Live.Clip.WarpMarker`. The
    fakes play `version` meanwhile (its members, its 12.1.5 crash)."""
    state = FakeLiveModule(FakeApplication(version))
    live = types.ModuleType("Live")
    application = types.ModuleType("Live.Application")
    midi_map = types.ModuleType("Live.MidiMap")
    clip = types.ModuleType("Live.Clip")
    if warp_markers:
        clip.WarpMarker = FakeWarpMarker  # type: ignore[attr-defined]
    application.get_application = lambda: state.application  # type: ignore[attr-defined]

    def forward(kind: str) -> Any:
        def call(
            script_handle: int,
            midi_map_handle: int,
            channel: int,
            number: int,
            should_consume_event: bool = True,
        ) -> bool:
            state.forwarded.append((kind, script_handle, midi_map_handle, channel, number))
            return True

        return call

    midi_map.forward_midi_note = forward("note")  # type: ignore[attr-defined]
    midi_map.forward_midi_cc = forward("cc")  # type: ignore[attr-defined]
    live.Application = application  # type: ignore[attr-defined]
    live.MidiMap = midi_map  # type: ignore[attr-defined]
    live.Clip = clip  # type: ignore[attr-defined]
    modules = {
        "Live": live,
        "Live.Application": application,
        "Live.MidiMap": midi_map,
        "Live.Clip": clip,
    }
    saved = {name: sys.modules.get(name) for name in modules}
    sys.modules.update(modules)
    set_running_version(state.application)
    try:
        yield state
    finally:
        set_running_version(None)
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
