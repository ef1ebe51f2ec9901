"""A fake Live object model, shaped like ableton-live-stubs (checked by test_fakes_match_stubs)."""

from __future__ import annotations

import sys
import types
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

# Each fake class names the stub class it stands for; the conformance test reads this.
STUB_CLASSES = {
    "FakeClip": ("Clip", "Clip"),
    "FakeClipSlot": ("ClipSlot", "ClipSlot"),
    "FakeTrack": ("Track", "Track"),
    "FakeSong": ("Song", "Song"),
    "FakeSongView": ("Song", "Song.View"),
    "FakeScene": ("Scene", "Scene"),
    "FakeApplication": ("Application", "Application"),
}


def wav_seconds(path: str) -> float:
    with wave.open(path, "rb") as handle:
        return handle.getnframes() / float(handle.getframerate())


class LiveError(RuntimeError):
    """What Live's Boost layer raises when a call is refused."""


class FakeClip:
    """An audio clip over a file with `file_bpm` beats per minute (for warped beat times)."""

    def __init__(
        self,
        file_path: str,
        *,
        name: str = "",
        file_seconds: float = 8.0,
        file_bpm: float = 120.0,
        warping: bool = True,
        looping: bool = True,
        loop_start: float = 0.0,
        loop_end: float = 8.0,
        start_marker: float = 0.0,
        end_marker: float = 8.0,
        is_audio_clip: bool = True,
        arrangement_start: float | None = None,
        sample_rate: float = 44100.0,
        length_beats: float | None = None,
    ) -> None:
        self._file_path = file_path
        self.name = name
        self._file_seconds = file_seconds
        self._file_bpm = file_bpm
        self.warping = warping
        self.looping = looping
        self.loop_start = loop_start
        self.loop_end = loop_end
        self.start_marker = start_marker
        self.end_marker = end_marker
        self._is_audio = is_audio_clip
        self._arrangement_start = arrangement_start
        self._sample_rate = sample_rate
        self.color_index = 0
        self._parent: Any = None
        if length_beats is None:
            length_beats = loop_end - loop_start if looping else end_marker - start_marker
        self._length_beats = length_beats

    @property
    def file_path(self) -> str:
        return self._file_path

    @property
    def is_audio_clip(self) -> bool:
        return self._is_audio

    @property
    def is_arrangement_clip(self) -> bool:
        return self._arrangement_start is not None

    @property
    def canonical_parent(self) -> Any:
        return self._parent

    @property
    def sample_rate(self) -> float:
        return self._sample_rate

    @property
    def sample_length(self) -> int:
        return int(self._file_seconds * self._sample_rate)

    @property
    def start_time(self) -> float:
        return self._arrangement_start or 0.0

    @property
    def end_time(self) -> float:
        return self.start_time + self._length_beats

    def beat_to_sample_time(self, beat_time: float, /) -> float:
        if not self.warping:
            raise LiveError("the sample is not warped")
        return beat_time * 60.0 / self._file_bpm


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

    def put(self, clip: FakeClip) -> FakeClip:
        self._clip = clip
        clip._parent = self
        return clip

    def create_audio_clip(self, file_path: str, /) -> FakeClip:
        self._track._alive()
        if self._clip is not None:
            raise LiveError("slot is not empty")
        if not self._track.has_audio_input:
            raise LiveError("not an audio track")
        seconds = wav_seconds(file_path)
        beats = seconds * self._track.song.tempo / 60.0
        return self.put(
            FakeClip(
                file_path,
                file_seconds=seconds,
                warping=False,
                looping=False,
                loop_end=beats,
                end_marker=seconds,
                length_beats=beats,
            )
        )


class FakeTrack:
    def __init__(self, song: FakeSong, name: str, n_slots: int, audio: bool = True) -> None:
        self.song = song
        self._name = name
        self._audio = audio
        self._slots = [FakeClipSlot(self) for _ in range(n_slots)]
        self._arrangement: list[FakeClip] = []
        self._deleted = False

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
        self._alive()
        return list(self._arrangement)

    @property
    def has_audio_input(self) -> bool:
        return self._audio

    @property
    def canonical_parent(self) -> FakeSong:
        return self.song

    def add_slot(self) -> None:
        self._slots.append(FakeClipSlot(self))

    def place_arrangement_clip(self, clip: FakeClip) -> FakeClip:
        clip._parent = self
        self._arrangement.append(clip)
        return clip

    def create_audio_clip(self, file_path: str, position: float, /) -> FakeClip:
        self._alive()
        if not self._audio:
            raise LiveError("not an audio track")
        seconds = wav_seconds(file_path)
        beats = seconds * self.song.tempo / 60.0
        return self.place_arrangement_clip(
            FakeClip(
                file_path,
                file_seconds=seconds,
                warping=False,
                looping=False,
                loop_end=beats,
                end_marker=seconds,
                arrangement_start=position,
                length_beats=beats,
            )
        )


class FakeScene:
    def __init__(self, name: str = "") -> None:
        self.name = name


class FakeSongView:
    def __init__(self) -> None:
        self.detail_clip: FakeClip | None = None
        self.selected_track: FakeTrack | None = None


class FakeSong:
    def __init__(
        self,
        *,
        tempo: float = 120.0,
        n_tracks: int = 2,
        n_scenes: int = 8,
        numerator: int = 4,
        denominator: int = 4,
    ) -> None:
        self.tempo = tempo
        self.signature_numerator = numerator
        self.signature_denominator = denominator
        self.root_note = 0
        self.scale_name = "Major"
        self.scale_mode = False
        self._view = FakeSongView()
        self._scenes = [FakeScene() for _ in range(n_scenes)]
        self._tracks = [FakeTrack(self, f"Audio {i + 1}", n_scenes) for i in range(n_tracks)]

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
def fake_live_module(version: tuple[int, int, int] = (12, 1, 0)) -> Iterator[FakeLiveModule]:
    """Install a `Live` module (Application, MidiMap) as Live's Python has; remove it after."""
    state = FakeLiveModule(FakeApplication(version))
    live = types.ModuleType("Live")
    application = types.ModuleType("Live.Application")
    midi_map = types.ModuleType("Live.MidiMap")
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
    saved = {name: sys.modules.get(name) for name in ("Live", "Live.Application", "Live.MidiMap")}
    sys.modules.update({"Live": live, "Live.Application": application, "Live.MidiMap": midi_map})
    try:
        yield state
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
