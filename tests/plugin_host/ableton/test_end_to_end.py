"""The Remote Script on a fake Live set against a real `sidecar serve --model tiny` over UDP."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from plugin_host.ableton.surface import SidecarSurface
from tests.plugin_host.ableton.conftest import CANCEL_NOTE, GENERATE_NOTE, SurfaceFactory
from tests.plugin_host.ableton.fake_live import FakeCInstance, FakeClip, FakeSong
from tests.support.server import running_sidecar

#: Ticks are ~100 ms in Live; these tests tick every 100 ms too, so this bounds wall time.
MAX_TICKS = 900


def run_ticks(surface: SidecarSurface, done, max_ticks: int = MAX_TICKS) -> int:
    for n in range(1, max_ticks + 1):
        surface.update_display()
        if done():
            return n
        time.sleep(0.1)
    raise AssertionError(f"not done within {max_ticks} ticks")


def no_jobs(surface: SidecarSurface) -> bool:
    return surface.controller is not None and not surface.controller.jobs


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory):
    with running_sidecar(tmp_path_factory.mktemp("sidecar")) as server:
        yield server


def generate_and_wait(surface: SidecarSurface) -> int:
    run_ticks(
        surface,
        lambda: surface.controller is not None and surface.controller.sidecar_state == "ready",
        100,
    )
    surface.receive_midi(GENERATE_NOTE)
    return run_ticks(surface, lambda: no_jobs(surface))


def test_press_generate_creates_a_named_warped_clip_in_the_next_slot(
    sidecar,
    make_surface: SurfaceFactory,
    song: FakeSong,
    session_clip: FakeClip,
) -> None:
    surface, c_instance = make_surface(sidecar.port, bars=1, connect_timeout_seconds=10.0)
    ticks = generate_and_wait(surface)
    slots = song.tracks[0].clip_slots
    assert slots[1].has_clip, c_instance.messages[-3:]
    assert not slots[2].has_clip
    clip = slots[1].clip
    assert clip.name.startswith("default s") and clip.name.endswith(" 120bpm")
    assert clip.warping and clip.color_index == 22
    assert Path(clip.file_path).is_file()
    assert "done: 1 clip(s)" in c_instance.messages[-1]
    assert ticks < MAX_TICKS


def test_variations_land_in_consecutive_slots(
    sidecar,
    make_surface: SurfaceFactory,
    song: FakeSong,
    session_clip: FakeClip,
) -> None:
    surface, c_instance = make_surface(
        sidecar.port, variations=2, bars=1, connect_timeout_seconds=10.0
    )
    generate_and_wait(surface)
    slots = song.tracks[0].clip_slots
    assert slots[1].has_clip and slots[2].has_clip, c_instance.messages[-3:]
    assert not slots[3].has_clip
    assert slots[1].clip.name != slots[2].clip.name
    assert all(slots[i].clip.warping for i in (1, 2))
    assert "done: 2 clip(s)" in c_instance.messages[-1]


def test_cancel_against_the_real_sidecar(
    sidecar,
    make_surface: SurfaceFactory,
    song: FakeSong,
    session_clip: FakeClip,
) -> None:
    surface, c_instance = make_surface(
        sidecar.port, bars=4, variations=4, connect_timeout_seconds=10.0
    )
    surface.receive_midi(GENERATE_NOTE)
    surface.receive_midi(CANCEL_NOTE)
    run_ticks(surface, lambda: no_jobs(surface))
    assert any("cancel" in m for m in c_instance.messages)
    # Either the sidecar cancelled in time, or it had already finished: never both a
    # "cancelled" and new clips placed after the cancel.
    if "cancelled" in c_instance.messages[-1]:
        assert not any(slot.has_clip for slot in song.tracks[0].clip_slots[1:])


def test_sidecar_stopped_mid_session_gives_a_clear_message(
    tmp_path: Path,
    make_surface: SurfaceFactory,
    song: FakeSong,
    session_clip: FakeClip,
) -> None:
    with running_sidecar(tmp_path) as server:
        port = server.port
    surface, c_instance = make_surface(port)
    surface.receive_midi(GENERATE_NOTE)
    run_ticks(surface, lambda: no_jobs(surface), 30)
    assert f"not answering at 127.0.0.1:{port}" in c_instance.messages[-1]


def test_stale_reply_after_a_fresh_surface_is_ignored(
    sidecar,
    song: FakeSong,
    session_clip: FakeClip,
    make_surface: SurfaceFactory,
) -> None:
    surface, c_instance = make_surface(sidecar.port, bars=1, connect_timeout_seconds=10.0)
    surface.receive_midi(GENERATE_NOTE)
    assert surface.controller is not None
    surface.controller.jobs.clear()  # the request is forgotten (as after a cancel timeout)
    run_ticks(surface, lambda: any("unknown request" in line for line in c_instance.log), 300)
    time.sleep(0.5)
    surface.update_display()
    assert not any(slot.has_clip for slot in song.tracks[0].clip_slots[1:])
    assert isinstance(c_instance, FakeCInstance)


def test_a_sidecar_preset_with_a_stem_set_lands_one_named_clip_per_part(
    sidecar,
    make_surface: SurfaceFactory,
    song: FakeSong,
    session_clip: FakeClip,
) -> None:
    surface, c_instance = make_surface(
        sidecar.port, bars=1, preset="band", connect_timeout_seconds=10.0
    )
    generate_and_wait(surface)
    slots = song.tracks[0].clip_slots
    names = [slots[i].clip.name for i in (1, 2, 3)]
    parts = [name.split()[1] for name in names]
    assert parts == ["drums", "bass", "synth"], (names, c_instance.messages[-3:])
    assert all(name.startswith("band ") and name.endswith(" 120bpm") for name in names)
    assert {slots[i].clip.warping for i in (1, 2, 3)} == {True}
    assert "done: 3 clip(s)" in c_instance.messages[-1]
