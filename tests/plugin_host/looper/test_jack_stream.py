"""The duplex stream on a real (dummy-driver) JACK server: capture and switch timing."""

import gc
import time

import numpy as np
import pytest
import sounddevice as sd

from plugin_host.looper.audio import AudioEngine, settle_collector
from plugin_host.looper.player import SwitchCommand
from tests.plugin_host.looper.jack import jack_connect, jack_ports

pytestmark = pytest.mark.jack

SCALE = float(2**24)  # counter values k / 2**24 are exact in float32


class CounterFeed:
    """An output stream playing the sample counter k / 2**24 on every channel."""

    def __init__(self, device, sample_rate, channels=1):
        self.n = 0
        self.stream = sd.OutputStream(
            samplerate=sample_rate, device=device, channels=channels, dtype="float32",
            callback=self._callback,
        )  # fmt: skip

    def _callback(self, outdata, frames, _time, _status):
        outdata[:] = ((np.arange(self.n, self.n + frames) % (1 << 24)) / SCALE)[:, None]
        self.n += frames


class Recorder:
    def __init__(self, device, sample_rate, channels, seconds):
        self.data = np.zeros((int(seconds * sample_rate), channels), np.float32)
        self.n = 0
        self.stream = sd.InputStream(
            samplerate=sample_rate, device=device, channels=channels, dtype="float32",
            callback=self._callback,
        )  # fmt: skip

    def _callback(self, indata, frames, _time, _status):
        k = min(frames, len(self.data) - self.n)
        self.data[self.n : self.n + k] = indata[:k]
        self.n += k


def new_ports(before):
    return [p for p in jack_ports() if p not in before]


def open_engine(jack_server, history_frames, crossfade_frames=0):
    engine = AudioEngine(
        sample_rate=jack_server.sample_rate, input_channels=2, output_channels=2,
        history_frames=history_frames, crossfade_frames=crossfade_frames,
        device=jack_server.device,
    )  # fmt: skip
    before = jack_ports()
    engine.start()
    ports = new_ports(before)
    ins = sorted(p for p in ports if ":in_" in p)
    outs = sorted(p for p in ports if ":out_" in p)
    return engine, ins, outs


def start_feed(jack_server, destinations):
    before = jack_ports()
    feed = CounterFeed(jack_server.device, jack_server.sample_rate)
    feed.stream.start()
    (out,) = [p for p in new_ports(before) if ":out_" in p]
    for system in ("system:playback_1", "system:playback_2"):
        try:
            jack_connect(out, system, connect=False)
        except Exception:
            pass
    for dst in destinations:
        jack_connect(out, dst)
    return feed


def test_captured_audio_equals_the_input_sample_for_sample_across_wraparound(jack_server):
    sr = jack_server.sample_rate
    engine, ins, _ = open_engine(jack_server, history_frames=sr)  # 1 s ring: wraps 3×
    try:
        for system, port in zip(("system:capture_1", "system:capture_2"), ins, strict=True):
            jack_connect(system, port, connect=False)
        feed = start_feed(jack_server, ins)
        deadline = time.monotonic() + 10
        while engine.ring.frames_written < 3.5 * sr and time.monotonic() < deadline:
            time.sleep(0.05)
        stats = engine.stats()
        engine.stop()  # before the feed, so the ring ends on fed samples
        feed.stream.stop()
        feed.stream.close()
    finally:
        engine.stop()
    ring = engine.ring
    assert ring.frames_written > 3 * ring.capacity_frames
    # Everything held, including the physical wrap point, is the fed counter, one step apart.
    got = ring.read(ring.oldest_frame(), ring.capacity_frames)
    counter = np.round(got * SCALE).astype(np.int64)
    assert (counter[:, 0] == counter[:, 1]).all()
    steps = np.diff(counter[:, 0])
    assert (steps == 1).all(), f"{np.count_nonzero(steps != 1)} discontinuities"
    # And sample k of the ring is counter k + constant: nothing dropped or repeated.
    offset = counter[0, 0] - ring.oldest_frame()
    assert (counter[:, 0] == np.arange(ring.oldest_frame(), ring.frames_written) + offset).all()
    print(
        f"capture: {ring.frames_written} frames through a {ring.capacity_frames}-frame ring, "
        f"xruns reported by JACK: {stats.xruns} (the 60-s test asserts on those)"
    )


def test_switch_is_heard_on_the_bar_boundary_within_one_block(jack_server):
    sr, block = jack_server.sample_rate, jack_server.period_frames
    bar = 2 * sr  # 120 BPM, 4/4
    engine, ins, outs = open_engine(jack_server, history_frames=4 * sr)
    before = jack_ports()
    recorder = Recorder(jack_server.device, sr, 2, seconds=6)
    recorder.stream.start()
    rec_ins = sorted(p for p in new_ports(before) if ":in_" in p)
    try:
        for system, port in zip(("system:capture_1", "system:capture_2"), rec_ins, strict=True):
            jack_connect(system, port, connect=False)
        jack_connect(outs[0], rec_ins[0])
        feed = start_feed(jack_server, [ins[0], rec_ins[1]])
        while engine.frames_processed < sr // 2:
            time.sleep(0.01)
        target = (engine.frames_processed // bar + 1) * bar
        engine.player.schedule(SwitchCommand(1, target, np.full((1000, 2), 0.25, np.float32)))
        while engine.frames_processed < target + sr // 2:
            time.sleep(0.01)
        recorder.stream.stop()
        feed.stream.stop()
        feed.stream.close()
    finally:
        recorder.stream.close()
        engine.stop()
    assert engine.player.applied_switches() == [(1, target, target)]
    # Where the recorder heard the loop start, the input counter should be the one the looper's
    # input held at frame `target`: the two differ by JACK's graph delay, at most one block.
    ring_counter = round(float(engine.ring.read(target, 1)[0, 0]) * SCALE)
    heard = np.flatnonzero(recorder.data[: recorder.n, 0] != 0)
    assert heard.size
    heard_counter = round(float(recorder.data[heard[0], 1]) * SCALE)
    offset = heard_counter - ring_counter
    print(f"switch heard {offset} samples after the bar boundary (block {block})")
    assert 0 <= offset <= block


def test_settling_the_collector_takes_the_live_heap_out_of_full_collections():
    # A full collection walks every tracked object while holding the GIL the audio callback needs.
    kept = [[i] for i in range(50_000)]  # long-lived containers (tracked), as a loaded app has
    tracked_before = len(gc.get_objects())
    frozen = settle_collector()
    try:
        tracked_after = len(gc.get_objects())
        assert frozen >= len(kept)
        assert tracked_after < tracked_before - len(kept)
        assert all(item == [i] for i, item in enumerate(kept))  # frozen, yet alive and usable
    finally:
        gc.unfreeze()
