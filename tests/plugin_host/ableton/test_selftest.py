"""The in-Live self-test, run against the fake Live of several versions and behaviours."""

from __future__ import annotations

import pytest

from plugin_host.ableton.selftest import SCRATCH_TRACK_NAME
from plugin_host.ableton.surface import SidecarSurface
from tests.plugin_host.ableton.conftest import SurfaceFactory
from tests.plugin_host.ableton.fake_live import FakeCInstance, FakeClip, FakeSong, fake_live_module

SELFTEST_NOTE = (0x9F, 63, 100)


def run_self_test(surface: SidecarSurface, max_ticks: int = 200) -> list[str]:
    surface.receive_midi(SELFTEST_NOTE)
    controller = surface.controller
    assert controller is not None and controller.self_test_run is not None
    for _ in range(max_ticks):
        if controller.self_test_run.done:
            break
        surface.update_display()
    assert controller.self_test_run.done
    return controller.self_test_run.lines


def line(lines: list[str], name: str) -> str:
    found = [text for text in lines if text.startswith(name + ":")]
    assert found, f"no '{name}' line in {lines}"
    return found[0]


def run_on(
    make_surface: SurfaceFactory, version: tuple[int, int, int]
) -> tuple[list[str], FakeCInstance]:
    with fake_live_module(version):
        surface, c_instance = make_surface(9)
        lines = run_self_test(surface)
    return lines, c_instance


def test_the_newest_live_passes_and_leaves_the_set_as_it_was(
    make_surface: SurfaceFactory, song: FakeSong
) -> None:
    before = [track.name for track in song.tracks]
    lines, c_instance = run_on(make_surface, (12, 3, 6))
    assert lines[0].startswith("MusicGen self-test: Live 12.3.6, Python ")
    assert line(lines, "create_audio_clip").endswith("[ok]")
    assert "later" in line(lines, "warping")
    assert "(samples) [ok]" in line(lines, "beat_to_sample_time")
    assert line(lines, "pin").endswith("[ok]")
    assert "ignored" in line(lines, "unlooped start_marker write")
    assert "stays" in line(lines, "unlooped end_marker write")
    assert "loop_end resizes it) [ok]" in line(lines, "unlooped loop_end write")
    assert "12 beats, looped, pinned [ok]" in line(lines, "dry run, Session")
    assert "12 beats, unlooped, pinned [ok]" in line(lines, "dry run, Arrangement")
    assert line(lines, "analysis").startswith("analysis: Live changed the markers 500 ms")
    assert "Auto-Warp" in line(lines, "first warp marker")
    assert lines[-1] == "result: PASS"
    assert [track.name for track in song.tracks] == before
    assert SCRATCH_TRACK_NAME not in before
    assert c_instance.messages[-1].startswith("MusicGen: self-test: PASS")
    assert sum("self-test: " in entry for entry in c_instance.log) == len(lines)


def test_live_12_1_is_warned_about_warping_and_looping_and_has_no_take_lanes(
    make_surface: SurfaceFactory,
) -> None:
    lines, _ = run_on(make_surface, (12, 1, 0))
    assert "before 12.1.5" in line(lines, "warping and looping")
    assert "no (Live 12.2" in line(lines, "take lanes")
    assert lines[-1] == "result: PASS"


@pytest.mark.parametrize("version", [(11, 3, 20), (12, 0, 0)])
def test_a_live_without_create_audio_clip_is_limited(
    make_surface: SurfaceFactory, song: FakeSong, version: tuple[int, int, int]
) -> None:
    lines, _c_instance = run_on(make_surface, version)
    assert "ClipSlot no, Track no (expected no" in line(lines, "create_audio_clip")
    assert line(lines, "create_audio_clip").endswith("[ok]")
    assert "skipped" in line(lines, "probes")
    assert lines[-1] == "result: LIMITED (see the lines above)"
    assert len(song.tracks) == 2  # the scratch track went again


def test_live_11_3_25_runs_every_probe(make_surface: SurfaceFactory) -> None:
    lines, _ = run_on(make_surface, (11, 3, 25))
    assert line(lines, "create_audio_clip").endswith("[ok]")
    assert "no (Live 12.2" in line(lines, "take lanes")
    assert lines[-1] == "result: PASS"


def test_a_live_answering_in_seconds_fails_the_units_line(
    make_surface: SurfaceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report follows Live: a beat_to_sample_time in seconds is reported as such."""
    monkeypatch.setattr(FakeClip, "beat_to_sample_time", lambda self, beat: self._seconds_at(beat))
    lines, c_instance = run_on(make_surface, (12, 3, 6))
    assert line(lines, "beat_to_sample_time").endswith("(seconds) [UNEXPECTED]")
    assert lines[-1] == "result: FAIL (1 unexpected)"
    assert "beat_to_sample_time" in c_instance.messages[-1]


def test_a_live_whose_loop_end_does_not_resize_fails_the_length_lines(
    make_surface: SurfaceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FakeClip, "_follow_region", lambda self: None)
    lines, _ = run_on(make_surface, (12, 3, 6))
    assert line(lines, "unlooped loop_end write").endswith("[UNEXPECTED]")
    assert line(lines, "dry run, Arrangement").endswith("[UNEXPECTED]")
    assert lines[-1].startswith("result: FAIL")
