"""The control loop in virtual time: a fake stream and a fake sidecar client, no sound server."""

import queue

import mido
import numpy as np
import pytest
import sounddevice as sd

from plugin_host.looper.app import Looper
from plugin_host.looper.audio import AudioEngine
from plugin_host.looper.client import ContinueRequest, SidecarClient, SidecarReply
from plugin_host.looper.clock import FixedClock
from plugin_host.looper.config import load_config
from plugin_host.looper.midi_clock import MidiClock
from plugin_host.looper.tempo import PPQN
from plugin_host.looper.triggers import Action, TriggerEvent
from sidecar.files.audiofile import write_audio_atomic
from sidecar.osc.addresses import ACCEPTED, CANCELLED, DONE, STEM

SR, BLOCK = 48000, 256


class FakeStream:
    """Stands in for sd.Stream: the test calls the callback itself."""

    def __init__(self, callback, **kwargs):
        self.callback = callback
        self.active = False
        self.latency = (0.0, 0.0)

    def start(self):
        self.active = True

    def stop(self):
        self.active = False

    def close(self):
        pass


class FakeClient(SidecarClient):
    """Records requests; the test decides when and what the "sidecar" answers."""

    def __init__(self, out_dir):
        self.replies = queue.SimpleQueue()
        self.requests: list[ContinueRequest] = []
        self.cancelled: list[str] = []
        self.out_dir = out_dir

    def request_continue(self, request):
        self.requests.append(request)
        self.replies.put(SidecarReply(ACCEPTED, (request.request_id, 0)))
        return request.request_id

    def cancel(self, request_id):
        self.cancelled.append(request_id)
        self.replies.put(SidecarReply(CANCELLED, (request_id,)))

    def deliver(self, request, levels, frames=None):
        rid = request.request_id
        n = frames or round(request.bars * request.beats_per_bar * 60 / request.bpm * SR)
        for i, level in enumerate(levels):
            path = write_audio_atomic(
                self.out_dir / f"{rid}-{i}.wav", np.full((1, n), level, np.float32), SR, "float32"
            )
            self.replies.put(SidecarReply(STEM, (rid, i, str(path))))
        self.replies.put(SidecarReply(DONE, (rid, len(levels))))

    def close(self):
        pass


class Rig:
    def __init__(self, tmp_path, clock, **overrides):
        config = load_config(None, audio__history_bars=8, loop__bars=1, **overrides)
        self.engine = AudioEngine(SR, 1, 1, 8 * SR * 2, 0, block_size=BLOCK,
                                  stream_factory=FakeStream)  # fmt: skip
        self.t = 1000.0
        self.engine._clock = lambda: self.t
        self.client = FakeClient(tmp_path)
        self.clock = clock
        self.looper = Looper(config, self.engine, clock, self.client, clip_dir=tmp_path)
        self.looper.monotonic = lambda: self.t
        self.looper.start(run_thread=False)
        self.ticks = 0
        self.midi_bpm = None
        self.flags = sd.CallbackFlags()
        self.clicks: list[int] = []  # input frames that carry 1.0 (the rest is silence)

    def run(self, seconds):
        inp = np.zeros((BLOCK, 1), np.float32)
        out = np.zeros((BLOCK, 1), np.float32)
        for _ in range(round(seconds * SR / BLOCK)):
            if self.midi_bpm is not None:
                while self.tick_time(self.ticks) <= self.t + BLOCK / SR:
                    self.clock.handle(mido.Message("clock"), self.tick_time(self.ticks))
                    self.ticks += 1
            frame0 = self.engine.frames_processed
            inp[:] = 0.0
            for click in self.clicks:
                if frame0 <= click < frame0 + BLOCK:
                    inp[click - frame0] = 1.0
            self.engine._callback(inp, out, BLOCK, None, self.flags)
            self.t += BLOCK / SR
            self.looper.step()

    def tick_time(self, tick):
        return self.t0 + tick * 60.0 / (self.midi_bpm * PPQN)

    def start_midi(self, bpm):
        self.midi_bpm = bpm
        self.t0 = self.t + 0.01
        self.clock.handle(mido.Message("start"), self.t)

    def trigger(self, action, bars=None):
        self.looper.submit(TriggerEvent(action, bars, "test", self.t))
        self.looper.step()


