"""The REAPER script on a fake project: request contents, stem insertion, cancel, sidecar down."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from plugin_host.ableton import addresses
from plugin_host.ableton.link import SidecarLink
from plugin_host.reaper.request import CANCEL_KEY, EXT_SECTION, load_last_request
from plugin_host.reaper.settings import Settings
from plugin_host.reaper.sidecar_reaper import (
    ReaperSession,
    SelectionError,
    request_from_selection,
)
from sidecar.osc.schema import GenerateRequest
from tests.plugin_host.ableton.conftest import Responder, write_wav
from tests.plugin_host.reaper.conftest import TRACK
from tests.plugin_host.reaper.fake_reaper import FakeReaper

DRUMS = Settings(
    preset="drums",
    presets=(("default", ()), ("drums", (("prompt", "dusty soul"),))),
    variations=2,
)


def run_steps(session: ReaperSession, max_steps: int = 200) -> int:
    for n in range(1, max_steps + 1):
        if not session.step():
            return n
        time.sleep(0.005)
    raise AssertionError("still running")


def test_request_sends_the_item_range_at_the_project_tempo(
    project: FakeReaper, responder: Responder
) -> None:
    link = SidecarLink("127.0.0.1", responder.port)
    session = ReaperSession(project, link)
    request = request_from_selection(project, DRUMS)
    assert session.start(request)
    address, arguments = responder.receive()
    assert address == addresses.CONTINUE
    parsed = GenerateRequest.from_osc(address, arguments)
    assert parsed.clip == str(Path(project.takes[next(iter(project.takes))].source))
    assert parsed.clip_start == pytest.approx(1.5)
    assert parsed.clip_end == pytest.approx(6.3)
    assert parsed.bpm == pytest.approx(100.0)
    assert parsed.bars == 2  # 4.8 s at 100 bpm = 8 beats
    assert parsed.variations == 2 and parsed.prompt == "dusty soul"
    assert parsed.seed == request.seed
    link.close()


@pytest.mark.parametrize(
    ("numerator", "denominator", "beat_bpm", "beats_per_bar"),
    [(4, 4, 100.0, 4), (6, 8, 100.0, 3), (7, 8, 200.0, 7), (5, 8, 200.0, 5)],
)
def test_the_bar_sent_lasts_the_signature_in_quarter_notes(
    project: FakeReaper, numerator: int, denominator: int, beat_bpm: float, beats_per_bar: int
) -> None:
    """7/8 at 100: seven eighth-note beats at 200 per minute (3.5 quarter notes a bar)."""
    project.numerator, project.denominator = numerator, denominator
    request = request_from_selection(project, Settings())
    assert (request.bpm, request.beats_per_bar) == (pytest.approx(beat_bpm), beats_per_bar)
    bar_seconds = request.beats_per_bar * 60.0 / request.bpm
    assert bar_seconds == pytest.approx(numerator * 4 / denominator * 60.0 / 100.0)
    assert request.bars == max(1, round(4.8 / bar_seconds))  # the 4.8 s item


def test_fixed_bars_and_key_from_the_settings(project: FakeReaper, responder: Responder) -> None:
    link = SidecarLink("127.0.0.1", responder.port)
    ReaperSession(project, link).start(
        request_from_selection(project, Settings(bars=8, key="A minor"))
    )
    parsed = GenerateRequest.from_osc(*responder.receive())
    assert parsed.bars == 8 and parsed.key == "A minor" and parsed.prompt is None
    link.close()


def test_stems_are_inserted_after_the_item_and_named(
    project: FakeReaper, responder: Responder, tmp_path: Path
) -> None:
    link = SidecarLink("127.0.0.1", responder.port)
    session = ReaperSession(project, link)
    session.start(request_from_selection(project, DRUMS))
    request_id = responder.receive()[1][0]
    responder.reply(addresses.ACCEPTED, request_id, 0)
    responder.reply(addresses.PROGRESS, "other-client", 0.5, 1.0)
    for index in range(2):
        stem = write_wav(tmp_path / f"s{index}.wav", 4.8)
        responder.reply(addresses.STEM, request_id, index, str(stem), "seed", 40, "bpm", 100.0)
    responder.reply(addresses.DONE, request_id, 2)
    run_steps(session)
    items = project.items_on(TRACK)
    assert [round(i.position_seconds, 3) for i in items] == [12.0, 16.8, 21.6]
    assert [i.takes[0].name for i in items[1:]] == [
        "drums s40 v1/2 100bpm",
        "drums s40 v2/2 100bpm",
    ]
    assert "done: 2 item(s)" in project.console[-1]
    assert session.ignored_replies == 1
    link.close()


def test_takes_in_7_8_are_named_with_the_project_tempo(
    project: FakeReaper, responder: Responder, tmp_path: Path
) -> None:
    """The sidecar counts eighths at 200 in 7/8 at 100; names and messages say REAPER's 100."""
    project.numerator, project.denominator = 7, 8
    link = SidecarLink("127.0.0.1", responder.port)
    session = ReaperSession(project, link)
    request = request_from_selection(project, DRUMS)
    assert request.bpm == pytest.approx(200.0)
    session.start(request)
    assert "at 100 bpm" in project.console[-1]
    request_id = responder.receive()[1][0]
    stem = write_wav(tmp_path / "s0.wav", 4.2)
    responder.reply(addresses.STEM, request_id, 0, str(stem), "seed", 40, "bpm", 200.0)
    responder.reply(addresses.DONE, request_id, 1)
    run_steps(session)
    assert project.items_on(TRACK)[-1].takes[0].name == "drums s40 v1/2 100bpm"
    # A re-roll rebuilt from the stored request names its takes the same way.
    stored = load_last_request(project)
    assert stored.beat_quarters == 0.5 and stored.project_bpm == pytest.approx(100.0)
    link.close()


