"""New clips play at the stem's tempo and length, not at Live's guess of them.

Live is not told a file's tempo: it reads a short sample as a loop of 1, 2, 4 or 8 bars at
whatever tempo fits (the fake's `live_loop_guess`). A 3-bar stem at 120 is 6 s, which Live
reads as 4 bars at 160; the script pins it with warp markers to its 3 bars.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from plugin_host.ableton import addresses
from plugin_host.ableton.placement import WARP_MODE_BEATS, WARP_MODE_COMPLEX, warp_mode_for
from plugin_host.ableton.shaping import ClipShape, ClipShaper, is_shaped, shape_clip
from plugin_host.ableton.surface import SidecarSurface
from tests.plugin_host.ableton.conftest import GENERATE_NOTE, Responder, SurfaceFactory, write_wav
from tests.plugin_host.ableton.fake_live import (
    FakeClip,
    FakeSong,
    fake_live_module,
    live_loop_guess,
)


def pairs(arguments: list[Any]) -> dict[Any, Any]:
    return dict(zip(arguments[1::2], arguments[2::2], strict=True))


def tick_until(surface: SidecarSurface, condition: Callable[[], bool], max_ticks: int = 50) -> None:
    for _ in range(max_ticks):
        surface.update_display()
        if condition():
            return
        time.sleep(0.005)
    raise AssertionError(f"condition not met within {max_ticks} ticks")


def markers(clip: FakeClip) -> list[tuple[float, float]]:
    """(beat, seconds) of each warp marker, Live's shadow marker left out."""
    return [(m.beat_time, round(m.sample_time, 4)) for m in clip.warp_markers[:-1]]


def select_source(song: FakeSong, tmp_path: Path, loop_end: float, track: int = 0) -> FakeClip:
    source = FakeClip(str(write_wav(tmp_path / "p.wav", 8.0)), name="src", loop_end=loop_end)
    song.tracks[track].clip_slots[0].put(source)
    song.view.detail_clip = source
    return source


def answer_with_stem(
    responder: Responder, tmp_path: Path, seconds: float, *extras: Any
) -> dict[Any, Any]:
    """Read the request, reply with one stem of `seconds` and done; the request's pairs."""
    arguments = responder.receive_address(addresses.CONTINUE)
    stem = write_wav(tmp_path / "stem.wav", seconds, sample_rate=8000)
    responder.reply(addresses.STEM, arguments[0], 0, str(stem), "seed", 1, *extras)
    responder.reply(addresses.DONE, arguments[0], 1)
    return pairs(arguments)


# ---- the fake models Live's guess -------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "tempo", "bar_beats", "guess"),
    [
        (6.0, 120.0, 4.0, 16.0),  # 3 bars at 120: Live says 4 bars at 160
        (14.0, 120.0, 4.0, 32.0),  # 7 bars at 120: 8 bars at ~137
        (2.0, 120.0, 4.0, 4.0),  # a power of two is read right
        (3.5, 120.0, 3.5, 7.0),  # 2 bars of 7/8 at 120 too
    ],
)
def test_the_fake_reads_a_short_sample_as_live_does(
    seconds: float, tempo: float, bar_beats: float, guess: float
) -> None:
    assert live_loop_guess(seconds, tempo, bar_beats) == guess


def test_the_fake_imports_a_three_bar_stem_as_four_bars(tmp_path: Path) -> None:
    song = FakeSong(tempo=120.0)
    clip = song.tracks[0].clip_slots[1].create_audio_clip(str(write_wav(tmp_path / "s.wav", 6.0)))
    assert clip.warping and clip.looping
    assert clip.loop_end == 16.0 and markers(clip) == [(0.0, 0.0), (16.0, 6.0)]


# ---- Session -----------------------------------------------------------------------------


def test_a_session_stem_is_pinned_to_its_bars_and_loops(
    make_surface: SurfaceFactory, responder: Responder, song: FakeSong, tmp_path: Path
) -> None:
    select_source(song, tmp_path, loop_end=12.0)
    surface, c_instance = make_surface(responder.port)
    surface.receive_midi(GENERATE_NOTE)
    sent = answer_with_stem(responder, tmp_path, 6.0, "bpm", 120.0, "bars", 3)
    assert sent["bars"] == 3
    slot = song.tracks[0].clip_slots[1]
    tick_until(surface, lambda: slot.has_clip)
    clip = slot.clip
    assert markers(clip) == [(0.0, 0.0), (12.0, 6.0)]  # 12 beats in 6 s: 120 bpm
    assert clip.beat_to_sample_time(6.0) == pytest.approx(3.0 * 8000)  # samples, at 8 kHz
    assert (clip.start_marker, clip.end_marker) == (0.0, 12.0)
    assert (clip.looping, clip.loop_start, clip.loop_end) == (True, 0.0, 12.0)
    assert clip.warping and clip.warp_mode == WARP_MODE_COMPLEX
    tick_until(surface, lambda: not surface.controller or not surface.controller.jobs)
    surface.update_display()  # the next tick looks again: nothing to say
    assert not any("check" in m for m in c_instance.messages)


