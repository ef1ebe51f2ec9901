"""② Presets: TOML files with a prompt template, sampling parameters and an effect chain.

The format and the shipped presets are described in `docs/presets.md`. `default_presets_dir()`
is the repository's top-level `presets/` folder: beside this package in a checkout or an editable
install, and inside it (as `sidecar/shipped_presets/`, see pyproject.toml) in an installed wheel.
"""

from __future__ import annotations

import logging
import re
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pedalboard

from sidecar.effects import EffectSpec, apply_chain, build_chain, load_vst3
from sidecar.errors import RequestError
from sidecar.osc.fields import FIELDS, FieldSpec, check_value
from sidecar.post.key import normalize_key
from sidecar.stemsets import normalize_part, parse_stems, stem_prompts

__all__ = [
    "GENERATION_PARAMS",
    "Preset",
    "PresetError",
    "PresetLibrary",
    "default_presets_dir",
]

logger = logging.getLogger(__name__)

#: The request fields a preset may set under `[params]`; ranges come from `FIELDS`.
GENERATION_PARAMS: tuple[str, ...] = ("guidance", "temperature", "top_k", "top_p")
_PLACEHOLDERS = ("bpm", "key", "genre")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_TOP_LEVEL = {"description", "prompt", "model", "bars", "loudness_lufs", "params", "effects"}
_TOP_LEVEL |= {"vst3", "stems"}


class PresetError(RequestError):
    """A preset file is invalid, or a request names a preset that does not exist.

    `path` is the offending file (None for a lookup by name); `field` the preset key, dotted
    for nested ones ('params.guidance', 'effects[2].ratio').
    """

    def __init__(
        self,
        message: str,
        field: str | None = None,
        path: Path | None = None,
        errors: tuple[PresetError, ...] = (),
    ) -> None:
        super().__init__(message, field)
        self.path = path
        #: For a folder load: every file's error (this error sums them up).
        self.errors = errors


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
        return _render(self.prompt_template, bpm=bpm, key=key, genre=genre, extra=extra)

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
        base = _render(template, bpm=bpm, key=key, genre=genre, extra=extra)
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
        return _Validator(name, source).preset(data)


def _render(
    template: str,
    *,
    bpm: float | None = None,
    key: str | None = None,
    genre: str | None = None,
    extra: str | None = None,
) -> str:
    values: dict[str, str | None] = {
        "bpm": None if bpm is None else f"{round(float(bpm), 2):g}",
        "key": normalize_key(key) if key and key.strip() else None,
        "genre": genre.strip() if genre and genre.strip() else None,
    }
    used = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    parts = [c for c in (_render_clause(c, values) for c in template.split(",")) if c]
    if values["genre"] and "genre" not in used:
        parts.insert(0, values["genre"])
    if values["key"] and "key" not in used:
        parts.append(f"in {values['key']}")
    if values["bpm"] and "bpm" not in used:
        parts.append(f"{values['bpm']} bpm")
    if extra and extra.strip():
        parts.append(extra.strip())
    return ", ".join(parts)


def _render_clause(clause: str, values: Mapping[str, str | None]) -> str:
    names = [n for _, n, _, _ in string.Formatter().parse(clause) if n]
    if any(values.get(n) is None for n in names):
        return ""
    return " ".join(clause.format(**{n: values[n] for n in names}).split())


