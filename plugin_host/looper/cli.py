"""`sidecar loop` / `sidecar-looper`: parse flags, build the looper, run until Ctrl+C."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import sounddevice as sd

from plugin_host.looper.app import Looper
from plugin_host.looper.audio import (
    NO_DEVICE_HELP,
    AudioEngine,
    check_device,
    default_devices,
    list_devices,
)
from plugin_host.looper.client import SidecarClient
from plugin_host.looper.clock import Clock, FixedClock
from plugin_host.looper.config import LooperConfig, load_config
from plugin_host.looper.display import StatusLine
from plugin_host.looper.link import LinkClock, LinkUnavailableError
from plugin_host.looper.midi_clock import MidiClock
from plugin_host.looper.midi_ports import MessageHandler, MidiReader, open_input
from plugin_host.looper.osc_triggers import OscTriggerServer
from plugin_host.looper.triggers import Action, TriggerEvent, TriggerMap

__all__ = ["add_arguments", "main", "register", "run"]

logger = logging.getLogger(__name__)

_KEYS = {
    "c": Action.CAPTURE,
    "x": Action.CANCEL,
    "u": Action.UNDO,
    "v": Action.VARIATION,
    "s": Action.STOP,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="TOML config (see plugin_host/looper/looper.example.toml)")
    parser.add_argument(
        "--list-devices", action="store_true", help="list audio devices and exit (1: none found)"
    )
    parser.add_argument("--device", help="audio device: index, name, or unique part of the name")
    parser.add_argument("--sample-rate", type=int, help="stream rate in Hz (default: device's)")
    parser.add_argument("--block-size", type=int, help="frames per callback (0: host default)")
    parser.add_argument("--input-channels", type=int)
    parser.add_argument("--output-channels", type=int)
    parser.add_argument(
        "--output-latency-ms",
        type=_latency_ms,
        help='external clocks: play downbeats this much early; "auto" (default): host-reported',
    )
    parser.add_argument(
        "--input-latency-ms",
        type=_latency_ms,
        help='shift the capture window later by this much; "auto" (default): host-reported',
    )
    parser.add_argument("--clock", choices=["fixed", "midi", "link"], help="clock to follow")
    parser.add_argument("--bpm", type=float, help="tempo for --clock fixed (start tempo otherwise)")
    parser.add_argument("--beats-per-bar", type=int)
    parser.add_argument("--midi-port", help="MIDI clock input: a port name or tcp:HOST:PORT")
    parser.add_argument("--midi-trigger-port", help="MIDI trigger input (default: the clock port)")
    parser.add_argument("--bars", type=int, help="bars captured per trigger")
    parser.add_argument("--variations", type=int, help="variations generated per trigger (1-8)")
    parser.add_argument("--prompt", help="text prompt sent with each continuation")
    parser.add_argument("--host", help="sidecar host (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="sidecar OSC port (default 9310)")
    parser.add_argument("--osc-port", type=int, help="UDP port for OSC triggers (0: none)")
    parser.add_argument("--no-display", action="store_true", help="no live status line")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def _latency_ms(text: str) -> float | str:
    """`--output/input-latency-ms`: milliseconds, or "auto" for the latency the host reports."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected milliseconds or "auto"; got {text!r}') from None


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `loop` subcommand; its `func` default takes the parsed args and returns a code."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "loop",
        help="live looper: bar-quantized continuations from live input",
        description="Capture the last N bars of live input, continue them with the sidecar, "
        "and switch loops on the bar, in sync with a MIDI clock, Ableton Link or a fixed tempo.",
    )
    add_arguments(parser)
    parser.set_defaults(func=run_args)
    return parser


def config_from_args(args: argparse.Namespace) -> LooperConfig:
    return load_config(
        args.config,
        audio__device=args.device,
        audio__sample_rate=args.sample_rate,
        audio__block_size=args.block_size,
        audio__input_channels=args.input_channels,
        audio__output_channels=args.output_channels,
        audio__output_latency_ms=args.output_latency_ms,
        audio__input_latency_ms=args.input_latency_ms,
        clock__source=args.clock,
        clock__bpm=args.bpm,
        clock__beats_per_bar=args.beats_per_bar,
        clock__midi_port=args.midi_port,
        loop__bars=args.bars,
        loop__variations=args.variations,
        loop__prompt=args.prompt,
        sidecar__host=args.host,
        sidecar__port=args.port,
        osc__listen_port=args.osc_port,
    )