def test_without_a_bars_field_the_file_length_at_the_stems_tempo_gives_the_bars(
    make_surface: SurfaceFactory, responder: Responder, song: FakeSong, tmp_path: Path
) -> None:
    """An odd metre: 3 bars of 7/8 at 120 (240 eighth notes a minute) are 5.25 s, 10.5
    beats; Live would read 4 bars."""
    song.signature_numerator, song.signature_denominator = 7, 8
    select_source(song, tmp_path, loop_end=10.5)
    surface, _ = make_surface(responder.port)
    surface.receive_midi(GENERATE_NOTE)
    assert answer_with_stem(responder, tmp_path, 5.25, "bpm", 240.0)["bars"] == 3
    slot = song.tracks[0].clip_slots[1]
    tick_until(surface, lambda: slot.has_clip)
    assert markers(slot.clip) == [(0.0, 0.0), (10.5, 5.25)]
    assert slot.clip.loop_end == 10.5


@pytest.mark.parametrize(
    ("preset", "stem_extras", "mode"),
    [
        ({"drums": {"prompt": "funky drums"}}, (), WARP_MODE_BEATS),
        ({"drums": {"preset": "breakbeat"}}, (), WARP_MODE_BEATS),
        ({"band": {"preset": "techno-groove"}}, ("part", "drums"), WARP_MODE_BEATS),
        ({"band": {"preset": "techno-groove"}}, ("part", "bass"), WARP_MODE_COMPLEX),
        ({"keys": {"prompt": "chords, no drums"}}, (), WARP_MODE_COMPLEX),
    ],
)
def test_percussive_stems_warp_in_beats_mode(
    make_surface: SurfaceFactory,
    responder: Responder,
    song: FakeSong,
    tmp_path: Path,
    preset: dict[str, Any],
    stem_extras: tuple[Any, ...],
    mode: int,
) -> None:
    select_source(song, tmp_path, loop_end=8.0)
    surface, _ = make_surface(responder.port, presets=preset, preset=next(iter(preset)))
    surface.receive_midi(GENERATE_NOTE)
    answer_with_stem(responder, tmp_path, 4.0, *stem_extras)
    slot = song.tracks[0].clip_slots[1]
    tick_until(surface, lambda: slot.has_clip)
    assert slot.clip.warp_mode == mode


def test_warp_mode_words() -> None:
    assert warp_mode_for("bass", "band", "techno-groove") == WARP_MODE_COMPLEX
    assert warp_mode_for("drums", "band", "techno-groove") == WARP_MODE_BEATS
    assert warp_mode_for("", "default", "drum-loop") == WARP_MODE_BEATS
    assert warp_mode_for("", "Percussion", "") == WARP_MODE_BEATS


def test_a_clip_live_reads_again_after_the_insert_is_pinned_again_on_the_next_tick(
    make_surface: SurfaceFactory, responder: Responder, song: FakeSong, tmp_path: Path
) -> None:
    select_source(song, tmp_path, loop_end=12.0)
    surface, c_instance = make_surface(responder.port)
    surface.receive_midi(GENERATE_NOTE)
    answer_with_stem(responder, tmp_path, 6.0, "bars", 3)
    slot = song.tracks[0].clip_slots[1]
    tick_until(surface, lambda: slot.has_clip)
    slot.clip.apply_live_guess()  # Live finishes reading the file late and warps its way
    assert slot.clip.loop_end == 16.0
    surface.update_display()
    assert markers(slot.clip) == [(0.0, 0.0), (12.0, 6.0)]
    assert slot.clip.loop_end == 12.0
    assert any("pinned again" in line for line in c_instance.log)