class _Validator:
    """Checks one preset's data, naming the file and the field in every error."""

    def __init__(self, name: str, source: Path | None) -> None:
        self.name = name
        self.source = source
        self.where = str(source) if source is not None else f"preset '{name}'"

    def fail(self, field_name: str, problem: str) -> PresetError:
        return PresetError(f"{self.where}: {field_name}: {problem}", field_name, self.source)

    def preset(self, data: Mapping[str, Any]) -> Preset:
        if not _NAME.match(self.name):
            raise self.fail("name", f"{self.name!r} must be 1..64 of a-z, 0-9, '-', '_'")
        unknown = sorted(set(data) - _TOP_LEVEL)
        if unknown:
            raise self.fail(unknown[0], f"unknown key; allowed: {', '.join(sorted(_TOP_LEVEL))}")
        template = self.required_text(data, "prompt")
        self.template(template)
        bars = data.get("bars")
        loudness = data.get("loudness_lufs")
        stems, stem_texts, stem_template = self.stems(data.get("stems", {}))
        vst3_path, vst3_parameters = self.vst3(data.get("vst3"))
        return Preset(
            name=self.name,
            description=self.required_text(data, "description"),
            prompt_template=template,
            model_hint=self.text(data, "model"),
            params=self.params(data.get("params", {})),
            bars=None if bars is None else int(self.value(FIELDS["bars"], bars, "bars")),
            effects=self.effects(data.get("effects", [])),
            vst3_path=vst3_path,
            vst3_parameters=MappingProxyType(vst3_parameters),
            loudness_lufs=(
                None
                if loudness is None
                else float(self.value(FIELDS["loudness"], loudness, "loudness_lufs"))
            ),
            stems=stems,
            stem_prompts=MappingProxyType(stem_texts),
            stem_template=stem_template,
            source=self.source,
        )

    def value(self, spec: FieldSpec, raw: object, field_name: str) -> str | float | int | bool:
        try:
            return check_value(spec, raw)
        except RequestError as e:
            raise self.fail(field_name, e.message.split(": ", 1)[-1]) from e

    def text(self, data: Mapping[str, Any], key: str) -> str | None:
        return None if data.get(key) is None else self.required_text(data, key)

    def required_text(self, data: Mapping[str, Any], key: str) -> str:
        raw = data.get(key)
        if not isinstance(raw, str) or not raw.strip() or len(raw) > 1000:
            raise self.fail(key, f"{raw!r} must be a non-empty string of up to 1000 characters")
        return raw.strip()

    def template(self, template: str, key: str = "prompt") -> None:
        try:
            fields = list(string.Formatter().parse(template))
        except ValueError as e:
            raise self.fail(key, f"{template!r} is not a valid template: {e}") from e
        for _, name, spec, conversion in fields:
            if name is not None and (name not in _PLACEHOLDERS or spec or conversion):
                raise self.fail(
                    key,
                    f"placeholder {{{name}{'!' + conversion if conversion else ''}"
                    f"{':' + spec if spec else ''}}} is not allowed; allowed: "
                    f"{', '.join('{' + p + '}' for p in _PLACEHOLDERS)} (use {{{{ }}}} for braces)",
                )
        if not _render(template):
            raise self.fail(key, f"{template!r} is empty without bpm, key and genre")

    def params(self, raw: object) -> dict[str, float | int]:
        if not isinstance(raw, Mapping):
            raise self.fail("params", f"{raw!r} must be a table")
        out: dict[str, float | int] = {}
        for key, value in raw.items():
            if key not in GENERATION_PARAMS:
                raise self.fail(
                    f"params.{key}", f"unknown; allowed: {', '.join(GENERATION_PARAMS)}"
                )
            checked = self.value(FIELDS[key], value, f"params.{key}")
            out[key] = int(checked) if FIELDS[key].kind == "int" else float(checked)
        return out

    def effects(self, raw: object) -> tuple[EffectSpec, ...]:
        if not isinstance(raw, list):
            raise self.fail("effects", "must be an array of tables: [[effects]] type = ...")
        out = []
        for i, entry in enumerate(raw):
            if not isinstance(entry, Mapping):
                raise self.fail(f"effects[{i}]", f"{entry!r} must be a table")
            try:
                out.append(EffectSpec.from_dict(entry, f"effects[{i}]"))
            except RequestError as e:
                raise self.fail(e.field or "effects", e.message.split(": ", 1)[-1]) from e
        return tuple(out)

    def vst3(self, raw: object) -> tuple[Path | None, dict[str, float | int | bool | str]]:
        if raw is None:
            return None, {}
        if not isinstance(raw, Mapping):
            raise self.fail("vst3", f"{raw!r} must be a table with path = '...'")
        unknown = sorted(set(raw) - {"path", "parameters"})
        if unknown:
            raise self.fail(f"vst3.{unknown[0]}", "unknown key; allowed: path, parameters")
        path_text = self.required_text(raw, "path")
        path = Path(path_text).expanduser()
        if not path.is_absolute() and self.source is not None:
            path = self.source.parent / path
        parameters = raw.get("parameters", {})
        if not isinstance(parameters, Mapping) or not all(
            isinstance(v, str | int | float | bool) for v in parameters.values()
        ):
            raise self.fail("vst3.parameters", f"{parameters!r} must map names to values")
        return path, dict(parameters)

    def stems(self, raw: object) -> tuple[tuple[str, ...], dict[str, str], str | None]:
        if isinstance(raw, str | list):  # shorthand: stems = "drums,bass"
            raw = {"parts": raw}
        if not isinstance(raw, Mapping):
            raise self.fail("stems", f"{raw!r} must be a table with parts, base and/or prompts")
        unknown = sorted(set(raw) - {"parts", "base", "prompts"})
        if unknown:
            raise self.fail(f"stems.{unknown[0]}", "unknown key; allowed: parts, base, prompts")
        base = self.text(raw, "base")
        if base is not None:
            self.template(base, "stems.base")
        parts: tuple[str, ...] = ()
        texts: dict[str, str] = {}
        try:
            if "parts" in raw:
                parts = parse_stems(raw["parts"], field="stems.parts")
            prompts = raw.get("prompts", {})
            if not isinstance(prompts, Mapping):
                raise self.fail("stems.prompts", f"{prompts!r} must map part names to text")
            for part, text in prompts.items():
                if not isinstance(text, str) or not text.strip():
                    raise self.fail(f"stems.prompts.{part}", f"{text!r} must be non-empty text")
                texts[normalize_part(part, field=f"stems.prompts.{part}")] = text.strip()
        except PresetError:
            raise
        except RequestError as e:
            raise self.fail(e.field or "stems", e.message.split(": ", 1)[-1]) from e
        return parts, texts, base


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
    package = Path(__file__).resolve().parent
    installed = package / "shipped_presets"
    return installed if installed.is_dir() else package.parent / "presets"
