"""The LV2 in jalv on a private `jackd -d dummy`, rolled by jack_transport as timebase master.

jalv sends the plugin a time:Position only when the transport changes, and JUCE 7's LV2
client drops it after one run() (JUCE#1641): the plugin sees a position on a handful of
blocks and must extrapolate the grid itself. The position has time:frame and tempo but no
time:beat, so JUCE gives no ppq and the plugin derives it from the frame. Two JACK clients
of this test play a drum loop into jalv and record its output (in the same cycle, with
JACK's transport frame of every cycle). The take, pressed through the `generate` control
port, must start on a bar line of JACK's transport (4/4: jack_transport has no metre
command) and loop. The LV2's parameters are patch properties, which jalv's console cannot
set (INTERFACE.md), so the plugin keeps its defaults (mix 0.5, 4 bars captured, 4-bar takes)
and Generate is pressed with its trigger file; the take is what the output holds beyond half
the input, which the recorder also keeps.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from tests.plugin_host.plugin.audio_checks import HOST_RATE, bar_frames, find_stem, read_mono
from tests.plugin_host.plugin.bundles import lv2_bundle, need, tool
from tests.plugin_host.plugin.observe import PluginWatch
from tests.support.server import SidecarProcess

LV2_URI = "https://github.com/musicgen-sidecar/plugin"  # INTERFACE.md
BPM = 240.0  # a 1-second bar: the default 4-bar capture and take stay short
TAKE_BARS = 4
PERIOD = 256


class PlayAndRecord:
    """A player client (loops a drum loop into its outputs) and a recorder client (keeps what
    arrives at its inputs, with the transport frame and state of each cycle)."""

    def __init__(self, loop: np.ndarray, seconds: float):
        import jack

        self.loop = loop  # (frames, 2) float32
        self.player = jack.Client("sidecar_test_player", no_start_server=True)
        self.recorder = jack.Client("sidecar_test_recorder", no_start_server=True)
        self.outs = [self.player.outports.register(f"out_{i}") for i in (1, 2)]
        # in_1/2: the plugin's output; in_3/4: what the player sent it, in the same cycle
        self.ins = [self.recorder.inports.register(f"in_{i}") for i in (1, 2, 3, 4)]
        capacity = int(seconds * HOST_RATE)
        self.recorded = np.zeros((capacity, 4), dtype=np.float32)
        self.cycles: list[tuple[int, int, bool]] = []  # (recorded index, transport frame, rolling)
        self.cycles_capacity = capacity // PERIOD + 8
        self.written = 0
        self.loop_at = 0
        self.player.set_process_callback(self._play)
        self.recorder.set_process_callback(self._record)

    def _play(self, frames: int) -> None:
        idx = (self.loop_at + np.arange(frames)) % self.loop.shape[0]
        for ch, port in enumerate(self.outs):
            port.get_array()[:] = self.loop[idx, ch]
        self.loop_at = (self.loop_at + frames) % self.loop.shape[0]

    def _record(self, frames: int) -> None:
        import jack

        full = len(self.cycles) >= self.cycles_capacity
        if full or self.written + frames > self.recorded.shape[0]:
            return
        state, position = self.recorder.transport_query()
        self.cycles.append((self.written, int(position["frame"]), state == jack.ROLLING))
        for ch, port in enumerate(self.ins):
            self.recorded[self.written: self.written + frames, ch] = port.get_array()
        self.written += frames

    def __enter__(self) -> PlayAndRecord:
        self.player.activate()
        self.recorder.activate()
        return self

    def __exit__(self, *exc: object) -> None:
        for client in (self.player, self.recorder):
            client.deactivate()
            client.close()


@pytest.fixture(scope="module")
def jack_server() -> Iterator[None]:
    tool("jackd", "jackd2")
    try:
        import jack  # noqa: F401
    except ImportError:
        need(False, "the JACK-Client Python package is missing (pip install JACK-Client)")
    from tests.plugin_host.looper.jack import jack_dummy

    with jack_dummy(HOST_RATE, PERIOD):
        yield


def jack_command(name: str, *args: str) -> None:
    subprocess.run([name, *args], check=True, timeout=10, capture_output=True)


@dataclass(frozen=True)
class JalvRun:
    recorded: np.ndarray  # the take: 2 x output - input (mix 0.5), mono
    cycles: list[tuple[int, int, bool]]  # (recorded index, JACK transport frame, rolling)
    status: dict[str, Any]
    events: list[dict[str, Any]]
    stem: np.ndarray


@pytest.fixture(scope="module")
def jalv_run(
    jack_server: None, sidecar: SidecarProcess, amen_bar: tuple[Path, float],
    tmp_path_factory: pytest.TempPathFactory,
) -> JalvRun:
    tmp_path = tmp_path_factory.mktemp("jalv")
    watch = PluginWatch(tmp_path / "plugin", sidecar.port)
    watch.folder.mkdir()
    tool("jalv", "jalv")
    tool("jack_transport", "jackd2")
    bundle = lv2_bundle()
    loop, _ = sf.read(str(amen_bar[0]), dtype="float32", always_2d=True)
    trigger = tmp_path / "press-generate"
    env = {**os.environ, **watch.env(MUSICGEN_SIDECAR_TRIGGER_FILE=str(trigger)),
           "LV2_PATH": str(bundle.parent)}
    jalv_log = open(tmp_path / "jalv.log", "wb")
    jalv = subprocess.Popen(
        ["jalv", "-n", "sidecar_lv2", "-x", LV2_URI],
        stdin=subprocess.PIPE, stdout=jalv_log, stderr=subprocess.STDOUT, env=env,
    )
    transport = subprocess.Popen(["jack_transport"], stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    assert jalv.stdin is not None and transport.stdin is not None

    def roll(line: str) -> None:
        transport.stdin.write(line + "\n")  # type: ignore[union-attr]
        transport.stdin.flush()  # type: ignore[union-attr]

    try:
        deadline = time.monotonic() + 30
        while True:
            ports = subprocess.run(["jack_lsp"], capture_output=True, text=True).stdout.split()
            jalv_ports = [p for p in ports if p.startswith("sidecar_lv2:")]
            if len(jalv_ports) >= 4:
                break
            assert jalv.poll() is None, (tmp_path / "jalv.log").read_text(errors="replace")
            assert time.monotonic() < deadline, f"jalv ports never appeared: {ports}"
            time.sleep(0.2)
        audio_in = subprocess.run(["jack_lsp", "-p", "-t"], capture_output=True, text=True).stdout
        ins, outs = _audio_ports(audio_in, "sidecar_lv2:")
        assert len(ins) == 2 and len(outs) == 2, audio_in

        with PlayAndRecord(loop, seconds=60) as rig:
            for i in range(2):
                jack_command("jack_connect", f"sidecar_test_player:out_{i + 1}", ins[i])
                jack_command("jack_connect", outs[i], f"sidecar_test_recorder:in_{i + 1}")
                jack_command("jack_connect", f"sidecar_test_player:out_{i + 1}",
                             f"sidecar_test_recorder:in_{i + 3}")
            roll("master")
            roll(f"tempo {BPM:g}")
            roll("locate 0")
            roll("play")
            time.sleep(4.5)  # 4.5 bars: the 4 bars before the next bar line are complete
            trigger.touch()
            watch.wait_for_take(timeout_seconds=90)
            watch.wait_for(lambda s: s["player"]["state"] == "playing", "the take playing", 30)
            time.sleep(TAKE_BARS + 3.0)  # a whole loop of the take and a bit
            roll("stop")
            time.sleep(0.2)
            written = rig.written
            both = rig.recorded[:written].astype(np.float64)
            # the take: output = 0.5 input + 0.5 take (mix 0.5), mono
            recorded = (2.0 * both[:, 0:2] - both[:, 2:4]).mean(axis=1)
            cycles = list(rig.cycles)
    finally:
        for proc in (transport, jalv):
            if proc.stdin is not None:
                proc.stdin.close()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        jalv_log.close()

    np.save(tmp_path / "recorded.npy", both)  # output L/R, input L/R, for a failing run
    np.save(tmp_path / "cycles.npy", np.array(cycles))  # recorded index, frame, rolling
    status = watch.status()
    take = next(t for t in status["takes"] if t.get("loaded"))
    stem, rate = read_mono(Path(take["path"]))
    assert rate == HOST_RATE
    return JalvRun(recorded, cycles, status, watch.events(), stem)


def test_lv2_take_is_heard_exactly_and_loops(jalv_run: JalvRun) -> None:
    """Pressed by the trigger file; from its start on, every cycle holds, frame for frame, the
    stem frame its JACK transport frame maps to (frames since the take's start, modulo the 4
    bars of the tempo jack_transport set, 240 BPM): the take loops on JACK's timeline. On a
    loaded machine the dummy driver skips late cycles and the transport frame jumps; the take
    jumps with it (it follows time:frame), so the check is per cycle, not per recorded frame.
    A cycle whose frame is not the last one's plus a period (an xrun) is left out: in it, the
    recorder has seen jalv's output of another cycle (2026-12-04, once in ~1000 cycles)."""
    run = jalv_run
    assert [e["source"] for e in run.events if e["event"] == "trigger"] == ["file"]
    assert run.status["transport"]["bpm"] == BPM
    found = find_stem(run.recorded, run.stem)
    start_frame = _transport_frame(run, found.offset)
    loop_frames = int(TAKE_BARS * bar_frames(BPM, 4, 4, HOST_RATE))  # 192000
    assert run.stem.size == loop_frames
    checked = 0
    xruns = 0
    worst = 0.0
    last_frame: int | None = None
    for index, frame, rolling in run.cycles:
        steady = last_frame is not None and frame == last_frame + PERIOD
        last_frame = frame if rolling else None
        if index < found.offset or not rolling or index + PERIOD > run.recorded.size:
            continue
        if not steady:
            xruns += 1
            continue
        want = run.stem[(frame - start_frame + np.arange(PERIOD)) % loop_frames]
        worst = max(worst, float(np.abs(run.recorded[index: index + PERIOD] - want).max()))
        checked += PERIOD
    assert checked > loop_frames + PERIOD, (checked, loop_frames)  # a whole loop and more
    assert xruns * PERIOD * 10 < checked, (xruns, checked)
    assert worst < 1e-4, (worst, found)


