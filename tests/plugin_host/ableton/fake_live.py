"""A fake Live object model, shaped like ableton-live-stubs (checked by test_fakes_match_stubs)."""

from __future__ import annotations

import itertools
import math
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
    "FakeWarpMarker": ("Clip", "WarpMarker"),
}

#: Live's "Auto-Warp Long Samples" is off here: a sample up to this long is read as a loop
#: (warped, looped, 1/2/4/8... bars); a longer one comes in unwarped.
LONG_SAMPLE_SECONDS = 60.0
#: Live keeps a "shadow" warp marker a 32nd note after the last one; it cannot be removed.
SHADOW_BEATS = 0.125


def wav_seconds(path: str) -> float:
    with wave.open(path, "rb") as handle:
        return handle.getnframes() / float(handle.getframerate())


class LiveError(RuntimeError):
    """What Live's Boost layer raises when a call is refused."""


def live_loop_guess(seconds: float, tempo: float, bar_beats: float) -> float:
    """How Live reads a short sample it imports: a loop of 1, 2, 4, 8, 16 or 32 bars.

    Live is not told the stem's length in bars. Its manual ("Syncing Straight Loops", "Warp
    As x-Bar Loop") says it proposes the loop length that makes most sense at the set's
    tempo: here the power-of-two bar count whose tempo is nearest the set's (on a log
    scale, so 80 and 160 at 120 go to the faster one). Returns the loop's length in beats.
    """
    bars = min(
        (2**n for n in range(6)),
        key=lambda b: (abs(math.log(b * bar_beats * 60.0 / seconds / tempo)), -b),
    )
    return bars * bar_beats


class FakeWarpMarker:
    """Live.Clip.WarpMarker: `WarpMarker(sample_time, beat_time)`, sample time in seconds."""

    def __init__(self, sample_time: float, beat_time: float) -> None:
        self._sample_time = float(sample_time)
        self._beat_time = float(beat_time)

    @property
    def beat_time(self) -> float:
        return self._beat_time

    @property
    def sample_time(self) -> float:
        return self._sample_time

    def __repr__(self) -> str:
        return f"WarpMarker({self._sample_time:g} s, beat {self._beat_time:g})"


