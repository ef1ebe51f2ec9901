"""Musical control end to end on the tiny model: presets, stem sets, history, long takes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pedalboard.io import AudioFile

from sidecar.musical.presets import PresetLibrary, default_presets_dir
from sidecar.osc import addresses as A
from sidecar.osc.client import Reply, SidecarClient
from tests.support.server import SidecarProcess, running_sidecar


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SidecarProcess]:
    with running_sidecar(tmp_path_factory.mktemp("musical")) as proc:
        yield proc


def frames(path: str) -> int:
    with AudioFile(path) as f:
        return int(f.frames)


def stems(replies: list[Reply]) -> list[tuple]:
    return [args for a, args in replies if a == A.STEM]


def test_presets_are_listed(client: SidecarClient) -> None:
    client.send(A.PRESETS)
    address, args = client.receive(5) or ("", ())
    assert address == A.PRESETS_REPLY
    names = list(args[1::2])
    assert args[0] == len(names) >= 8
    assert set(PresetLibrary.load(default_presets_dir()).names()) == set(names)


@pytest.mark.parametrize("name", PresetLibrary.load(default_presets_dir()).names())
def test_every_shipped_preset_runs_end_to_end(client: SidecarClient, clip: Path, name: str) -> None:
    rid = f"preset-{name}"
    client.send(
        A.CONTINUE,
        rid,
        "clip",
        str(clip),
        "preset",
        name,
        "bpm",
        120.0,
        "bars",
        1,
        "key",
        "A minor",
        "genre",
        "test",
    )
    replies = client.until_terminal(rid, 120)
    preset = PresetLibrary.load(default_presets_dir()).get(name)
    # A preset with default stem parts makes one stem per part.
    assert replies[-1] == (A.DONE, (rid, len(preset.stems) or 1)), replies[-1]
    delivered = stems(replies)
    parts = [dict(zip(args[3::2], args[4::2], strict=False)).get("part") for args in delivered]
    assert parts == (list(preset.stems) or [None])
    path = delivered[0][2]
    assert frames(path) == 96000
    meta = json.loads(Path(path).with_suffix(".json").read_text())
    assert meta["preset"] == name
    for key, value in preset.params.items():
        assert meta["request"][key] == pytest.approx(value)


def test_request_keys_override_the_preset(client: SidecarClient) -> None:
    client.send(
        A.GENERATE, "override", "preset", "techno-groove", "bpm", 128.0, "bars", 1, "guidance", 2.0
    )
    path = stems(client.until_terminal("override", 60))[0][2]
    request = json.loads(Path(path).with_suffix(".json").read_text())["request"]
    assert request["guidance"] == 2.0 and request["temperature"] == pytest.approx(0.9)


def test_unknown_preset_is_refused_with_the_list(client: SidecarClient) -> None:
    client.send(A.GENERATE, "nope", "preset", "polka")
    address, args = client.receive(5) or ("", ())
    assert address == A.ERROR and args[1] == "bad_request"
    assert "'polka' does not exist" in args[2] and "drum-loop" in args[2]


def test_stem_set_delivers_parts_of_identical_length(client: SidecarClient, clip: Path) -> None:
    client.send(
        A.CONTINUE,
        "set",
        "clip",
        str(clip),
        "stems",
        "drums,bass,keys",
        "bpm",
        120.0,
        "bars",
        2,
        "prompt",
        "funk",
    )
    replies = client.until_terminal("set", 120)
    got = stems(replies)
    assert replies[-1] == (A.DONE, ("set", 3))
    parts = [dict(zip(s[3::2], s[4::2], strict=False))["part"] for s in got]
    assert parts == ["drums", "bass", "keys"]
    assert {frames(s[2]) for s in got} == {192000}
    metas = [json.loads(Path(s[2]).with_suffix(".json").read_text()) for s in got]
    assert [m["part"] for m in metas] == parts and {m["batch_size"] for m in metas} == {3}


def test_history_reroll_recall_and_restart(tmp_path: Path, clip: Path) -> None:
    with (
        running_sidecar(tmp_path, "--no-warm-up") as server,
        SidecarClient(server.host, server.port) as client,
    ):
        client.send(A.CONTINUE, "take-a", "clip", str(clip), "seconds", 1.0, "seed", 5)
        first = stems(client.until_terminal("take-a", 60))[0]
        client.send(A.REROLL, "take-b", "take-a")
        second = stems(client.until_terminal("take-b", 60))[0]
        seed_a = dict(zip(first[3::2], first[4::2], strict=False))["seed"]
        seed_b = dict(zip(second[3::2], second[4::2], strict=False))["seed"]
        assert seed_a == 5 and seed_b != 5
    # A new process on the same output folder still knows both takes.
    with (
        running_sidecar(tmp_path, "--no-warm-up") as server,
        SidecarClient(server.host, server.port) as client,
    ):
        client.send(A.HISTORY, str(clip))
        takes = []
        while True:
            reply = client.receive(5)
            assert reply is not None
            if reply[0] == A.HISTORY_END:
                assert reply[1] == (str(clip), 2)
                break
            takes.append(reply[1])
        assert sorted(t[2] for t in takes) == ["take-a", "take-b"]
        take_id = next(t[1] for t in takes if t[2] == "take-a")
        client.send(A.RECALL, "again", take_id)
        replies = client.until_terminal("again", 10)
        assert replies[-1] == (A.DONE, ("again", 1))
        assert stems(replies)[0][2] == first[2]
        client.send(A.RECALL, "missing", 99999)
        address, args = client.receive(5) or ("", ())
        assert address == A.ERROR and args[1] == "not_found"


@pytest.mark.slow
def test_seventy_second_continuation_is_bar_exact(client: SidecarClient, clip: Path) -> None:
    # 35 bars of 4/4 at 120 bpm = 70 s: past the 30 s window, made in re-prompted windows.
    client.send(
        A.CONTINUE, "long", "clip", str(clip), "bars", 35, "bpm", 120.0, "sample_rate", 32000
    )
    replies = client.until_terminal("long", 600)
    assert replies[-1] == (A.DONE, ("long", 1)), replies[-1]
    path = stems(replies)[0][2]
    assert frames(path) == 70 * 32000
    meta = json.loads(Path(path).with_suffix(".json").read_text())
    assert meta["report"]["windows"] == len(meta["windows"]) >= 3
    assert sum(w["bars"] for w in meta["windows"]) == 35
    assert all("source_bpm" in w and "delivered_bpm" in w for w in meta["windows"])


def test_melody_request_is_delivered_under_the_tempo_contract(tmp_path: Path, clip: Path) -> None:
    with (
        running_sidecar(tmp_path, "--no-warm-up", "--model", "tiny-melody") as server,
        SidecarClient(server.host, server.port) as client,
    ):
        client.send(
            A.CONTINUE,
            "mel",
            "clip",
            str(clip),
            "melody",
            1,
            "bars",
            2,
            "bpm",
            120.0,
            "prompt",
            "strings",
        )
        replies = client.until_terminal("mel", 120)
        assert replies[-1] == (A.DONE, ("mel", 1)), replies[-1]
        path = stems(replies)[0][2]
        assert frames(path) == 192000
        meta = json.loads(Path(path).with_suffix(".json").read_text())
        assert meta["prompt_clip"]["as_melody"] is True and meta["model"] == "tiny-melody"
        # A plain MusicGen refuses melody requests with a clear error.
    with (
        running_sidecar(tmp_path / "plain", "--no-warm-up") as server,
        SidecarClient(server.host, server.port) as client,
    ):
        client.send(A.CONTINUE, "mel2", "clip", str(clip), "melody", 1, "seconds", 1.0)
        last = client.until_terminal("mel2", 60)[-1]
        assert last[0] == A.ERROR and "not a melody model" in last[1][2]
