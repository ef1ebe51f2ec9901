"""A fake Live audio clip: markers, loop, warping and Auto-Warp as Live's own API behaves."""

from __future__ import annotations

import itertools
import math
from typing import Any

from tests.plugin_host.ableton.fake_versions import (
    LiveCrash,
    LiveError,
    running_version,
    since,
)

__all__ = [
    "AUTO_WARP_OFFSET_SECONDS",
    "SHADOW_BEATS",
    "FakeClip",
    "FakeWarpMarker",
    "live_loop_guess",
]

#: Live keeps a "shadow" warp marker a 32nd note after the last one; it cannot be removed.
SHADOW_BEATS = 0.125
#: Where Auto-Warp puts its first marker: on the first transient it finds, a little after
#: the file's start (the audit's "a marker at beat 0 with a non-zero sample time").
AUTO_WARP_OFFSET_SECONDS = 0.012
#: Live's warp segments must play between these tempi (bpm); others are refused with
#: "Segment length out of range".
_SEGMENT_BPM_RANGE = (5.0, 999.0)
#: Live 12.1.5 fixed "a crash ... when setting the looping and warping API properties from
#: the same event" (its release notes).
LOOPING_WARPING_FIX = (12, 1, 5)


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
    """Live.Clip.WarpMarker: `WarpMarker(sample_time, beat_time)`, sample time in seconds
    (MxDCore builds one from `beat_to_sample_time(...) / sample_rate`)."""

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

    Region (Cycling '74 LOM, Clip: `loop_start`/`loop_end` are "for looped clips: loop
    start/end; for unlooped clips: clip start/end"; Push 2's own script shows an unlooped
    clip's Start and End from `loop_start`/`loop_end`, Push2/clip_control.py): the
    constructor's `loop_start`/`loop_end` are the loop brace of a looped clip and the
    start and end of an unlooped one; the start and end markers default to the same span.

    Live applies some writes later than the event that makes them (the LOM on `warping`),
    and analyses a newly imported file in the background: `advance()` is one pass of
    Live's main loop between two control-surface ticks.
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
        start_marker: float | None = None,
        end_marker: float | None = None,
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
        self._loop_start = self._start = loop_start
        self._loop_end = self._end = loop_end
        self._start_marker = loop_start if start_marker is None else start_marker
        self._end_marker = loop_end if end_marker is None else end_marker
        self._is_audio = is_audio_clip
        self._arrangement_start = arrangement_start
        self._sample_rate = sample_rate
        self._markers: list[tuple[float, float]] = []  # (beat, seconds), sorted by beat
        self._warp_mode = 0
        self.color_index = 0
        self._parent: Any = None
        self._length_beats = loop_end - loop_start if length_beats is None else length_beats
        self._recording = False
        self._pending_warping: bool | None = None
        self._event_writes: set[str] = set()
        self._analysis_ticks_left: int | None = None

    @property
    def file_path(self) -> str:
        return self._file_path

    @property
    def is_audio_clip(self) -> bool:
        return self._is_audio

    @property
    def is_arrangement_clip(self) -> bool:
        return self._arrangement_start is not None

    @since((12, 2, 0))
    def is_take_lane_clip(self) -> bool:
        """Live 12.2 added take-lane clips to the API (release notes; stubs 12.2.0)."""
        return type(self._parent).__name__ == "FakeTakeLane"

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

    @property
    def is_recording(self) -> bool:
        """Stubs: "true if the Clip was triggered to record or is recording"."""
        return self._recording

    def set_recording(self, value: bool) -> None:
        """Test helper: Live is (or stops) recording into this clip."""
        self._recording = value

    # ---- Live's main loop -----------------------------------------------------------

    def _wrote(self, name: str) -> None:
        """Record a write made in the current event; Live before 12.1.5 could crash when
        looping and warping are both set in one event (12.1.5 release notes)."""
        self._event_writes.add(name)
        if {"looping", "warping"} <= self._event_writes and running_version() < (
            LOOPING_WARPING_FIX
        ):
            raise LiveCrash(f"Live {running_version()} crashed: looping and warping in one event")

    def advance(self) -> None:
        """One pass of Live's main loop: a `warping` write takes effect (LOM: Live applies it
        later, not in the event that sets it), and a first import's analysis may land."""
        self._event_writes = set()
        if self._pending_warping is not None:
            value, self._pending_warping = self._pending_warping, None
            if value and not self._warping and not self._markers:
                self.apply_live_guess()
            self._warping = value
        if self._analysis_ticks_left is not None:
            self._analysis_ticks_left -= 1
            if self._analysis_ticks_left <= 0:
                self._analysis_ticks_left = None
                self.apply_auto_warp()

    def analyse_later(self, ticks: int) -> None:
        """Live analyses a file it has not seen before (no .asd yet) in the background; its
        Auto-Warp markers replace the clip's `ticks` main-loop passes after the import."""
        self._analysis_ticks_left = ticks

    # ---- warp -----------------------------------------------------------------------

    @property
    def warping(self) -> bool:
        return self._warping

    @warping.setter
    def warping(self, value: bool) -> None:
        """Takes effect on the next `advance()`: "Internally, Live will defer the setting of
        this property" (Cycling '74 LOM, Clip.warping, technical note)."""
        self._wrote("warping")
        self._pending_warping = bool(value)

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
        if len(markers) == 1:
            return markers[0][1] + (beat - markers[0][0]) * self._seconds_per_beat()
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
        low, high = _SEGMENT_BPM_RANGE
        for (b0, s0), (b1, s1) in itertools.pairwise(markers):
            if s1 <= s0 or not low <= (b1 - b0) * 60.0 / (s1 - s0) <= high:
                raise LiveError("Segment length out of range")
        self._markers = markers

    def remove_warp_marker(self, beat_time: float, /) -> None:
        """A warped clip keeps at least one warp marker: the last one is not removed (so an
        Auto-Warp marker at beat 0 stays until another marker exists)."""
        for index, (beat, _seconds) in enumerate(self._markers):
            if abs(beat - beat_time) < 1e-6:
                if len(self._markers) == 1:
                    raise LiveError("a warped clip keeps one warp marker")
                rate = self._seconds_per_beat()
                del self._markers[index]
                if len(self._markers) == 1:  # one marker left: the tempo it had carries on
                    self._file_bpm = 60.0 / rate
                return
        raise LiveError(f"no warp marker at beat {beat_time:g} (the shadow marker stays)")

    def beat_to_sample_time(self, beat_time: float, /) -> float:
        """In samples (frames), not seconds: Live's own MxDCore divides the result by
        `sample_rate` to make a WarpMarker's sample_time (_MxDCore/MxDCore.py)."""
        if not self._warping:
            raise LiveError("the sample is not warped")
        return self._seconds_at(beat_time) * self._sample_rate

    def _set_reading(self, markers: list[tuple[float, float]], beats: float, looping: bool) -> None:
        self._markers = markers
        self._warping, self._looping = True, looping
        self._start_marker = self._loop_start = self._start = 0.0
        self._end_marker = self._loop_end = self._end = beats
        self._length_beats = beats

    def _set_tempo_and_bar(self) -> tuple[float, float]:
        song = self._song()
        if song is None:
            return 120.0, 4.0
        return float(song.tempo), song.signature_numerator * 4.0 / song.signature_denominator

    def apply_live_guess(self) -> None:
        """Live's reading of the sample as a loop (on import, or when Warp is turned on):
        markers at the start and the end of the file, the guessed loop, loop on."""
        tempo, bar_beats = self._set_tempo_and_bar()
        beats = live_loop_guess(self._file_seconds, tempo, bar_beats)
        self._set_reading([(0.0, 0.0), (beats, self._file_seconds)], beats, True)

    def apply_long_sample_reading(self) -> None:
        """Auto-Warp Long Samples (on by default in Live's preferences, Record, Warp &
        Launch): a long file comes in warped at the set's tempo, unlooped."""
        tempo, _bar_beats = self._set_tempo_and_bar()
        beats = self._file_seconds * tempo / 60.0
        self._set_reading([(0.0, 0.0), (beats, self._file_seconds)], beats, False)

    def apply_auto_warp(self) -> None:
        """Auto-Warp's analysis, landing late: its first marker sits on the first transient
        (beat 0, `AUTO_WARP_OFFSET_SECONDS` into the file), its last at Live's loop guess."""
        tempo, bar_beats = self._set_tempo_and_bar()
        beats = live_loop_guess(self._file_seconds, tempo, bar_beats)
        looping = self._looping
        markers = [(0.0, AUTO_WARP_OFFSET_SECONDS), (beats, self._file_seconds)]
        self._set_reading(markers, beats, looping)

    def _song(self) -> Any:
        parent = self._parent
        for _ in range(3):
            if parent is None:
                return None
            if type(parent).__name__ == "FakeSong":
                return parent
            parent = getattr(parent, "canonical_parent", None)
        return None

    # ---- loop and markers -----------------------------------------------------------

    @property
    def looping(self) -> bool:
        return self._looping

    @looping.setter
    def looping(self, value: bool) -> None:
        """LOM, Clip.looping: "Unwarped audio cannot be looped"."""
        self._wrote("looping")
        if value and not self._warping:
            raise LiveError("only warped audio clips can loop")
        self._looping = bool(value)

    @property
    def loop_start(self) -> float:
        """The loop brace's start when looped; the clip's start when not (LOM)."""
        return self._loop_start if self._looping else self._start

    @loop_start.setter
    def loop_start(self, value: float) -> None:
        if value >= self.loop_end:
            raise LiveError("loop start must be before the loop end")
        if self._looping:
            self._loop_start = float(value)
        else:
            self._start = float(value)
            self._follow_region()

    @property
    def loop_end(self) -> float:
        """The loop brace's end when looped; the clip's end when not (LOM)."""
        return self._loop_end if self._looping else self._end

    @loop_end.setter
    def loop_end(self, value: float) -> None:
        if value <= self.loop_start:
            raise LiveError("loop end must be after the loop start")
        if self._looping:
            self._loop_end = float(value)
        else:
            self._end = float(value)
            self._follow_region()

    @property
    def start_marker(self) -> float:
        return self._start_marker

    @start_marker.setter
    def start_marker(self, value: float) -> None:
        """Ignored while the clip is unlooped (probes in Live 12.3, per the audit)."""
        if not self._looping:
            return
        if value >= self._end_marker:
            raise LiveError("start marker must be before the end marker")
        self._start_marker = float(value)

    @property
    def end_marker(self) -> float:
        return self._end_marker

    @end_marker.setter
    def end_marker(self, value: float) -> None:
        """While unlooped the value reads back but the clip's end does not move (probes in
        Live 12.3, per the audit): `loop_end` is what ends an unlooped clip."""
        if value <= self._start_marker:
            raise LiveError("end marker must be after the start marker")
        self._end_marker = float(value)

    def _follow_region(self) -> None:
        """An unlooped Arrangement clip spans its start to end: `loop_end` resizes it on
        the timeline (LOM); a looped one keeps its length when its brace moves."""
        if not self.is_arrangement_clip or self._looping:
            return
        span = self._end - self._start
        if not self._warping:  # unwarped: the region is in seconds of the file
            tempo, _bar_beats = self._set_tempo_and_bar()
            span *= tempo / 60.0
        self._length_beats = span
