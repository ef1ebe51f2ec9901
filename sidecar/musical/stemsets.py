"""② Stem sets: parse a `stems` list like "drums,bass,keys" and write one prompt per part."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from sidecar.errors import RequestError

__all__ = [
    "KNOWN_PARTS",
    "MAX_PARTS",
    "MAX_PART_LENGTH",
    "PART_ALIASES",
    "PART_FRAGMENTS",
    "normalize_part",
    "parse_stems",
    "part_fragment",
    "stem_prompt",
    "stem_prompts",
]

MAX_PARTS = 8
MAX_PART_LENGTH = 32

#: What each common part should sound like when generated on its own. MusicGen was trained on
#: instrumental music, so "vocals" asks for wordless textures rather than sung lyrics.
PART_FRAGMENTS: Mapping[str, str] = MappingProxyType(
    {
        "drums": "tight kick and snare groove with crisp hi-hats",
        "percussion": "shakers, congas and hand percussion, no kick drum",
        "bass": "deep bassline locked to the kick, clean low end",
        "keys": "warm electric piano chords, rhythmic comping",
        "piano": "acoustic piano chords and melody",
        "pads": "lush sustained synth pads, slow attack, wide stereo",
        "synth": "analog synthesizer stabs and arpeggios",
        "arp": "sequenced synth arpeggio, steady sixteenth notes",
        "lead": "expressive monophonic synth lead melody",
        "guitar": "clean electric guitar riffs and chords",
        "strings": "string ensemble, legato phrases",
        "brass": "brass section stabs and swells",
        "organ": "hammond organ chords with leslie",
        "vocals": "wordless vocal chops and airy oohs",
        "fx": "risers, sweeps and atmospheric noise",
    }
)

#: Other spellings of the known parts.
PART_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "drum": "drums",
        "beat": "drums",
        "beats": "drums",
        "perc": "percussion",
        "bassline": "bass",
        "sub": "bass",
        "key": "keys",
        "epiano": "keys",
        "rhodes": "keys",
        "pad": "pads",
        "synths": "synth",
        "arpeggio": "arp",
        "melody": "lead",
        "leads": "lead",
        "guitars": "guitar",
        "string": "strings",
        "horns": "brass",
        "vocal": "vocals",
        "vox": "vocals",
        "sfx": "fx",
        "effects": "fx",
    }
)

KNOWN_PARTS: tuple[str, ...] = tuple(PART_FRAGMENTS)

_PART = re.compile(r"^[a-z0-9]+(?:[ _-][a-z0-9]+)*$")
_ALLOWED = (
    f"1..{MAX_PARTS} comma-separated part names without duplicates, each up to "
    f"{MAX_PART_LENGTH} ASCII letters/digits with single spaces, '-' or '_' between words "
    f"(known: {', '.join(KNOWN_PARTS)}; other names are used as written)"
)


def normalize_part(name: str, field: str = "stems") -> str:
    """One part name, lower-cased and trimmed, with aliases resolved ('Drum' → 'drums').

    Raise `RequestError` naming `field` unless it is an ASCII word or words.
    """
    if not isinstance(name, str):
        raise RequestError(
            f"{field}: part {name!r} is a {type(name).__name__}; allowed: {_ALLOWED}", field
        )
    part = " ".join(name.strip().lower().split())
    if not part:
        raise RequestError(f"{field}: an empty part name; allowed: {_ALLOWED}", field)
    if len(part) > MAX_PART_LENGTH or not part.isascii() or not _PART.match(part):
        raise RequestError(f"{field}: part {name!r} is not allowed; allowed: {_ALLOWED}", field)
    return PART_ALIASES.get(part, part)


def parse_stems(value: str | Sequence[str], field: str = "stems") -> tuple[str, ...]:
    """Parse "drums, bass,keys" (or a list of names) into canonical part names, in order.

    Raise `RequestError` naming `field`, quoting the value and saying what is allowed.
    """
    if isinstance(value, str):
        raw = value.split(",")
    elif isinstance(value, Sequence):
        raw = list(value)
    else:
        raise RequestError(
            f"{field}: {value!r} is a {type(value).__name__}; allowed: {_ALLOWED}", field
        )
    if not raw or (len(raw) == 1 and isinstance(raw[0], str) and not raw[0].strip()):
        raise RequestError(f"{field}: {value!r} names no parts; allowed: {_ALLOWED}", field)
    if len(raw) > MAX_PARTS:
        raise RequestError(f"{field}: {value!r} names {len(raw)} parts; allowed: {_ALLOWED}", field)
    parts: list[str] = []
    for name in raw:
        try:
            part = normalize_part(name, field)
        except RequestError as e:
            raise RequestError(f"{e.message} (in {value!r})", field) from e
        if part in parts:
            raise RequestError(
                f"{field}: part {part!r} appears twice in {value!r}; allowed: {_ALLOWED}", field
            )
        parts.append(part)
    return tuple(parts)


def part_fragment(part: str, overrides: Mapping[str, str] | None = None) -> str:
    """The prompt fragment for one part: "drums only: tight kick and snare groove ..."."""
    canonical = normalize_part(part)
    description = None
    if overrides:
        description = overrides.get(canonical, overrides.get(part))
    if description is None:
        description = PART_FRAGMENTS.get(canonical)
    if description is None or not description.strip():
        return f"{canonical} only"
    return f"{canonical} only: {description.strip()}"


def stem_prompt(
    base_prompt: str | None, part: str, overrides: Mapping[str, str] | None = None
) -> str:
    """`base_prompt` with one part's fragment appended ("funk, 120 bpm, bass only: ...")."""
    fragment = part_fragment(part, overrides)
    base = base_prompt.strip().rstrip(",").strip() if base_prompt else ""
    return f"{base}, {fragment}" if base else fragment


def stem_prompts(
    base_prompt: str | None,
    parts: Sequence[str],
    overrides: Mapping[str, str] | None = None,
) -> tuple[str, ...]:
    """One prompt per part, in the order of `parts`.

    `overrides` maps part names (aliases allowed, e.g. from a preset's `[stems.prompts]`) to
    descriptions that replace the built-in fragment for that part.
    """
    if not parts:
        raise RequestError(f"stems: no parts given; allowed: {_ALLOWED}", "stems")
    canonical_overrides = (
        {normalize_part(k): v for k, v in overrides.items()} if overrides else None
    )
    return tuple(stem_prompt(base_prompt, part, canonical_overrides) for part in parts)
