"""The looper's settings: frozen dataclasses loaded from a TOML file and command-line overrides."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from plugin_host.looper.triggers import DEFAULT_OSC_TRIGGERS, Trigger
from sidecar.osc.addresses import DEFAULT_HOST, DEFAULT_PORT

__all__ = [
    "AudioConfig",
    "ClockConfig",
    "ClockSourceName",
    "LoopConfig",
    "LooperConfig",
    "OscConfig",
    "SidecarConfig",
    "load_config",
]

ClockSourceName = Literal["fixed", "midi", "link"]
_LATENCIES = ("output_latency_ms", "input_latency_ms")  # milliseconds, or None/"auto": the host's


@dataclass(frozen=True)
class AudioConfig:
    device: str | int | None = None
    sample_rate: int | None = None  # None: the device's default rate
    block_size: int = 0  # 0: the host's own period (best with JACK)
    input_channels: int = 2
    output_channels: int = 2
    history_bars: int = 32
    min_history_bpm: float = 60.0  # the ring holds history_bars at this tempo or faster
    crossfade_ms: float = 10.0
    output_latency_ms: float | None = None  # None ("auto" in TOML/CLI): what the host reports
    input_latency_ms: float | None = None  # shifts the capture window later; None: host's

    def __post_init__(self) -> None:
        for name in _LATENCIES:
            value: object = getattr(self, name)
            if isinstance(value, str) and value.strip().lower() == "auto":
                object.__setattr__(self, name, None)


@dataclass(frozen=True)
class ClockConfig:
    source: ClockSourceName = "fixed"
    bpm: float = 120.0
    beats_per_bar: int = 4
    midi_port: str | None = None  # a mido input name, or "tcp:HOST:PORT" for mido's socket ports


@dataclass(frozen=True)
class LoopConfig:
    bars: int = 4
    quantize: Literal["bar", "loop"] = "loop"
    early_window_beats: float = 0.5
    variations: int = 1
    prompt: str | None = None
    seed: int | None = None
    history: int = 16
    lead_ms: float = 50.0  # a loop that is ready less than this before a bar waits for the next
    resync_ms: float = 3.0  # external clocks: re-anchor a loop that drifted this far (0 = never)


@dataclass(frozen=True)
class SidecarConfig:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    timeout_s: float = 120.0
    clip_dir: str | None = None  # None: a temporary directory


@dataclass(frozen=True)
class OscConfig:
    listen_host: str = "127.0.0.1"
    listen_port: int = 9320  # 0 = no OSC triggers


@dataclass(frozen=True)
class LooperConfig:
    audio: AudioConfig = field(default_factory=AudioConfig)
    clock: ClockConfig = field(default_factory=ClockConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)
    sidecar: SidecarConfig = field(default_factory=SidecarConfig)
    osc: OscConfig = field(default_factory=OscConfig)
    midi_trigger_port: str | None = None  # None: the clock's MIDI port, if any
    triggers: tuple[Trigger, ...] = DEFAULT_OSC_TRIGGERS

    def __post_init__(self) -> None:
        _check(self)


def _check(config: LooperConfig) -> None:
    a, c, loop = config.audio, config.clock, config.loop
    if a.sample_rate is not None and not 8000 <= a.sample_rate <= 192000:
        raise ValueError(f"audio.sample_rate must be in [8000, 192000]; got {a.sample_rate}")
    if a.block_size < 0 or a.block_size > 8192:
        raise ValueError(f"audio.block_size must be 0 (host default) to 8192; got {a.block_size}")
    if not 1 <= a.input_channels <= 64 or not 1 <= a.output_channels <= 64:
        raise ValueError("audio.input_channels and audio.output_channels must be in [1, 64]")
    if not 1 <= a.history_bars <= 256:
        raise ValueError(f"audio.history_bars must be in [1, 256]; got {a.history_bars}")
    if not 0.0 <= a.crossfade_ms <= 500.0:
        raise ValueError(f"audio.crossfade_ms must be in [0, 500]; got {a.crossfade_ms}")
    for name in _LATENCIES:
        latency: object = getattr(a, name)
        if latency is not None and (
            isinstance(latency, bool) or not isinstance(latency, int | float)
        ):
            raise ValueError(f'audio.{name} must be a number or "auto"; got {latency!r}')
    if not 20.0 <= c.bpm <= 300.0:
        raise ValueError(f"clock.bpm must be in [20, 300]; got {c.bpm}")
    if c.source not in ("fixed", "midi", "link"):
        raise ValueError(f"clock.source must be fixed, midi or link; got {c.source!r}")
    if not 1 <= c.beats_per_bar <= 16:
        raise ValueError(f"clock.beats_per_bar must be in [1, 16]; got {c.beats_per_bar}")
    if not 1 <= loop.bars <= a.history_bars:
        raise ValueError(f"loop.bars must be in [1, audio.history_bars]; got {loop.bars}")
    if loop.quantize not in ("bar", "loop"):
        raise ValueError(f"loop.quantize must be 'bar' or 'loop'; got {loop.quantize!r}")
    if not 1 <= loop.variations <= 8:
        raise ValueError(f"loop.variations must be in [1, 8]; got {loop.variations}")


_SECTIONS: dict[str, type] = {
    "audio": AudioConfig,
    "clock": ClockConfig,
    "loop": LoopConfig,
    "sidecar": SidecarConfig,
    "osc": OscConfig,
}


def _section(name: str, cls: type, data: Any) -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"[{name}] must be a table; got {type(data).__name__}")
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"[{name}]: unknown key(s) {sorted(unknown)}; allowed: {sorted(names)}")
    return cls(**data)


def load_config(path: str | Path | None = None, **overrides: Any) -> LooperConfig:
    """Read a TOML config (or the defaults) and apply `section__key=value` overrides.

    Overrides whose value is None are ignored, so argparse results can be passed straight in.
    """
    data: dict[str, Any] = {}
    if path is not None:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as e:
            raise ValueError(f"cannot read config '{path}': {e.strerror}") from e
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"config '{path}' is not valid TOML: {e}") from e
    allowed = set(_SECTIONS) | {"trigger", "midi"}
    unknown = set(data) - allowed
    if unknown:
        raise ValueError(
            f"config: unknown section(s) {sorted(unknown)}; allowed: {sorted(allowed)}"
        )
    kwargs: dict[str, Any] = {
        name: _section(name, cls, data.get(name, {})) for name, cls in _SECTIONS.items()
    }
    midi = data.get("midi", {})
    if not isinstance(midi, dict) or set(midi) - {"trigger_port"}:
        raise ValueError("[midi] allows only trigger_port")
    triggers = [Trigger.from_dict(t) for t in data.get("trigger", [])]
    configured = {t.osc for t in triggers if t.osc}
    triggers += [t for t in DEFAULT_OSC_TRIGGERS if t.osc not in configured]
    for key, value in overrides.items():
        if value is None:
            continue
        section, _, name = key.partition("__")
        if section not in _SECTIONS or not name:
            raise ValueError(f"override {key!r} must be 'section__key'")
        kwargs[section] = replace(kwargs[section], **{name: value})
    return LooperConfig(
        midi_trigger_port=midi.get("trigger_port"), triggers=tuple(triggers), **kwargs
    )
