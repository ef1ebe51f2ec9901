"""② Request keys: their types and allowed ranges, and the one place values are checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sidecar.engine.demucs_models import separator_names
from sidecar.errors import RequestError

__all__ = ["FIELDS", "MAX_SHOWN", "FieldSpec", "Kind", "check_value", "shown"]

Kind = Literal["str", "float", "int", "bool", "choice"]

_INT32_MAX = 2**31 - 1

#: At most this many characters of a client's value are echoed in an error message: a huge
#: value echoed whole would not fit in the UDP datagram of the refusal.
MAX_SHOWN = 40


def shown(value: object, limit: int = MAX_SHOWN) -> str:
    """`repr(value)` for an error message, cut to `limit` characters (with its length said)."""
    if isinstance(value, str | bytes | bytearray) and len(value) > limit:
        unit = "characters" if isinstance(value, str) else "bytes"
        return f"{value[:limit]!r}… ({len(value)} {unit})"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}…"


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: Kind
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    max_length: int = 4096
    help: str = ""

    def allowed(self) -> str:
        """What a client may send, in words, for error messages and the protocol document."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "bool":
            return "0 or 1 (or OSC true/false)"
        if self.kind == "str":
            return f"a string of 1..{self.max_length} characters"
        what = "an integer" if self.kind == "int" else "a number"
        if self.minimum is not None and self.maximum is not None:
            return f"{what} in [{_fmt(self.minimum)}, {_fmt(self.maximum)}]"
        if self.minimum is not None:
            return f"{what} ≥ {_fmt(self.minimum)}"
        return what


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _field(
    name: str,
    kind: Kind,
    lo: float | None = None,
    hi: float | None = None,
    help: str = "",
    choices: tuple[str, ...] = (),
) -> FieldSpec:
    return FieldSpec(name=name, kind=kind, minimum=lo, maximum=hi, help=help, choices=choices)


#: Every key a request may carry. Ranges are the contract; the protocol document lists them.
FIELDS: dict[str, FieldSpec] = {
    f.name: f
    for f in (
        _field("prompt", "str", help="text description; leave it out for unconditional generation"),
        _field("seconds", "float", 0.1, 300.0, "length of the new audio (past 30 s: in windows)"),
        _field(
            "bars", "int", 1, 128, "length in bars (needs bpm); bars × beats_per_bar × 60 / bpm"
        ),
        _field("bpm", "float", 20.0, 300.0, "session tempo"),
        _field("beats_per_bar", "int", 1, 16, "time signature numerator (default 4)"),
        _field(
            "guidance", "float", 0.0, 20.0, "classifier-free guidance scale (default 3; ≤1 off)"
        ),
        _field("temperature", "float", 0.0, 5.0, "sampling temperature (default 1; 0 = greedy)"),
        _field("top_k", "int", 0, 2048, "top-k sampling (default 250; 0 = off)"),
        _field("top_p", "float", 0.0, 1.0, "nucleus sampling (default 0 = off)"),
        _field("seed", "int", 0, _INT32_MAX, "random seed; same seed + request = same audio"),
        _field("variations", "int", 1, 8, "how many takes, generated as one batch (default 1)"),
        _field("reply_port", "int", 1, 65535, "send replies to this port (same IP as the sender)"),
        _field("clip", "str", help="path of the audio clip to continue (/sidecar/continue)"),
        _field("clip_start", "float", 0.0, 36000.0, "start of the clip range, seconds"),
        _field("clip_end", "float", 0.0, 36000.0, "end of the clip range, seconds"),
        _field("clip_start_beats", "float", 0.0, 100000.0, "start of the clip range, beats"),
        _field("clip_end_beats", "float", 0.0, 100000.0, "end of the clip range, beats"),
        _field("clip_bpm", "float", 20.0, 300.0, "native tempo of the clip file (default: bpm)"),
        _field("loop", "bool", help="make the stem loop seamlessly (default 0)"),
        _field(
            "loudness",
            "float",
            -60.0,
            0.0,
            "target integrated loudness, LUFS (default: the clip's)",
        ),
        _field("sample_rate", "int", 8000, 192000, "delivered sample rate (default 48000)"),
        _field("channels", "int", 1, 2, "delivered channels (default: the model's)"),
        _field(
            "format",
            "choice",
            help="delivered sample format (default pcm24)",
            choices=("pcm24", "float32", "pcm16"),
        ),
        _field("key", "str", help="session key, e.g. 'F# minor'; added to the text prompt"),
        _field("fix_key", "bool", help="pitch-correct a take whose key is off by ≤ 2 semitones"),
        _field("preset", "str", help="a preset from /sidecar/presets; request keys override it"),
        _field(
            "stems",
            "str",
            help="parts generated as one batch, e.g. 'drums,bass,keys' ('none': the whole mix, "
            "overriding a preset's default parts)",
        ),
        _field(
            "separate",
            "bool",
            help="one take split into its parts by Demucs: the mix and each part on one grid "
            "(default 0; see stems for text-steered parts)",
        ),
        _field(
            "separator",
            "choice",
            help="the Demucs model that separates (implies separate 1; default: the server's "
            "--separator, htdemucs): 4 parts, htdemucs_6s adds guitar and piano",
            choices=separator_names(),
        ),
        _field(
            "separate_levels",
            "choice",
            help="separated parts: 'set' keeps their levels in the mix (one gain for the set, "
            "default), 'each' levels every part on its own",
            choices=("set", "each"),
        ),
        _field("genre", "str", help="genre for the prompt template, e.g. 'deep house'"),
        _field("melody", "bool", help="melody models: condition on the clip's chroma instead"),
        _field(
            "preview",
            "float",
            0.0,
            30.0,
            "publish the audio decoded so far every N seconds of audio (0 = off)",
        ),
    )
}


def check_value(spec: FieldSpec, value: object) -> str | float | int | bool:
    """Convert one OSC value to the field's type, or raise a `RequestError` naming the field."""
    name = spec.name
    if spec.kind in ("str", "choice"):
        if not isinstance(value, str):
            raise RequestError(
                f"{name}: {shown(value)} is a {type(value).__name__}; allowed: {spec.allowed()}",
                name,
            )
        if spec.kind == "choice":
            if value not in spec.choices:
                raise RequestError(
                    f"{name}: {shown(value)} is not allowed; allowed: {spec.allowed()}", name
                )
            return value
        if not value or len(value) > spec.max_length or "\x00" in value:
            raise RequestError(
                f"{name}: a string of {len(value)} characters; allowed: {spec.allowed()}", name
            )
        return value
    if spec.kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, float) and value in (0.0, 1.0):
            return bool(value)
        raise RequestError(
            f"{name}: {shown(value)} is not allowed; allowed: {spec.allowed()}", name
        )
    # Numbers: OSC int or float where the meaning allows; bools are not numbers here.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestError(
            f"{name}: {shown(value)} is a {type(value).__name__}; allowed: {spec.allowed()}", name
        )
    number: float | int = value
    if spec.kind == "int":
        if isinstance(value, float):
            if not value.is_integer():
                raise RequestError(
                    f"{name}: {shown(value)} is not whole; allowed: {spec.allowed()}", name
                )
            number = int(value)
    else:
        number = float(value)
        if number != number or number in (float("inf"), float("-inf")):
            raise RequestError(
                f"{name}: {shown(value)} is not finite; allowed: {spec.allowed()}", name
            )
    if (spec.minimum is not None and number < spec.minimum) or (
        spec.maximum is not None and number > spec.maximum
    ):
        raise RequestError(
            f"{name}: {shown(value)} is out of range; allowed: {spec.allowed()}", name
        )
    return number
