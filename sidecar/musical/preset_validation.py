"""② Preset validation: parsed TOML checked field by field into `Preset` fields or `PresetError`."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from sidecar.errors import PresetError, RequestError
from sidecar.musical.effects import EffectSpec
from sidecar.musical.stemsets import normalize_part, parse_stems
from sidecar.musical.templates import render_template
from sidecar.osc.fields import FIELDS, FieldSpec, check_value

__all__ = ["GENERATION_PARAMS", "PresetValidator"]

#: The request fields a preset may set under `[params]`; ranges come from `FIELDS`.
GENERATION_PARAMS: tuple[str, ...] = ("guidance", "temperature", "top_k", "top_p")

_PLACEHOLDERS = ("bpm", "key", "genre")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_TOP_LEVEL = {"description", "prompt", "model", "bars", "loudness_lufs", "params", "effects"}
_TOP_LEVEL |= {"vst3", "stems"}


class PresetValidator:
    """Checks one preset's data, naming the file and the field in every error."""

    def __init__(self, name: str, source: Path | None) -> None:
        self.name = name
        self.source = source
        self.where = str(source) if source is not None else f"preset '{name}'"

    def fail(self, field_name: str, problem: str) -> PresetError:
        return PresetError(f"{self.where}: {field_name}: {problem}", field_name, self.source)

    def fields(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The checked data as `Preset` fields; the first problem raises `PresetError`."""
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
        return dict(
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
        if not render_template(template):
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
