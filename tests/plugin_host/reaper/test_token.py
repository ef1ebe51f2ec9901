"""The REAPER actions with a `token` setting: every message ends with `token <value>`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from plugin_host.ableton import addresses
from sidecar.cli.examples import write_example_clip
from sidecar.osc.schema import GenerateRequest
from tests.plugin_host.ableton.conftest import Responder
from tests.plugin_host.reaper.conftest import TRACK, Rig
from tests.plugin_host.reaper.fake_reaper import FakeReaper
from tests.support.server import SidecarProcess, running_sidecar

TOKEN = "studio-token-42"


def test_continue_cancel_and_reroll_end_with_the_token(
    make_rig: Callable[[FakeReaper], Rig], project: FakeReaper, responder: Responder
) -> None:
    rig = make_rig(project)
    rig.write_settings(sidecar_port=responder.port, token=TOKEN)
    rig.run("sidecar_continue.py")
    address, arguments = responder.receive()
    assert address == addresses.CONTINUE and arguments[-2:] == ["token", TOKEN]
    sent = GenerateRequest.from_osc(address, tuple(arguments[:-2]))
    assert sent.clip_start == pytest.approx(1.5)  # the request itself is unchanged
    request_id = arguments[0]
    responder.reply(addresses.ACCEPTED, request_id, 0)
    rig.reaper.run_deferred(rig.namespace)  # one defer tick: the action reads the reply

    rig.run("sidecar_cancel.py")
    rig.reaper.run_deferred(rig.namespace)
    assert responder.receive() == (addresses.CANCEL, [request_id, "token", TOKEN])
    responder.reply(addresses.CANCELLED, request_id)
    rig.tick(200)
    assert project.console[-1] == "MusicGen: cancelled\n"

    rig.run("sidecar_reroll.py")
    address, arguments = responder.receive()
    assert address == addresses.CONTINUE and arguments[-2:] == ["token", TOKEN]
    assert arguments[0] != request_id


def test_without_a_token_none_is_sent(
    make_rig: Callable[[FakeReaper], Rig], project: FakeReaper, responder: Responder
) -> None:
    rig = make_rig(project)
    rig.write_settings(sidecar_port=responder.port, token="")
    rig.run("sidecar_continue.py")
    _address, arguments = responder.receive()
    assert "token" not in arguments


def test_the_token_is_never_printed(
    make_rig: Callable[[FakeReaper], Rig], project: FakeReaper, responder: Responder
) -> None:
    rig = make_rig(project)
    rig.write_settings(sidecar_port=responder.port, token=TOKEN, variations=20)  # a bad file
    rig.run("sidecar_continue.py")
    rig.write_settings(sidecar_port=responder.port, token=TOKEN)
    rig.run("sidecar_continue.py")
    request_id = responder.receive()[1][0]
    responder.reply(addresses.ERROR, request_id, "unauthorized", "token: missing or wrong")
    rig.tick(200)
    assert "unauthorized" in project.console[-1]
    assert not any(TOKEN in line for line in project.console)


# ---- against a real sidecar that takes requests only with the token ---------------------------


@pytest.fixture(scope="module")
def sidecar_with_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SidecarProcess]:
    with running_sidecar(tmp_path_factory.mktemp("sidecar-token"), token=TOKEN) as server:
        yield server


@pytest.fixture
def loop_rig(make_rig: Callable[[FakeReaper], Rig], tmp_path: Path) -> Rig:
    """120 bpm 4/4; a 2-bar drum loop (a real WAV) at 8 s, selected."""
    reaper = FakeReaper(bpm=120.0)
    clip = write_example_clip(tmp_path / "drum loop.wav", bpm=120.0, bars=2)
    reaper.selected.append(reaper.add_item(TRACK, 8.0, 4.0, str(clip)))
    return make_rig(reaper)


def test_a_sidecar_started_with_a_token_accepts_the_actions_request(
    sidecar_with_token: SidecarProcess, loop_rig: Rig
) -> None:
    loop_rig.write_settings(
        sidecar_port=sidecar_with_token.port, bars=1, token=TOKEN, connect_timeout_seconds=20.0
    )
    loop_rig.run("sidecar_continue.py")
    loop_rig.tick(6000)
    console = loop_rig.reaper.console
    assert "done: 1 item(s) inserted" in console[-1], console
    assert [round(i.position_seconds, 3) for i in loop_rig.reaper.items_on(TRACK)] == [8.0, 12.0]


def test_without_the_token_the_sidecar_refusal_is_shown(
    sidecar_with_token: SidecarProcess, loop_rig: Rig
) -> None:
    loop_rig.write_settings(sidecar_port=sidecar_with_token.port, bars=1, token="wrong-token")
    loop_rig.run("sidecar_continue.py")
    loop_rig.tick(200)
    console = loop_rig.reaper.console
    assert "sidecar error: unauthorized" in console[-1], console
    assert len(loop_rig.reaper.items_on(TRACK)) == 1
