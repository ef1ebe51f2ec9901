"""The VST3 in our own JUCE test host: metres, bar starts, loops, jumps, tempo, missing positions.

The test host (plugin_host/plugin/testhost) shows the plugin exactly the transport a case
needs and records, block by block, the position it showed. The take's output is compared frame
by frame with a model of INTERFACE.md's timing contract on the host's true timeline; a real
tiny sidecar answers every request. Every render after the first block must allocate nothing
on the audio thread.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from tests.plugin_host.plugin.audio_checks import (
    HOST_RATE,
    bar_frames,
    expected_take,
    mono,
    read_mono,
)
from tests.plugin_host.plugin.bundles import lv2_bundle, vst3_bundle
from tests.plugin_host.plugin.hostproc import HostProcess
from tests.plugin_host.plugin.observe import PluginWatch
from tests.support.server import SidecarProcess

BLOCKS = [32, 2048, 100, 512, 64, 1000, 256, 1536]  # cycled: 32..2048 frames, odd sizes too


def norm_bars(bars: int) -> float:
    return (bars - 1) / 31.0


@dataclass
class Session:
    """One plugin in the test host, with the renders made after its take arrived."""

    host: HostProcess
    watch: PluginWatch
    numerator: int
    denominator: int
    bpm: float
    renders: list[dict[str, Any]] = field(default_factory=list)

    @property
    def bar_quarters(self) -> float:
        return self.numerator * 4.0 / self.denominator

    def render(self, bars: float, sizes: list[int] | None = None) -> dict[str, Any]:
        frames = round(bars * bar_frames(self.bpm, self.numerator, self.denominator, HOST_RATE))
        reply = self.host.call("render", frames=frames, block_sizes=sizes or BLOCKS)
        self.renders.append(reply)
        return reply

    def ppq(self) -> float:
        return float(self.host.call("transport")["ppq"])


def start_with_take(
    testhost: Callable[..., HostProcess], watch: PluginWatch, drums: Path, numerator: int,
    denominator: int, bpm: float, bar_start: str, press: str = "parameter",
) -> tuple[Session, dict[str, Any]]:
    """Load, play 2.5 bars of drums, press generate, wait until the take is loaded."""
    host = testhost(watch)
    host.call("load", plugin=str(vst3_bundle()), sample_rate=HOST_RATE, max_block=2048)
    host.call("input", wav=str(drums))
    host.call("param", name="Mix", value=1.0)
    host.call("param", name="Capture bars", value=norm_bars(1))
    host.call("param", name="Take bars", value=norm_bars(2))
    host.call("transport", bpm=bpm, numerator=numerator, denominator=denominator,
              playing=True, ppq=0.0, bar_start=bar_start)
    session = Session(host, watch, numerator, denominator, bpm)
    warm = host.call("render", frames=512, block_size=512)  # the first block may set up
    assert warm["ok"]
    session.render(2.5 - 512 / bar_frames(bpm, numerator, denominator, HOST_RATE))
    if press == "parameter":
        host.call("param", name="Generate", value=1.0)
    else:
        host.call("note", note=60, velocity=100, length_frames=2400)
    session.render(1.0)
    host.call("param", name="Generate", value=0.0)
    status = watch.wait_for_take(pump=lambda: host.call("wait", seconds=0.05))
    return session, status


def check_against_model(session: Session, out: Path, after: int = 0) -> tuple[int, np.ndarray]:
    """Output of the renders after the take arrived == the model; returns the frames that
    played take audio and the model."""
    # The status file is the worker's, written within 50 ms of a change: wait for it.
    status = session.watch.wait_for(lambda s: s["player"]["state"] == "playing",
                                    "the take playing", 30,
                                    pump=lambda: session.host.call("wait", seconds=0.05))
    player = status["player"]
    start_ppq = float(player["start_ppq"])
    assert start_ppq % session.bar_quarters == pytest.approx(0.0, abs=1e-9), player
    take = next(t for t in status["takes"] if t.get("loaded"))
    stem, rate = read_mono(Path(take["path"]))
    assert rate == HOST_RATE

    session.host.call("save", path=str(out))
    output = mono(sf.read(str(out), dtype="float64", always_2d=True)[0])
    renders = session.renders[2:]  # the two before the press are not compared
    first = int(renders[0]["first_sample"])
    timeline = [block for r in renders for block in r["timeline"]]
    take_frames = round(2 * bar_frames(session.bpm, session.numerator, session.denominator,
                                       HOST_RATE))
    model = expected_take(timeline, stem, start_ppq, session.bpm, take_frames)
    got = output[first: first + model.size]
    error = np.abs(got[after:] - model[after:])
    worst = int(np.argmax(error)) + after
    assert error.max() < 1e-4, (
        f"frame {worst} of {model.size}: got {got[worst]}, model {model[worst]} "
        f"(start_ppq {start_ppq}, timeline block {_block_of(timeline, worst)})"
    )
    for r in session.renders:
        # JUCE 7.0.5's VST3 wrapper (compiled into the plugin) copies a channel mapping, with
        # its std::vector, once a block (juce_VST3Common.h, setUpInputChannels): one heap call
        # and one free a block. The plugin's own code allocates nothing (the LV2 test below).
        # Exactly that one a block, and its free: none from the plugin's own code, whether it
        # passes through, captures, loads or plays.
        assert r["plugin_allocations"] == r["plugin_deallocations"] == r["blocks"], r
        plugin_sites = [_resolve(x) for x in r["allocation_sites"] if "MusicGenSidecar.so" in x]
        assert all("JuceVST3Component::processAudio" in x for x in plugin_sites), plugin_sites
    return int(np.count_nonzero(model)), model


def _block_of(timeline: list[list[float]], frame: int) -> list[float]:
    at = 0
    for block in timeline:
        if at + block[0] > frame:
            return block
        at += int(block[0])
    return []


@pytest.fixture()
def drums(amen_bar: tuple[Path, float], tmp_path: Path) -> Path:
    return amen_bar[0]


def test_three_four_with_a_wrong_bar_start_and_a_jump(
    sidecar: SidecarProcess, testhost: Callable[..., HostProcess],
    watch_for: Callable[[int], PluginWatch], drums: Path, tmp_path: Path,
) -> None:
    """3/4 at 96 BPM; the host's bar start is Ardour 7.3's (bar x 4: wrong); a jump mid-bar."""
    session, status = start_with_take(testhost, watch_for(sidecar.port), drums, 3, 4, 96.0,
                                      "ardour")
    assert status["capture"]["beats_per_bar"] == 3 and status["capture"]["bpm"] == 96.0
    # 3 bars of 3 quarters, pressed in bar 2
    assert status["capture"]["end_ppq"] == pytest.approx(9.0, abs=1e-9)
    session.render(3.0)
    session.host.call("transport", ppq=session.ppq() + 7.5)  # forward, into the middle of a bar
    session.render(2.0)
    played, _ = check_against_model(session, tmp_path / "out.wav")
    assert played > 4 * bar_frames(96.0, 3, 4, HOST_RATE)


def test_six_eight_looped_without_bar_start_and_blocks_without_position(
    sidecar: SidecarProcess, testhost: Callable[..., HostProcess],
    watch_for: Callable[[int], PluginWatch], drums: Path, tmp_path: Path,
) -> None:
    """6/8 at 120 BPM (sent as 240 eighths a minute); no bar start; a bar of blocks without a
    position (extrapolated); then the host loops over two bars and the take follows."""
    session, status = start_with_take(testhost, watch_for(sidecar.port), drums, 6, 8, 120.0,
                                      "none")
    assert status["capture"]["beats_per_bar"] == 6 and status["capture"]["bpm"] == 240.0
    session.render(2.0)
    session.host.call("transport", position=False)
    session.render(1.0, [256, 100, 2048])
    session.host.call("transport", position=True)
    start = float(session.watch.status()["player"]["start_ppq"])
    here = session.ppq()
    loop_start = start + 3.0 * (1 + int((here - start) // 3.0))  # the next bar line
    session.host.call("transport", loop=[loop_start, loop_start + 6.0])
    session.render(5.0)  # wraps the two-bar loop twice, splitting blocks at its end
    ppqs = [b[1] for b in session.renders[-1]["timeline"]]
    assert ppqs.count(loop_start) >= 2 and max(ppqs) < loop_start + 6.0  # wrapped twice
    played, _ = check_against_model(session, tmp_path / "out.wav")
    assert played > 6 * bar_frames(120.0, 6, 8, HOST_RATE)


def test_seven_eight_by_midi_note_and_a_tempo_change(
    sidecar: SidecarProcess, testhost: Callable[..., HostProcess],
    watch_for: Callable[[int], PluginWatch], drums: Path, tmp_path: Path,
) -> None:
    """7/8 at 150 BPM, pressed by MIDI note 60; the host slows to 120: the plugin says the
    tempo no longer matches; back at 150 the take is on the grid again."""
    watch = watch_for(sidecar.port)
    session, status = start_with_take(testhost, watch, drums, 7, 8, 150.0, "exact",
                                      press="midi")
    assert status["capture"]["beats_per_bar"] == 7 and status["capture"]["bpm"] == 300.0
    assert watch.events("trigger")[-1]["source"] == "midi"
    session.render(2.0)
    assert watch.status()["tempo_mismatch"] is False
    session.host.call("transport", bpm=120.0)
    session.host.call("render", frames=24000, block_size=512)
    assert watch.wait_for(lambda s: s["tempo_mismatch"] is True, "tempo_mismatch")
    session.host.call("transport", bpm=150.0)
    session.host.call("render", frames=512, block_size=512)  # one block to re-sync
    session.render(2.0)
    session.renders = session.renders[:3] + session.renders[-1:]  # the model skips the change
    kept = session.renders
    # Compare the 2 bars before the change, then those after it, each on its own timeline.
    before = Session(session.host, watch, 7, 8, 150.0, kept[:3])
    played, _ = check_against_model(before, tmp_path / "before.wav")
    assert played > bar_frames(150.0, 7, 8, HOST_RATE)
    after = Session(session.host, watch, 7, 8, 150.0, kept[:2] + kept[3:])
    check_against_model(after, tmp_path / "after.wav")
    assert watch.wait_for(lambda s: s["tempo_mismatch"] is False, "tempo matching again")


def _resolve(site: str) -> str:
    """The plugin's frames of an allocation site, named by addr2line (the .so has symbols)."""
    binary = vst3_bundle() / "Contents" / "x86_64-linux" / "MusicGenSidecar.so"
    offsets = [part.split("+")[1] for part in site.split(" <- ")
               if part.startswith("MusicGenSidecar.so:+")]
    if not offsets:
        return site
    named = subprocess.run(["addr2line", "-f", "-C", "-e", str(binary), *offsets],
                           capture_output=True, text=True, timeout=30).stdout
    return " <- ".join(named.splitlines()[::2])


def test_lv2_allocates_nothing_on_the_audio_thread(
    testhost: Callable[..., HostProcess], watch_for: Callable[[int], PluginWatch],
    unused_port: int, drums: Path,
) -> None:
    """The same plugin as an LV2 (JUCE's LV2 wrapper makes no per-block copy): not one heap
    call on the audio thread, host or plugin, at 32..2048 frames, odd sizes cycled."""
    host = testhost(watch_for(unused_port))
    host.call("load", plugin=str(lv2_bundle()), sample_rate=HOST_RATE, max_block=2048)
    host.call("input", wav=str(drums))
    host.call("transport", bpm=120.0, numerator=4, denominator=4, playing=True, ppq=0.0)
    host.call("render", frames=512, block_size=512)
    renders = [host.call("render", seconds=0.5, block_size=size) for size in (32, 64, 512, 2048)]
    renders.append(host.call("render", seconds=2.0, block_sizes=BLOCKS))
    for r in renders:
        assert (r["allocations"], r["deallocations"]) == (0, 0), r["allocation_sites"]
    assert sum(r["blocks"] for r in renders) > 1000
