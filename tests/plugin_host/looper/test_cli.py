"""The command line: subcommand registration, --list-devices, and a full run driven over OSC."""

import argparse
import threading
import time

import pytest
from pythonosc.udp_client import SimpleUDPClient

from plugin_host.looper.cli import config_from_args, main, register, run
from tests.plugin_host.looper.responder import Responder
from tests.plugin_host.looper.test_inputs import free_port
from tests.plugin_host.looper.test_looper_jack import wait_for


def test_register_adds_the_loop_subcommand():
    parser = argparse.ArgumentParser(prog="sidecar")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["loop", "--clock", "midi", "--midi-port", "tcp:h:1", "--bars", "8"])
    config = config_from_args(args)
    assert args.command == "loop" and callable(args.func)
    assert config.clock.source == "midi" and config.loop.bars == 8


def test_output_latency_flag_takes_milliseconds_or_auto(capsys):
    parser = argparse.ArgumentParser(prog="sidecar")
    register(parser.add_subparsers(dest="command"))
    latency = {
        flags: config_from_args(parser.parse_args(["loop", *flags])).audio.output_latency_ms
        for flags in [(), ("--output-latency-ms", "auto"), ("--output-latency-ms", "7.5")]
    }
    assert list(latency.values()) == [None, None, 7.5]
    args = parser.parse_args(["loop", "--input-latency-ms", "4"])
    assert config_from_args(args).audio.input_latency_ms == 4.0
    with pytest.raises(SystemExit):
        parser.parse_args(["loop", "--output-latency-ms", "soon"])
    assert "expected milliseconds or \"auto\"; got 'soon'" in capsys.readouterr().err


def test_bad_config_exits_2_with_a_message(tmp_path, caplog):
    bad = tmp_path / "x.toml"
    bad.write_text("[loop]\nbars = 0\n")
    assert main(["--config", str(bad), "--no-display"]) == 2
    assert "loop.bars must be in [1, audio.history_bars]; got 0" in caplog.text


@pytest.mark.jack
def test_list_devices_shows_jack(jack_server, capsys):
    assert main(["--list-devices"]) == 0
    assert "JACK Audio Connection Kit" in capsys.readouterr().out


@pytest.mark.jack
def test_run_takes_an_osc_trigger_to_a_sidecar_request(jack_server, tmp_path, capsys):
    responder = Responder(tmp_path)
    osc_port = free_port(kind=2)  # SOCK_DGRAM
    parser = argparse.ArgumentParser()
    from plugin_host.looper.cli import add_arguments

    add_arguments(parser)
    args = parser.parse_args(
        ["--device", str(jack_server.device), "--bpm", "240", "--port", str(responder.port),
         "--osc-port", str(osc_port), "--bars", "1", "--sample-rate", "48000"]
    )  # fmt: skip
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(config_from_args(args), True, stop))
    thread.start()
    try:
        time.sleep(2.5)
        SimpleUDPClient("127.0.0.1", osc_port).send_message("/looper/capture", 1)
        wait_for(lambda: responder.requests, 10, "the sidecar request")
        time.sleep(1.5)
    finally:
        stop.set()
        thread.join(10)
        responder.close()
    request = responder.requests[0]
    assert request["bars"] == 1 and request["bpm"] == 240.0 and request["sample_rate"] == 48000
    assert "FIXED 240.00 BPM" in capsys.readouterr().err
