"""MIDI over mido's socket ports, OSC triggers, Link's optional import and the status line."""

import socket
import threading
import time

import mido
import mido.sockets
import numpy as np
import pytest
from pythonosc.udp_client import SimpleUDPClient

from plugin_host.looper import link as link_module
from plugin_host.looper.app import LooperStatus
from plugin_host.looper.audio import StreamStats
from plugin_host.looper.clock import ClockSnapshot, FixedClock
from plugin_host.looper.display import format_status
from plugin_host.looper.midi_clock import MidiClock
from plugin_host.looper.midi_ports import MidiReader, open_input
from plugin_host.looper.osc_triggers import OscTriggerServer
from plugin_host.looper.tempo import PPQN
from plugin_host.looper.triggers import DEFAULT_OSC_TRIGGERS, Action, Trigger, TriggerMap


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_midi_clock_and_note_trigger_over_mido_socket_port():
    port_number = free_port()
    server = mido.sockets.PortServer("127.0.0.1", port_number)
    clock = MidiClock()
    triggers = TriggerMap([Trigger(Action.CAPTURE, bars=2, note=36)])
    events = []
    port = open_input(f"tcp:127.0.0.1:{port_number}")
    reader = MidiReader(port, [clock.handle, lambda m, t: events.append(triggers.match_midi(m, t))])
    reader.start()
    conn = server.accept()
    try:
        conn.send(mido.Message("start"))
        period = 60.0 / (150.0 * PPQN)
        next_t = time.monotonic()
        for _ in range(2 * PPQN):
            conn.send(mido.Message("clock"))
            next_t += period
            time.sleep(max(0.0, next_t - time.monotonic()))
        conn.send(mido.Message("note_on", note=36, velocity=90))
        deadline = time.monotonic() + 2
        while not [e for e in events if e] and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        reader.close()
        conn.close()
        server.close()
    # TCP (Nagle, delayed ACKs) delivers in bursts on a loaded box: check delivery, not tempo.
    assert clock.running and clock.position_ticks == 2 * PPQN
    assert 100.0 < clock.bpm < 200.0
    (event,) = [e for e in events if e]
    assert event.action is Action.CAPTURE and event.bars == 2


def test_osc_trigger_server_maps_addresses():
    got = []
    done = threading.Event()

    def on_event(event):
        got.append(event)
        done.set()

    server = OscTriggerServer(TriggerMap(DEFAULT_OSC_TRIGGERS), on_event, port=0)
    server.start()
    try:
        SimpleUDPClient("127.0.0.1", server.port).send_message("/looper/capture", 8)
        assert done.wait(2)
    finally:
        server.close()
    assert got[0].action is Action.CAPTURE and got[0].bars == 8


def test_link_without_aalink_says_how_to_fix_it(monkeypatch):
    def missing(name):
        raise ImportError(f"No module named '{name}'")

    monkeypatch.setattr(link_module.importlib, "import_module", missing)
    assert not link_module.link_available()
    with pytest.raises(link_module.LinkUnavailableError, match=r"pip install aalink.*--clock midi"):
        link_module.LinkClock()


def test_link_clock_follows_a_session_when_aalink_is_installed():
    pytest.importorskip("aalink")
    clock = link_module.LinkClock(bpm=123.0)
    clock.start()
    try:
        time.sleep(0.2)
        first = clock.beats_at(time.monotonic())
        time.sleep(0.5)
        second = clock.beats_at(time.monotonic())
    finally:
        clock.close()
    assert clock.bpm == pytest.approx(123.0)
    assert second - first == pytest.approx(0.5 * 123.0 / 60.0, abs=0.05)


def test_fixed_clock_position():
    clock = FixedClock(120.0, origin_s=10.0)
    clock.start()
    assert clock.beats_at(12.0) == pytest.approx(4.0)
    assert clock.time_of_beats(8.0) == pytest.approx(14.0)
    snap = clock.snapshot(12.6)
    assert (snap.bar, snap.beat) == (2, 2)


def test_status_line_shows_clock_queue_loop_latency():
    status = LooperStatus(
        clock=ClockSnapshot("midi", 174.02, True, 9.5, 4, "MIDI clock, running"),
        queue="generating",
        progress=0.4,
        loop_id=3,
        variation=2,
        variations=4,
        history=5,
        switch_bar=None,
        last_latency_s=2.345,
        message="",
        stream=StreamStats(100, 0, 0, 0, 0, 1000),
    )
    line = format_status(status)
    for part in ("MIDI", "174.02 BPM", "3:2", "generating 40%", "loop 3 var 2/4", "2.35 s"):
        assert part in line, line
    assert "xruns 0" in line
    assert np.isfinite(status.clock.bpm)
