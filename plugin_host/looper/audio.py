"""The duplex sounddevice stream: the callback copies input into the ring and the loop mix out."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import sounddevice as sd

from plugin_host.looper.player import LoopPlayer
from plugin_host.looper.ring import AudioRing

__all__ = [
    "NO_DEVICE_HELP",
    "AudioDeviceError",
    "AudioEngine",
    "DeviceInfo",
    "StreamStats",
    "check_device",
    "default_devices",
    "list_devices",
    "resolve_device",
    "settle_collector",
]

logger = logging.getLogger(__name__)

_TIME_MAP = 512  # callbacks the frame ↔ time map looks back over
_XRUN_LOG = 64
# Counter slots written by the callback.
_CALLBACKS, _INPUT_UNDERFLOW, _INPUT_OVERFLOW, _OUTPUT_UNDERFLOW, _OUTPUT_OVERFLOW, _PRIMING = (
    range(6)
)
_XRUN_BLOCKS = 6

NO_DEVICE_HELP = (
    "the looper needs an audio device with inputs and outputs: start JACK (`jackd -d alsa` for "
    "an interface, `jackd -d dummy` for a silent test device) or connect an interface, then "
    "pick one with --device (`sidecar loop --list-devices` shows them)"
)


class AudioDeviceError(ValueError):
    """No usable audio device: the message says what exists and what the looper needs."""


def settle_collector() -> int:
    """Collect once, then freeze every live object out of the garbage collector's reach.

    The audio callback is Python, so it needs the GIL; a full collection holds the GIL while it
    walks every tracked object (a process with torch and transformers imported has ~400 000 of
    them: ~180 ms on a 2-core box, many audio periods). After the freeze a full collection only
    walks what was allocated since, which is small. Returns the number of objects frozen.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    host_api: str
    max_input_channels: int
    max_output_channels: int
    default_sample_rate: float

    def describe(self) -> str:
        """One line: index, name, host API, input and output channels, default rate."""
        return (
            f"{self.index:3d}  {self.name}  [{self.host_api}]  in {self.max_input_channels}  "
            f"out {self.max_output_channels}  {self.default_sample_rate:.0f} Hz"
        )


@dataclass(frozen=True)
class StreamStats:
    """Counters from the callback: xruns are the sum of under- and overflows."""

    callbacks: int
    input_underflows: int
    input_overflows: int
    output_underflows: int
    output_overflows: int
    frames: int
    xrun_blocks: int = 0  # callbacks that carried any under/overflow flag (one JACK xrun sets two)
    max_callback_s: float = 0.0  # the longest time spent inside the callback
    max_gap_s: float = 0.0  # the longest time between two callback starts (late wake-ups)

    @property
    def xruns(self) -> int:
        return (
            self.input_underflows
            + self.input_overflows
            + self.output_underflows
            + self.output_overflows
        )


def list_devices() -> list[DeviceInfo]:
    """Every PortAudio device with its host API (ALSA, JACK, CoreAudio…)."""
    apis = sd.query_hostapis()
    result = []
    for index, dev in enumerate(sd.query_devices()):
        result.append(
            DeviceInfo(
                index=index,
                name=str(dev["name"]),
                host_api=str(apis[int(dev["hostapi"])]["name"]),
                max_input_channels=int(dev["max_input_channels"]),
                max_output_channels=int(dev["max_output_channels"]),
                default_sample_rate=float(dev["default_samplerate"]),
            )
        )
    return result


def default_devices() -> tuple[int | None, int | None]:
    """PortAudio's default input and output device indices (None where there is none)."""
    indices: list[int | None] = []
    for kind in ("input", "output"):
        try:
            indices.append(int(sd.query_devices(kind=kind)["index"]))
        except (sd.PortAudioError, ValueError, KeyError):
            indices.append(None)
    return indices[0], indices[1]


def _listing(devices: list[DeviceInfo]) -> str:
    return "\n".join(d.describe() for d in devices)


