"""The REAPER settings file: defaults when missing, validation that names the field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from plugin_host.reaper.settings import (
    SETTINGS_FILE_NAME,
    Settings,
    SettingsError,
    load_settings,
    parse_settings,
)
from sidecar.osc.schema import GenerateRequest
from tests.plugin_host.ableton.conftest import Responder
from tests.plugin_host.reaper.conftest import SCRIPTS, Rig
from tests.plugin_host.reaper.fake_reaper import FakeReaper


def test_a_missing_file_gives_the_defaults(tmp_path: Path) -> None:
    settings = load_settings(str(tmp_path / SETTINGS_FILE_NAME))
    assert settings == Settings()
    assert (settings.sidecar_host, settings.sidecar_port) == ("127.0.0.1", 9310)
    assert settings.bars is None and settings.variations == 1 and settings.key == "off"
    assert settings.token == ""  # no token is sent


def test_missing_fields_take_their_defaults() -> None:
    settings = parse_settings({"variations": 3})
    assert settings.variations == 3
    assert settings.sidecar_port == 9310 and settings.preset == "default"
    assert settings.preset_values() == ()


def test_the_shipped_file_is_valid() -> None:
    settings = load_settings(str(SCRIPTS / SETTINGS_FILE_NAME))
    assert settings.preset == "default"
    assert dict(settings.presets)["drums"] == (
        ("prompt", "punchy acoustic drum groove, tight kick and snare"),
    )


def test_values_are_read() -> None:
    settings = parse_settings(
        {
            "sidecar_host": "10.0.0.2",
            "sidecar_port": 9400,
            "preset": "keys",
            "presets": {"default": {}, "keys": {"prompt": "piano", "guidance": 4, "top_k": 100}},
            "bars": 4,
            "variations": 8,
            "key": "F# minor",
            "connect_timeout_seconds": 1,
            "stall_timeout_seconds": 60,
            "token": "s3cret-studio-token",
        }
    )
    assert settings.sidecar_host == "10.0.0.2" and settings.sidecar_port == 9400
    assert settings.preset_values() == (("guidance", 4.0), ("prompt", "piano"), ("top_k", 100))
    assert settings.bars == 4 and settings.variations == 8 and settings.key == "F# minor"
    assert settings.connect_timeout_seconds == 1.0 and settings.stall_timeout_seconds == 60.0
    assert settings.token == "s3cret-studio-token"
    assert "s3cret" not in repr(settings)  # kept out of anything that prints the settings


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ({"sidecar_port": 0}, "'sidecar_port' must be a whole number from 1 to 65535; got 0"),
        ({"sidecar_port": "9310"}, "'sidecar_port'"),
        ({"sidecar_host": ""}, "'sidecar_host' must be non-empty text"),
        ({"variations": 9}, "'variations' must be a whole number from 1 to 8; got 9"),
        ({"variations": True}, "'variations'"),
        ({"bars": "four"}, "'bars' must be \"auto\" or a whole number from 1 to 64; got 'four'"),
        ({"bars": 65}, "'bars'"),
        ({"key": 5}, "'key' must be non-empty text; got 5"),
        ({"connect_timeout_seconds": 0}, "'connect_timeout_seconds' must be a number from 0.1"),
        ({"stall_timeout_seconds": "long"}, "'stall_timeout_seconds'"),
        ({"preset": "drums"}, "'preset' is 'drums', not one of the presets: default"),
        ({"presets": {}}, "'presets' must be an object with at least one preset"),
        ({"presets": {"a": []}}, "'presets.a' must be an object of request keys"),
        ({"presets": {"a": {"seed": 1}}}, "'presets.a.seed' is not a request key; allowed:"),
        ({"presets": {"a": {"prompt": 1}}}, "'presets.a.prompt' must be text; got 1"),
        ({"presets": {"a": {"top_k": 1.5}}}, "'presets.a.top_k' must be a whole number"),
        ({"presets": {"a": {"guidance": "3"}}}, "'presets.a.guidance' must be a number"),
        ({"token": 12345678}, "'token' must be text (the sidecar's --token), or \"\" for none; "),
        ({"token": ["a"]}, "'token' must be text"),
        ({"variation": 2}, "unknown setting 'variation'; known settings: sidecar_host"),
        ([], "the settings file must hold a JSON object"),
    ],
)
def test_mistakes_name_the_field(raw: Any, names: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw)
    assert names in str(caught.value)


@pytest.mark.parametrize("raw", [None, ""])
def test_a_null_or_empty_token_means_none(raw: Any) -> None:
    assert parse_settings({"token": raw}).token == ""


def test_the_shipped_file_sends_no_token() -> None:
    assert load_settings(str(SCRIPTS / SETTINGS_FILE_NAME)).token == ""


def test_invalid_json_names_the_file_and_place(tmp_path: Path) -> None:
    path = tmp_path / SETTINGS_FILE_NAME
    path.write_text('{"variations": 2,}', encoding="utf-8")
    with pytest.raises(SettingsError, match=r"sidecar_settings.json is not valid JSON: .*line 1"):
        load_settings(str(path))


def test_a_wrong_value_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / SETTINGS_FILE_NAME
    path.write_text('{"variations": 0}', encoding="utf-8")
    with pytest.raises(SettingsError, match=r"sidecar_settings.json: 'variations' must be"):
        load_settings(str(path))


def test_the_action_reads_the_settings_beside_it(
    make_rig: Callable[[FakeReaper], Rig], project: FakeReaper, responder: Responder
) -> None:
    rig = make_rig(project)
    rig.write_settings(
        sidecar_port=responder.port,
        preset="b",
        presets={"a": {"prompt": "no"}, "b": {"prompt": "yes", "top_p": 0.5}},
        bars=3,
        variations=4,
    )
    rig.run("sidecar_continue.py")
    sent = GenerateRequest.from_osc(*responder.receive())
    assert (sent.prompt, sent.top_p, sent.bars, sent.variations) == ("yes", 0.5, 3, 4)
    assert "(b, seed" in project.console[-1]


def test_the_action_stops_on_a_bad_settings_file(
    make_rig: Callable[[FakeReaper], Rig], project: FakeReaper, responder: Responder
) -> None:
    rig = make_rig(project)
    rig.write_settings(sidecar_port=responder.port, variations=20)
    rig.run("sidecar_continue.py")
    (line,) = project.console
    assert "sidecar_settings.json: 'variations' must be a whole number from 1 to 8" in line
    assert "fix the file and run the action again" in line
    assert project.deferred == []
    responder.sock.settimeout(0.2)
    with pytest.raises(TimeoutError):
        responder.receive()


@pytest.mark.parametrize("script", ["sidecar_continue.py", "sidecar_reroll.py"])
def test_without___file___the_settings_beside_the_script_are_read(
    make_rig: Callable[[FakeReaper], Rig], project: FakeReaper, script: str
) -> None:
    """REAPER runs a script without `__file__` (and Python has no `get_action_context`): the
    settings beside it are found in REAPER's Scripts folder."""
    rig = make_rig(project)
    rig.write_settings(variations=20)
    rig.run(script, with_file=False)
    (line,) = project.console
    assert str(rig.folder / SETTINGS_FILE_NAME) in line and "'variations' must be" in line


def test_without___file___continue_sends_with_the_settings_beside_it(
    make_rig: Callable[[FakeReaper], Rig], project: FakeReaper, responder: Responder
) -> None:
    rig = make_rig(project)
    rig.write_settings(sidecar_port=responder.port, bars=3)
    rig.run("sidecar_continue.py", with_file=False)
    assert GenerateRequest.from_osc(*responder.receive()).bars == 3
