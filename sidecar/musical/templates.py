"""② Prompt templates: a preset's `{bpm}`/`{key}`/`{genre}` filled in, empty clauses dropped."""

from __future__ import annotations

import string
from collections.abc import Mapping

from sidecar.post.key import normalize_key

__all__ = ["render_template"]


def render_template(
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
