"""Control-loop edge cases in virtual time: latencies, stops, loops waiting for a bar, timeouts."""

import mido
import pytest

from plugin_host.looper.app import Looper
from plugin_host.looper.audio import AudioEngine
from plugin_host.looper.client import SidecarReply
from plugin_host.looper.clock import FixedClock
from plugin_host.looper.config import load_config
from plugin_host.looper.midi_clock import MidiClock
from plugin_host.looper.triggers import Action
from sidecar.files.audiofile import read_audio
from sidecar.osc.addresses import PROGRESS
from tests.plugin_host.looper.test_looper_virtual import (
    BLOCK,
    SR,
    FakeClient,
    FakeStream,
    Rig,
)

T_START = 1000.0  # the Rig's virtual time of stream frame 0


class LatentStream(FakeStream):
    """A stream whose host reports 3 ms of input and 12 ms of output latency."""

    def __init__(self, callback, **kwargs):
        super().__init__(callback, **kwargs)
        self.latency = (0.003, 0.012)


def midi_rig(tmp_path, **overrides):
    rig = Rig(tmp_path, MidiClock(beats_per_bar=4), clock__source="midi", **overrides)
    rig.start_midi(120.0)  # a beat is 0.5 s, a bar 2 s; beat b is at rig.t0 + b / 2
    return rig


def beat_error_frames(rig, frame, bpm=120.0, latency_s=0.0):
    """How far the sound of stream `frame` is heard from the nearest MIDI downbeat, in frames."""
    beat = (rig.engine.time_at_frame(frame) + latency_s - rig.t0) * bpm / 60.0
    return abs(beat - 4 * round(beat / 4)) * 60.0 / bpm * SR


@pytest.mark.parametrize(
    ("setting", "expected_s"),
    [(None, (0.003, 0.012)), ("auto", (0.003, 0.012)), (20.0, (0.02,) * 2)],
)
def test_latencies_default_to_what_the_host_reports(tmp_path, setting, expected_s):
    config = load_config(
        None, clock__source="midi", audio__output_latency_ms=setting,
        audio__input_latency_ms=setting,
    )  # fmt: skip
    engine = AudioEngine(SR, 1, 1, SR, 0, block_size=BLOCK, stream_factory=LatentStream)
    looper = Looper(config, engine, MidiClock(), FakeClient(tmp_path), clip_dir=tmp_path)
    looper.start(run_thread=False)
    try:
        timeline = looper.timeline
        assert (timeline.input_latency_s, timeline.output_latency_s) == expected_s
    finally:
        looper.close()


@pytest.mark.parametrize(("output_ms", "input_ms"), [(0.0, 0.0), (20.0, 0.0), (20.0, 5.0)])
def test_a_click_on_the_downbeat_is_sample_0_of_the_capture(tmp_path, output_ms, input_ms):
    rig = midi_rig(tmp_path, audio__output_latency_ms=output_ms, audio__input_latency_ms=input_ms)
    # The performer clicks on the downbeats of bars 2 and 3 (beats 4 and 8); each click reaches
    # the ring input_ms after it was played.
    rig.clicks = [round((rig.t0 + b / 2 + input_ms / 1e3 - T_START) * SR) for b in (4, 8)]
    rig.run(4.5)  # bar 3, beat 1
    rig.trigger(Action.CAPTURE, bars=1)
    rig.run(0.05)
    (request,) = rig.client.requests
    audio, _ = read_audio(request.clip)
    assert audio.shape == (1, SR * 2)
    assert audio[0, 0] == 1.0 and audio.sum() == 1.0  # bar 2's click, and not bar 3's
    # Playback still honours the output latency: the loop is *heard* on the next downbeat.
    rig.client.deliver(request, [0.5])
    rig.run(2.0)
    (_, _, applied) = rig.engine.player.applied_switches()[-1]
    assert beat_error_frames(rig, applied, latency_s=output_ms / 1e3) <= 1


@pytest.mark.parametrize(("output_ms", "input_ms"), [(0.0, 0.0), (20.0, 0.0), (20.0, 5.0)])
def test_with_the_fixed_clock_a_capture_is_shifted_by_the_round_trip(tmp_path, output_ms, input_ms):
    # The performer plays to the looper's own output: stream frame n is heard output_ms after
    # it is rendered, and what they play then reaches the ring input_ms later still.
    rig = Rig(
        tmp_path, FixedClock(120.0),
        audio__output_latency_ms=output_ms, audio__input_latency_ms=input_ms,
    )  # fmt: skip
    round_trip = round((output_ms + input_ms) / 1e3 * SR)
    rig.clicks = [bar * 2 * SR + round_trip for bar in (1, 2)]  # heard downbeats of bars 2, 3
    rig.run(4.5)
    rig.trigger(Action.CAPTURE, bars=1)
    rig.run(0.05)
    (request,) = rig.client.requests
    assert request.clip.stem == f"capture-{2 * SR + round_trip}"
    audio, _ = read_audio(request.clip)
    assert audio.shape == (1, SR * 2)
    assert audio[0, 0] == 1.0 and audio.sum() == 1.0  # bar 2's click, and not bar 3's


def play_two_bar_loop(rig):
    """Capture 2 bars, deliver, and run until the loop is a quarter bar in; returns its start."""
    rig.run(4.5)
    rig.trigger(Action.CAPTURE, bars=2)
    rig.run(0.05)
    rig.client.deliver(rig.client.requests[-1], [0.5])
    rig.looper.step()
    while rig.looper.history.current is None:
        rig.run(0.05)
    (_, _, start) = rig.engine.player.applied_switches()[-1]
    rig.run(0.5)
    return start


