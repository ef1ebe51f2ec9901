"""The REAPER scripts' settings file (`sidecar_settings.json` beside the scripts), validated."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "PRESET_KEYS",
    "SETTINGS_FILE_NAME",
    "Settings",
    "SettingsError",
    "load_settings",
    "parse_settings",
]

SETTINGS_FILE_NAME = "sidecar_settings.json"

#: Request keys a preset may set (the sidecar refuses keys it does not know).
PRESET_KEYS = ("prompt", "guidance", "temperature", "top_p", "top_k", "loop", "loudness")

_INT_PRESET_KEYS = ("top_k", "loop")
_TEXT_PRESET_KEYS = ("prompt",)
_FIELDS = (
    "sidecar_host",
    "sidecar_port",
    "preset",
    "presets",
    "bars",
    "variations",
    "key",
    "connect_timeout_seconds",
    "stall_timeout_seconds",
    "token",
)


class SettingsError(ValueError):
    """The settings file is unreadable, or a field holds a value of the wrong type or range."""


@dataclass(frozen=True)
class Settings:
    """Everything the REAPER actions read from the settings file; defaults fill what is missing."""

    sidecar_host: str = "127.0.0.1"
    sidecar_port: int = 9310
    preset: str = "default"
    #: preset name → sorted (request key, value) pairs
    presets: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = (("default", ()),)
    #: None = as many bars as the item spans
    bars: int | None = None
    variations: int = 1
    #: "off", or a key the sidecar adds to the prompt, like "A minor"
    key: str = "off"
    connect_timeout_seconds: float = 5.0
    stall_timeout_seconds: float = 300.0
    #: the sidecar's shared token (`sidecar serve --token`), sent as `token <value>` at the
    #: end of every message; "" sends none (a sidecar on this machine needs none)
    token: str = field(default="", repr=False)

    def preset_values(self) -> tuple[tuple[str, Any], ...]:
        """The request keys of the selected preset."""
        for name, values in self.presets:
            if name == self.preset:
                return values
        return ()


def _fail(message: str) -> SettingsError:
    return SettingsError(message)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(raw: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = raw.get(name, default)
    if not (_is_number(value) and low <= value <= high):
        raise _fail(f"'{name}' must be a number from {low:g} to {high:g}; got {value!r}")
    return float(value)


def _integer(raw: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = raw.get(name, default)
    if not (_is_integer(value) and low <= value <= high):
        raise _fail(f"'{name}' must be a whole number from {low} to {high}; got {value!r}")
    return int(value)


def _text(raw: dict[str, Any], name: str, default: str) -> str:
    value = raw.get(name, default)
    if not isinstance(value, str) or not value.strip():
        raise _fail(f"'{name}' must be non-empty text; got {value!r}")
    return value.strip()


def _token(raw: dict[str, Any]) -> str:
    """Text, or null or "" for none; the value is never echoed back in a message."""
    value = raw.get("token")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _fail(
            "'token' must be text (the sidecar's --token), or \"\" for none; "
            f"got a {type(value).__name__}"
        )
    return value


def _preset(name: str, raw: Any) -> tuple[tuple[str, Any], ...]:
    if not isinstance(raw, dict):
        raise _fail(f"'presets.{name}' must be an object of request keys; got {raw!r}")
    values: list[tuple[str, Any]] = []
    for key in sorted(raw):
        value = raw[key]
        field = f"presets.{name}.{key}"
        if key not in PRESET_KEYS:
            raise _fail(f"'{field}' is not a request key; allowed: {', '.join(PRESET_KEYS)}")
        if key in _TEXT_PRESET_KEYS:
            if not isinstance(value, str):
                raise _fail(f"'{field}' must be text; got {value!r}")
        elif key in _INT_PRESET_KEYS:
            if not _is_integer(value):
                raise _fail(f"'{field}' must be a whole number; got {value!r}")
        elif _is_number(value):
            value = float(value)
        else:
            raise _fail(f"'{field}' must be a number; got {value!r}")
        values.append((key, value))
    return tuple(values)


def parse_settings(raw: Any) -> Settings:
    """Validate a decoded settings object; every missing field takes its default."""
    if not isinstance(raw, dict):
        raise _fail(f"the settings file must hold a JSON object; got {raw!r}")
    unknown = sorted(str(key) for key in raw if key not in _FIELDS)
    if unknown:
        raise _fail(f"unknown setting '{unknown[0]}'; known settings: {', '.join(_FIELDS)}")
    raw_presets = raw.get("presets", {"default": {}})
    if not isinstance(raw_presets, dict) or not raw_presets:
        raise _fail(f"'presets' must be an object with at least one preset; got {raw_presets!r}")
    presets = tuple((str(name), _preset(str(name), value)) for name, value in raw_presets.items())
    names = [name for name, _values in presets]
    preset = raw.get("preset", names[0])
    if preset not in names:
        raise _fail(f"'preset' is {preset!r}, not one of the presets: {', '.join(names)}")
    bars: int | None = None
    raw_bars = raw.get("bars", "auto")
    if raw_bars != "auto":
        if not (_is_integer(raw_bars) and 1 <= raw_bars <= 64):
            raise _fail(f"'bars' must be \"auto\" or a whole number from 1 to 64; got {raw_bars!r}")
        bars = int(raw_bars)
    return Settings(
        sidecar_host=_text(raw, "sidecar_host", "127.0.0.1"),
        sidecar_port=_integer(raw, "sidecar_port", 9310, 1, 65535),
        preset=str(preset),
        presets=presets,
        bars=bars,
        variations=_integer(raw, "variations", 1, 1, 8),
        key=_text(raw, "key", "off"),
        connect_timeout_seconds=_number(raw, "connect_timeout_seconds", 5.0, 0.1, 60.0),
        stall_timeout_seconds=_number(raw, "stall_timeout_seconds", 300.0, 1.0, 3600.0),
        token=_token(raw),
    )


def load_settings(path: str) -> Settings:
    """Read and validate the settings file; the defaults when it does not exist."""
    if not os.path.exists(path):
        return Settings()
    try:
        with open(path, encoding="utf-8") as handle:
            raw = json.load(handle)
    except OSError as error:
        raise SettingsError(f"cannot read {path}: {error}") from error
    except ValueError as error:
        raise SettingsError(f"{path} is not valid JSON: {error}") from error
    try:
        return parse_settings(raw)
    except SettingsError as error:
        raise SettingsError(f"{path}: {error}") from error
