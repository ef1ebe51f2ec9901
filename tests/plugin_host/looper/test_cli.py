"""The command line: subcommand registration, devices, and a full run driven over OSC."""

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

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
    for flags in [(), ("--input-latency-ms", "auto")]:
        assert config_from_args(parser.parse_args(["loop", *flags])).audio.input_latency_ms is None
    with pytest.raises(SystemExit):
        parser.parse_args(["loop", "--output-latency-ms", "soon"])
    assert "expected milliseconds or \"auto\"; got 'soon'" in capsys.readouterr().err


def test_bad_config_exits_2_with_a_message(tmp_path, caplog):
    bad = tmp_path / "x.toml"
    bad.write_text("[loop]\nbars = 0\n")
    assert main(["--config", str(bad), "--no-display"]) == 2
    assert "loop.bars must be in [1, audio.history_bars]; got 0" in caplog.text


REPO = Path(__file__).resolve().parents[3]


def run_without_audio_devices(*args: str) -> subprocess.CompletedProcess[str]:
    """Run Python in a child process that sees no JACK server (and no autostarted one)."""
    env = {
        **os.environ,
        "JACK_DEFAULT_SERVER": f"no-such-server-{uuid.uuid4().hex[:8]}",
        "JACK_NO_START_SERVER": "1",
    }
    cmd = [sys.executable, *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=120)


@pytest.fixture(scope="module")
def no_audio_devices() -> None:
    count = run_without_audio_devices(
        "-c", "import sounddevice as sd; print(len(sd.query_devices()))"
    )
    if count.stdout.strip() != "0":
        pytest.skip(f"PortAudio sees audio devices here without JACK: {count.stdout.strip()}")


def test_loop_without_an_audio_device_is_one_clear_error(no_audio_devices):
    result = run_without_audio_devices("-m", "sidecar", "loop", "--no-display")
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr  # one line: no traceback, no PortAudio text
    assert "no audio device found" in lines[0] and "Error querying device" not in lines[0]
    assert "jackd -d dummy" in lines[0] and "--device" in lines[0]


def test_list_devices_says_when_there_are_none(no_audio_devices):
    result = run_without_audio_devices("-m", "plugin_host.looper", "--list-devices")
    assert result.returncode == 1
    assert result.stdout.startswith("no audio devices found: ") and not result.stderr
    assert "jackd -d dummy" in result.stdout


@pytest.mark.jack
def test_list_devices_shows_index_name_channels_and_rate(jack_server, capsys):
    assert main(["--list-devices"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if " system " in line)
    assert line.split()[0] == str(jack_server.device)
    assert "[JACK Audio Connection Kit]  in 2  out 2  48000 Hz" in line
    assert "default input" in line and "default output" in line


@pytest.mark.jack
@pytest.mark.parametrize(
    ("flags", "error"),
    [
        (["--device", "99"], "no audio device has index 99; the devices:"),
        (["--device", "Scarlett"], "no audio device matches 'Scarlett'; the devices:"),
        (["--input-channels", "8"], "audio device 'system' has 2 input and 2 output channels"),
    ],
)
def test_a_device_that_is_not_there_is_one_error_listing_the_devices(
    jack_server, caplog, flags, error
):
    assert main([*flags, "--no-display"]) == 2
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    message = record.getMessage()
    assert message.startswith(error), message
    assert f"{jack_server.device:3d}  system  [JACK Audio Connection Kit]  in 2" in message


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
        # The trigger is sent once the looper listens (its OSC port is taken) and a bar has
        # played; a fixed 2.5 s was not always enough on a loaded machine (the trigger was lost).
        wait_for(lambda: _udp_port_taken(osc_port), 20, "the looper's OSC port")
        time.sleep(1.5)
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


def _udp_port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False
