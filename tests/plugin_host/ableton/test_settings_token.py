"""The `token` setting: validated, and sent as the last two arguments of every message."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plugin_host.ableton import addresses
from plugin_host.ableton.link import SidecarLink
from plugin_host.ableton.settings import (
    SETTINGS_FILE_NAME,
    Settings,
    SettingsError,
    load_settings,
    parse_settings,
)
from plugin_host.ableton.surface import SidecarSurface
from sidecar.osc.schema import GenerateRequest
from tests.plugin_host.ableton.conftest import (
    CANCEL_NOTE,
    GENERATE_NOTE,
    REROLL_NOTE,
    Responder,
    SurfaceFactory,
)
from tests.plugin_host.ableton.fake_live import FakeClip, FakeSong
from tests.support.server import SidecarProcess, running_sidecar

TOKEN = "studio-token-42"
SCRIPT_FOLDER = Path(__file__).resolve().parents[3] / "plugin_host" / "ableton"


# ---- the setting ------------------------------------------------------------------------------


def test_no_token_by_default() -> None:
    assert Settings().token == ""
    assert parse_settings({}).token == ""


@pytest.mark.parametrize("raw", [None, ""])
def test_a_null_or_empty_token_means_none(raw: Any) -> None:
    assert parse_settings({"token": raw}).token == ""


def test_a_token_is_read_and_kept_out_of_the_settings_repr() -> None:
    settings = parse_settings({"token": TOKEN})
    assert settings.token == TOKEN
    assert TOKEN not in repr(settings)


@pytest.mark.parametrize("raw", [12345678, 1.5, True, ["a"], {"value": "x"}])
def test_a_token_that_is_not_text_is_refused(raw: Any) -> None:
    with pytest.raises(SettingsError, match=r"settings 'token' must be text .* got a "):
        parse_settings({"token": raw})


def test_a_bad_token_names_the_file(tmp_path: Path) -> None:
    (tmp_path / SETTINGS_FILE_NAME).write_text(json.dumps({"token": 5}), encoding="utf-8")
    with pytest.raises(SettingsError, match=r"settings.json: settings 'token' must be text"):
        load_settings(str(tmp_path))


def test_the_shipped_file_documents_the_key_and_sends_no_token() -> None:
    shipped = json.loads((SCRIPT_FOLDER / SETTINGS_FILE_NAME).read_text(encoding="utf-8"))
    assert shipped["token"] == ""
    assert load_settings(str(SCRIPT_FOLDER)).token == ""


# ---- the link ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "arguments"),
    [(addresses.PING, []), (addresses.CANCEL, ["req-1"]), (addresses.STATUS, ["req-1"])],
)
def test_the_link_appends_the_token_last(
    responder: Responder, address: str, arguments: list[Any]
) -> None:
    link = SidecarLink("127.0.0.1", responder.port, TOKEN)
    try:
        link.send(address, arguments)
        assert responder.receive() == (address, [*arguments, "token", TOKEN])
    finally:
        link.close()


def test_without_a_token_nothing_is_appended(responder: Responder) -> None:
    link = SidecarLink("127.0.0.1", responder.port)
    try:
        link.send(addresses.CANCEL, ["req-1"])
        assert responder.receive() == (addresses.CANCEL, ["req-1"])
    finally:
        link.close()


# ---- the Remote Script against a responder ----------------------------------------------------


def tick_until(surface: SidecarSurface, condition: Any, max_ticks: int = 50) -> None:
    for _ in range(max_ticks):
        surface.update_display()
        if condition():
            return
        time.sleep(0.005)
    raise AssertionError(f"condition not met within {max_ticks} ticks")


def test_every_message_the_script_sends_ends_with_the_token(
    make_surface: SurfaceFactory,
    responder: Responder,
    song: FakeSong,
    session_clip: FakeClip,
) -> None:
    surface, c_instance = make_surface(responder.port, token=TOKEN)
    surface.update_display()  # the scheduled ping goes out
    address, arguments = responder.receive()
    assert (address, arguments) == (addresses.PING, ["token", TOKEN])
    responder.reply(addresses.PONG, "0.1.0", "tiny", "cpu", "ready")
    tick_until(surface, lambda: any("ready" in m for m in c_instance.messages))

    surface.receive_midi(GENERATE_NOTE)
    arguments = responder.receive_address(addresses.CONTINUE)
    assert arguments[-2:] == ["token", TOKEN]
    sent = GenerateRequest.from_osc(addresses.CONTINUE, tuple(arguments[:-2]))
    assert sent.clip == session_clip.file_path  # the request itself is unchanged
    request_id = arguments[0]
    responder.reply(addresses.ACCEPTED, request_id, 0)
    tick_until(surface, lambda: any("queued" in m for m in c_instance.messages))

    surface.receive_midi(CANCEL_NOTE)
    assert responder.receive_address(addresses.CANCEL) == [request_id, "token", TOKEN]
    responder.reply(addresses.CANCELLED, request_id)
    tick_until(surface, lambda: "cancelled" in c_instance.messages[-1])

    surface.receive_midi(REROLL_NOTE)
    assert responder.receive_address(addresses.CONTINUE)[-2:] == ["token", TOKEN]


# ---- against a real sidecar that takes requests only with the token ---------------------------


@pytest.fixture(scope="module")
def sidecar_with_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SidecarProcess]:
    with running_sidecar(tmp_path_factory.mktemp("sidecar-token"), token=TOKEN) as server:
        yield server


def run_ticks(surface: SidecarSurface, done: Any, max_ticks: int = 900) -> None:
    for _ in range(max_ticks):
        surface.update_display()
        if done():
            return
        time.sleep(0.1)
    raise AssertionError(f"not done within {max_ticks} ticks")


def test_a_sidecar_started_with_a_token_accepts_the_scripts_request(
    sidecar_with_token: SidecarProcess,
    make_surface: SurfaceFactory,
    song: FakeSong,
    session_clip: FakeClip,
) -> None:
    surface, c_instance = make_surface(
        sidecar_with_token.port, bars=1, token=TOKEN, connect_timeout_seconds=10.0
    )
    controller = surface.controller
    assert controller is not None
    run_ticks(surface, lambda: controller.sidecar_state == "ready", 100)
    surface.receive_midi(GENERATE_NOTE)
    run_ticks(surface, lambda: not controller.jobs)
    assert "done: 1 clip(s)" in c_instance.messages[-1], c_instance.messages[-5:]
    assert song.tracks[0].clip_slots[1].has_clip


def test_without_the_token_the_sidecar_refusal_is_shown(
    sidecar_with_token: SidecarProcess,
    make_surface: SurfaceFactory,
    song: FakeSong,
    session_clip: FakeClip,
) -> None:
    surface, c_instance = make_surface(sidecar_with_token.port, bars=1)
    controller = surface.controller
    assert controller is not None
    run_ticks(surface, lambda: any("unauthorized" in m for m in c_instance.messages), 50)
    surface.receive_midi(GENERATE_NOTE)
    run_ticks(surface, lambda: not controller.jobs, 50)
    assert "unauthorized" in c_instance.messages[-1], c_instance.messages[-5:]
    assert not song.tracks[0].clip_slots[1].has_clip