class FakeClip:
    """An audio clip over a file with `file_bpm` beats per minute (for warped beat times).

    A clip with warp markers maps beats to file seconds through them (the last segment's
    rate carries on past the last marker); one without maps at `file_bpm`. Turning Warp
    on for a clip without markers gives it Live's own reading (`live_loop_guess`).
    """

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
        self._warping = warping
        self._looping = looping
        self._loop_start = loop_start
        self._loop_end = loop_end
        self._start_marker = start_marker
        self._end_marker = end_marker
        self._is_audio = is_audio_clip
        self._arrangement_start = arrangement_start
        self._sample_rate = sample_rate
        self._markers: list[tuple[float, float]] = []  # (beat, seconds), sorted by beat
        self._warp_mode = 0
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

    # ---- warp ---------------------------------------------------------------------------

    @property
    def warping(self) -> bool:
        return self._warping

    @warping.setter
    def warping(self, value: bool) -> None:
        if value and not self._warping and not self._markers:
            self.apply_live_guess()
        self._warping = bool(value)

    @property
    def warp_mode(self) -> int:
        return self._warp_mode

    @warp_mode.setter
    def warp_mode(self, value: int) -> None:
        if not 0 <= int(value) <= 6:
            raise LiveError(f"invalid warp mode {value}")
        self._warp_mode = int(value)

    def _seconds_per_beat(self) -> float:
        """The rate past the last marker: the last segment's, else the file's tempo."""
        if len(self._markers) >= 2:
            (b0, s0), (b1, s1) = self._markers[-2], self._markers[-1]
            return (s1 - s0) / (b1 - b0)
        return 60.0 / self._file_bpm

    def _seconds_at(self, beat: float) -> float:
        markers = self._markers
        if not markers:
            return beat * 60.0 / self._file_bpm
        for (b0, s0), (b1, s1) in itertools.pairwise(markers):
            if beat <= b1:
                return s0 + (beat - b0) * (s1 - s0) / (b1 - b0)
        b_last, s_last = markers[-1]
        return s_last + (beat - b_last) * self._seconds_per_beat()

    @property
    def warp_markers(self) -> list[FakeWarpMarker]:
        """The markers, then Live's shadow marker a 32nd note after the last one."""
        markers = [FakeWarpMarker(seconds, beat) for beat, seconds in self._markers]
        if self._markers:
            beat = self._markers[-1][0] + SHADOW_BEATS
            markers.append(FakeWarpMarker(self._seconds_at(beat), beat))
        return markers

    def add_warp_marker(self, warp_marker: FakeWarpMarker, /) -> None:
        if not self._warping:
            raise LiveError("the clip is not warped")
        beat, seconds = float(warp_marker.beat_time), float(warp_marker.sample_time)
        if not 0.0 <= seconds <= self._file_seconds:
            raise LiveError("Warp marker sample time is out of range")
        for existing_beat, existing_seconds in self._markers:
            if abs(existing_beat - beat) < 1e-9:
                if abs(existing_seconds - seconds) < 1e-9:
                    return
                raise LiveError("Segment length out of range")
        markers = sorted([*self._markers, (beat, seconds)])
        for (b0, s0), (b1, s1) in itertools.pairwise(markers):
            if s1 <= s0 or not 5.0 <= (b1 - b0) * 60.0 / (s1 - s0) <= 999.0:
                raise LiveError("Segment length out of range")
        self._markers = markers

    def remove_warp_marker(self, beat_time: float, /) -> None:
        for index, (beat, _seconds) in enumerate(self._markers):
            if abs(beat - beat_time) < 1e-6:
                rate = self._seconds_per_beat()
                del self._markers[index]
                if len(self._markers) == 1:  # one marker left: the tempo it had carries on
                    self._file_bpm = 60.0 / rate
                return
        raise LiveError(f"no warp marker at beat {beat_time:g} (the shadow marker stays)")

    def beat_to_sample_time(self, beat_time: float, /) -> float:
        if not self._warping:
            raise LiveError("the sample is not warped")
        return self._seconds_at(beat_time)

    def apply_live_guess(self) -> None:
        """Live's reading of the sample as a loop (on import, or when Warp is turned on):
        markers at the start and the end of the file, the guessed loop, loop on."""
        song = self._song()
        tempo = 120.0 if song is None else float(song.tempo)
        bar_beats = 4.0
        if song is not None:
            bar_beats = song.signature_numerator * 4.0 / song.signature_denominator
        beats = live_loop_guess(self._file_seconds, tempo, bar_beats)
        self._markers = [(0.0, 0.0), (beats, self._file_seconds)]
        self._warping = self._looping = True
        self._start_marker = self._loop_start = 0.0
        self._end_marker = self._loop_end = beats
        self._length_beats = beats

    def _song(self) -> FakeSong | None:
        parent = self._parent
        if isinstance(parent, FakeClipSlot):
            return parent.canonical_parent.song
        if isinstance(parent, FakeTrack):
            return parent.song
        return None

    # ---- loop and markers (Live refuses an empty region) ----------------------------

    @property
    def looping(self) -> bool:
        return self._looping

    @looping.setter
    def looping(self, value: bool) -> None:
        if value and not self._warping:
            raise LiveError("only warped audio clips can loop")
        self._looping = bool(value)

    @property
    def loop_start(self) -> float:
        return self._loop_start if self._looping else self._start_marker

    @loop_start.setter
    def loop_start(self, value: float) -> None:
        if not self._looping:
            self.start_marker = value
            return
        if value >= self._loop_end:
            raise LiveError("loop start must be before the loop end")
        self._loop_start = float(value)

    @property
    def loop_end(self) -> float:
        return self._loop_end if self._looping else self._end_marker

    @loop_end.setter
    def loop_end(self, value: float) -> None:
        if not self._looping:
            self.end_marker = value
            return
        if value <= self._loop_start:
            raise LiveError("loop end must be after the loop start")
        self._loop_end = float(value)

    @property
    def start_marker(self) -> float:
        return self._start_marker

    @start_marker.setter
    def start_marker(self, value: float) -> None:
        if value >= self._end_marker:
            raise LiveError("start marker must be before the end marker")
        self._start_marker = float(value)
        self._follow_markers()

    @property
    def end_marker(self) -> float:
        return self._end_marker

    @end_marker.setter
    def end_marker(self, value: float) -> None:
        if value <= self._start_marker:
            raise LiveError("end marker must be after the start marker")
        self._end_marker = float(value)
        self._follow_markers()

    def _follow_markers(self) -> None:
        """An unlooped Arrangement clip spans its markers (a looped one keeps its length)."""
        if self.is_arrangement_clip and not self._looping and self._warping:
            self._length_beats = self._end_marker - self._start_marker


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
        return live_import(self.put(unwarped_clip(file_path, None)))


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
        return live_import(self.place_arrangement_clip(unwarped_clip(file_path, position)))


def unwarped_clip(file_path: str, arrangement_start: float | None) -> FakeClip:
    """A clip over the file as it plays unwarped: markers in seconds, no warp markers."""
    seconds = wav_seconds(file_path)
    return FakeClip(
        file_path,
        file_seconds=seconds,
        warping=False,
        looping=False,
        loop_end=seconds,
        end_marker=seconds,
        arrangement_start=arrangement_start,
        length_beats=seconds,  # replaced by the reading below, or by Warp
    )


def live_import(clip: FakeClip) -> FakeClip:
    """What Live makes of an imported file: a short one is read as a loop, a long one is left
    unwarped (Auto-Warp Long Samples off); its tempo is a guess in both cases."""
    if clip._file_seconds <= LONG_SAMPLE_SECONDS:
        clip.apply_live_guess()
    elif clip.is_arrangement_clip:
        song = clip._song()
        clip._length_beats = clip._file_seconds * (120.0 if song is None else song.tempo) / 60.0
    return clip


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
def fake_live_module(
    version: tuple[int, int, int] = (12, 1, 0), warp_markers: bool = True
) -> Iterator[FakeLiveModule]:
    """Install a `Live` module (Application, MidiMap, Clip) as Live's Python has; remove it
    after. `warp_markers=False` is a Live before 11.0.5: no `Live.Clip.WarpMarker`."""
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
    try:
        yield state
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