@pytest.mark.parametrize(("numerator", "denominator", "bpm"), [(7, 8, 160.0), (4, 4, 310.0)])
def test_a_tempo_past_the_sidecars_range_is_refused_before_sending(
    project: FakeReaper, numerator: int, denominator: int, bpm: float
) -> None:
    """7/8 at 160 counts 320 eighth notes a minute, over the sidecar's 300: one clear message
    here rather than the sidecar's refusal of a request already sent."""
    project.numerator, project.denominator, project.bpm = numerator, denominator, bpm
    with pytest.raises(SelectionError, match=r"20 to 300 beats a minute, so nothing was sent"):
        request_from_selection(project, Settings())
    project.bpm = bpm / 2  # 7/8 at 80: 160 eighths a minute, fine
    assert request_from_selection(project, Settings()).bpm == pytest.approx(
        bpm / 2 * (2 if denominator == 8 else 1)
    )


def test_cancel_action_cancels(project: FakeReaper, responder: Responder) -> None:
    link = SidecarLink("127.0.0.1", responder.port)
    session = ReaperSession(project, link)
    session.start(request_from_selection(project, Settings()))
    request_id = responder.receive()[1][0]
    project.RPR_SetExtState(EXT_SECTION, CANCEL_KEY, "1", False)  # what sidecar_cancel.py does
    assert session.step()
    assert responder.receive() == (addresses.CANCEL, [request_id])
    responder.reply(addresses.CANCELLED, request_id)
    run_steps(session)
    assert project.console[-1] == "MusicGen: cancelled\n"
    assert len(project.items_on(TRACK)) == 1
    link.close()


def test_stems_after_a_cancel_that_came_too_late_are_not_inserted(
    project: FakeReaper, responder: Responder, tmp_path: Path
) -> None:
    link = SidecarLink("127.0.0.1", responder.port)
    session = ReaperSession(project, link)
    session.start(request_from_selection(project, Settings()))
    request_id = responder.receive()[1][0]
    project.RPR_SetExtState(EXT_SECTION, CANCEL_KEY, "1", False)
    assert session.step()
    responder.reply(addresses.STEM, request_id, 0, str(write_wav(tmp_path / "late.wav", 1.0)))
    responder.reply(addresses.DONE, request_id, 1)
    run_steps(session)
    assert "too late" in project.console[-1] and "1 stem(s) not inserted" in project.console[-1]
    assert len(project.items_on(TRACK)) == 1
    link.close()


def test_sidecar_down_is_reported(project: FakeReaper) -> None:
    closed = Responder()
    port = closed.port
    closed.close()
    link = SidecarLink("127.0.0.1", port)
    session = ReaperSession(project, link, connect_timeout_seconds=0.1)
    session.start(request_from_selection(project, Settings()))
    run_steps(session, 100)
    assert f"127.0.0.1:{port}" in project.console[-1]
    assert "sidecar serve" in project.console[-1]
    link.close()


def test_a_deleted_track_gets_no_item(
    project: FakeReaper, responder: Responder, tmp_path: Path
) -> None:
    link = SidecarLink("127.0.0.1", responder.port)
    session = ReaperSession(project, link)
    session.start(request_from_selection(project, Settings()))
    request_id = responder.receive()[1][0]
    del project.tracks[TRACK]
    stem = write_wav(tmp_path / "s.wav", 1.0)
    responder.reply(addresses.STEM, request_id, 0, str(stem), "seed", 7)
    responder.reply(addresses.DONE, request_id, 1)
    run_steps(session)
    assert any("the track is gone" in line and str(stem) in line for line in project.console)
    assert len(project.items_on(TRACK)) == 1
    link.close()


def test_nothing_selected(project: FakeReaper) -> None:
    from plugin_host.reaper.sidecar_reaper import SelectionError

    project.selected.clear()
    with pytest.raises(SelectionError, match="select a media item"):
        request_from_selection(project, Settings())
