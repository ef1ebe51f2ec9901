"""Ending a running action (REAPER's running-scripts list): the request in flight is cancelled."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from plugin_host.ableton import addresses
from plugin_host.ableton.link import LinkError, SidecarLink
from plugin_host.reaper import action
from tests.plugin_host.ableton.conftest import Responder, write_wav
from tests.plugin_host.reaper.conftest import TRACK, Rig
from tests.plugin_host.reaper.fake_reaper import FakeReaper


@pytest.fixture
def links(monkeypatch: pytest.MonkeyPatch) -> list[SidecarLink]:
    """The links the actions open, to look at their sockets afterwards."""
    opened: list[SidecarLink] = []

    class RecordedLink(SidecarLink):
        def __init__(self, host: str, port: int, token: str = "") -> None:
            super().__init__(host, port, token)
            opened.append(self)

    monkeypatch.setattr(action, "SidecarLink", RecordedLink)
    return opened


def musicgen_names(rig: Rig) -> list[str]:
    return [name for name in rig.namespace if name.startswith("_musicgen_")]


def test_terminating_the_script_cancels_the_request_and_closes_the_socket(
    make_rig: Callable[[FakeReaper], Rig],
    project: FakeReaper,
    responder: Responder,
    links: list[SidecarLink],
    tmp_path: Path,
) -> None:
    rig = make_rig(project)
    rig.write_settings(sidecar_port=responder.port)
    rig.run("sidecar_continue.py")
    request_id = responder.receive()[1][0]
    responder.reply(addresses.ACCEPTED, request_id, 0)
    rig.tick(3, until=lambda: True)  # a few steps of the defer loop: the request is running
    project.terminate(rig.namespace)
    assert responder.receive() == (addresses.CANCEL, [request_id])
    assert "the script was ended: request cancelled" in project.console[-1]
    (link,) = links
    with pytest.raises(LinkError, match="closed"):
        link.poll()
    assert musicgen_names(rig) == [] and project.deferred == []
    # A stem the sidecar had already sent is never inserted: nothing runs to read it.
    stem = write_wav(tmp_path / "late.wav", 1.0)
    responder.reply(addresses.STEM, request_id, 0, str(stem), "seed", 1)
    assert len(project.items_on(TRACK)) == 1


def test_a_finished_request_is_not_cancelled_when_the_script_ends(
    make_rig: Callable[[FakeReaper], Rig],
    project: FakeReaper,
    responder: Responder,
    links: list[SidecarLink],
) -> None:
    rig = make_rig(project)
    rig.write_settings(sidecar_port=responder.port)
    rig.run("sidecar_continue.py")
    request_id = responder.receive()[1][0]
    responder.reply(addresses.DONE, request_id, 0)
    rig.tick(200)  # the last step ends the script: REAPER runs its atexit code
    assert project.at_exit == [] and musicgen_names(rig) == []
    assert project.console[-1] == "MusicGen: done: 0 item(s) inserted\n"
    (link,) = links
    with pytest.raises(LinkError, match="closed"):
        link.poll()
    responder.sock.settimeout(0.2)
    with pytest.raises(TimeoutError):
        responder.receive()  # no cancel for a request that has ended


def test_a_script_that_sends_nothing_registers_no_exit_code(
    make_rig: Callable[[FakeReaper], Rig], project: FakeReaper
) -> None:
    project.selected.clear()
    rig = make_rig(project)
    rig.run("sidecar_continue.py")
    assert "select a media item" in project.console[-1]
    assert project.at_exit == [] and musicgen_names(rig) == []
