"""The Remote Script over real UDP against an in-test responder: every reply path, every button."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from plugin_host.ableton import addresses
from plugin_host.ableton.surface import SidecarSurface
from tests.plugin_host.ableton.conftest import (
    CANCEL_NOTE,
    GENERATE_NOTE,
    REROLL_NOTE,
    Responder,
    SurfaceFactory,
    write_wav,
)
from tests.plugin_host.ableton.fake_live import FakeClip, FakeLiveModule, FakeSong


def pairs(arguments: list) -> dict:
    return dict(zip(arguments[1::2], arguments[2::2], strict=True))


def tick(surface: SidecarSurface, n: int = 1) -> None:
    for _ in range(n):
        surface.update_display()


def tick_until(surface: SidecarSurface, condition, max_ticks: int = 50) -> int:
    import time

    for n in range(1, max_ticks + 1):
        surface.update_display()
        if condition():
            return n
        time.sleep(0.005)
    raise AssertionError(f"condition not met within {max_ticks} ticks")


def test_generate_places_the_stem_in_the_next_empty_slot(
    make_surface: SurfaceFactory,
    responder: Responder,
    song: FakeSong,
    session_clip: FakeClip,
    tmp_path: Path,
) -> None:
    surface, c_instance = make_surface(responder.port)
    tick(surface)  # the scheduled ping goes out
    assert responder.receive()[0] == addresses.PING
    responder.reply(addresses.PONG, "0.1.0", "tiny", "cpu", "ready")
    tick_until(surface, lambda: any("ready" in m for m in c_instance.messages))

    surface.receive_midi(GENERATE_NOTE)
    arguments = responder.receive_address(addresses.CONTINUE)
    request_id = arguments[0]
    sent = pairs(arguments)
    assert sent["clip"] == session_clip.file_path
    assert sent["clip_start"] == pytest.approx(0.0)
    assert sent["clip_end"] == pytest.approx(4.0)
    assert "clip_start_beats" not in sent  # seconds or beats, never both
    assert sent["bpm"] == pytest.approx(120.0)
    assert sent["beats_per_bar"] == 4
    assert sent["bars"] == 2
    assert sent["variations"] == 1

    responder.reply(addresses.ACCEPTED, request_id, 0)
    responder.reply(addresses.PROGRESS, request_id, 0.5, 2.0)
    tick_until(surface, lambda: any("50%" in m for m in c_instance.messages))
    stem = write_wav(tmp_path / "stem0.wav", 4.0)
    responder.reply(addresses.STEM, request_id, 0, str(stem), "seed", 77, "bpm", 120.0)
    responder.reply(addresses.DONE, request_id, 1)
    slot = song.tracks[0].clip_slots[1]
    tick_until(surface, lambda: slot.has_clip and "done" in c_instance.messages[-1])

    assert slot.clip.file_path == str(stem)
    assert slot.clip.warping is True
    assert slot.clip.name == "default s77 120bpm"
    assert slot.clip.color_index == 22
    assert surface.controller is not None and surface.controller.jobs == {}


def test_variations_go_to_consecutive_empty_slots(
    make_surface: SurfaceFactory,
    responder: Responder,
    song: FakeSong,
    session_clip: FakeClip,
    tmp_path: Path,
) -> None:
    surface, _ = make_surface(responder.port, variations=3)
    occupied = FakeClip(str(tmp_path / "x.wav"), name="keep")
    song.tracks[0].clip_slots[2].put(occupied)
    surface.receive_midi(GENERATE_NOTE)
    arguments = responder.receive_address(addresses.CONTINUE)
    assert pairs(arguments)["variations"] == 3
    request_id = arguments[0]
    responder.reply(addresses.ACCEPTED, request_id, 0)
    for index in range(3):
        stem = write_wav(tmp_path / f"v{index}.wav", 1.0)
        # Like the sidecar: the takes of one request are one batch with one seed.
        responder.reply(addresses.STEM, request_id, index, str(stem), "seed", 10)
    responder.reply(addresses.DONE, request_id, 3)
    slots = song.tracks[0].clip_slots
    tick_until(surface, lambda: surface.controller is not None and not surface.controller.jobs)
    assert [slots[i].clip.name for i in (1, 3, 4)] == [
        "default s10 v1/3 120bpm",
        "default s10 v2/3 120bpm",
        "default s10 v3/3 120bpm",
    ]
    assert slots[2].clip is occupied


def test_no_empty_slot_left_adds_a_scene(
    make_surface: SurfaceFactory,
    responder: Responder,
    song: FakeSong,
    session_clip: FakeClip,
    tmp_path: Path,
) -> None:
    surface, _ = make_surface(responder.port)
    for slot in song.tracks[0].clip_slots[1:]:
        slot.put(FakeClip(str(tmp_path / "x.wav")))
    surface.receive_midi(GENERATE_NOTE)
    request_id = responder.receive_address(addresses.CONTINUE)[0]
    responder.reply(addresses.STEM, request_id, 0, str(write_wav(tmp_path / "s.wav", 1.0)))
    n_slots = len(song.tracks[0].clip_slots)
    tick_until(
        surface,
        lambda: (
            len(song.tracks[0].clip_slots) == n_slots + 1 and song.tracks[0].clip_slots[-1].has_clip
        ),
    )
    assert len(song.scenes) == n_slots + 1


def test_arrangement_clip_gets_stems_after_it(
    make_surface: SurfaceFactory,
    responder: Responder,
    song: FakeSong,
    prompt_wav: Path,
    tmp_path: Path,
) -> None:
    track = song.tracks[1]
    clip = track.place_arrangement_clip(
        FakeClip(
            str(prompt_wav),
            name="Arr",
            looping=False,
            loop_start=0.0,
            loop_end=8.0,
            arrangement_start=16.0,
        )
    )
    song.view.detail_clip = clip
    surface, _ = make_surface(responder.port, variations=2)
    surface.receive_midi(GENERATE_NOTE)
    request_id = responder.receive_address(addresses.CONTINUE)[0]
    for index in range(2):
        stem = write_wav(tmp_path / f"a{index}.wav", 2.0)  # 4 beats at 120 bpm
        responder.reply(addresses.STEM, request_id, index, str(stem), "seed", 5)
    responder.reply(addresses.DONE, request_id, 2)
    tick_until(surface, lambda: len(track.arrangement_clips) == 3)
    created = track.arrangement_clips[1:]
    assert [c.start_time for c in created] == [24.0, 28.0]
    assert all(c.warping for c in created)
    assert [c.name for c in created] == ["default s5 v1/2 120bpm", "default s5 v2/2 120bpm"]


def test_arrangement_takes_never_cover_earlier_takes_or_other_clips(
    make_surface: SurfaceFactory,
    responder: Responder,
    song: FakeSong,
    prompt_wav: Path,
    tmp_path: Path,
) -> None:
    """A second press and a re-roll land after the first take, on bar lines, in free space."""
    track = song.tracks[1]
    # The source ends off the grid (beat 22.5); the producer has a clip at bars 8-9.
    clip = track.place_arrangement_clip(
        FakeClip(
            str(prompt_wav),
            name="Arr",
            looping=False,
            loop_start=0.0,
            loop_end=3.25,
            arrangement_start=16.0,
            length_beats=6.5,
        )
    )
    mine = track.place_arrangement_clip(
        FakeClip(str(prompt_wav), name="mine", arrangement_start=28.0, length_beats=8.0)
    )
    song.view.detail_clip = clip
    surface, _ = make_surface(responder.port)
    starts = []
    for press, note in enumerate((GENERATE_NOTE, GENERATE_NOTE, REROLL_NOTE)):
        surface.receive_midi(note)
        request_id, *rest = responder.receive_address(addresses.CONTINUE)
        assert pairs([request_id, *rest])["bars"] == 1  # 6.5 beats: one bar of 4/4
        stem = write_wav(tmp_path / f"t{press}.wav", 2.0)  # one bar at 120 bpm
        responder.reply(addresses.STEM, request_id, 0, str(stem), "seed", press)
        responder.reply(addresses.DONE, request_id, 1)
        tick_until(surface, lambda n=press: len(track.arrangement_clips) == 3 + n)
        starts.append(track.arrangement_clips[-1].start_time)
    # Bar 7 (beat 24) is the first bar line after the source; bars 8-9 are the producer's.
    assert starts == [24.0, 36.0, 40.0]
    spans = sorted((c.start_time, c.end_time) for c in track.arrangement_clips)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    assert mine.start_time == 28.0


def test_odd_metre_is_sent_in_its_own_beats(
    make_surface: SurfaceFactory,
    responder: Responder,
    song: FakeSong,
    session_clip: FakeClip,
    tmp_path: Path,
) -> None:
    """7/8 at 120: seven eighth-note beats a bar at 240 per minute, not 7 quarter notes."""
    song.signature_numerator, song.signature_denominator = 7, 8
    surface, _ = make_surface(responder.port)
    surface.receive_midi(GENERATE_NOTE)
    arguments = responder.receive_address(addresses.CONTINUE)
    sent = pairs(arguments)
    assert (sent["bpm"], sent["beats_per_bar"]) == (pytest.approx(240.0), 7)
    bar_seconds = sent["beats_per_bar"] * 60.0 / sent["bpm"]
    assert bar_seconds == pytest.approx(3.5 * 60.0 / 120.0)  # 3.5 quarter notes
    assert sent["bars"] == 2  # the 8-beat (4 s) clip is 2.3 bars of 7/8
    stem = write_wav(tmp_path / "s.wav", 2 * bar_seconds)
    responder.reply(addresses.STEM, arguments[0], 0, str(stem), "seed", 3, "bpm", 240.0)
    responder.reply(addresses.DONE, arguments[0], 1)
    slot = song.tracks[0].clip_slots[1]
    tick_until(surface, lambda: slot.has_clip)
    assert slot.clip.name == "default s3 120bpm"  # Live's tempo, in quarter notes


def test_a_reply_that_fails_does_not_cost_the_rest_of_the_batch(
    make_surface: SurfaceFactory,
    responder: Responder,
    song: FakeSong,
    session_clip: FakeClip,
    tmp_path: Path,
) -> None:
    """The track is deleted while the take is made: the stem fails, `done` still ends the job."""
    surface, c_instance = make_surface(responder.port)
    surface.receive_midi(GENERATE_NOTE)
    request_id = responder.receive_address(addresses.CONTINUE)[0]
    song.tracks[0].mark_deleted()
    stem = write_wav(tmp_path / "s.wav", 1.0)
    responder.reply(addresses.ACCEPTED, request_id, 0)
    responder.reply(addresses.STEM, request_id, 0, str(stem), "seed", 7)
    responder.reply(addresses.DONE, request_id, 1)
    assert surface.controller is not None
    tick_until(surface, lambda: not surface.controller.jobs)
    assert any(str(stem) in m for m in c_instance.messages)  # where the file is
    assert any("done: 0 clip(s)" in m and "deleted track" in m for m in c_instance.messages)


def test_cancel_sends_cancel_and_ignores_late_stems(
    make_surface: SurfaceFactory,
    responder: Responder,
    song: FakeSong,
    session_clip: FakeClip,
    tmp_path: Path,
) -> None:
    surface, c_instance = make_surface(responder.port)
    surface.receive_midi(GENERATE_NOTE)
    request_id = responder.receive_address(addresses.CONTINUE)[0]
    responder.reply(addresses.ACCEPTED, request_id, 0)
    tick_until(surface, lambda: any("queued" in m for m in c_instance.messages))
    surface.receive_midi(CANCEL_NOTE)
    assert responder.receive_address(addresses.CANCEL) == [request_id]
    responder.reply(addresses.STEM, request_id, 0, str(write_wav(tmp_path / "late.wav", 1.0)))
    responder.reply(addresses.CANCELLED, request_id)
    tick_until(surface, lambda: "cancelled" in c_instance.messages[-1])
    assert not song.tracks[0].clip_slots[1].has_clip
    assert surface.controller is not None and surface.controller.jobs == {}


def test_reroll_resends_the_same_request_with_a_new_seed(
    make_surface: SurfaceFactory,
    responder: Responder,
    session_clip: FakeClip,
) -> None:
    surface, c_instance = make_surface(responder.port)
    surface.receive_midi(REROLL_NOTE)
    assert "nothing to re-roll" in c_instance.messages[-1]
    surface.receive_midi(GENERATE_NOTE)
    first = responder.receive_address(addresses.CONTINUE)
    surface.receive_midi(REROLL_NOTE)
    second = responder.receive_address(addresses.CONTINUE)
    assert first[0] != second[0]
    a, b = pairs(first), pairs(second)
    assert a.pop("seed") != b.pop("seed")
    assert a == b


def test_variation_cc_sets_the_count(
    make_surface: SurfaceFactory,
    responder: Responder,
    session_clip: FakeClip,
) -> None:
    surface, _ = make_surface(responder.port)
    surface.receive_midi((0xBF, 20, 127))
    surface.receive_midi(GENERATE_NOTE)
    assert pairs(responder.receive_address(addresses.CONTINUE))["variations"] == 8


def test_sidecar_down_gives_a_clear_message_and_no_exception(
    make_surface: SurfaceFactory,
    song: FakeSong,
    session_clip: FakeClip,
) -> None:
    closed = Responder()
    port = closed.port
    closed.close()
    surface, c_instance = make_surface(port)
    surface.receive_midi(GENERATE_NOTE)
    tick(surface, 12)  # connect_timeout_seconds = 1.0 → 10 ticks of 100 ms
    assert any(f"not answering at 127.0.0.1:{port}" in m for m in c_instance.messages)
    assert surface.controller is not None and surface.controller.jobs == {}
    assert not any("error while" in m for m in c_instance.messages)


def test_reply_for_an_unknown_request_is_ignored(
    make_surface: SurfaceFactory,
    responder: Responder,
    song: FakeSong,
    session_clip: FakeClip,
    tmp_path: Path,
) -> None:
    surface, c_instance = make_surface(responder.port)
    surface.receive_midi(GENERATE_NOTE)
    request_id = responder.receive_address(addresses.CONTINUE)[0]
    stem = str(write_wav(tmp_path / "ghost.wav", 1.0))
    responder.reply(addresses.STEM, "someone-else", 0, stem)
    responder.reply(addresses.DONE, "someone-else", 1)
    responder.reply(addresses.ACCEPTED, request_id, 2)
    tick_until(surface, lambda: "queued at 2" in c_instance.messages[-1])
    assert not any(slot.has_clip for slot in song.tracks[0].clip_slots[1:])
    assert any("unknown request 'someone-else'" in line for line in c_instance.log)


def test_error_reply_is_shown(
    make_surface: SurfaceFactory,
    responder: Responder,
    session_clip: FakeClip,
) -> None:
    surface, c_instance = make_surface(responder.port)
    surface.receive_midi(GENERATE_NOTE)
    request_id = responder.receive_address(addresses.CONTINUE)[0]
    responder.reply(addresses.ERROR, request_id, "bad_audio", "the clip is silent")
    tick_until(surface, lambda: "bad_audio" in c_instance.messages[-1])
    assert "the clip is silent" in c_instance.messages[-1]


def test_old_live_says_where_the_file_is(
    make_surface: SurfaceFactory,
    responder: Responder,
    song: FakeSong,
    session_clip: FakeClip,
    live: FakeLiveModule,
    tmp_path: Path,
) -> None:
    live.application.version = (11, 3, 20)
    surface, c_instance = make_surface(responder.port)
    surface.receive_midi(GENERATE_NOTE)
    request_id = responder.receive_address(addresses.CONTINUE)[0]
    stem = str(write_wav(tmp_path / "old.wav", 1.0))
    responder.reply(addresses.STEM, request_id, 0, stem)
    tick_until(surface, lambda: stem in c_instance.messages[-1])
    assert "12.0.5" in c_instance.messages[-1]
    assert not song.tracks[0].clip_slots[1].has_clip


def test_a_refused_clip_names_the_file(
    make_surface: SurfaceFactory,
    responder: Responder,
    song: FakeSong,
    session_clip: FakeClip,
    tmp_path: Path,
) -> None:
    surface, c_instance = make_surface(responder.port)
    surface.receive_midi(GENERATE_NOTE)
    request_id = responder.receive_address(addresses.CONTINUE)[0]
    responder.reply(addresses.STEM, request_id, 0, str(tmp_path / "missing.wav"))
    tick_until(surface, lambda: "missing.wav" in c_instance.messages[-1])
    assert "could not create a clip" in c_instance.messages[-1]


def test_nothing_selected_and_midi_clip_are_explained(
    make_surface: SurfaceFactory,
    responder: Responder,
    song: FakeSong,
    tmp_path: Path,
) -> None:
    surface, c_instance = make_surface(responder.port)
    surface.receive_midi(GENERATE_NOTE)
    assert "select an audio clip" in c_instance.messages[-1]
    song.view.detail_clip = FakeClip("", name="Notes", is_audio_clip=False)
    surface.receive_midi(GENERATE_NOTE)
    assert "MIDI clip" in c_instance.messages[-1]


def test_buttons_are_forwarded_in_the_midi_map(
    make_surface: SurfaceFactory,
    responder: Responder,
    live: FakeLiveModule,
) -> None:
    surface, _ = make_surface(responder.port)
    surface.build_midi_map(99)
    assert sorted(live.forwarded) == sorted(
        [
            ("note", 7, 99, 15, 60),
            ("note", 7, 99, 15, 61),
            ("note", 7, 99, 15, 62),
            ("note", 7, 99, 15, 63),
            ("cc", 7, 99, 15, 20),
        ]
    )


def test_an_internal_error_is_logged_and_shown_not_raised(
    make_surface: SurfaceFactory,
    responder: Responder,
    song: FakeSong,
    session_clip: FakeClip,
) -> None:
    surface, c_instance = make_surface(responder.port)

    def broken() -> FakeSong:
        raise RuntimeError("boom")

    c_instance.song = broken  # type: ignore[method-assign]
    surface.receive_midi(GENERATE_NOTE)
    assert "error while handling a button: boom" in c_instance.messages[-1]
    assert "Traceback" in c_instance.log[-1]


def test_bad_settings_fall_back_to_defaults_with_a_message(
    make_surface: SurfaceFactory,
    responder: Responder,
) -> None:
    surface, c_instance = make_surface(responder.port, variations=99)
    assert "variations" in c_instance.messages[0]
    assert surface.settings is not None and surface.settings.variations == 1
