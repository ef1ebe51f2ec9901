"""Faults the plugin must show in its status line without the plugin or the host hanging.

The VST3 runs in the test host; after each fault the host keeps rendering (every render call
returns promptly and allocates nothing). A real sidecar where it can make the fault (none
running; killed mid-request), a scripted responder (fake_sidecar.py) where it cannot (a stem
that cannot be read; replies for an id the plugin never sent).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.plugin_host.plugin.audio_checks import HOST_RATE, tile_loop
from tests.plugin_host.plugin.bundles import vst3_bundle
from tests.plugin_host.plugin.fake_sidecar import FakeSidecar, Reply
from tests.plugin_host.plugin.hostproc import HostProcess
from tests.plugin_host.plugin.observe import PluginWatch
from tests.support.server import running_sidecar

FAST = {  # INTERFACE.md's process knobs, shortened so each fault shows within seconds
    "MUSICGEN_SIDECAR_PING_SECONDS": "0.5",
    "MUSICGEN_SIDECAR_ACCEPT_SECONDS": "2",
    "MUSICGEN_SIDECAR_STALL_SECONDS": "3",
}


def press(host: HostProcess, drums: Path, bpm: float = 120.0, take_bars: int = 2) -> None:
    """Load, play 2.5 bars of drums, press Generate, play on past the capture's bar line."""
    host.call("load", plugin=str(vst3_bundle()), sample_rate=HOST_RATE, max_block=2048)
    host.call("input", wav=str(drums))
    host.call("param", name="Mix", value=1.0)
    host.call("param", name="Capture bars", value=0.0)
    host.call("param", name="Take bars", value=(take_bars - 1) / 31.0)
    host.call("transport", bpm=bpm, numerator=4, denominator=4, playing=True, ppq=0.0)
    bar = 4 * 60.0 / bpm * HOST_RATE
    host.call("render", frames=round(2.5 * bar), block_size=512)
    host.call("param", name="Generate", value=1.0)
    host.call("render", frames=round(bar), block_size=512)
    host.call("param", name="Generate", value=0.0)


def keep_rendering(host: HostProcess) -> Callable[[], None]:
    """A pump for PluginWatch.wait_for: 50 ms of audio a call, each well under a second."""

    def pump() -> None:
        started = time.monotonic()
        reply = host.call("render", frames=2400, block_size=256, timeout_seconds=10)
        assert time.monotonic() - started < 5.0, "a render call took seconds: the host hangs"
        # at most JUCE 7.0.5's VST3 wrapper's one a block (see test_testhost.py)
        assert reply["plugin_allocations"] <= reply["blocks"], reply["allocation_sites"]

    return pump


def request_state(status: dict[str, Any]) -> str:
    return str(status.get("request", {}).get("state", ""))


def test_no_sidecar_running(
    testhost: Callable[..., HostProcess], watch_for: Callable[[int], PluginWatch],
    unused_port: int, amen_bar: tuple[Path, float],
) -> None:
    watch = watch_for(unused_port)
    host = testhost(watch, **FAST)
    press(host, amen_bar[0])
    status = watch.wait_for(lambda s: request_state(s) == "unanswered", "unanswered",
                            timeout_seconds=30, pump=keep_rendering(host))
    assert status["sidecar"]["state"] == "unreachable" or status["sidecar"]["state"] == "unknown"
    assert status["status"], "a status line is shown"
    assert watch.events("unanswered"), "the event log records it"
    line = status["status"].lower()
    assert "sidecar" in line or "answer" in line, status["status"]
    host.close()  # unloads cleanly


def test_sidecar_killed_mid_request(
    testhost: Callable[..., HostProcess], watch_for: Callable[[int], PluginWatch],
    amen_bar: tuple[Path, float], tmp_path: Path,
) -> None:
    with running_sidecar(tmp_path / "doomed") as server:
        watch = watch_for(server.port)
        host = testhost(watch, **FAST)
        press(host, amen_bar[0], bpm=60.0, take_bars=32)  # 128 s asked: it runs a while
        watch.wait_for(lambda s: request_state(s) in ("queued", "running"), "accepted",
                       timeout_seconds=30, pump=keep_rendering(host))
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
        status = watch.wait_for(
            lambda s: request_state(s) in ("stalled", "error")
            and s["sidecar"]["state"] == "unreachable",
            "a stalled request and an unreachable sidecar", timeout_seconds=30,
            pump=keep_rendering(host),
        )
    assert status["status"], "a status line is shown"
    assert not any(t.get("loaded") for t in status.get("takes", []))
    host.close()


def test_stem_file_that_cannot_be_read(
    testhost: Callable[..., HostProcess], watch_for: Callable[[int], PluginWatch],
    amen_bar: tuple[Path, float], tmp_path: Path,
) -> None:
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(64))

    def replies(request_id: str, args: list[Any]) -> list[Reply]:
        return [
            ("/sidecar/accepted", [request_id, 0]),
            ("/sidecar/stem", [request_id, 0, str(broken), "seed", 7, "bpm", 120.0, "bars", 2]),
            ("/sidecar/done", [request_id, 1]),
        ]

    with FakeSidecar(replies) as fake:
        watch = watch_for(fake.port)
        host = testhost(watch, **FAST)
        press(host, amen_bar[0])
        status = watch.wait_for(lambda s: bool(watch.events("stem_failed")), "stem_failed",
                                timeout_seconds=30, pump=keep_rendering(host))
    failed = watch.events("stem_failed")[0]
    assert failed["path"] == str(broken) and failed["message"]
    assert not any(t.get("loaded") for t in status.get("takes", []))
    assert status["player"]["state"] != "playing"
    assert status["status"], "a status line is shown"
    host.close()


def test_replies_for_an_unknown_id_are_ignored(
    testhost: Callable[..., HostProcess], watch_for: Callable[[int], PluginWatch],
    amen_bar: tuple[Path, float], tmp_path: Path,
) -> None:
    good = tile_loop(amen_bar[0], 2, tmp_path / "good.wav")  # a readable 2-bar stem
    sent: list[str] = []

    def replies(request_id: str, args: list[Any]) -> list[Reply]:
        sent.append(request_id)
        stranger = "plug-00000000-999"
        return [
            ("/sidecar/accepted", [request_id, 0]),
            ("/sidecar/stem", [stranger, 0, str(good), "seed", 1, "bpm", 120.0, "bars", 2]),
            ("/sidecar/done", [stranger, 1]),
        ]

    with FakeSidecar(replies) as fake:
        watch = watch_for(fake.port)
        host = testhost(watch, **FAST)
        press(host, amen_bar[0])
        status = watch.wait_for(lambda s: s["counters"]["unknown_replies"] >= 2,
                                "two unknown replies counted", timeout_seconds=30,
                                pump=keep_rendering(host))
        assert not any(t.get("loaded") for t in status.get("takes", []))
        assert request_state(status) in ("queued", "running"), status["request"]
        assert {e["id"] for e in watch.events("unknown_reply")} == {"plug-00000000-999"}
        # The request's own replies still land.
        fake.send("/sidecar/stem", sent[0], 0, str(good), "seed", 1, "bpm", 120.0, "bars", 2)
        fake.send("/sidecar/done", sent[0], 1)
        status = watch.wait_for_take(timeout_seconds=30, pump=keep_rendering(host))
    assert request_state(status) == "done"
    host.close()