def resolve_device(spec: str | int | None, devices: list[DeviceInfo] | None = None) -> int | None:
    """A device index from an index, an exact name, or a unique case-insensitive substring.

    None or "" is None (PortAudio's defaults). Raises AudioDeviceError, listing the devices
    there are, when nothing matches.
    """
    if spec is None or spec == "":
        return None
    devices = list_devices() if devices is None else devices
    if not devices:
        raise AudioDeviceError(f"no audio device found (--device {spec}); {NO_DEVICE_HELP}")
    if isinstance(spec, int) or spec.strip().isdigit():
        index = int(spec)
        if any(d.index == index for d in devices):
            return index
        raise AudioDeviceError(
            f"no audio device has index {index}; the devices:\n{_listing(devices)}"
        )
    exact = [d for d in devices if d.name == spec]
    if exact:
        return exact[0].index
    needle = spec.lower()
    matches = [d for d in devices if needle in f"{d.name} {d.host_api}".lower()]
    if len(matches) == 1:
        return matches[0].index
    if not matches:
        raise AudioDeviceError(
            f"no audio device matches '{spec}'; the devices:\n{_listing(devices)}"
        )
    raise AudioDeviceError(
        f"'{spec}' matches {len(matches)} audio devices; be more specific:\n{_listing(matches)}"
    )


def check_device(
    spec: str | int | None, input_channels: int, output_channels: int
) -> tuple[int | None, DeviceInfo]:
    """The stream's device (None: PortAudio's defaults) and the device it records from.

    Raises AudioDeviceError, naming what exists and what the looper needs, when there is no
    device at all, no default one, nothing matching `spec`, or too few channels.
    """
    devices = list_devices()
    if not devices:
        raise AudioDeviceError(f"no audio device found; {NO_DEVICE_HELP}")
    index = resolve_device(spec, devices)
    in_index, out_index = (index, index) if index is not None else default_devices()
    if in_index is None or out_index is None:
        missing = " and ".join(
            side for side, i in (("input", in_index), ("output", out_index)) if i is None
        )
        raise AudioDeviceError(
            f"no default audio {missing} device; pick one with --device:\n{_listing(devices)}"
        )
    by_index = {d.index: d for d in devices}
    source, sink = by_index[in_index], by_index[out_index]
    if source.max_input_channels < input_channels or sink.max_output_channels < output_channels:
        names = source.name if source is sink else f"{source.name} / {sink.name}"
        raise AudioDeviceError(
            f"audio device '{names}' has {source.max_input_channels} input and "
            f"{sink.max_output_channels} output channels; the looper is set to {input_channels} "
            f"in / {output_channels} out (--input-channels, --output-channels, or another "
            f"--device):\n{_listing(devices)}"
        )
    return index, source


