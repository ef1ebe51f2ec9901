"""The re-roll action: the last request again with a new seed, placed after the last takes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from plugin_host.ableton import addresses
from plugin_host.reaper.request import EXT_SECTION, LAST_REQUEST_KEY, SidecarRequest
from sidecar.osc.schema import GenerateRequest
from tests.plugin_host.ableton.conftest import Responder, write_wav
from tests.plugin_host.reaper.conftest import TRACK, Rig
from tests.plugin_host.reaper.fake_reaper import FakeReaper


@pytest.fixture
def rig(make_rig: Callable[[FakeReaper], Rig], project: FakeReaper, responder: Responder) -> Rig:
    rig = make_rig(project)
    rig.write_settings(
        sidecar_port=responder.port,
        preset="keys",
        presets={"keys": {"prompt": "warm piano", "temperature": 0.9}},
        variations=2,
        key="C major",
    )
    return rig


def answer(responder: Responder, rig: Rig, tmp_path: Path, name: str, seed: int) -> None:
    """Reply to the request just received with two 2-s stems, then run the defer loop out."""
    request_id = responder.receive()[1][0]
    for index in range(2):
        stem = write_wav(tmp_path / f"{name}-{index}.wav", 2.0)
        responder.reply(addresses.STEM, request_id, index, str(stem), "seed", seed)
    responder.reply(addresses.DONE, request_id, 2)
    rig.tick(200)


def test_reroll_sends_the_last_request_with_a_new_seed(
    rig: Rig, project: FakeReaper, responder: Responder, tmp_path: Path
) -> None:
    rig.run("sidecar_continue.py")
    first = GenerateRequest.from_osc(*responder.receive())
    request_id = first.request_id
    responder.reply(addresses.DONE, request_id, 0)
    rig.tick(200)
    project.selected.clear()  # re-roll repeats the request, whatever is selected now
    rig.run("sidecar_reroll.py")
    again = GenerateRequest.from_osc(*responder.receive())
    assert again.request_id != first.request_id
    assert again.seed != first.seed
    same = (
        "clip",
        "clip_start",
        "clip_end",
        "bpm",
        "beats_per_bar",
        "bars",
        "variations",
        "prompt",
        "temperature",
        "key",
    )
    assert {k: getattr(again, k) for k in same} == {k: getattr(first, k) for k in same}
    assert first.prompt == "warm piano" and first.key == "C major" and first.variations == 2


def test_rerolled_takes_go_after_the_last_takes(
    rig: Rig, project: FakeReaper, responder: Responder, tmp_path: Path
) -> None:
    rig.run("sidecar_continue.py")
    answer(responder, rig, tmp_path, "first", 11)
    rig.run("sidecar_reroll.py")
    answer(responder, rig, tmp_path, "again", 12)
    items = project.items_on(TRACK)
    # 2-s takes at 100 bpm (2.4-s bars): each one starts on the next bar line after the last
    assert [round(i.position_seconds, 3) for i in items] == [12.0, 16.8, 19.2, 21.6, 24.0]
    assert [i.takes[0].name for i in items[1:]] == [
        "keys s11 v1/2 100bpm",
        "keys s11 v2/2 100bpm",
        "keys s12 v1/2 100bpm",
        "keys s12 v2/2 100bpm",
    ]


def test_reroll_uses_the_stored_request_not_the_changed_settings(
    rig: Rig, project: FakeReaper, responder: Responder
) -> None:
    rig.run("sidecar_continue.py")
    responder.receive()
    rig.write_settings(sidecar_port=responder.port, variations=5)
    rig.run("sidecar_reroll.py")
    assert GenerateRequest.from_osc(*responder.receive()).variations == 2


def test_nothing_to_reroll_yet(rig: Rig, project: FakeReaper) -> None:
    rig.run("sidecar_reroll.py")
    assert project.console == [
        "MusicGen: nothing to re-roll yet: select an item and run Continue first\n"
    ]
    assert project.deferred == []


def test_reroll_refuses_a_track_that_is_gone(
    rig: Rig, project: FakeReaper, responder: Responder
) -> None:
    rig.run("sidecar_continue.py")
    responder.receive()
    del project.tracks[TRACK]
    rig.run("sidecar_reroll.py")
    assert "track is not in this project" in project.console[-1]


def test_an_unreadable_stored_request_says_so(rig: Rig, project: FakeReaper) -> None:
    project.RPR_SetExtState(EXT_SECTION, LAST_REQUEST_KEY, "{not json", False)
    rig.run("sidecar_reroll.py")
    assert "unreadable" in project.console[-1] and "run Continue again" in project.console[-1]


def test_the_last_request_is_kept_for_this_session_only(
    rig: Rig, project: FakeReaper, responder: Responder
) -> None:
    persisted: list[bool] = []
    set_ext_state = project.RPR_SetExtState

    def recording(section: str, key: str, value: str, persist: bool) -> None:
        persisted.append(persist)
        set_ext_state(section, key, value, persist)

    project.RPR_SetExtState = recording  # type: ignore[method-assign]
    rig.run("sidecar_continue.py")
    responder.receive()
    stored = SidecarRequest.from_json(project.ext_state[(EXT_SECTION, LAST_REQUEST_KEY)])
    assert stored.track == TRACK and stored.insert_at_seconds == pytest.approx(16.8)
    assert persisted and not any(persisted)