def _transport_frame(run: JalvRun, recorded_index: int) -> int:
    """JACK's transport frame at a recorded frame (from the cycle it lies in)."""
    index, frame, rolling = max((c for c in run.cycles if c[0] <= recorded_index),
                                key=lambda c: c[0])
    assert rolling
    return frame + (recorded_index - index)


def test_lv2_take_starts_on_a_jack_bar_line(jalv_run: JalvRun) -> None:
    """jalv sends time:frame and tempo but no time:beat: the plugin derives its ppq from the
    frame (INTERFACE.md), so the take starts on a bar line of JACK's transport."""
    run = jalv_run
    found = find_stem(run.recorded, run.stem)
    transport_frame = _transport_frame(run, found.offset)
    bar = bar_frames(BPM, 4, 4, HOST_RATE)
    start_bar = round(transport_frame / bar)
    assert transport_frame == start_bar * bar, (transport_frame, bar)
    assert run.status["player"]["start_bar"] == start_bar, run.status["player"]


def _audio_ports(listing: str, prefix: str) -> tuple[list[str], list[str]]:
    """Audio input and output ports of a client, from `jack_lsp -p -t`."""
    ins: list[str] = []
    outs: list[str] = []
    lines = listing.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith(prefix):
            continue
        details = " ".join(lines[i + 1: i + 3])
        if "audio" not in details:
            continue
        (ins if "input" in details else outs).append(line.strip())
    return ins, outs