def _print_devices() -> int:
    """Print every audio device (index, name, host API, channels, default rate); 1 if none."""
    devices = list_devices()
    if not devices:
        print(f"no audio devices found: {NO_DEVICE_HELP}")
        return 1
    default_in, default_out = default_devices()
    print("audio devices (index, name, host API, input and output channels, default rate):")
    for d in devices:
        sides = (("input", default_in), ("output", default_out))
        marks = [f"default {side}" for side, i in sides if i == d.index]
        print(d.describe() + (f"  ({', '.join(marks)})" if marks else ""))
    return 0


def make_clock(config: LooperConfig) -> Clock:
    c = config.clock
    if c.source == "midi":
        return MidiClock(c.beats_per_bar, c.bpm, port_name=c.midi_port or "")
    if c.source == "link":
        return LinkClock(c.bpm, c.beats_per_bar)
    return FixedClock(c.bpm, c.beats_per_bar)


def run(config: LooperConfig, display: bool = True, stop: threading.Event | None = None) -> int:
    """Build everything from `config`, run until `stop` is set or Ctrl+C, then shut down."""
    a = config.audio
    # Hand the GIL over sooner when the audio thread asks for it (default 5 ms).
    sys.setswitchinterval(0.001)
    index, source = check_device(a.device, a.input_channels, a.output_channels)
    sample_rate = a.sample_rate or int(source.default_sample_rate)
    slowest_bar_frames = config.clock.beats_per_bar * 60.0 / a.min_history_bpm * sample_rate
    engine = AudioEngine(
        sample_rate=sample_rate,
        input_channels=a.input_channels,
        output_channels=a.output_channels,
        history_frames=int(a.history_bars * slowest_bar_frames),
        crossfade_frames=round(a.crossfade_ms / 1000.0 * sample_rate),
        block_size=a.block_size,
        device=index,
    )
    clock = make_clock(config)
    client = SidecarClient(config.sidecar.host, config.sidecar.port)
    looper = Looper(config, engine, clock, client)
    closers: list[Callable[[], None]] = []
    stop = stop or threading.Event()
    try:
        looper.start()
        closers += _start_inputs(config, looper, clock)
        if display:
            line = StatusLine(looper.status)
            line.start()
            closers.append(line.close)
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
            try:
                _wait(stop)
            finally:
                signal.signal(signal.SIGINT, previous)
        else:
            _wait(stop)
    finally:
        for close in reversed(closers):
            close()
        looper.close()
        client.close()
    stats = engine.stats()
    logger.info("stream: %d callbacks, %d xruns", stats.callbacks, stats.xruns)
    return 0


def _start_inputs(config: LooperConfig, looper: Looper, clock: Clock) -> list[Callable[[], None]]:
    closers: list[Callable[[], None]] = []
    triggers = TriggerMap(config.triggers)

    def on_midi_trigger(msg: Any, time_s: float) -> None:
        event = triggers.match_midi(msg, time_s)
        if event is not None:
            looper.submit(event)

    clock_port = config.clock.midi_port if config.clock.source == "midi" else None
    trigger_port = config.midi_trigger_port or clock_port
    if clock_port:
        handlers: list[MessageHandler] = [clock.handle] if isinstance(clock, MidiClock) else []
        if trigger_port == clock_port:
            handlers.append(on_midi_trigger)
        reader = MidiReader(open_input(clock_port), handlers)
        reader.start()
        closers.append(reader.close)
    if trigger_port and trigger_port != clock_port:
        reader = MidiReader(open_input(trigger_port), [on_midi_trigger])
        reader.start()
        closers.append(reader.close)
    if config.osc.listen_port:
        server = OscTriggerServer(
            triggers, looper.submit, config.osc.listen_host, config.osc.listen_port
        )
        server.start()
        closers.append(server.close)
    if sys.stdin is not None and sys.stdin.isatty():
        threading.Thread(target=_keyboard, args=(looper,), name="keys", daemon=True).start()
    return closers


def _keyboard(looper: Looper) -> None:
    """Line commands on stdin: c [bars] capture, x cancel, u undo, v variation, s stop."""
    for line in sys.stdin:
        words = line.split()
        if not words or words[0][0] not in _KEYS:
            continue
        bars = int(words[1]) if len(words) > 1 and words[1].isdigit() else None
        looper.submit(TriggerEvent(_KEYS[words[0][0]], bars, "keyboard", time.monotonic()))


def _wait(stop: threading.Event) -> None:
    while not stop.wait(0.2):
        pass


def run_args(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.list_devices:
        return _print_devices()
    try:
        config = config_from_args(args)
        return run(config, display=not args.no_display)
    except LinkUnavailableError as e:
        logger.error("%s", e)
        return 2
    except (ValueError, sd.PortAudioError) as e:
        logger.error("%s", e)
        return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sidecar-looper", description=register.__doc__)
    add_arguments(parser)
    return run_args(parser.parse_args(argv))