class AudioEngine:
    """Owns the duplex stream, the input ring, the loop player and the frame ↔ time map.

    The callback: stamps the block, copies input into the ring, lets the player write output,
    and counts status flags in a preallocated array. It never logs, locks, or grows anything.
    """

    def __init__(
        self,
        sample_rate: int,
        input_channels: int,
        output_channels: int,
        history_frames: int,
        crossfade_frames: int,
        block_size: int = 0,
        device: str | int | None = None,
        max_block_frames: int = 8192,
        stream_factory: Callable[..., Any] = sd.Stream,
    ) -> None:
        self.sample_rate = sample_rate
        self.block_size = block_size
        self.input_channels = input_channels
        self.output_channels = output_channels
        self.device = device
        self.ring = AudioRing(history_frames, input_channels)
        self.player = LoopPlayer(output_channels, max_block_frames, crossfade_frames)
        self._stream_factory = stream_factory
        self._stream: Any = None
        self._frame = 0
        self._counters = np.zeros(7, dtype=np.int64)
        self._xrun_log = np.zeros(_XRUN_LOG, dtype=np.int64)  # first frame of each xrun block
        # [longest callback, longest gap between callback starts, start of the previous one], s
        self._timing = np.zeros(3, dtype=np.float64)
        self._time_map = np.zeros((_TIME_MAP, 2), dtype=np.float64)  # (frame, monotonic s)
        self._time_map_count = 0
        self._clock = time.monotonic

    # -- lifecycle ------
    def start(self) -> None:
        frozen = settle_collector()
        logger.debug("garbage collector settled: %d objects frozen", frozen)
        index = resolve_device(self.device)
        self._stream = self._stream_factory(
            samplerate=self.sample_rate,
            blocksize=self.block_size,
            device=index,
            channels=(self.input_channels, self.output_channels),
            dtype="float32",
            callback=self._callback,
        )
        self._stream.start()
        logger.info(
            "audio stream started: %d Hz, block %s, %d in / %d out, latency %s",
            self.sample_rate,
            self.block_size or "host default",
            self.input_channels,
            self.output_channels,
            getattr(self._stream, "latency", None),
        )

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None

    @property
    def active(self) -> bool:
        return self._stream is not None and bool(self._stream.active)

    @property
    def latency_s(self) -> tuple[float, float]:
        """(input, output) latency the host reports, in seconds."""
        if self._stream is None:
            return (0.0, 0.0)
        latency = self._stream.latency
        return (float(latency[0]), float(latency[1]))

    # -- callback ------
    def _callback(
        self, indata: np.ndarray, outdata: np.ndarray, frames: int, _t: Any, status: Any
    ) -> None:
        now = self._clock()
        frame0 = self._frame
        counters = self._counters
        counters[_CALLBACKS] += 1
        if status:
            if status.input_underflow:
                counters[_INPUT_UNDERFLOW] += 1
            if status.input_overflow:
                counters[_INPUT_OVERFLOW] += 1
            if status.output_underflow:
                counters[_OUTPUT_UNDERFLOW] += 1
            if status.output_overflow:
                counters[_OUTPUT_OVERFLOW] += 1
            if status.priming_output:
                counters[_PRIMING] += 1
            if (
                status.input_underflow
                or status.input_overflow
                or status.output_underflow
                or status.output_overflow
            ):
                self._xrun_log[counters[_XRUN_BLOCKS] % _XRUN_LOG] = frame0
                counters[_XRUN_BLOCKS] += 1
        self.ring.write(indata)
        self.player.render(outdata, frame0)
        row = self._time_map[self._time_map_count % _TIME_MAP]
        row[1] = now  # time first: a torn row then reads as late, and the minimum ignores it
        row[0] = frame0
        self._time_map_count += 1
        self._frame = frame0 + frames
        timing = self._timing
        if timing[2] > 0.0 and now - timing[2] > timing[1]:
            timing[1] = now - timing[2]
        timing[2] = now
        elapsed = self._clock() - now
        if elapsed > timing[0]:
            timing[0] = elapsed

    # -- control side ------
    @property
    def frames_processed(self) -> int:
        """Absolute index of the next frame the callback will render."""
        return self._frame

    def stats(self) -> StreamStats:
        c = self._counters.copy()
        return StreamStats(
            callbacks=int(c[_CALLBACKS]),
            input_underflows=int(c[_INPUT_UNDERFLOW]),
            input_overflows=int(c[_INPUT_OVERFLOW]),
            output_underflows=int(c[_OUTPUT_UNDERFLOW]),
            output_overflows=int(c[_OUTPUT_OVERFLOW]),
            frames=self._frame,
            xrun_blocks=int(c[_XRUN_BLOCKS]),
            max_callback_s=float(self._timing[0]),
            max_gap_s=float(self._timing[1]),
        )

    def reset_timing(self) -> None:
        """Start the longest-callback and longest-gap measurements afresh."""
        self._timing[0] = 0.0
        self._timing[1] = 0.0

    def xrun_frames(self) -> list[int]:
        """Stream frames of the most recent blocks that reported an under/overflow."""
        count = int(self._counters[_XRUN_BLOCKS])
        return [int(self._xrun_log[i % _XRUN_LOG]) for i in range(max(0, count - _XRUN_LOG), count)]

    def _time_offset_s(self) -> float | None:
        """Monotonic time of frame 0: the earliest-looking stamp wins (wake-ups are only late)."""
        count = self._time_map_count
        if count == 0:
            return None
        n = min(count, _TIME_MAP)
        rows = self._time_map.copy() if count >= _TIME_MAP else self._time_map[:n].copy()
        offsets = rows[:, 1] - rows[:, 0] / self.sample_rate
        return float(offsets.min())

    def frame_at_time(self, time_s: float) -> float | None:
        """The stream frame rendered at monotonic `time_s` (None before the first callback)."""
        offset = self._time_offset_s()
        if offset is None:
            return None
        return (time_s - offset) * self.sample_rate

    def time_at_frame(self, frame: float) -> float | None:
        offset = self._time_offset_s()
        if offset is None:
            return None
        return offset + frame / self.sample_rate
