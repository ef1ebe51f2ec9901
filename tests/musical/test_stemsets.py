"""Stem sets: parsing the `stems` value and writing per-part prompts."""

from __future__ import annotations

import pytest

from sidecar.errors import RequestError
from sidecar.musical.stemsets import (
    KNOWN_PARTS,
    MAX_PARTS,
    PART_FRAGMENTS,
    normalize_part,
    parse_stems,
    part_fragment,
    stem_prompt,
    stem_prompts,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("drums,bass,keys", ("drums", "bass", "keys")),
        (" Drums , BASS ", ("drums", "bass")),
        ("drum,perc,vox", ("drums", "percussion", "vocals")),
        ("tabla,steel drums,808-bass", ("tabla", "steel drums", "808-bass")),
        ("lead  synth", ("lead synth",)),
        (["pads", "strings"], ("pads", "strings")),
        (",".join(KNOWN_PARTS[:MAX_PARTS]), KNOWN_PARTS[:MAX_PARTS]),
    ],
)
def test_parse_stems(value: str | list[str], expected: tuple[str, ...]) -> None:
    assert parse_stems(value) == expected


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "names no parts"),
        ("   ", "names no parts"),
        ([], "names no parts"),
        ("drums,,bass", "empty part"),
        ("drums,bass,", "empty part"),
        ("drums,drums", "appears twice"),
        ("drum,drums", "appears twice"),
        ("a,b,c,d,e,f,g,h,i", "names 9 parts"),
        ("drums,bäss", "not allowed"),
        ("drums;bass", "not allowed"),
        ("kick/snare", "not allowed"),
        ("x" * 33, "not allowed"),
        ("-drums", "not allowed"),
        (42, "is a int"),
    ],
)
def test_parse_stems_rejects_with_field_value_and_allowed(value: object, why: str) -> None:
    with pytest.raises(RequestError) as info:
        parse_stems(value)  # type: ignore[arg-type]
    message = str(info.value)
    assert info.value.field == "stems"
    assert message.startswith("stems: ")
    assert why in message
    assert "allowed: 1..8 comma-separated part names" in message
    if isinstance(value, str) and value.strip():
        assert repr(value) in message


def test_parse_stems_can_name_another_field() -> None:
    with pytest.raises(RequestError) as info:
        parse_stems("a,a", field="stems.parts")
    assert info.value.field == "stems.parts"


def test_normalize_part_resolves_aliases() -> None:
    assert normalize_part("Rhodes") == "keys"
    assert normalize_part("  lead   guitar ") == "lead guitar"
    with pytest.raises(RequestError, match="empty part"):
        normalize_part(" ")


def test_every_known_part_has_a_fragment() -> None:
    for part in KNOWN_PARTS:
        fragment = part_fragment(part)
        assert fragment.startswith(f"{part} only: ")
        assert len(fragment) < 80
    assert part_fragment("tabla") == "tabla only"


def test_stem_prompts_from_a_base_prompt() -> None:
    prompts = stem_prompts("funk, 120 bpm", ("drums", "bass", "tabla"))
    assert prompts == (
        "funk, 120 bpm, drums only: " + PART_FRAGMENTS["drums"],
        "funk, 120 bpm, bass only: " + PART_FRAGMENTS["bass"],
        "funk, 120 bpm, tabla only",
    )


def test_stem_prompts_without_a_base_prompt() -> None:
    assert stem_prompts(None, ("keys",)) == ("keys only: " + PART_FRAGMENTS["keys"],)
    assert stem_prompt("  ", "keys") == "keys only: " + PART_FRAGMENTS["keys"]
    assert stem_prompt("house,", "pads").startswith("house, pads only: ")


def test_stem_prompts_with_overrides_by_alias() -> None:
    overrides = {"drum": "brushed jazz kit, ride cymbal", "tabla": "tabla and dholak"}
    prompts = stem_prompts("jazz", ("drums", "bass", "tabla"), overrides)
    assert prompts[0] == "jazz, drums only: brushed jazz kit, ride cymbal"
    assert prompts[1] == "jazz, bass only: " + PART_FRAGMENTS["bass"]
    assert prompts[2] == "jazz, tabla only: tabla and dholak"


def test_stem_prompts_needs_parts() -> None:
    with pytest.raises(RequestError) as info:
        stem_prompts("funk", ())
    assert info.value.field == "stems"
