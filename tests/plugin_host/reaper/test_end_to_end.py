"""The REAPER actions on their defer loop, on a fake project, against a real `sidecar serve`."""

from __future__ import annotations

import json
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pythonosc.udp_client import SimpleUDPClient

from plugin_host.ableton import addresses
from plugin_host.ableton.link import SidecarLink
from plugin_host.ableton.osc_codec import OscMessage
from plugin_host.reaper import action
from sidecar.cli.examples import write_example_clip
from tests.plugin_host.reaper.conftest import TRACK, Rig
from tests.plugin_host.reaper.fake_reaper import FakeReaper, Item
from tests.support.server import SidecarProcess, free_udp_port, running_sidecar

BPM = 120.0
LOOP_SECONDS = 4.0  # the 2-bar loop at 120 bpm
ITEM_POSITION_SECONDS = 8.0
#: Defer ticks (~30 ms each, plus the tick's own work) that bound every wait below.
MAX_TICKS = 6000


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SidecarProcess]:
    with running_sidecar(tmp_path_factory.mktemp("sidecar")) as server:
        yield server


@pytest.fixture
def loop_project(tmp_path: Path) -> FakeReaper:
    """120 bpm 4/4; a 2-bar drum loop (a real WAV) at 8 s on one track, selected."""
    reaper = FakeReaper(bpm=BPM)
    clip = write_example_clip(tmp_path / "drum loop.wav", bpm=BPM, bars=2)
    item = reaper.add_item(TRACK, ITEM_POSITION_SECONDS, LOOP_SECONDS, str(clip))
    reaper.selected.append(item)
    return reaper


@pytest.fixture
def rig(make_rig: Callable[[FakeReaper], Rig], loop_project: FakeReaper) -> Rig:
    return make_rig(loop_project)


def seconds_in(path: str) -> float:
    with wave.open(path, "rb") as handle:
        return handle.getnframes() / handle.getframerate()


def new_items(reaper: FakeReaper) -> list[Item]:
    return [i for i in reaper.items_on(TRACK) if i.position_seconds >= ITEM_POSITION_SECONDS + 1]


def metadata(stem_path: str) -> dict:
    return json.loads(Path(stem_path).with_suffix(".json").read_text())


def test_continue_inserts_a_named_take_of_the_right_length_after_the_item(
    sidecar: SidecarProcess, rig: Rig, loop_project: FakeReaper
) -> None:
    rig.write_settings(
        sidecar_port=sidecar.port,
        preset="drums",
        presets={"drums": {"prompt": "punchy drum groove"}},
        connect_timeout_seconds=20.0,
    )
    rig.run("sidecar_continue.py")
    rig.tick(MAX_TICKS)
    assert "done: 1 item(s) inserted" in loop_project.console[-1], loop_project.console
    (item,) = new_items(loop_project)
    take = item.takes[0]
    assert item.position_seconds == pytest.approx(ITEM_POSITION_SECONDS + LOOP_SECONDS)
    assert Path(take.source).is_file()
    assert Path(take.source).is_relative_to(sidecar.output_dir)
    assert seconds_in(take.source) == pytest.approx(2 * 4 * 60 / BPM, abs=0.01)
    assert item.length_seconds == pytest.approx(seconds_in(take.source))
    sent = metadata(take.source)["request"]
    assert (
        sent["clip"]
        == loop_project.takes[
            loop_project.take_pointer(loop_project.items_on(TRACK)[0].takes[0])
        ].source
    )
    assert sent["clip_start"] == pytest.approx(0.0)
    assert sent["clip_end"] == pytest.approx(LOOP_SECONDS)
    assert sent["bpm"] == pytest.approx(BPM) and sent["bars"] == 2
    assert sent["prompt"] == "punchy drum groove"
    assert take.name == f"drums s{sent['seed']} 120bpm"
    assert loop_project.undo_blocks[-1] == f"MusicGen: insert {take.name}"


def test_variations_land_one_after_another(
    sidecar: SidecarProcess, rig: Rig, loop_project: FakeReaper
) -> None:
    rig.write_settings(
        sidecar_port=sidecar.port, variations=2, bars=1, connect_timeout_seconds=20.0
    )
    rig.run("sidecar_continue.py")
    rig.tick(MAX_TICKS)
    assert "done: 2 item(s) inserted" in loop_project.console[-1], loop_project.console
    first, second = new_items(loop_project)
    take_seconds = 1 * 4 * 60 / BPM
    assert first.position_seconds == pytest.approx(ITEM_POSITION_SECONDS + LOOP_SECONDS)
    assert second.position_seconds == pytest.approx(first.position_seconds + first.length_seconds)
    for item in (first, second):
        assert seconds_in(item.takes[0].source) == pytest.approx(take_seconds, abs=0.01)
        assert item.length_seconds == pytest.approx(take_seconds, abs=0.01)
    seed = metadata(first.takes[0].source)["request"]["seed"]
    assert [first.takes[0].name, second.takes[0].name] == [
        f"default s{seed} v1/2 120bpm",
        f"default s{seed} v2/2 120bpm",
    ]