@pytest.mark.parametrize("stop_by", ["trigger", "clock"])
def test_stop_fades_out_at_the_next_bar_with_loop_quantize(tmp_path, stop_by):
    rig = midi_rig(tmp_path)
    assert rig.looper.config.loop.quantize == "loop"  # the default
    start = play_two_bar_loop(rig)
    if stop_by == "clock":
        rig.midi_bpm = None
        rig.clock.handle(mido.Message("stop"), rig.t)
        rig.looper.step()
    else:
        rig.trigger(Action.STOP)
    rig.run(2.0)
    assert rig.engine.player.current is None and not rig.looper.switcher.playing
    (_, _, stopped) = rig.engine.player.applied_switches()[-1]
    assert abs(stopped - (start + 2 * SR)) <= BLOCK  # one bar in, not at the loop's end


def test_loop_waiting_for_its_bar_survives_a_clock_stop(tmp_path):
    rig = midi_rig(tmp_path, loop__quantize="bar")
    rig.run(2.5)
    rig.trigger(Action.CAPTURE, bars=1)
    rig.run(0.1)
    rig.client.deliver(rig.client.requests[-1], [0.5])
    rig.looper.step()
    assert rig.looper.status().queue == "ready" and rig.looper.switcher.scheduled is not None
    rig.midi_bpm = None
    rig.clock.handle(mido.Message("stop"), rig.t)
    rig.looper.step()
    status = rig.looper.status()
    assert status.queue == "ready" and "loop 1 waits for the clock" in status.message
    rig.run(1.0)
    assert rig.engine.player.current is None and len(rig.looper.history) == 0
    rig.ticks = 0  # start: the next tick is beat 0
    rig.start_midi(120.0)
    rig.run(2.5)
    assert rig.looper.history.current.loop_id == 1 and rig.looper.switcher.playing
    (_, _, applied) = rig.engine.player.applied_switches()[-1]
    assert beat_error_frames(rig, applied) <= 1


@pytest.mark.parametrize("action", [Action.VARIATION, Action.UNDO])
def test_variation_or_undo_does_not_replace_a_loop_waiting_for_its_bar(tmp_path, action):
    rig = Rig(tmp_path, FixedClock(120.0), loop__quantize="bar", loop__variations=2)
    rig.run(2.2)
    rig.trigger(Action.CAPTURE, bars=1)
    rig.run(0.1)
    rig.client.deliver(rig.client.requests[-1], [0.1, 0.2])
    rig.run(2.0)
    assert rig.looper.history.current.loop_id == 1
    rig.trigger(Action.CAPTURE, bars=1)
    rig.run(0.05)
    rig.client.deliver(rig.client.requests[-1], [0.7, 0.8])
    rig.looper.step()
    rig.trigger(action)
    assert rig.looper.status().message == (
        f"{action.value} refused: loop 2 starts at bar 4 (cancel it first)"
    )
    rig.run(2.0)
    assert [e.loop_id for e in rig.looper.history.entries] == [1, 2]
    assert rig.looper.history.current.loop_id == 2
    assert rig.engine.player.current.audio[0, 0] == pytest.approx(0.7)
    rig.trigger(action)  # with no loop waiting, it goes through again
    assert rig.looper.status().message == f"{action.value} at bar 5"


def test_sidecar_timeout_restarts_on_every_reply(tmp_path):
    rig = Rig(tmp_path, FixedClock(120.0), sidecar__timeout_s=1.0)
    rig.run(2.2)
    rig.trigger(Action.CAPTURE, bars=1)
    rig.run(0.05)
    (request,) = rig.client.requests
    for i in range(6):  # 3 s of progress, every 0.5 s: longer than the timeout in all
        rig.client.replies.put(SidecarReply(PROGRESS, (request.request_id, (i + 1) / 10, 5.0)))
        rig.run(0.5)
    assert rig.looper.status().queue == "generating" and not rig.client.cancelled
    rig.run(0.6)  # then silence: one second after the last reply it is given up
    assert rig.client.cancelled == [request.request_id]
    rig.run(0.05)
    assert rig.looper.status().queue == "idle"
    assert rig.looper.status().message == "no answer from the sidecar in 1 s"


@pytest.mark.parametrize("then", ["newer loop", "stop"])
def test_a_loop_waiting_for_its_bar_is_kept_when_replaced(tmp_path, then):
    """A newer loop, or a stop, takes the waiting loop's place: it stays in history, unplayed."""
    rig = Rig(tmp_path, FixedClock(120.0), loop__quantize="bar")
    rig.run(2.2)
    rig.trigger(Action.CAPTURE, bars=1)
    rig.run(0.1)
    rig.client.deliver(rig.client.requests[-1], [0.1])
    rig.run(2.0)
    assert [e.loop_id for e in rig.looper.history.entries] == [1]
    rig.trigger(Action.CAPTURE, bars=1)
    rig.run(0.05)
    rig.client.deliver(rig.client.requests[-1], [0.7])
    rig.looper.step()  # loop 2 waits for its bar
    if then == "stop":
        rig.trigger(Action.STOP)
        rig.run(2.0)
        assert [e.loop_id for e in rig.looper.history.entries] == [1, 2]
        assert rig.engine.player.current is None or rig.engine.player.current.audio is None
    else:
        rig.trigger(Action.CAPTURE, bars=1)  # a third take, ready before loop 2's bar
        rig.run(0.05)
        rig.client.deliver(rig.client.requests[-1], [0.9])
        rig.looper.step()
        rig.run(2.0)
        assert [e.loop_id for e in rig.looper.history.entries] == [1, 2, 3]
        assert rig.engine.player.current.audio[0, 0] == pytest.approx(0.9)
