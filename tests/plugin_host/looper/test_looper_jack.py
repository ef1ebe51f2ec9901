"""The whole looper on JACK with a stand-in sidecar: capture, switch, variations, undo, stop."""

import time

import numpy as np
import pytest

from plugin_host.looper.app import Looper
from plugin_host.looper.audio import AudioEngine
from plugin_host.looper.client import SidecarClient
from plugin_host.looper.clock import FixedClock
from plugin_host.looper.config import load_config
from plugin_host.looper.triggers import Action
from sidecar.files.audiofile import read_audio
from tests.plugin_host.looper.jack import jack_connect
from tests.plugin_host.looper.responder import Responder
from tests.plugin_host.looper.test_jack_stream import SCALE, start_feed

pytestmark = pytest.mark.jack

BPM = 240.0  # one bar = 1 s


def wait_for(predicate, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.fixture
def looper_rig(jack_server, tmp_path):
    sr = jack_server.sample_rate
    responder = Responder(tmp_path)
    config = load_config(
        None, clock__bpm=BPM, loop__variations=2, loop__bars=1, loop__quantize="loop",
        audio__history_bars=8, sidecar__port=responder.port,
    )  # fmt: skip
    engine = AudioEngine(
        sr, 2, 2, history_frames=8 * sr, crossfade_frames=480, device=jack_server.device
    )
    clock = FixedClock(BPM)
    client = SidecarClient("127.0.0.1", responder.port)
    looper = Looper(config, engine, clock, client, clip_dir=tmp_path)
    from tests.plugin_host.looper.jack import jack_ports

    before = jack_ports()
    looper.start()
    ins = sorted(p for p in jack_ports() if p not in before and ":in_" in p)
    for system, port in zip(("system:capture_1", "system:capture_2"), ins, strict=True):
        jack_connect(system, port, connect=False)
    feed = start_feed(jack_server, ins)
    yield looper, responder
    looper.close()
    feed.stream.stop()
    feed.stream.close()
    client.close()
    responder.close()


def playing_level(looper):
    current = looper.engine.player.current
    return None if current is None or current.audio is None else float(current.audio[0, 0])


def test_capture_generate_switch_variation_undo_stop(looper_rig):
    looper, responder = looper_rig
    engine = looper.engine
    sr = engine.sample_rate
    bar = round(4 * 60 / BPM * sr)
    wait_for(lambda: engine.frames_processed > 2.2 * bar, 10, "a full bar of fed input")

    looper.trigger(Action.CAPTURE, bars=1)
    wait_for(lambda: looper.history.current is not None, 10, "the first loop to play")
    (_token, requested, applied) = engine.player.applied_switches()[-1]
    assert requested == applied and applied % bar == 0, "switch is off the bar grid"
    assert playing_level(looper) == pytest.approx(0.1)
    first = looper.history.current
    assert first.audio.shape == (bar, 2)  # the 123 extra frames were trimmed to the grid
    assert responder.requests[0]["bars"] == 1 and responder.requests[0]["bpm"] == BPM
    assert responder.requests[0]["loop"] == 1 and responder.requests[0]["sample_rate"] == sr
    # The clip sent is exactly the fed input: one bar of consecutive counter values.
    clip, clip_sr = read_audio(
        looper.clip_dir / next(p.name for p in looper.clip_dir.glob("capture-*"))
    )
    counter = np.round(clip[0] * SCALE).astype(np.int64)
    assert clip_sr == sr and clip.shape == (2, bar) and (np.diff(counter) == 1).all()
    assert looper.latencies_s and 0 < looper.latencies_s[0] < 3.0

    looper.trigger(Action.VARIATION)
    wait_for(lambda: looper.history.current.selected == 1, 5, "variation 2")
    assert playing_level(looper) == pytest.approx(0.2)
    assert engine.player.applied_switches()[-1][2] % bar == 0

    responder.level = 0.3
    looper.trigger(Action.CAPTURE, bars=1)
    wait_for(lambda: len(looper.history) == 2, 10, "the second loop")
    assert playing_level(looper) == pytest.approx(0.3)

    looper.trigger(Action.UNDO)
    wait_for(lambda: looper.history.current.loop_id == first.loop_id, 5, "undo")
    assert playing_level(looper) == pytest.approx(0.2)  # back to loop 1, variation 2
    assert engine.player.applied_switches()[-1][2] % bar == 0

    looper.trigger(Action.STOP)
    wait_for(lambda: engine.player.current is None, 5, "stop")
    assert engine.player.applied_switches()[-1][2] % bar == 0
    offsets = [applied - requested for _, requested, applied in engine.player.applied_switches()]
    print(f"switch offsets (samples): {offsets}; trigger→ready: {looper.latencies_s}")
    assert offsets == [0] * len(offsets)
