"""The in-Live self-test: probe every API assumption on a scratch track, report, clean up."""

from __future__ import annotations

import math
import os
import shutil
import struct
import sys
import tempfile
import wave
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .placement import (
    can_insert,
    create_audio_clip,
    creates_audio_clips,
    insert_in_arrangement,
    insert_in_session,
)
from .shaping import ClipShape, ClipShaper, is_shaped, on_line, pin

if TYPE_CHECKING:
    from Live.Clip import Clip
    from Live.Song import Song
    from Live.Track import Track

__all__ = ["SCRATCH_TRACK_NAME", "SelfTest"]

SCRATCH_TRACK_NAME = "MusicGen self-test (scratch)"
#: Ticks (~100 ms) to watch a new clip for Live's own changes (analysis, warping).
_OBSERVE_TICKS = 10
_SCRATCH_BARS = 3
_SCRATCH_RATE = 8000
_EPSILON = 1e-6


def _write_scratch_wav(path: str, seconds: float, beat_seconds: float) -> None:
    """A click on every beat: a file with transients Live's Auto-Warp can find."""
    frames = int(seconds * _SCRATCH_RATE)
    click = int(0.01 * _SCRATCH_RATE)
    beat = max(1, int(beat_seconds * _SCRATCH_RATE))
    data = bytearray()
    for i in range(frames):
        offset = i % beat
        level = 12000 * math.sin(2 * math.pi * 1000.0 * i / _SCRATCH_RATE) if offset < click else 0
        data += struct.pack("<h", int(level))
    with wave.open(path, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(_SCRATCH_RATE)
        handle.writeframes(bytes(data))


def _markers(clip: Clip) -> list[tuple[float, float]]:
    return [(float(m.beat_time), float(m.sample_time)) for m in list(clip.warp_markers)]


def _shown(version: tuple[int, int, int]) -> str:
    return ".".join(str(part) for part in version)


class SelfTest:
    """A run of the self-test, one step per tick (`step()`); `lines` is the report.

    Every line reads `name: what Live did` and ends with `[ok]`, `[UNEXPECTED]` (Live does
    not do what the script assumes: paste the report into a bug report) or `[info]`.
    Nothing is written to the producer's tracks: a scratch audio track is added at the end
    of the set and deleted afterwards (both are steps in Live's undo history).
    """

    def __init__(self, song: Song, version: tuple[int, int, int]) -> None:
        self._song = song
        self._version = version
        self.lines: list[str] = []
        self.unexpected = 0
        self.limited = False
        self.done = False
        self._track: Track | None = None
        self._folder: str | None = None
        self._steps = self._run()

    def step(self) -> None:
        """Run the next step (Live's own changes land between ticks)."""
        if self.done:
            return
        try:
            next(self._steps)
        except StopIteration:
            self.done = True
        except Exception as error:  # Live's Boost errors too: report, never raise into Live
            self._line("error", f"{error!r}", ok=False)
            self.done = True
        if self.done:
            self._cleanup()
            self.lines.append(f"result: {self.result()}")

    def result(self) -> str:
        if self.unexpected:
            return f"FAIL ({self.unexpected} unexpected)"
        return "LIMITED (see the lines above)" if self.limited else "PASS"

    # ---- helpers ----------------------------------------------------------------------

    def _line(self, name: str, text: str, ok: bool | None = True) -> None:
        mark = "[info]" if ok is None else "[ok]" if ok else "[UNEXPECTED]"
        if ok is False:
            self.unexpected += 1
        self.lines.append(f"{name}: {text} {mark}")

    def _write(self, name: str, write: Any) -> str:
        """Run one probing write; "" or Live's refusal."""
        try:
            write()
        except Exception as error:  # Live's Boost errors
            return f"refused ({error})"
        return ""

    def _cleanup(self) -> None:
        track = self._track
        if track is not None:
            self._track = None
            tracks: list[Track] = list(self._song.tracks)
            index = next((i for i, t in enumerate(tracks) if t == track), None)
            try:
                if index is None:
                    raise RuntimeError("not found")
                self._song.delete_track(index)
                self.lines.append("scratch track: removed [ok]")
            except Exception as error:  # Live's Boost errors
                self._line("scratch track", f"could not be removed ({error}): delete it", False)
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    # ---- the run ------------------------------------------------------------------------

    def _run(self) -> Iterator[None]:
        version = self._version
        python = ".".join(str(part) for part in sys.version_info[:3])
        self.lines.append(f"MusicGen self-test: Live {_shown(version)}, Python {python}")
        song = self._song
        tempo = float(song.tempo)
        bar_beats = float(song.signature_numerator) * 4.0 / float(song.signature_denominator)
        beats = _SCRATCH_BARS * bar_beats
        seconds = beats * 60.0 / tempo
        self._folder = tempfile.mkdtemp(prefix="musicgen-selftest-")
        path = os.path.join(self._folder, "scratch.wav")
        _write_scratch_wav(path, seconds, 60.0 / tempo)
        self._track = track = song.create_audio_track(-1)
        track.name = SCRATCH_TRACK_NAME
        yield None
        slots: list[Any] = list(track.clip_slots)
        slot_has = bool(slots) and creates_audio_clips(slots[0])
        track_has = creates_audio_clips(track)
        expected = can_insert(version)
        self._line(
            "create_audio_clip",
            f"ClipSlot {'yes' if slot_has else 'no'}, Track {'yes' if track_has else 'no'}"
            f" (expected {'yes' if expected else 'no'} in {_shown(version)}: 11.3.25+, not"
            " 12.0.0, 12.0.5+)",
            ok=(slot_has and track_has) == expected,
        )
        lanes = getattr(track, "take_lanes", None)
        if version < (12, 1, 5):
            self._line(
                "warping and looping",
                "set on different ticks (in one event they could crash Live before 12.1.5)",
                ok=None,
            )
        self._line(
            "take lanes",
            "yes (stems follow a take-lane clip onto its lane)"
            if lanes is not None
            else "no (Live 12.2 added them)",
            ok=None,
        )
        if not (slot_has and track_has):
            self.limited = True
            self._line("probes", "skipped: this Live cannot add clips from a script", ok=None)
            return
        yield from self._probe_clip(track, path, seconds, beats)
        yield from self._dry_runs(track, path, seconds, beats, bar_beats)

    def _probe_clip(self, track: Track, path: str, seconds: float, beats: float) -> Iterator[None]:
        clip = create_audio_clip(track, path, 0.0)
        first = _markers(clip)
        self._line(
            "import",
            f"warping {'on' if clip.warping else 'off'}, looping "
            f"{'on' if clip.looping else 'off'}, {float(clip.end_time) - float(clip.start_time):g}"
            f" beats, {max(0, len(first) - 1)} warp marker(s)",
            ok=None,
        )
        changed_after = None
        for tick in range(1, _OBSERVE_TICKS + 1):
            yield None
            if changed_after is None and _markers(clip) != first:
                changed_after = tick
        self._line(
            "analysis",
            f"Live changed the markers {changed_after * 100} ms after the import"
            if changed_after
            else f"no change within {_OBSERVE_TICKS * 100} ms",
            ok=None,
        )
        # warping: applied later than the event that sets it? Off first, if Live warped it.
        waited = 0
        if clip.warping:
            clip.warping = False
            while clip.warping and waited < 20:
                yield None
                waited += 1
        yield None
        clip.warping = True
        same_event = bool(clip.warping)
        waited = 0
        while not clip.warping and waited < 20:
            yield None
            waited += 1
        self._line(
            "warping",
            "applied in the same event"
            if same_event
            else f"applied {waited * 100} ms later (the script waits for it)",
            ok=bool(clip.warping),
        )
        yield None
        markers = _markers(clip)
        if len(markers) >= 2:
            beat, sample_seconds = markers[1]
            answer = float(clip.beat_to_sample_time(beat))
            rate = float(clip.sample_rate)
            in_samples = abs(answer - sample_seconds * rate) <= abs(answer - sample_seconds)
            self._line(
                "beat_to_sample_time",
                f"beat {beat:g} -> {answer:g} ({'samples' if in_samples else 'seconds'})",
                ok=in_samples,
            )
        yield from self._probe_pin(clip, seconds, beats)
        yield from self._probe_unlooped(clip, beats)
        track.delete_clip(clip)

    def _probe_pin(self, clip: Clip, seconds: float, beats: float) -> Iterator[None]:
        markers = _markers(clip)
        odd_first = bool(markers) and abs(markers[0][1]) > _EPSILON
        if odd_first:
            self._line(
                "first warp marker",
                f"beat {markers[0][0]:g} at {markers[0][1]:g} s (Auto-Warp's; the pin works"
                " around it)",
                ok=None,
            )
        problem = pin(clip, seconds, beats)
        self._line(
            "pin",
            f"(0 s, beat 0) and ({seconds:g} s, beat {beats:g}): "
            + (problem or "held")
            + (" after Auto-Warp's first marker" if odd_first and not problem else ""),
            ok=not problem and on_line(clip, seconds, beats),
        )
        yield None

    def _probe_unlooped(self, clip: Clip, beats: float) -> Iterator[None]:
        if clip.looping:
            clip.looping = False
            yield None
        end_before = float(clip.end_time)
        start_before = float(clip.start_marker)

        def write_start() -> None:
            clip.start_marker = start_before + 1.0

        refused = self._write("start_marker", write_start)
        ignored = abs(float(clip.start_marker) - start_before) < _EPSILON
        self._line(
            "unlooped start_marker write",
            refused or ("ignored" if ignored else "applied"),
            ok=None,
        )

        def write_end() -> None:
            clip.end_marker = beats - 1.0

        refused = self._write("end_marker", write_end)
        moved = abs(float(clip.end_time) - end_before) > _EPSILON
        self._line(
            "unlooped end_marker write",
            refused
            or f"reads {float(clip.end_marker):g}; clip end "
            + (f"moved to {float(clip.end_time):g}" if moved else f"stays {end_before:g}"),
            ok=None,
        )
        target = float(clip.loop_start) + beats - 2.0

        def write_loop_end() -> None:
            clip.loop_end = target

        refused = self._write("loop_end", write_loop_end)
        span = float(clip.end_time) - float(clip.start_time)
        resized = abs(float(clip.loop_end) - target) < _EPSILON and clip.is_arrangement_clip
        resized = resized and abs(span - (target - float(clip.loop_start))) < _EPSILON
        self._line(
            "unlooped loop_end write",
            refused or f"clip spans {span:g} beats" + (" (loop_end resizes it)" if resized else ""),
            ok=resized and not refused,
        )
        yield None

    def _dry_runs(
        self, track: Track, path: str, seconds: float, beats: float, bar_beats: float
    ) -> Iterator[None]:
        for looping, where in ((True, "Session"), (False, "Arrangement")):
            shape = ClipShape(
                bars=_SCRATCH_BARS,
                bar_beats=bar_beats,
                bar_seconds=seconds / _SCRATCH_BARS,
                looping=looping,
                warp_mode=4,
            )
            if looping:
                inserted = insert_in_session(self._song, track, path, -1, "self-test", 0)
            else:
                inserted = insert_in_arrangement(track, None, path, 0.0, "self-test", 0)
            clip = inserted.clip
            if clip is None:
                self._line(f"dry run, {where}", "no clip came back", ok=False)
                continue
            shaper = ClipShaper(clip, shape, "self-test")
            problem = shaper.start()
            for _ in range(_OBSERVE_TICKS):
                if problem or shaper.done:
                    break
                yield None
                problem = shaper.step() or problem
            shaped = is_shaped(clip, shape)
            self._line(
                f"dry run, {where}",
                f"{float(clip.loop_end) - float(clip.loop_start):g} beats, "
                f"{'looped' if clip.looping else 'unlooped'}, "
                + ("pinned" if shaped else problem or "not as asked"),
                ok=shaped and not problem,
            )
            if inserted.slot is not None:
                inserted.slot.delete_clip()
            else:
                track.delete_clip(clip)
            yield None
