"""The looper following a jittery MIDI clock through a mido port, on a real JACK stream."""

import time

import pytest

from plugin_host.looper.app import Looper
from plugin_host.looper.audio import AudioEngine
from plugin_host.looper.client import SidecarClient
from plugin_host.looper.config import load_config
from plugin_host.looper.midi_clock import MidiClock
from plugin_host.looper.midi_ports import MidiReader
from plugin_host.looper.triggers import Action
from tests.plugin_host.looper.fake_midi import ClockPort
from tests.plugin_host.looper.responder import Responder
from tests.plugin_host.looper.test_looper_jack import wait_for

pytestmark = pytest.mark.jack


@pytest.mark.parametrize("bpm", [96.0, 120.0, 174.0])
def test_switches_and_stops_on_the_midi_downbeat_within_one_block(jack_server, tmp_path, bpm):
    sr, block = jack_server.sample_rate, jack_server.period_frames
    responder = Responder(tmp_path)
    config = load_config(
        None, clock__source="midi", loop__bars=1, loop__quantize="bar",
        audio__history_bars=4, sidecar__port=responder.port,
    )  # fmt: skip
    engine = AudioEngine(sr, 2, 2, history_frames=4 * sr * 3, crossfade_frames=0,
                         device=jack_server.device)  # fmt: skip
    clock = MidiClock(beats_per_bar=4, initial_bpm=100.0)
    client = SidecarClient("127.0.0.1", responder.port)
    looper = Looper(config, engine, clock, client, clip_dir=tmp_path)
    looper.start()
    port = ClockPort(bpm, jitter_s=0.0015, seed=int(bpm))
    reader = MidiReader(port, [clock.handle])
    reader.start()
    try:
        wait_for(lambda: time.monotonic() > port.ideal_time(4.4), 15, "1 bar of clock")
        looper.trigger(Action.CAPTURE, bars=1)
        wait_for(lambda: looper.history.current is not None, 15, "the loop")
        _, _, applied = engine.player.applied_switches()[-1]
        wait_for(lambda: time.monotonic() > port.ideal_time(8.0), 15, "2 bars")
        tempo_error = abs(clock.bpm - bpm)
        # Rendered output_latency_s (what JACK reports: the default) early, heard on the beat.
        latency_s = looper.timeline.output_latency_s
        switch_error_s = engine.time_at_frame(applied) + latency_s - port.ideal_time(8.0)
        port.send_stop()
        wait_for(lambda: engine.player.current is None, 15, "stop at the next bar")
        _, _, stopped = engine.player.applied_switches()[-1]
        stop_error_s = engine.time_at_frame(stopped) + latency_s - port.ideal_time(12.0)
    finally:
        reader.close()
        looper.close()
        client.close()
        responder.close()
    print(
        f"{bpm} BPM: tempo error {tempo_error:.3f} BPM after 2 bars; switch "
        f"{switch_error_s * sr:+.0f} samples, stop {stop_error_s * sr:+.0f} samples "
        f"from the downbeat (block {block}, output latency {latency_s * sr:.0f} samples); "
        f"{looper.resyncs} re-anchors"
    )
    assert tempo_error < 0.5
    assert abs(switch_error_s) * sr <= block
    assert abs(stop_error_s) * sr <= block
