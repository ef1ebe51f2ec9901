"""Where the REAPER script puts a take: on a bar line, never over another item on the track."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from plugin_host.ableton import addresses
from plugin_host.ableton.link import SidecarLink
from plugin_host.reaper.settings import Settings
from plugin_host.reaper.sidecar_reaper import (
    ReaperSession,
    bar_line_at_or_after,
    free_bar_position,
    is_null_pointer,
    request_from_selection,
)
from tests.plugin_host.ableton.conftest import Responder, write_wav
from tests.plugin_host.reaper.conftest import TRACK, Rig
from tests.plugin_host.reaper.fake_reaper import NULL_ITEM, NULL_SOURCE, FakeReaper

#: The `project` fixture: 100 bpm 4/4, so a bar is 2.4 s; the selected item ends at 16.8 s.
BAR = 2.4


def positions(reaper: FakeReaper) -> list[float]:
    return [round(i.position_seconds, 3) for i in reaper.items_on(TRACK)]


def run_steps(session: ReaperSession, max_steps: int = 200) -> None:
    for _ in range(max_steps):
        if not session.step():
            return
        time.sleep(0.005)
    raise AssertionError("still running")


def deliver(
    reaper: FakeReaper,
    responder: Responder,
    tmp_path: Path,
    seconds: list[float],
    name: str = "s",
    rate: int = 8000,
) -> ReaperSession:
    """Run one request for the selected item; the responder returns stems of `seconds`."""
    link = SidecarLink("127.0.0.1", responder.port)
    session = ReaperSession(reaper, link)
    settings = Settings(variations=len(seconds))
    assert session.start(request_from_selection(reaper, settings))
    request_id = responder.receive()[1][0]
    for index, length in enumerate(seconds):
        stem = write_wav(tmp_path / f"{name}{index}.wav", length, sample_rate=rate)
        responder.reply(addresses.STEM, request_id, index, str(stem), "seed", 5)
    responder.reply(addresses.DONE, request_id, len(seconds))
    run_steps(session)
    link.close()
    return session


# ---- the fake's time map is REAPER's --------------------------------------------------------


def test_the_fake_time_map_returns_what_reascript_returns() -> None:
    reaper = FakeReaper(bpm=100.0)
    # (beats since the measure, proj, tpos, measure, numerator, full beats, denominator)
    since, proj, tpos, measure, cml, full, denominator = reaper.RPR_TimeMap2_timeToBeats(
        0, 17.4, 0, 0, 0.0, 0
    )
    assert (proj, tpos, measure, cml, denominator) == (0, 17.4, 7, 4, 4)
    assert since == pytest.approx(1.0) and full == pytest.approx(29.0)
    assert reaper.RPR_TimeMap2_beatsToTime(0, 0.0, 7) == (pytest.approx(16.8), 0, 0.0, 7)
    assert reaper.RPR_TimeMap2_beatsToTime(0, 1.0, 7)[0] == pytest.approx(17.4)
    six_eight = FakeReaper(bpm=100.0, numerator=6, denominator=8)  # 6 eighths: 1.8 s a bar
    assert six_eight.RPR_TimeMap2_timeToBeats(0, 2.1, 0, 0, 0.0, 0)[3:5] == (1, 6)
    assert six_eight.RPR_TimeMap2_beatsToTime(0, 0.0, 2)[0] == pytest.approx(3.6)


def test_the_fake_lists_a_tracks_items_by_position(project: FakeReaper) -> None:
    later = project.add_item(TRACK, 30.0, 1.0, "later.wav")
    earlier = project.add_item(TRACK, 1.0, 1.0, "earlier.wav")
    assert project.RPR_CountTrackMediaItems(TRACK) == 3
    listed = [project.RPR_GetTrackMediaItem(TRACK, i) for i in range(3)]
    assert listed[0] == earlier and listed[2] == later
    assert project.RPR_GetTrackMediaItem(TRACK, 3) == NULL_ITEM
    assert project.RPR_CountTrackMediaItems("(MediaTrack*)0x0000000000000099") == 0


def test_null_pointers_are_recognised() -> None:
    assert is_null_pointer(NULL_SOURCE) and is_null_pointer("(PCM_source*)0x00000000")
    assert is_null_pointer("")
    assert not is_null_pointer("(PCM_source*)0x000000001A2B3C00")
    assert not is_null_pointer("(PCM_source*)/stems/take-0x00.wav")


# ---- bar lines and free room ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "bar"),
    [(16.8, 16.8), (16.5, 16.8), (16.80001, 16.8), (16.9, 19.2), (0.0, 0.0), (0.1, 2.4)],
)
def test_bar_line_at_or_after(project: FakeReaper, seconds: float, bar: float) -> None:
    assert bar_line_at_or_after(project, seconds) == pytest.approx(bar)


def test_bar_lines_follow_the_time_signature() -> None:
    six_eight = FakeReaper(bpm=100.0, numerator=6, denominator=8)
    assert bar_line_at_or_after(six_eight, 16.8) == pytest.approx(18.0)  # 1.8-s bars


def test_free_room_skips_every_item_in_the_way(project: FakeReaper) -> None:
    project.add_item(TRACK, 17.0, 1.0, "producer.wav")  # 17–18: in the way of 16.8
    project.add_item(TRACK, 21.3, 0.5, "another.wav")  # 21.3–21.8: in the way of 19.2 + 2.4
    assert free_bar_position(project, TRACK, 16.8, 2.0) == pytest.approx(19.2)  # fits before it
    assert free_bar_position(project, TRACK, 16.8, BAR) == pytest.approx(24.0)


# ---- the script's takes ------------------------------------------------------------------------


def test_an_off_grid_item_end_rounds_up_to_the_next_bar(
    project: FakeReaper, responder: Responder, tmp_path: Path
) -> None:
    source = project.items[project.selected[0]]
    source.length_seconds = 4.5  # ends at 16.5 s, 0.3 s before the bar line at 16.8 s
    deliver(project, responder, tmp_path, [2 * BAR, 2 * BAR])
    assert positions(project) == [12.0, 16.8, 21.6]


def test_a_second_press_lands_after_the_first_take(
    project: FakeReaper, responder: Responder, tmp_path: Path
) -> None:
    deliver(project, responder, tmp_path, [2 * BAR], "first")
    deliver(project, responder, tmp_path, [2 * BAR], "second")  # same item, same wanted place
    assert positions(project) == [12.0, 16.8, 21.6]
    assert project.items_on(TRACK)[2].takes[0].source.endswith("second0.wav")


def test_a_take_shorter_than_its_bars_still_leaves_the_next_on_a_bar_line(
    project: FakeReaper, responder: Responder, tmp_path: Path
) -> None:
    deliver(project, responder, tmp_path, [3.0, 3.0])  # 1.25 bars each
    assert positions(project) == [12.0, 16.8, 21.6]


def test_a_take_a_few_samples_long_does_not_push_the_next_a_bar_on(
    project: FakeReaper, responder: Responder, tmp_path: Path
) -> None:
    # 1 sample over at 48 kHz: the sidecar rounds a take's length to whole samples
    deliver(project, responder, tmp_path, [BAR + 1.5 / 48000, BAR], rate=48000)
    assert project.items_on(TRACK)[1].length_seconds > BAR
    assert positions(project) == [12.0, 16.8, 19.2]


def test_the_producers_item_is_skipped_over(
    project: FakeReaper, responder: Responder, tmp_path: Path
) -> None:
    producer = project.add_item(TRACK, 19.0, 3.0, "producer.wav")  # 19–22 s, right after
    deliver(project, responder, tmp_path, [2 * BAR, BAR])
    assert positions(project) == [12.0, 19.0, 24.0, 28.8]
    assert project.items[producer].position_seconds == 19.0  # untouched
    spans = [(i.position_seconds, i.end_seconds) for i in project.items_on(TRACK)]
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start + 1e-9  # nothing on the track overlaps


def test_a_take_fills_a_gap_that_fits_before_the_producers_item(
    project: FakeReaper, responder: Responder, tmp_path: Path
) -> None:
    project.add_item(TRACK, 24.0, 1.0, "producer.wav")  # a 7.2-s gap after the source
    deliver(project, responder, tmp_path, [2 * BAR, 2 * BAR])
    assert positions(project) == [12.0, 16.8, 24.0, 26.4]


def test_reroll_lands_after_the_first_takes_on_bar_lines(
    make_rig: Callable[[FakeReaper], Rig],
    project: FakeReaper,
    responder: Responder,
    tmp_path: Path,
) -> None:
    rig = make_rig(project)
    rig.write_settings(sidecar_port=responder.port)
    rig.run("sidecar_continue.py")
    request_id = responder.receive()[1][0]
    responder.reply(addresses.STEM, request_id, 0, str(write_wav(tmp_path / "a.wav", 3.0)))
    responder.reply(addresses.DONE, request_id, 1)
    rig.tick(200)
    project.add_item(TRACK, 21.6, 1.0, "producer.wav")  # the producer drops an item meanwhile
    rig.run("sidecar_reroll.py")
    request_id = responder.receive()[1][0]
    responder.reply(addresses.STEM, request_id, 0, str(write_wav(tmp_path / "b.wav", 3.0)))
    responder.reply(addresses.DONE, request_id, 1)
    rig.tick(200)
    assert positions(project) == [12.0, 16.8, 21.6, 24.0]
    assert project.items_on(TRACK)[3].takes[0].source.endswith("b.wav")


# ---- a stem REAPER cannot open -----------------------------------------------------------------


def test_a_stem_reaper_cannot_open_inserts_no_empty_item(
    project: FakeReaper, responder: Responder, tmp_path: Path
) -> None:
    link = SidecarLink("127.0.0.1", responder.port)
    session = ReaperSession(project, link)
    session.start(request_from_selection(project, Settings(variations=2)))
    request_id = responder.receive()[1][0]
    missing = tmp_path / "elsewhere" / "take-1.wav"  # e.g. on a remote sidecar's disk
    responder.reply(addresses.STEM, request_id, 0, str(missing), "seed", 3)
    good = write_wav(tmp_path / "take-2.wav", BAR)
    responder.reply(addresses.STEM, request_id, 1, str(good), "seed", 3)
    responder.reply(addresses.DONE, request_id, 2)
    run_steps(session)
    link.close()
    assert positions(project) == [12.0, 16.8]  # only the good one, where the first would be
    assert all(item.takes for item in project.items.values())
    line = next(line for line in project.console if "could not open" in line)
    assert str(missing) in line and "not inserted" in line
    assert "done: 1 item(s) inserted" in project.console[-1]
    assert project.undo_blocks == ["begin", "MusicGen: insert default s3 v2/2 100bpm"]


def test_a_stem_without_audio_is_released_and_not_inserted(
    project: FakeReaper, responder: Responder, tmp_path: Path
) -> None:
    link = SidecarLink("127.0.0.1", responder.port)
    session = ReaperSession(project, link)
    session.start(request_from_selection(project, Settings()))
    request_id = responder.receive()[1][0]
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not a wave file")
    responder.reply(addresses.STEM, request_id, 0, str(broken), "seed", 3)
    responder.reply(addresses.DONE, request_id, 1)
    run_steps(session)
    link.close()
    assert positions(project) == [12.0]
    assert project.open_sources == []  # the source was destroyed, not leaked
    assert any("no audio" in line and str(broken) in line for line in project.console)