def test_loop_ready_while_the_clock_is_stopped_waits_and_lands_on_the_downbeat(tmp_path):
    rig = Rig(tmp_path, MidiClock(beats_per_bar=4), clock__source="midi")
    rig.start_midi(120.0)
    rig.run(2.5)  # 1.25 bars
    rig.trigger(Action.CAPTURE, bars=1)
    rig.run(0.1)
    (request,) = rig.client.requests
    assert request.bars == 1 and request.bpm == pytest.approx(120.0, abs=0.01)
    rig.clock.handle(mido.Message("stop"), rig.t)
    rig.midi_bpm = None
    rig.client.deliver(request, [0.5])
    rig.run(0.5)
    assert rig.looper.status().queue == "ready" and rig.engine.player.current is None
    # Continue from bar 3 (song position 32 sixteenths = 2 bars = 8 beats).
    rig.clock.handle(mido.Message("songpos", pos=32), rig.t)
    rig.clock.handle(mido.Message("continue"), rig.t)
    rig.midi_bpm, rig.t0, rig.ticks = 120.0, rig.t + 0.01 - 8 * 0.5, 8 * PPQN
    rig.run(3.0)
    assert rig.looper.history.current is not None
    (_, _, applied) = rig.engine.player.applied_switches()[-1]
    heard_s = rig.engine.time_at_frame(applied)
    beat = (heard_s - rig.t0) / 0.5
    assert beat >= 8.0  # not before the song position it continued from
    assert abs(beat - 4 * round(beat / 4)) * 0.5 * SR <= BLOCK  # on a downbeat, within a block


def test_cancel_a_request_in_flight(tmp_path):
    rig = Rig(tmp_path, FixedClock(120.0))
    rig.run(2.5)
    rig.trigger(Action.CAPTURE)
    rig.run(0.05)
    assert rig.looper.status().queue == "queued"
    rig.trigger(Action.CANCEL)
    rig.run(0.05)
    assert rig.client.cancelled == [rig.client.requests[0].request_id]
    assert rig.looper.status().queue == "idle"


def test_quantize_to_the_loop_length_and_stems_of_any_length(tmp_path):
    rig = Rig(tmp_path, FixedClock(120.0), loop__quantize="loop", loop__variations=2)
    bar = 2 * SR
    rig.run(4.5)
    rig.trigger(Action.CAPTURE, bars=2)
    rig.run(0.05)
    request = rig.client.requests[0]
    rig.client.deliver(request, [0.25, 0.5], frames=2 * bar - 777)  # short: padded
    rig.run(2.0)
    entry = rig.looper.history.current
    assert entry.audio.shape == (2 * bar, 1) and (entry.audio[-777:] == 0).all()
    (_, _, start) = rig.engine.player.applied_switches()[-1]
    assert start % bar == 0
    rig.trigger(Action.VARIATION)  # half a bar into a 2-bar loop: waits for the loop's end
    rig.run(4.5)
    (_, _, switched) = rig.engine.player.applied_switches()[-1]
    assert switched == start + 2 * bar
    assert rig.looper.history.current.selected == 1


def test_capture_refused_while_the_clock_is_stopped(tmp_path):
    rig = Rig(tmp_path, MidiClock(), clock__source="midi")
    rig.run(0.2)
    rig.trigger(Action.CAPTURE)
    assert rig.looper.status().message == "the clock is not running"
    assert not rig.client.requests


def test_loop_is_re_anchored_when_the_band_changes_tempo(tmp_path):
    rig = Rig(tmp_path, MidiClock(beats_per_bar=4), clock__source="midi", loop__quantize="loop")
    rig.start_midi(120.0)
    rig.run(2.5)
    rig.trigger(Action.CAPTURE, bars=1)
    rig.run(0.05)
    rig.client.deliver(rig.client.requests[0], [0.5])
    rig.run(2.0)
    assert rig.looper.history.current is not None
    # The band speeds up to 121 BPM: a 120-BPM loop falls ~16 ms behind per bar.
    last_tick_s = rig.tick_time(rig.ticks - 1)
    rig.midi_bpm = 121.0
    period = 60.0 / (121.0 * PPQN)
    rig.t0 = last_tick_s + period - rig.ticks * period
    rig.run(12.0)
    assert rig.looper.resyncs >= 2
    (_, _, applied) = rig.engine.player.applied_switches()[-1]
    beat = (rig.engine.time_at_frame(applied) - rig.t0) * 121.0 / 60.0
    assert abs(beat - 4 * round(beat / 4)) * 60.0 / 121.0 * SR <= BLOCK
