"""The REAPER script on a fake project: request contents, stem insertion, cancel, sidecar down."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from plugin_host.ableton import addresses
from plugin_host.ableton.link import SidecarLink
from plugin_host.reaper.sidecar_reaper import EXT_SECTION, ReaperSession
from sidecar.osc.schema import GenerateRequest
from tests.plugin_host.ableton.conftest import Responder, write_wav
from tests.plugin_host.reaper.fake_reaper import FakeReaper

TRACK = "(MediaTrack*)0x0001"


@pytest.fixture
def responder():
    r = Responder()
    yield r
    r.close()


@pytest.fixture
def project(tmp_path: Path) -> FakeReaper:
    reaper = FakeReaper(bpm=100.0)
    source = write_wav(tmp_path / "prompt.wav", 10.0)
    item = reaper.add_item(TRACK, position=12.0, length=4.8, source=str(source), offset=1.5)
    reaper.selected.append(item)
    return reaper


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
    session = ReaperSession(project, link, variations=2, prompt="dusty soul")
    assert session.start()
    address, arguments = responder.receive()
    assert address == addresses.CONTINUE
    parsed = GenerateRequest.from_osc(address, arguments)
    assert parsed.clip_start == pytest.approx(1.5)
    assert parsed.clip_end == pytest.approx(6.3)
    assert parsed.bpm == pytest.approx(100.0)
    assert parsed.bars == 2  # 4.8 s at 100 bpm = 8 beats
    assert parsed.variations == 2 and parsed.prompt == "dusty soul"
    link.close()


def test_stems_are_inserted_after_the_item_and_named(
    project: FakeReaper, responder: Responder, tmp_path: Path
) -> None:
    link = SidecarLink("127.0.0.1", responder.port)
    session = ReaperSession(project, link, variations=2)
    session.start()
    request_id = responder.receive()[1][0]
    responder.reply(addresses.ACCEPTED, request_id, 0)
    responder.reply(addresses.PROGRESS, "other-client", 0.5, 1.0)
    for index in range(2):
        stem = write_wav(tmp_path / f"s{index}.wav", 4.8)
        responder.reply(addresses.STEM, request_id, index, str(stem), "seed", 40 + index)
    responder.reply(addresses.DONE, request_id, 2)
    run_steps(session)
    items = project.items_on(TRACK)
    assert [round(i.position_seconds, 3) for i in items] == [12.0, 16.8, 21.6]
    assert [i.takes[0].name for i in items[1:]] == ["musicgen s40 100bpm", "musicgen s41 100bpm"]
    assert "done: 2 item(s)" in project.console[-1]
    link.close()


def test_cancel_action_cancels(project: FakeReaper, responder: Responder) -> None:
    link = SidecarLink("127.0.0.1", responder.port)
    session = ReaperSession(project, link)
    session.start()
    request_id = responder.receive()[1][0]
    project.RPR_SetExtState(EXT_SECTION, "cancel", "1", False)  # what sidecar_cancel.py does
    assert session.step()
    assert responder.receive() == (addresses.CANCEL, [request_id])
    responder.reply(addresses.CANCELLED, request_id)
    run_steps(session)
    assert "cancelled" in project.console[-1]
    assert len(project.items_on(TRACK)) == 1
    link.close()


def test_sidecar_down_is_reported(project: FakeReaper) -> None:
    closed = Responder()
    port = closed.port
    closed.close()
    link = SidecarLink("127.0.0.1", port)
    session = ReaperSession(project, link, timeout_steps=5)
    session.start()
    run_steps(session, 20)
    assert f"not answering at 127.0.0.1:{port}" in project.console[-1]
    link.close()


def test_nothing_selected(project: FakeReaper, responder: Responder) -> None:
    project.selected.clear()
    link = SidecarLink("127.0.0.1", responder.port)
    assert not ReaperSession(project, link).start()
    assert "select a media item" in project.console[-1]
    link.close()
