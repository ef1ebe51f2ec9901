"""The capture shift on a real JACK stream: the input latency the host reports, unless set."""

import logging
from collections.abc import Iterator

import pytest

from plugin_host.looper.app import Looper
from plugin_host.looper.audio import AudioEngine
from plugin_host.looper.clock import FixedClock
from plugin_host.looper.config import load_config
from plugin_host.looper.triggers import Action
from tests.plugin_host.looper.jack import JackServer, jack_available, jack_dummy, jack_interface
from tests.plugin_host.looper.test_looper_jack import wait_for
from tests.plugin_host.looper.test_looper_virtual import FakeClient

pytestmark = pytest.mark.jack

SR, PERIOD = 48000, 512
EXTRA = 96  # frames the stand-in interface reports beyond one period on its capture ports
BPM = 240.0  # one 4/4 bar = 1 s = SR frames


@pytest.fixture(scope="module")
def interface() -> Iterator[tuple[JackServer, int]]:
    if not jack_available():
        pytest.skip("jackd is not installed (apt-get install jackd2)")
    with (
        jack_dummy(SR, PERIOD) as server,
        jack_interface("interface", PERIOD + EXTRA, 2 * PERIOD) as device,
    ):
        yield server, device


def start_looper(device, tmp_path, **overrides):
    config = load_config(None, clock__bpm=BPM, loop__bars=1, audio__history_bars=4, **overrides)
    engine = AudioEngine(SR, 2, 2, history_frames=4 * SR, crossfade_frames=0, device=device)
    client = FakeClient(tmp_path)
    looper = Looper(config, engine, FixedClock(BPM), client, clip_dir=tmp_path)
    looper.start()
    return looper, client


@pytest.mark.parametrize(
    ("setting_ms", "expected_frames"),
    [(None, "reported"), ("auto", "reported"), (5.0, 240), (0.0, 0)],
)
def test_capture_is_shifted_by_the_reported_input_latency_unless_set(
    interface, tmp_path, setting_ms, expected_frames
):
    _, device = interface
    looper, client = start_looper(device, tmp_path, audio__input_latency_ms=setting_ms)
    engine = looper.engine
    try:
        reported_s, reported_out_s = engine.latency_s
        wait_for(lambda: engine.frames_processed > 1.2 * SR, 10, "a bar of input")
        looper.trigger(Action.CAPTURE, bars=1)
        wait_for(lambda: client.requests, 10, "the captured bar")
    finally:
        looper.close()
    # JACK's capture latency less one period (PortAudio's reckoning): the interface's 96 frames.
    assert round(reported_s * SR) == EXTRA, f"the stream reports {reported_s * SR} frames"
    expected = round(reported_s * SR) if expected_frames == "reported" else expected_frames
    assert looper.timeline.input_latency_s * SR == pytest.approx(expected)
    # The clip is named after its first ring frame: bar 1 starts at frame 0 of the fixed clock,
    # heard the output latency later, played into the input the input latency after that.
    assert looper.timeline.output_latency_s == reported_out_s
    start_frame = int(client.requests[0].clip.stem.removeprefix("capture-"))
    assert start_frame == expected + round(reported_out_s * SR)


def test_an_impossible_reported_latency_is_not_used(interface, tmp_path, caplog):
    server, _ = interface
    # Ports without JackPortIsPhysical: PortAudio reads their latency as 0 and takes a period
    # off it, unsigned: ~89 000 s.
    with jack_interface("virtual", PERIOD + EXTRA, 2 * PERIOD, physical=False) as device:
        looper, _ = start_looper(device, tmp_path)
        try:
            reported_s = looper.engine.latency_s
        finally:
            looper.close()
    if reported_s[0] <= 1.0:
        pytest.skip(f"this PortAudio reports a plausible {reported_s} s here")
    assert looper.timeline.input_latency_s == 0.0
    assert looper.timeline.output_latency_s == 0.0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("input latency, which cannot be right" in w for w in warnings), warnings
    assert server.period_frames == PERIOD