def test_reroll_repeats_the_request_with_a_new_seed_after_the_last_take(
    sidecar: SidecarProcess, rig: Rig, loop_project: FakeReaper
) -> None:
    rig.write_settings(sidecar_port=sidecar.port, bars=1, connect_timeout_seconds=20.0)
    rig.run("sidecar_continue.py")
    rig.tick(MAX_TICKS)
    loop_project.selected.clear()  # re-roll does not need the selection
    rig.run("sidecar_reroll.py")
    rig.tick(MAX_TICKS)
    assert "done: 1 item(s) inserted" in loop_project.console[-1], loop_project.console
    first, again = new_items(loop_project)
    assert again.position_seconds == pytest.approx(first.position_seconds + first.length_seconds)
    before = metadata(first.takes[0].source)["request"]
    after = metadata(again.takes[0].source)["request"]
    assert after["seed"] != before["seed"]
    same = ("clip", "clip_start", "clip_end", "bpm", "bars", "beats_per_bar", "variations")
    assert {k: after[k] for k in same} == {k: before[k] for k in same}


def test_cancel_after_the_first_progress_inserts_nothing(
    sidecar: SidecarProcess, rig: Rig, loop_project: FakeReaper
) -> None:
    rig.write_settings(sidecar_port=sidecar.port, bars=12, connect_timeout_seconds=20.0)  # 24 s
    rig.run("sidecar_continue.py")
    rig.tick(MAX_TICKS, until=lambda: any(line.endswith("%\n") for line in loop_project.console))
    assert not rig.said("done")
    rig.run("sidecar_cancel.py")
    rig.tick(MAX_TICKS)
    assert loop_project.console[-1] == "MusicGen: cancelled\n", loop_project.console
    assert new_items(loop_project) == []


def test_sidecar_down_gives_a_clear_message(rig: Rig, loop_project: FakeReaper) -> None:
    port = free_udp_port()
    rig.write_settings(sidecar_port=port, connect_timeout_seconds=0.5)
    rig.run("sidecar_continue.py")  # no exception, here or on the defer loop
    rig.tick(200)
    assert f"127.0.0.1:{port}" in loop_project.console[-1], loop_project.console
    assert "start it with `sidecar serve`" in loop_project.console[-1]
    assert new_items(loop_project) == []


def test_replies_for_a_request_that_no_longer_exists_are_ignored(
    sidecar: SidecarProcess, rig: Rig, loop_project: FakeReaper, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An earlier run's request, whose socket port this run's socket happens to reuse."""
    clip = loop_project.takes[
        loop_project.take_pointer(loop_project.items_on(TRACK)[0].takes[0])
    ].source
    stranger = SimpleUDPClient(sidecar.host, sidecar.port)
    polled: list[tuple[str, str]] = []

    class LinkReusingAPort(SidecarLink):
        """Before this run's request, a forgotten one is queued with its replies sent here."""

        def __init__(self, host: str, port: int, token: str = "") -> None:
            super().__init__(host, port, token)
            stranger.send_message(
                addresses.CONTINUE,
                [
                    "forgotten-1",
                    "clip",
                    clip,
                    "bpm",
                    BPM,
                    "bars",
                    1,
                    "reply_port",
                    self.local_port,
                ],
            )
            time.sleep(0.2)  # queued first: its stem and done arrive while this run waits

        def poll(self, max_datagrams: int = 64) -> list[OscMessage]:
            messages = super().poll(max_datagrams)
            polled.extend((m.address, str(m.arguments[0])) for m in messages)
            return messages

    monkeypatch.setattr(action, "SidecarLink", LinkReusingAPort)
    rig.write_settings(sidecar_port=sidecar.port, bars=1, connect_timeout_seconds=20.0)
    rig.run("sidecar_continue.py")
    rig.tick(MAX_TICKS)
    assert "done: 1 item(s) inserted" in loop_project.console[-1], loop_project.console
    assert (addresses.STEM, "forgotten-1") in polled and (addresses.DONE, "forgotten-1") in polled
    (item,) = new_items(loop_project)
    assert "forgotten-1" not in item.takes[0].source
    assert not any("forgotten-1" in line for line in loop_project.console)
