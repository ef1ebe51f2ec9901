"""② Presets: TOML files with a prompt template, sampling parameters and an effect chain.

The format and the shipped presets are described in `docs/presets.md`. `default_presets_dir()`
is the repository's top-level `presets/` folder: beside this package in a checkout or an editable
install, and inside it (as `sidecar/shipped_presets/`, see pyproject.toml) in an installed wheel.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pedalboard

from sidecar.errors import PresetError
from sidecar.musical.effects import EffectSpec, apply_chain, build_chain, load_vst3
from sidecar.musical.preset_validation import GENERATION_PARAMS, PresetValidator
from sidecar.musical.stemsets import stem_prompts
from sidecar.musical.templates import render_template

__all__ = [
    "GENERATION_PARAMS",
    "Preset",
    "PresetError",
    "PresetLibrary",
    "default_presets_dir",
]

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class Preset:
    """A validated preset. Build one with `Preset.from_dict()` or `PresetLibrary.load()`."""

    name: str
    description: str
    prompt_template: str
    model_hint: str | None = None
    params: dict[str, float | int] = field(default_factory=dict)
    bars: int | None = None
    effects: tuple[EffectSpec, ...] = ()
    vst3_path: Path | None = None
    vst3_parameters: Mapping[str, float | int | bool | str] = field(default_factory=dict)
    loudness_lufs: float | None = None
    stems: tuple[str, ...] = ()
    stem_prompts: Mapping[str, str] = field(default_factory=dict)
    stem_template: str | None = None
    source: Path | None = None

    # ------------------------------------------------------------------ prompts

    def render_prompt(
        self,
        *,
        bpm: float | None = None,
        key: str | None = None,
        genre: str | None = None,
        extra: str | None = None,
    ) -> str:
        """The full text prompt: the template with `{bpm}`, `{key}`, `{genre}` filled in.

        A comma-separated clause whose placeholder has no value is dropped, so
        "drum loop, {genre}, {bpm} bpm" with only a genre gives "drum loop, house". A value
        whose placeholder the template lacks is still named (genre first, "in F# minor" and
        "120 bpm" last); `extra` (the request's own prompt) comes at the end. The key is
        normalized ('f#m' → 'F# minor'); a bad key raises `RequestError` on field `key`.
        """
        return render_template(self.prompt_template, bpm=bpm, key=key, genre=genre, extra=extra)

    def render_stem_prompts(
        self,
        stems: tuple[str, ...] | None = None,
        *,
        bpm: float | None = None,
        key: str | None = None,
        genre: str | None = None,
        extra: str | None = None,
    ) -> tuple[str, ...]:
        """One prompt per part of `stems` (default: the preset's), with its fragments.

        The shared part is `[stems] base` rendered like `render_prompt()` (the main prompt
        if the preset has no base), then each part's fragment: "…, drums only: …".
        """
        parts = stems if stems is not None else self.stems
        if not parts:
            raise PresetError(
                f"stems: preset '{self.name}' has no default stems; send stems explicitly",
                "stems",
            )
        template = self.stem_template or self.prompt_template
        base = render_template(template, bpm=bpm, key=key, genre=genre, extra=extra)
        return stem_prompts(base, parts, self.stem_prompts)

    # ------------------------------------------------------------------ effects

    def build_board(self, bpm: float | None = None) -> pedalboard.Pedalboard:
        """A fresh effect chain: the VST3 plugin (if any) first, then the built-in effects.

        The VST3 plugin is loaded here, not when the preset is loaded; a missing file or a
        plugin that fails to load raises `PresetError` on field `vst3.path`.
        """
        first = [self._load_vst3(self.vst3_path)] if self.vst3_path is not None else []
        return build_chain(self.effects, bpm, first)

    def tail_seconds(self, bpm: float | None = None) -> float:
        """The longest ring-out of the chain (reverb and delay), capped at 10 s."""
        return max((e.tail_seconds(bpm) for e in self.effects), default=0.0)

    def apply_effects(
        self,
        audio: np.ndarray,
        sample_rate: int,
        *,
        bpm: float | None = None,
        loop: bool = False,
        board: pedalboard.Pedalboard | None = None,
    ) -> np.ndarray:
        """Run the chain over float `(channels, samples)` audio; same shape, float32 out.

        The input is not modified. Reverb and delay tails past the end are cut, so the stem
        keeps its bar-exact length; with `loop=True` the audio is processed as a loop instead
        (played repeatedly, the last pass kept), so the tail of the end rings into the start
        as it will when the DAW loops the clip. Pass `board` to reuse a chain from
        `build_board()` (worth it for a VST3 plugin).
        """
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive; got {sample_rate}")
        chain = board if board is not None else self.build_board(bpm)
        try:
            return apply_chain(
                chain, audio, sample_rate, tail_seconds=self.tail_seconds(bpm), loop=loop
            )
        except ValueError as e:
            raise PresetError(f"preset '{self.name}': effects: {e}", "effects", self.source) from e

    def _load_vst3(self, path: Path) -> pedalboard.Plugin:
        try:
            return load_vst3(path, self.vst3_parameters)
        except ValueError as e:
            raise PresetError(
                f"{self.source or self.name}: vst3.path: {e}", "vst3.path", self.source
            ) from e

    # ------------------------------------------------------------------ loading

    @classmethod
    def from_toml(cls, path: Path) -> Preset:
        """Read and validate one preset file; the file name (without .toml) is the name."""
        try:
            with path.open("rb") as f:
                data = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise PresetError(f"{path}: not valid TOML: {e}", "toml", path) from e
        except OSError as e:
            raise PresetError(f"{path}: cannot read: {e}", None, path) from e
        return cls.from_dict(path.stem, data, source=path)

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any], source: Path | None = None) -> Preset:
        """Validate parsed TOML; every problem raises `PresetError` naming the file and field."""
        return cls(**PresetValidator(name, source).fields(data))


@dataclass(frozen=True)
class PresetLibrary:
    """Every preset of a folder, by name; `errors` holds the files skipped by a lenient load."""

    presets: Mapping[str, Preset]
    directory: Path | None = None
    errors: tuple[PresetError, ...] = ()

    @classmethod
    def load(cls, directory: Path, *, strict: bool = True) -> PresetLibrary:
        """Load and validate every `*.toml` in `directory`.

        Strict (the default): one `PresetError` listing every bad file and field. Lenient:
        bad files are logged as warnings, kept in `errors`, and left out.
        """
        if not directory.is_dir():
            raise PresetError(
                f"presets: '{directory}' is not a folder; create it or point the server at the "
                "folder that holds the *.toml presets",
                "presets",
                directory,
            )
        presets: dict[str, Preset] = {}
        errors: list[PresetError] = []
        for path in sorted(directory.glob("*.toml")):
            try:
                preset = Preset.from_toml(path)
            except PresetError as error:
                errors.append(error)
                continue
            presets[preset.name] = preset
        if errors and strict:
            raise PresetError(
                f"{len(errors)} invalid preset file(s) in '{directory}':\n"
                + "\n".join(f"  {e.message}" for e in errors),
                errors[0].field,
                errors[0].path,
                tuple(errors),
            )
        for skipped in errors:
            logger.warning("preset skipped: %s", skipped.message)
        logger.info("loaded %d preset(s) from %s", len(presets), directory)
        return cls(MappingProxyType(presets), directory, tuple(errors))

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self.presets))

    def get(self, name: str) -> Preset:
        """The preset called `name`; `PresetError` on field `preset` lists the available ones."""
        preset = self.presets.get(name)
        if preset is None:
            available = ", ".join(self.names()) or "none (the presets folder is empty)"
            raise PresetError(f"preset: {name!r} does not exist; available: {available}", "preset")
        return preset

    def __contains__(self, name: object) -> bool:
        return name in self.presets

    def __len__(self) -> int:
        return len(self.presets)


def default_presets_dir() -> Path:
    """The shipped presets: inside the installed package (wheel), else the checkout's `presets/`."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "shipped_presets"
    return installed if installed.is_dir() else package.parent / "presets"
