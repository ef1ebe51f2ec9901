"""Separated parts in Live: new audio tracks beside the source, the mix's slot row or bar."""

from __future__ import annotations

from pathlib import Path

from plugin_host.ableton import addresses
from tests.plugin_host.ableton.conftest import GENERATE_NOTE, Responder, SurfaceFactory, write_wav
from tests.plugin_host.ableton.fake_live import FakeClip, FakeSong
from tests.plugin_host.ableton.test_surface_with_responder import tick_until

PARTS = ("mix", "drums", "bass")


def _reply_set(responder: Responder, request_id: str, tmp_path: Path, takes: int) -> None:
    index = 0
    for take in range(takes):
        for part in PARTS:
            stem = write_wav(tmp_path / f"{part}{take}.wav", 4.0)
            responder.reply(
                addresses.STEM, request_id, index, str(stem), "seed", 9, "variation", take,
                "part", part, "separator", "htdemucs",
            )  # fmt: skip
            index += 1
    responder.reply(addresses.DONE, request_id, index)


def test_session_parts_on_new_tracks_in_the_mix_slot_row(
    make_surface: SurfaceFactory,
    responder: Responder,
    song: FakeSong,
    session_clip: FakeClip,
    tmp_path: Path,
) -> None:
    source, other = song.tracks
    surface, c_instance = make_surface(responder.port, variations=2)
    surface.receive_midi(GENERATE_NOTE)
    request_id = responder.receive_address(addresses.CONTINUE)[0]
    _reply_set(responder, request_id, tmp_path, takes=2)
    tick_until(surface, lambda: "done" in c_instance.messages[-1], max_ticks=200)

    names = [t.name for t in song.tracks]
    assert names == ["Audio 1", "Audio 1 drums", "Audio 1 bass", "Audio 2"]
    assert song.tracks[3] is other
    # Each take's mix below the source clip (slots 2 and 3), its parts in the same rows.
    for row, take in ((1, 0), (2, 1)):
        mix = source.clip_slots[row].clip
        assert mix.file_path.endswith(f"mix{take}.wav")
        for track, part in zip(song.tracks[1:3], ("drums", "bass"), strict=True):
            clip = track.clip_slots[row].clip
            assert clip.file_path.endswith(f"{part}{take}.wav")
            assert part in clip.name
    assert not any(s.has_clip for s in other.clip_slots)


def test_arrangement_parts_at_the_mix_bar(
    make_surface: SurfaceFactory,
    responder: Responder,
    song: FakeSong,
    prompt_wav: Path,
    tmp_path: Path,
) -> None:
    track = song.tracks[1]
    clip = track.place_arrangement_clip(
        FakeClip(
            str(prompt_wav), name="Arr", looping=False, start_marker=0.0, end_marker=8.0,
            arrangement_start=16.0,
        )
    )  # fmt: skip
    song.view.detail_clip = clip
    surface, c_instance = make_surface(responder.port)
    surface.receive_midi(GENERATE_NOTE)
    request_id = responder.receive_address(addresses.CONTINUE)[0]
    _reply_set(responder, request_id, tmp_path, takes=1)
    tick_until(surface, lambda: "done" in c_instance.messages[-1], max_ticks=200)

    assert [t.name for t in song.tracks] == ["Audio 1", "Audio 2", "Audio 2 drums", "Audio 2 bass"]
    mix = track.arrangement_clips[1]
    for sibling in song.tracks[2:]:
        (part,) = sibling.arrangement_clips
        assert part.start_time == mix.start_time == 24.0
