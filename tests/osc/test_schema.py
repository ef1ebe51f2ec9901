"""Request parsing and validation: every bad field gets one error naming field, value, range."""

from __future__ import annotations

import re

import pytest

from sidecar.errors import RequestError
from sidecar.osc import addresses as A
from sidecar.osc.schema import GenerateRequest, Stem


def parse(address: str, *args: object) -> GenerateRequest:
    return GenerateRequest.from_osc(address, list(args))


def test_continue_request_round_trips_through_osc() -> None:
    req = parse(
        A.CONTINUE,
        "r1",
        "clip",
        "/tmp/a.wav",
        "bars",
        4,
        "bpm",
        120,
        "loop",
        1,
        "prompt",
        "funk",
        "variations",
        3,
        "seed",
        42,
        "clip_start_beats",
        4.0,
        "clip_end_beats",
        12,
    )
    assert req.mode == "continue" and req.bars == 4 and req.bpm == 120.0 and req.loop is True
    assert req.duration_seconds == pytest.approx(8.0)
    assert req.clip_end_beats == 12.0 and isinstance(req.clip_end_beats, float)
    address, args = req.to_osc()
    assert address == A.CONTINUE
    assert parse(address, *args) == req


def test_numbers_accept_int_or_float_where_meaning_allows() -> None:
    req = parse(A.GENERATE, "r", "seconds", 4, "top_k", 100.0, "guidance", 2)
    assert req.seconds == 4.0 and req.top_k == 100 and req.guidance == 2.0


def test_key_and_bpm_reach_the_prompt_text() -> None:
    req = parse(A.GENERATE, "r", "prompt", "lofi keys", "key", "F# minor", "bpm", 87.5)
    assert req.text == "lofi keys, in F# minor, 87.5 bpm"
    assert parse(A.GENERATE, "r").text is None


@pytest.mark.parametrize(
    ("args", "field", "fragments"),
    [
        (("r", "bpm", 400), "bpm", ["400", "[20, 300]"]),
        (("r", "bpm", "fast"), "bpm", ["'fast'", "str"]),
        (("r", "top_k", 2.5), "top_k", ["2.5", "integer"]),
        (("r", "variations", 0), "variations", ["0", "[1, 8]"]),
        (("r", "temperature", float("nan")), "temperature", ["nan", "finite"]),
        (("r", "wobble", 1), "wobble", ["unknown key", "bpm"]),
        (("r", "seconds"), "arguments", ["key value pairs", "'seconds'"]),
        (("r", "bars", 4), "bars", ["needs bpm"]),
        (("r", "bars", 128, "bpm", 60), "bars", ["128", "at most 300"]),
        (("r", "seconds", 4, "bars", 2, "bpm", 120), "seconds", ["not both"]),
        (("r", "format", "mp3"), "format", ["'mp3'", "pcm24"]),
        (("r", "loop", 2), "loop", ["2", "0 or 1"]),
        (("r", "clip", "/a.wav"), "clip", ["only /sidecar/continue"]),
        (("r", "seed", 2**31), "seed", ["2147483648", "2147483647"]),
        ((3.5,), "request_id", ["3.5"]),
        ((), "request_id", ["missing"]),
        (("r", "seed", 1, "seed", 2), "seed", ["twice"]),
    ],
)
def test_bad_fields_name_field_value_and_allowed(args: tuple, field: str, fragments: list) -> None:
    with pytest.raises(RequestError) as info:
        parse(A.GENERATE, *args)
    assert info.value.field == field
    assert info.value.code == "bad_request"
    for fragment in fragments:
        assert fragment in info.value.message


def test_continue_needs_clip_and_sane_ranges() -> None:
    with pytest.raises(RequestError, match="clip: missing"):
        parse(A.CONTINUE, "r", "bars", 2, "bpm", 100)
    with pytest.raises(RequestError, match=re.escape("clip_end: 1.0 is not after clip_start 2.0")):
        parse(A.CONTINUE, "r", "clip", "/a", "clip_start", 2.0, "clip_end", 1.0)
    with pytest.raises(RequestError, match="needs bpm or clip_bpm"):
        parse(A.CONTINUE, "r", "clip", "/a", "clip_start_beats", 2.0)
    with pytest.raises(RequestError, match="seconds or beats, not both"):
        parse(A.CONTINUE, "r", "clip", "/a", "clip_start", 1.0, "clip_end_beats", 4, "bpm", 90)


def test_stem_reply_carries_its_report() -> None:
    stem = Stem("r", 1, "/out/r-2.wav", {"seed": 9, "bpm": 120.0, "decision": "stretched"})
    address, args = stem.to_osc()
    assert address == A.STEM
    assert Stem.from_osc(args) == stem


@pytest.mark.parametrize(
    "args",
    [
        ("r", "k" * 5000, 1),
        ("r", "format", "x" * 5000),
        ("r", "loop", "y" * 5000),
        ("r", "seconds", "z" * 5000),
        ("r", 2**20 * "w"),
        ("é" * 5000,),
    ],
)
def test_errors_echo_only_the_start_of_a_huge_value(args: tuple) -> None:
    with pytest.raises(RequestError) as info:
        parse(A.GENERATE, *args)
    assert len(info.value.message) < 600, info.value.message
    assert "characters)" in info.value.message