def test_a_live_without_warp_markers_keeps_its_reading_and_says_so(
    tmp_path: Path, responder: Responder, song: FakeSong, make_surface: SurfaceFactory
) -> None:
    select_source(song, tmp_path, loop_end=12.0)
    with fake_live_module(warp_markers=False):
        surface, c_instance = make_surface(responder.port)
        surface.receive_midi(GENERATE_NOTE)
        answer_with_stem(responder, tmp_path, 6.0, "bars", 3)
        slot = song.tracks[0].clip_slots[1]
        tick_until(surface, lambda: slot.has_clip)
        surface.update_display()
    clip = slot.clip
    assert clip.warping and clip.looping
    assert clip.loop_end == 16.0  # Live's reading, not cut to 12 beats of it
    said = [m for m in c_instance.messages if "cannot set warp markers" in m]
    assert len(said) == 1 and "11.0.5" in said[0]


# ---- Arrangement -------------------------------------------------------------------------


def arrangement_source(song: FakeSong, tmp_path: Path) -> tuple[Any, FakeClip]:
    """A 7-bar source at bar 1 of track 2 and the producer's clip at bar 15 (beat 56)."""
    track = song.tracks[1]
    wav = str(write_wav(tmp_path / "p.wav", 14.0, sample_rate=8000))
    source = track.place_arrangement_clip(
        FakeClip(wav, name="src", looping=False, loop_end=28.0, arrangement_start=0.0)
    )
    mine = track.place_arrangement_clip(
        FakeClip(wav, name="mine", arrangement_start=56.0, length_beats=8.0)
    )
    song.view.detail_clip = source
    return track, mine


@pytest.mark.parametrize("loop", [0, 1])
def test_an_arrangement_stem_spans_its_bars_and_covers_nothing(
    make_surface: SurfaceFactory,
    responder: Responder,
    song: FakeSong,
    tmp_path: Path,
    loop: int,
) -> None:
    """7 bars at 120 (14 s): Live reads 8 bars, which would run over the producer's clip."""
    track, mine = arrangement_source(song, tmp_path)
    surface, _ = make_surface(responder.port, presets={"default": {"loop": loop}})
    surface.receive_midi(GENERATE_NOTE)
    sent = answer_with_stem(responder, tmp_path, 14.0, "bars", 7)
    assert sent["bars"] == 7
    tick_until(surface, lambda: len(track.arrangement_clips) == 3)
    new = track.arrangement_clips[-1]
    assert (new.start_time, new.end_time) == (28.0, 56.0)
    assert new.end_time <= mine.start_time
    assert markers(new) == [(0.0, 0.0), (28.0, 14.0)]
    assert new.looping is bool(loop)
    assert (new.loop_start, new.loop_end) == (0.0, 28.0)  # the loop, or the clip's start/end
    if loop:
        assert (new.start_marker, new.end_marker) == (0.0, 28.0)


# ---- the shaping steps on their own ------------------------------------------------------


def test_shape_clip_removes_lives_markers_and_survives_the_shadow_marker(tmp_path: Path) -> None:
    song = FakeSong(tempo=120.0)
    clip = song.tracks[0].clip_slots[1].create_audio_clip(str(write_wav(tmp_path / "s.wav", 6.0)))
    shape = ClipShape(
        bars=3, bar_beats=4.0, bar_seconds=2.0, looping=True, warp_mode=WARP_MODE_BEATS
    )
    assert not is_shaped(clip, shape)
    with fake_live_module():
        assert shape_clip(clip, shape) == ""
    assert is_shaped(clip, shape)
    assert markers(clip) == [(0.0, 0.0), (12.0, 6.0)]
    assert clip.warp_markers[-1].beat_time == pytest.approx(12.125)  # Live's shadow marker


def test_shape_clip_turns_warp_on_for_an_unwarped_long_file(tmp_path: Path) -> None:
    """With Auto-Warp Long Samples off, a file past Live's short-sample length comes in
    unwarped; Warp on (a tick later) gives Live's guess, which the pin then replaces."""
    song = FakeSong(tempo=100.0, auto_warp_long_samples=False)
    wav = str(write_wav(tmp_path / "long.wav", 72.0, sample_rate=2000))
    clip = song.tracks[0].clip_slots[1].create_audio_clip(wav)
    assert not clip.warping
    shape = ClipShape(bars=30, bar_beats=4.0, bar_seconds=2.4, looping=True, warp_mode=4)
    with fake_live_module():
        shaper = ClipShaper(clip, shape, "long")
        assert shaper.start() == ""
        assert not clip.warping  # Live applies it later
        song.advance()
        assert shaper.step() == ""
    assert markers(clip) == [(0.0, 0.0), (120.0, 72.0)]
    assert clip.loop_end == 120.0
