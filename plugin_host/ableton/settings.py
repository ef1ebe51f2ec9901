"""The Remote Script's settings file: sidecar address, presets and the MIDI button map."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ACTIONS",
    "DEFAULT_BUTTONS",
    "PRESET_KEYS",
    "SETTINGS_FILE_NAME",
    "MidiBinding",
    "Preset",
    "Settings",
    "SettingsError",
    "load_settings",
    "parse_settings",
    "parse_token",
]

SETTINGS_FILE_NAME = "settings.json"

#: The buttons a controller can press; `variations` takes a CC value (or cycles on a note);
#: `selftest` probes this Live's API on a scratch track (docs/daw-scripts.md).
ACTIONS = ("generate", "cancel", "reroll", "variations", "selftest")

#: Request keys a script preset may set (the sidecar rejects keys it does not know):
#: `preset` names one of the sidecar's own presets (prompt template, parameters, effect
#: chain), `stems` asks for a stem set.
PRESET_KEYS = (
    "prompt",
    "guidance",
    "temperature",
    "top_p",
    "top_k",
    "loop",
    "loudness",
    "preset",
    "stems",
    "genre",
    "fix_key",
)

_INT_KEYS = ("top_k", "loop", "fix_key")
_STR_KEYS = ("prompt", "preset", "stems", "genre")


class SettingsError(ValueError):
    """The settings file is missing a value, or holds one of the wrong type or range."""


@dataclass(frozen=True)
class MidiBinding:
    """One button: a note or CC on a MIDI channel (stored 0–15; the file says 1–16)."""

    kind: str
    channel: int
    number: int

    def matches(self, status: int, number: int) -> bool:
        """Whether a message with this status byte and first data byte is this button."""
        kind_nibble = 0xB0 if self.kind == "cc" else 0x90
        if self.kind == "note" and status & 0xF0 == 0x80:
            kind_nibble = 0x80
        return status == (kind_nibble | self.channel) and number == self.number


#: The documented map, used when the settings file has no `buttons` (or cannot be used): notes
#: 60/61/62/63 and CC 20 on MIDI channel 16 (stored 0-based).
DEFAULT_BUTTONS: tuple[tuple[str, MidiBinding], ...] = (
    ("generate", MidiBinding("note", 15, 60)),
    ("cancel", MidiBinding("note", 15, 61)),
    ("reroll", MidiBinding("note", 15, 62)),
    ("variations", MidiBinding("cc", 15, 20)),
    ("selftest", MidiBinding("note", 15, 63)),
)


@dataclass(frozen=True)
class Preset:
    """A named set of request keys (prompt, sidecar preset, sampling parameters)."""

    name: str
    values: tuple[tuple[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return dict(self.values)


@dataclass(frozen=True)
class Settings:
    """Everything the script reads from its settings file, validated."""

    sidecar_host: str = "127.0.0.1"
    sidecar_port: int = 9310
    preset: str = "default"
    presets: tuple[Preset, ...] = (Preset("default"),)
    bars: int | None = None
    variations: int = 1
    key: str = "auto"
    clip_color_index: int = 22
    connect_timeout_seconds: float = 3.0
    stall_timeout_seconds: float = 300.0
    buttons: tuple[tuple[str, MidiBinding], ...] = DEFAULT_BUTTONS
    #: the sidecar's shared token (`sidecar serve --token`), sent as `token <value>` at the
    #: end of every message; "" sends none (a sidecar on this machine needs none)
    token: str = field(default="", repr=False)

    def preset_named(self, name: str) -> Preset:
        for preset in self.presets:
            if preset.name == name:
                return preset
        names = ", ".join(p.name for p in self.presets)
        raise SettingsError(f"no preset named {name!r}; the settings file defines: {names}")

    def binding_for(self, action: str) -> MidiBinding | None:
        for name, binding in self.buttons:
            if name == action:
                return binding
        return None


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise SettingsError(message)


def _number(raw: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = raw.get(name, default)
    _require(
        isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high,
        f"settings '{name}' must be a number in [{low}, {high}]; got {value!r}",
    )
    return float(value)


def _integer(raw: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = raw.get(name, default)
    _require(
        isinstance(value, int) and not isinstance(value, bool) and low <= value <= high,
        f"settings '{name}' must be a whole number in [{low}, {high}]; got {value!r}",
    )
    return int(value)


def parse_token(raw: dict[str, Any]) -> str:
    """The `token` setting: text, or null or "" for none. Never echoed back in a message."""
    value = raw.get("token")
    if value is None:
        return ""
    _require(
        isinstance(value, str),
        "settings 'token' must be text (the sidecar's --token), or \"\" for none; "
        f"got a {type(value).__name__}",
    )
    return str(value)


def _parse_binding(action: str, raw: Any) -> MidiBinding:
    _require(isinstance(raw, dict), f"buttons.{action} must be an object; got {raw!r}")
    kind = raw.get("type")
    _require(kind in ("note", "cc"), f"buttons.{action}.type must be 'note' or 'cc'; got {kind!r}")
    channel = _integer(raw, "channel", 1, 1, 16)
    number = raw.get("number")
    _require(
        isinstance(number, int) and not isinstance(number, bool) and 0 <= number <= 127,
        f"buttons.{action}.number must be a MIDI note or CC number 0–127; got {number!r}",
    )
    return MidiBinding(kind=str(kind), channel=channel - 1, number=int(number))


def _parse_preset(name: str, raw: Any) -> Preset:
    _require(isinstance(raw, dict), f"presets.{name} must be an object; got {raw!r}")
    values = []
    for key in sorted(raw):
        value = raw[key]
        _require(
            key in PRESET_KEYS,
            f"presets.{name}.{key} is not a request key; allowed: {', '.join(PRESET_KEYS)}",
        )
        if key in _STR_KEYS:
            _require(isinstance(value, str), f"presets.{name}.{key} must be text; got {value!r}")
        elif key in _INT_KEYS:
            _require(
                isinstance(value, int) and not isinstance(value, bool),
                f"presets.{name}.{key} must be a whole number; got {value!r}",
            )
        else:
            _require(
                isinstance(value, (int, float)) and not isinstance(value, bool),
                f"presets.{name}.{key} must be a number; got {value!r}",
            )
            value = float(value)
        values.append((key, value))
    return Preset(name=name, values=tuple(values))


def _parse_buttons(raw: Any) -> tuple[tuple[str, MidiBinding], ...]:
    """The button map: `DEFAULT_BUTTONS` with the file's own bindings over it.

    An action the file leaves out keeps its default binding unless the file gives that
    note/CC to another action; `null` unbinds an action.
    """
    if raw is None:
        return DEFAULT_BUTTONS
    _require(isinstance(raw, dict), f"buttons must be an object; got {raw!r}")
    for action in raw:
        _require(action in ACTIONS, f"buttons.{action} is unknown; allowed: {', '.join(ACTIONS)}")
    given = {
        action: _parse_binding(action, value) for action, value in raw.items() if value is not None
    }
    taken = set(given.values())
    buttons = []
    for action, default in DEFAULT_BUTTONS:
        if action in given:
            buttons.append((action, given[action]))
        elif action not in raw and default not in taken:
            buttons.append((action, default))
    return tuple(buttons)


def parse_settings(raw: dict[str, Any]) -> Settings:
    """Validate a decoded settings object; missing keys take their defaults."""
    _require(isinstance(raw, dict), f"the settings file must hold an object; got {raw!r}")
    host = raw.get("sidecar_host", "127.0.0.1")
    _require(isinstance(host, str) and host != "", f"sidecar_host must be text; got {host!r}")
    raw_presets = raw.get("presets", {"default": {}})
    _require(
        isinstance(raw_presets, dict) and len(raw_presets) > 0,
        f"presets must be an object with at least one preset; got {raw_presets!r}",
    )
    presets = tuple(_parse_preset(name, value) for name, value in raw_presets.items())
    preset = raw.get("preset", presets[0].name)
    _require(
        any(p.name == preset for p in presets),
        f"preset {preset!r} is not one of the presets: {', '.join(p.name for p in presets)}",
    )
    bars_raw = raw.get("bars", "auto")
    bars: int | None = None
    if bars_raw != "auto":
        bars = _integer(raw, "bars", 4, 1, 64)
    key = raw.get("key", "auto")
    _require(isinstance(key, str), f"key must be 'auto', 'off' or like 'C major'; got {key!r}")
    buttons = _parse_buttons(raw.get("buttons"))
    return Settings(
        sidecar_host=host,
        sidecar_port=_integer(raw, "sidecar_port", 9310, 1, 65535),
        preset=str(preset),
        presets=presets,
        bars=bars,
        variations=_integer(raw, "variations", 1, 1, 8),
        key=key,
        clip_color_index=_integer(raw, "clip_color_index", 22, 0, 69),
        connect_timeout_seconds=_number(raw, "connect_timeout_seconds", 3.0, 0.1, 60.0),
        stall_timeout_seconds=_number(raw, "stall_timeout_seconds", 300.0, 1.0, 3600.0),
        buttons=buttons,
        token=parse_token(raw),
    )


def load_settings(directory: str) -> Settings:
    """Read `settings.json` from the script's folder; raises SettingsError with the reason."""
    path = os.path.join(directory, SETTINGS_FILE_NAME)
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
