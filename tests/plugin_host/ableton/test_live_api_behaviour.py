"""The script against Live's API as Live's own sources describe it (issue 23's audit).

Each test drives the script through the fake Live, whose behaviours name their sources in
fake_clip.py, fake_live.py and fake_versions.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from plugin_host.ableton import addresses
from plugin_host.ableton.selection import SelectionError, read_clip_region, read_song_context
from tests.plugin_host.ableton.conftest import GENERATE_NOTE, Responder, SurfaceFactory, write_wav
from tests.plugin_host.ableton.fake_live import (
    AUTO_WARP_OFFSET_SECONDS,
    FakeClip,
    FakeSong,
    LiveError,
    fake_live_module,
)
from tests.plugin_host.ableton.test_clip_shape import (
    answer_with_stem,
    markers,
    select_source,
    tick_until,
)

#: Ticks after which every new clip's watch has ended (shaping.WATCH_TICKS is 60).
WATCH_ENDED_TICKS = 62


# ---- 1. an unlooped clip's start and end are loop_start / loop_end -------------------------


def unlooped_arrangement_stem(tmp_path: Path, seconds: float = 14.0) -> tuple[FakeSong, Any]:
    song = FakeSong(tempo=120.0, analysis_ticks=0)
    wav = str(write_wav(tmp_path / "u.wav", seconds, sample_rate=8000))
    track = song.tracks[1]
    return song, track.create_audio_clip(wav, 0.0)


def test_the_fake_ignores_marker_writes_while_unlooped_and_loop_end_resizes(
    tmp_path: Path,
) -> None:
    _song, clip = unlooped_arrangement_stem(tmp_path)
    clip.looping = False
    assert clip.end_time == 32.0  # Live read 7 bars as 8
    clip.start_marker = 4.0
    clip.end_marker = 28.0
    assert clip.start_marker == 0.0  # ignored
    assert clip.end_marker == 28.0 and clip.end_time == 32.0  # reads back, does not move
    clip.loop_end = 28.0
    assert clip.end_time == 28.0  # loop_end is the unlooped clip's end


def test_is_shaped_reads_the_clips_real_end_not_the_end_marker(tmp_path: Path) -> None:
    """The old check read end_marker back, which an unlooped clip echoes without moving."""
    from plugin_host.ableton.shaping import ClipShape, is_shaped, pin

    _song, clip = unlooped_arrangement_stem(tmp_path)
    shape = ClipShape(bars=7, bar_beats=4.0, bar_seconds=2.0, looping=False, warp_mode=4)
    with fake_live_module():
        clip.looping = False
        pin(clip, 14.0, 28.0)
        clip.end_marker = 28.0
        assert not is_shaped(clip, shape)  # the clip still ends at Live's 32 beats
        clip.loop_end = 28.0
        assert is_shaped(clip, shape)


# ---- 2. warping first, looping on a later tick ----------------------------------------------


@pytest.mark.parametrize("version", [(12, 1, 0), (12, 1, 4)])
def test_an_unwarped_import_is_warped_and_looped_on_different_ticks(
    make_surface: SurfaceFactory,
    responder: Responder,
    song: FakeSong,
    tmp_path: Path,
    version: tuple[int, int, int],
) -> None:
    """Auto-Warp Long Samples off: a 72 s stem comes in unwarped. Before 12.1.5, Warp and
    Loop set in one event could crash Live; the fake crashes (LiveCrash escapes the
    script's guards) when they are."""
    song.tempo, song.auto_warp_long_samples, song.analysis_ticks = 100.0, False, 0
    select_source(song, tmp_path, loop_end=8.0)
    with fake_live_module(version):
        surface, c_instance = make_surface(responder.port)
        surface.receive_midi(GENERATE_NOTE)
        arguments = responder.receive_address(addresses.CONTINUE)
        stem = write_wav(tmp_path / "long.wav", 72.0, sample_rate=2000)
        responder.reply(addresses.STEM, arguments[0], 0, str(stem), "bars", 30, "bpm", 100.0)
        slot = song.tracks[0].clip_slots[1]
        tick_until(surface, lambda: slot.has_clip)
        for _ in range(3):
            surface.update_display()
    clip = slot.clip
    assert clip.warping and clip.looping
    assert markers(clip) == [(0.0, 0.0), (120.0, 72.0)]
    assert (clip.loop_start, clip.loop_end) == (0.0, 120.0)
    assert not any("refused" in m for m in c_instance.messages)


# ---- 3. Auto-Warp's late analysis and its marker at beat 0 ----------------------------------


def test_pinning_over_auto_warps_first_marker(tmp_path: Path) -> None:
    """Auto-Warp leaves beat 0 at the first transient (12 ms in); (0, 0) beside it is
    refused and the clip keeps its last marker, so the end goes in first."""
    from plugin_host.ableton.shaping import pin

    song = FakeSong(tempo=120.0, analysis_ticks=0)
    clip = song.tracks[0].clip_slots[1].create_audio_clip(str(write_wav(tmp_path / "s.wav", 6.0)))
    clip.apply_auto_warp()
    assert markers(clip)[0] == (0.0, AUTO_WARP_OFFSET_SECONDS)
    with fake_live_module():
        assert pin(clip, 6.0, 12.0) == ""
    assert markers(clip) == [(0.0, 0.0), (12.0, 6.0)]


def test_a_first_imports_late_analysis_is_caught_and_pinned_again(
    make_surface: SurfaceFactory, responder: Responder, song: FakeSong, tmp_path: Path
) -> None:
    """The fake's analysis lands 5 ticks after the import (one look 100 ms later misses
    it); the script watches the new clip and pins it again."""
    select_source(song, tmp_path, loop_end=12.0)
    surface, c_instance = make_surface(responder.port)
    surface.receive_midi(GENERATE_NOTE)
    answer_with_stem(responder, tmp_path, 6.0, "bars", 3)
    slot = song.tracks[0].clip_slots[1]
    tick_until(surface, lambda: slot.has_clip)
    for _ in range(10):
        surface.update_display()
    assert markers(slot.clip) == [(0.0, 0.0), (12.0, 6.0)]
    assert (slot.clip.loop_start, slot.clip.loop_end) == (0.0, 12.0)
    assert any("pinned again" in line for line in c_instance.log)
    controller = surface.controller
    assert controller is not None
    for _ in range(WATCH_ENDED_TICKS):
        surface.update_display()
    assert not controller.shaping  # the watch ends


# ---- 4 and 5. the source region ---------------------------------------------------------------


def test_an_unlooped_source_is_read_from_loop_start_and_loop_end() -> None:
    song: Any = FakeSong(tempo=120.0)
    clip = FakeClip(
        "/a.wav", looping=False, loop_start=1.0, loop_end=5.0, start_marker=0.0, end_marker=8.0
    )
    song.tracks[0].clip_slots[0].put(clip)
    song.view.detail_clip = clip
    region = read_clip_region(song, read_song_context(song, "off"))
    assert (region.start_beats, region.end_beats) == (1.0, 5.0)
    assert (region.start_seconds, region.end_seconds) == pytest.approx((0.5, 2.5))


@pytest.mark.parametrize("start_beats", [0.002, 1.0])
def test_beat_to_sample_time_is_divided_by_the_sample_rate(start_beats: float) -> None:
    """A region starting 1 ms into a 2-minute file: 44 samples, not 44 seconds."""
    song: Any = FakeSong(tempo=120.0)
    clip = FakeClip("/a.wav", file_seconds=120.0, loop_start=start_beats, loop_end=16.0)
    song.tracks[0].clip_slots[0].put(clip)
    song.view.detail_clip = clip
    region = read_clip_region(song, read_song_context(song, "off"))
    assert region.start_seconds == pytest.approx(start_beats / 2.0)
    assert region.end_seconds == pytest.approx(8.0)
    assert region.clip_bpm == pytest.approx(120.0)


# ---- 6. create_audio_clip by version, take lanes ------------------------------------------


@pytest.mark.parametrize(
    ("version", "inserts"),
    [((11, 3, 20), False), ((11, 3, 25), True), ((12, 0, 0), False), ((12, 0, 5), True)],
)
def test_stems_are_inserted_where_live_has_create_audio_clip(
    make_surface: SurfaceFactory,
    responder: Responder,
    song: FakeSong,
    tmp_path: Path,
    version: tuple[int, int, int],
    inserts: bool,
) -> None:
    select_source(song, tmp_path, loop_end=8.0)
    with fake_live_module(version):
        surface, c_instance = make_surface(responder.port)
        surface.receive_midi(GENERATE_NOTE)
        answer_with_stem(responder, tmp_path, 4.0, "bars", 2)
        slot = song.tracks[0].clip_slots[1]
        for _ in range(10):
            surface.update_display()
    assert slot.has_clip is inserts
    if not inserts:
        assert any("drag it in" in m and "11.3.25" in m for m in c_instance.messages)


def test_a_take_lane_clips_stems_land_on_its_take_lane(
    make_surface: SurfaceFactory, responder: Responder, song: FakeSong, tmp_path: Path
) -> None:
    """Live 12.2: a take-lane clip is in its lane's arrangement_clips, not the track's."""
    track = song.tracks[1]
    lane = track.add_take_lane("Take 1")
    wav = str(write_wav(tmp_path / "p.wav", 4.0, sample_rate=8000))
    source = lane.place_arrangement_clip(
        FakeClip(wav, name="take", looping=False, loop_end=8.0, arrangement_start=0.0)
    )
    song.view.detail_clip = source
    with fake_live_module((12, 2, 0)):
        surface, _ = make_surface(responder.port)
        surface.receive_midi(GENERATE_NOTE)
        answer_with_stem(responder, tmp_path, 4.0, "bars", 2)
        tick_until(surface, lambda: len(lane.arrangement_clips) == 2)
    new = lane.arrangement_clips[-1]
    assert (new.start_time, new.end_time) == (8.0, 16.0)
    assert track.arrangement_clips == []


# ---- 7. a clip Live is still writing ------------------------------------------------------


def test_a_clip_that_is_recording_is_not_sent(
    make_surface: SurfaceFactory, responder: Responder, session_clip: FakeClip
) -> None:
    session_clip.set_recording(True)
    surface, c_instance = make_surface(responder.port)
    surface.receive_midi(GENERATE_NOTE)
    assert "still recording" in c_instance.messages[-1]
    assert surface.controller is not None and not surface.controller.jobs
    session_clip.set_recording(False)
    surface.receive_midi(GENERATE_NOTE)
    assert responder.receive_address(addresses.CONTINUE)


def test_a_clip_without_a_sample_yet_is_refused() -> None:
    song: Any = FakeSong()
    clip = FakeClip("/a.wav", file_seconds=0.0)
    song.tracks[0].clip_slots[0].put(clip)
    song.view.detail_clip = clip
    with pytest.raises(SelectionError, match="no sample"):
        read_clip_region(song, read_song_context(song, "off"))


def test_markers_live_keeps_refusing_are_reported_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from plugin_host.ableton.shaping import ClipShape, ClipShaper

    song = FakeSong(tempo=120.0, analysis_ticks=0)
    clip = song.tracks[0].clip_slots[1].create_audio_clip(str(write_wav(tmp_path / "s.wav", 6.0)))

    def refuse(self: FakeClip, marker: object) -> None:
        raise LiveError("Segment length out of range")

    monkeypatch.setattr(FakeClip, "add_warp_marker", refuse)
    shape = ClipShape(bars=3, bar_beats=4.0, bar_seconds=2.0, looping=True, warp_mode=4)
    with fake_live_module():
        shaper = ClipShaper(clip, shape, "s")
        first = shaper.start()
        later = [shaper.step() for _ in range(5)]
    assert "Segment length out of range" in first
    assert later == [""] * 5 and shaper.done
    assert clip.loop_end == 16.0  # Live's reading kept, not cut to 12 beats of it


@pytest.mark.parametrize("armed", [True, False])
def test_an_arrangement_clip_on_a_track_live_records_into_is_not_sent(
    make_surface: SurfaceFactory,
    responder: Responder,
    song: FakeSong,
    prompt_wav: Path,
    armed: bool,
) -> None:
    """Arrangement Record on, playing, the track armed: Live is writing on that track."""
    track = song.tracks[1]
    clip = track.place_arrangement_clip(
        FakeClip(str(prompt_wav), name="Arr", looping=False, loop_end=8.0, arrangement_start=0.0)
    )
    song.view.detail_clip = clip
    song.record_mode = song.is_playing = True
    track.arm = armed
    surface, c_instance = make_surface(responder.port)
    surface.receive_midi(GENERATE_NOTE)
    if armed:
        assert "recording on 'Audio 2'" in c_instance.messages[-1]
        assert surface.controller is not None and not surface.controller.jobs
    else:
        assert responder.receive_address(addresses.CONTINUE)
