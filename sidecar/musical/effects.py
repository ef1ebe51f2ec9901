"""⑤ Effect chains by name: validated pedalboard effects, tempo-synced delay, length-kept tails."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pedalboard

from sidecar.errors import RequestError
from sidecar.osc.fields import FieldSpec, check_value
from sidecar.post.channels import as_audio

__all__ = [
    "DEFAULT_BPM",
    "EFFECTS",
    "EffectSpec",
    "EffectType",
    "apply_chain",
    "build_chain",
    "load_vst3",
]

logger = logging.getLogger(__name__)

#: Tempo for `delay_beats` when the request has no bpm.
DEFAULT_BPM = 120.0
MAX_TAIL_SECONDS = 10.0


@dataclass(frozen=True)
class EffectType:
    """A pedalboard class and the parameters a preset may set, with their allowed ranges."""

    class_name: str
    params: tuple[FieldSpec, ...]

    def spec(self, name: str) -> FieldSpec | None:
        return next((p for p in self.params if p.name == name), None)


def _fx(class_name: str, **ranges: tuple[float, float] | tuple[str, ...]) -> EffectType:
    specs = []
    for name, allowed in ranges.items():
        if all(isinstance(a, str) for a in allowed):
            specs.append(FieldSpec(name, "choice", choices=tuple(str(a) for a in allowed)))
        else:
            lo, hi = (float(a) for a in allowed)
            specs.append(FieldSpec(name, "float", minimum=lo, maximum=hi))
    return EffectType(class_name, tuple(specs))


_CUT = (10.0, 22000.0)
_EQ: dict[str, tuple[float, float]] = {
    "cutoff_frequency_hz": _CUT,
    "gain_db": (-24, 24),
    "q": (0.1, 10),
}
_DYNAMICS: dict[str, tuple[float, float]] = {"attack_ms": (0.01, 500), "release_ms": (1, 5000)}
_UNIT = (0.0, 1.0)
_MOD: dict[str, tuple[float, float]] = {
    "rate_hz": (0.01, 99),
    "depth": _UNIT,
    "feedback": (-0.95, 0.95),
    "mix": _UNIT,
}

#: Effect name in a preset → pedalboard class and parameters. Names and parameters are the
#: pedalboard classes' own; `delay_beats` (a delay time in beats, converted at the request's
#: tempo) is the one addition.
EFFECTS: Mapping[str, EffectType] = MappingProxyType(
    {
        "highpass": _fx("HighpassFilter", cutoff_frequency_hz=_CUT),
        "lowpass": _fx("LowpassFilter", cutoff_frequency_hz=_CUT),
        "highshelf": _fx("HighShelfFilter", **_EQ),
        "lowshelf": _fx("LowShelfFilter", **_EQ),
        "peak": _fx("PeakFilter", **_EQ),
        "compressor": _fx("Compressor", threshold_db=(-60, 0), ratio=(1, 30), **_DYNAMICS),
        "limiter": _fx("Limiter", threshold_db=(-30, 0), release_ms=(1, 5000)),
        "noisegate": _fx("NoiseGate", threshold_db=(-100, 0), ratio=(1, 100), **_DYNAMICS),
        "reverb": _fx(
            "Reverb",
            room_size=_UNIT,
            damping=_UNIT,
            wet_level=_UNIT,
            dry_level=_UNIT,
            width=_UNIT,
            freeze_mode=_UNIT,
        ),
        "chorus": _fx("Chorus", centre_delay_ms=(1, 100), **_MOD),
        "phaser": _fx("Phaser", centre_frequency_hz=(20, 20000), **_MOD),
        "delay": _fx(
            "Delay",
            delay_seconds=(0.001, 5),
            delay_beats=(0.0625, 8),
            feedback=(0, 0.95),
            mix=_UNIT,
        ),
        "distortion": _fx("Distortion", drive_db=(0, 60)),
        "clipping": _fx("Clipping", threshold_db=(-60, 0)),
        "bitcrush": _fx("Bitcrush", bit_depth=(1, 32)),
        "gain": _fx("Gain", gain_db=(-60, 24)),
        "ladderfilter": _fx(
            "LadderFilter",
            mode=("LPF12", "HPF12", "BPF12", "LPF24", "HPF24", "BPF24"),
            cutoff_hz=(20, 20000),
            resonance=_UNIT,
            drive=(1, 100),
        ),
    }
)


@dataclass(frozen=True)
class EffectSpec:
    """One validated effect: its name in `EFFECTS` and its parameters."""

    name: str
    params: Mapping[str, float | str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, entry: Mapping[str, Any], where: str = "effects[0]") -> EffectSpec:
        """Validate `{type = "compressor", ratio = 3, ...}`; `RequestError` names `where.key`."""
        kind = entry.get("type")
        if not isinstance(kind, str) or kind not in EFFECTS:
            raise RequestError(
                f"{where}.type: {kind!r} is not an effect; allowed: {', '.join(EFFECTS)}",
                f"{where}.type",
            )
        effect_type = EFFECTS[kind]
        params: dict[str, float | str] = {}
        for key, value in entry.items():
            if key == "type":
                continue
            spec = effect_type.spec(key)
            name = f"{where}.{key}"
            if spec is None:
                allowed = ", ".join(p.name for p in effect_type.params)
                raise RequestError(f"{name}: not a {kind} parameter; allowed: {allowed}", name)
            try:
                checked = check_value(spec, value)
            except RequestError as e:
                raise RequestError(f"{where}.{e.message}", name) from e
            params[key] = checked if isinstance(checked, str) else float(checked)
        if "delay_seconds" in params and "delay_beats" in params:
            raise RequestError(
                f"{where}.delay_beats: give delay_seconds or delay_beats, not both",
                f"{where}.delay_beats",
            )
        effect = cls(kind, MappingProxyType(params))
        try:
            effect.build()  # the pedalboard class has the last word on its parameters
        except (TypeError, ValueError) as e:
            raise RequestError(f"{where}: pedalboard rejected {kind} {params}: {e}", where) from e
        return effect

    def build(self, bpm: float | None = None) -> pedalboard.Plugin:
        """A fresh pedalboard plugin; `delay_beats` is converted at `bpm` (default 120)."""
        kwargs: dict[str, Any] = dict(self.params)
        if "delay_beats" in kwargs:
            kwargs["delay_seconds"] = kwargs.pop("delay_beats") * 60.0 / (bpm or DEFAULT_BPM)
        if "mode" in kwargs:
            kwargs["mode"] = getattr(pedalboard.LadderFilter.Mode, str(kwargs["mode"]))
        plugin: pedalboard.Plugin = getattr(pedalboard, EFFECTS[self.name].class_name)(**kwargs)
        return plugin

    def tail_seconds(self, bpm: float | None = None) -> float:
        """How long the effect rings after the input stops (about 60 dB down), capped at 10 s."""
        p = self.params
        if self.name == "reverb":
            if float(p.get("freeze_mode", 0.0)) >= 0.5:
                return MAX_TAIL_SECONDS
            return 0.5 + 4.5 * float(p.get("room_size", 0.5))
        if self.name == "delay":
            if "delay_beats" in p:
                seconds = float(p["delay_beats"]) * 60.0 / (bpm or DEFAULT_BPM)
            else:
                seconds = float(p.get("delay_seconds", 0.5))
            feedback = float(p.get("feedback", 0.0))
            repeats = 1 if feedback <= 0 else math.ceil(math.log(1e-3) / math.log(feedback))
            return min(MAX_TAIL_SECONDS, seconds * (repeats + 1))
        if self.name in ("chorus", "phaser"):
            return 0.1
        return 0.0


def load_vst3(path: Path, parameters: Mapping[str, float | int | bool | str]) -> pedalboard.Plugin:
    """Host the VST3 effect at `path` with initial `parameters`; `ValueError` says why not."""
    if not path.exists():
        raise ValueError(f"'{path}' does not exist; install the plugin there or remove it")
    try:
        plugin = pedalboard.load_plugin(str(path), parameter_values=dict(parameters))
    except (ImportError, ValueError, RuntimeError, OSError) as e:
        raise ValueError(f"'{path}' failed to load: {e}") from e
    if getattr(plugin, "is_instrument", False):
        raise ValueError(f"'{path}' is an instrument; only effects can process a stem")
    logger.info("hosting VST3 plugin %s", path)
    return plugin


def build_chain(
    effects: Iterable[EffectSpec],
    bpm: float | None = None,
    first: Iterable[pedalboard.Plugin] = (),
) -> pedalboard.Pedalboard:
    """A fresh `Pedalboard`: the `first` plugins (e.g. a hosted VST3), then `effects`."""
    return pedalboard.Pedalboard([*first, *(e.build(bpm) for e in effects)])


def apply_chain(
    board: pedalboard.Pedalboard,
    audio: np.ndarray,
    sample_rate: int,
    *,
    tail_seconds: float = 0.0,
    loop: bool = False,
) -> np.ndarray:
    """Run `board` over float `(channels, samples)` audio; float32 of the same shape out.

    Pure: the input is not modified and the board is reset first. Tails past the end are cut,
    so a stem keeps its bar-exact length. With `loop=True` the audio is played as a loop
    (repeated until `tail_seconds` is covered, the last pass kept), so the tail of the end
    rings into the start as it will when the DAW loops the clip.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive; got {sample_rate}")
    data = as_audio(audio)
    if len(board) == 0:
        return data.copy()
    samples = data.shape[1]
    passes = 1 + math.ceil(max(tail_seconds, 0.0) * sample_rate / samples) if loop else 1
    source = np.tile(data, (1, passes)) if passes > 1 else data
    logger.debug("effects: %d plugin(s) over %d samples × %d", len(board), samples, passes)
    out = board.process(source, float(sample_rate), reset=True)
    out = np.ascontiguousarray(out[:, -samples:], dtype=np.float32)
    if out.shape != data.shape:
        raise ValueError(f"effect chain returned shape {out.shape}; expected {data.shape}")
    if not np.all(np.isfinite(out)):
        raise ValueError("effect chain produced NaN or Inf samples")
    return out
