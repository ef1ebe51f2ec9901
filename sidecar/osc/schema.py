"""② Request and reply schemas: frozen dataclasses with from_osc/to_osc."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, Literal

from sidecar.errors import RequestError
from sidecar.osc import addresses as A
from sidecar.osc.fields import FIELDS, MAX_SHOWN, check_value, shown

__all__ = [
    "Accepted",
    "Cancelled",
    "Done",
    "ErrorReply",
    "GenerateRequest",
    "OscArg",
    "OscDouble",
    "Pong",
    "Progress",
    "Stem",
    "parse_request_id",
]

OscArg = str | int | float | bool


class OscDouble(float):
    """A float sent as an OSC double ('d', 64-bit) instead of a float32 ('f')."""


Mode = Literal["generate", "continue"]

DEFAULT_SECONDS = 8.0
MAX_REQUEST_ID_LENGTH = 128


def parse_request_id(args: tuple[Any, ...] | list[Any], address: str) -> str:
    """The first argument as a request id (an OSC string, or an int sent by a simple client)."""
    if not args:
        raise RequestError(f"request_id: missing; {address} takes request_id first", "request_id")
    raw = args[0]
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise RequestError(
            f"request_id: {shown(raw)} is a {type(raw).__name__}; allowed: a string or integer",
            "request_id",
        )
    rid = str(raw)
    if not rid or len(rid) > MAX_REQUEST_ID_LENGTH or not rid.isprintable():
        raise RequestError(
            f"request_id: {shown(rid)} is not allowed; allowed: 1..{MAX_REQUEST_ID_LENGTH} "
            "printable characters",
            "request_id",
        )
    return rid


@dataclass(frozen=True)
class GenerateRequest:
    """A validated `/sidecar/generate` or `/sidecar/continue` request."""

    request_id: str
    mode: Mode = "generate"
    prompt: str | None = None
    seconds: float | None = None
    bars: int | None = None
    bpm: float | None = None
    beats_per_bar: int = 4
    guidance: float = 3.0
    temperature: float = 1.0
    top_k: int = 250
    top_p: float = 0.0
    seed: int | None = None
    variations: int = 1
    reply_port: int | None = None
    clip: str | None = None
    clip_start: float | None = None
    clip_end: float | None = None
    clip_start_beats: float | None = None
    clip_end_beats: float | None = None
    clip_bpm: float | None = None
    loop: bool = False
    loudness: float | None = None
    sample_rate: int = 48000
    channels: int | None = None
    format: str = "pcm24"
    key: str | None = None
    fix_key: bool = False
    preset: str | None = None
    stems: str | None = None
    separate: bool = False
    separator: str | None = None
    separate_levels: str = "set"
    genre: str | None = None
    melody: bool = False
    preview: float = 0.0
    #: The keys the client sent (a preset fills only the others).
    sent: frozenset[str] = field(default=frozenset(), compare=False)

    @property
    def duration_seconds(self) -> float:
        """Length of the new audio: `bars × beats_per_bar × 60 / bpm`, or `seconds`."""
        if self.bars is not None and self.bpm is not None:
            return self.bars * self.beats_per_bar * 60.0 / self.bpm
        return self.seconds if self.seconds is not None else DEFAULT_SECONDS

    @property
    def text(self) -> str | None:
        """The prompt text the model sees: genre, prompt, the session key and tempo named."""
        key = f"in {self.key}" if self.key else None
        parts = [p for p in (self.genre, self.prompt, key) if p]
        if parts and self.bpm is not None:
            parts.append(f"{self.bpm:g} bpm")
        return ", ".join(parts) if parts else None

    @property
    def separating(self) -> bool:
        """The take is separated into its parts (`separate`, or a `separator` named)."""
        return self.separate or self.separator is not None

    @property
    def parts(self) -> tuple[str, ...]:
        """The stem-set parts, in order (empty without `stems`)."""
        return tuple(p for p in (self.stems or "").split(",") if p)

    def sent_fields(self) -> dict[str, Any]:
        """The keys that differ from the defaults (what a client would send)."""
        defaults = GenerateRequest(request_id=self.request_id, mode=self.mode)
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name in FIELDS
            and (f.name in self.sent or getattr(self, f.name) != getattr(defaults, f.name))
        }

    @classmethod
    def from_osc(cls, address: str, args: tuple[Any, ...] | list[Any]) -> GenerateRequest:
        """Parse `request_id [key value]...`; every problem raises one `RequestError`."""
        mode: Mode = "continue" if address == A.CONTINUE else "generate"
        rid = parse_request_id(args, address)
        pairs = list(args[1:])
        if len(pairs) % 2:
            raise RequestError(
                f"arguments: after request_id, {address} takes key value pairs; got "
                f"{len(pairs)} values (the last, {shown(pairs[-1])}, has no value)",
                "arguments",
            )
        values: dict[str, Any] = {}
        for key, value in zip(pairs[0::2], pairs[1::2], strict=True):
            if not isinstance(key, str):
                raise RequestError(f"key: {shown(key)} is not a string key", "key")
            spec = FIELDS.get(key)
            if spec is None:
                name = key if len(key) <= MAX_SHOWN else shown(key)
                raise RequestError(
                    f"{name}: unknown key; allowed: {', '.join(sorted(FIELDS))}", name
                )
            if key in values:
                raise RequestError(f"{key}: given twice", key)
            values[key] = check_value(spec, value)
        if values.get("stems") == "none":
            values["stems"] = None  # no stem set, whatever the preset's default parts
        elif "stems" in values:
            from sidecar.musical.stemsets import parse_stems

            values["stems"] = ",".join(parse_stems(values["stems"]))
        if "key" in values:
            from sidecar.post.key import normalize_key

            values["key"] = normalize_key(values["key"])
        request = cls(request_id=rid, mode=mode, sent=frozenset(values), **values)
        request.check()
        return request

    def check(self) -> None:
        """Rules that involve more than one field."""
        if self.mode == "continue" and self.clip is None:
            raise RequestError("clip: missing; /sidecar/continue needs clip <path>", "clip")
        if self.melody and self.mode != "continue":
            raise RequestError("melody: only /sidecar/continue takes a melody clip", "melody")
        if self.mode == "generate":
            for name in (
                "clip",
                "clip_start",
                "clip_end",
                "clip_start_beats",
                "clip_end_beats",
                "clip_bpm",
            ):
                if getattr(self, name) is not None:
                    raise RequestError(f"{name}: only /sidecar/continue takes a clip", name)
        if self.separating and self.stems is not None:
            raise RequestError(
                f"separate: give stems {self.stems!r} (one take per part, text-steered) or "
                "separate (one take split into its parts), not both",
                "separate",
            )
        if self.separate_levels != "set" and not self.separating:
            raise RequestError(
                f"separate_levels: {self.separate_levels!r} needs separate 1", "separate_levels"
            )
        if self.bars is not None and self.bpm is None:
            raise RequestError(f"bars: {self.bars} needs bpm to make a length", "bars")
        if self.bars is not None and self.seconds is not None:
            raise RequestError("seconds: give seconds or bars, not both", "seconds")
        if self.duration_seconds > FIELDS["seconds"].maximum:  # type: ignore[operator]
            raise RequestError(
                f"bars: {self.bars} bars at {self.bpm:g} bpm is {self.duration_seconds:.2f} s; "
                f"allowed: at most {FIELDS['seconds'].maximum:g} s",
                "bars",
            )
        seconds_range = self.clip_start is not None or self.clip_end is not None
        beats_range = self.clip_start_beats is not None or self.clip_end_beats is not None
        if seconds_range and beats_range:
            raise RequestError(
                "clip_start_beats: give the range in seconds or beats, not both", "clip_start_beats"
            )
        if beats_range and self.bpm is None and self.clip_bpm is None:
            raise RequestError(
                "clip_start_beats: a range in beats needs bpm or clip_bpm", "clip_start_beats"
            )
        for lo, hi in (("clip_start", "clip_end"), ("clip_start_beats", "clip_end_beats")):
            a, b = getattr(self, lo), getattr(self, hi)
            if a is not None and b is not None and b <= a:
                raise RequestError(f"{hi}: {b} is not after {lo} {a}", hi)

    def to_osc(self) -> tuple[str, list[OscArg]]:
        address = A.CONTINUE if self.mode == "continue" else A.GENERATE
        args: list[OscArg] = [self.request_id]
        for name, value in self.sent_fields().items():
            args.extend([name, int(value) if isinstance(value, bool) else value])
        return address, args

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["sent"] = sorted(self.sent)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GenerateRequest:
        """Rebuild a request stored by `to_dict` (take history), checked like a new one."""
        known = {f.name for f in fields(cls)}
        kept = {k: v for k, v in values.items() if k in known}
        kept["sent"] = frozenset(kept.get("sent", ()))
        request = cls(**kept)
        request.check()
        return request


# ----------------------------------------------------------------------------- replies


class _Reply:
    address: ClassVar[str]

    def to_osc(self) -> tuple[str, list[OscArg]]:
        return self.address, [getattr(self, f.name) for f in fields(self)]  # type: ignore[arg-type]

    @classmethod
    def from_osc(cls, args: tuple[Any, ...] | list[Any]) -> Any:
        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        return cls(*args[: len(names)])


@dataclass(frozen=True)
class Accepted(_Reply):
    address: ClassVar[str] = A.ACCEPTED
    request_id: str
    queue_position: int


@dataclass(frozen=True)
class Progress(_Reply):
    address: ClassVar[str] = A.PROGRESS
    request_id: str
    fraction: float
    eta_seconds: float


@dataclass(frozen=True)
class Done(_Reply):
    address: ClassVar[str] = A.DONE
    request_id: str
    n_files: int


@dataclass(frozen=True)
class ErrorReply(_Reply):
    address: ClassVar[str] = A.ERROR
    request_id: str
    code: str
    message: str


@dataclass(frozen=True)
class Cancelled(_Reply):
    address: ClassVar[str] = A.CANCELLED
    request_id: str


@dataclass(frozen=True)
class Pong(_Reply):
    address: ClassVar[str] = A.PONG
    version: str
    model: str
    device: str
    state: str


@dataclass(frozen=True)
class Stem(_Reply):
    """One delivered file; `info` holds the report (seed, bpm, bars, measured tempo...)."""

    address: ClassVar[str] = A.STEM
    request_id: str
    index: int
    path: str
    info: dict[str, OscArg] = field(default_factory=dict)

    def to_osc(self) -> tuple[str, list[OscArg]]:
        args: list[OscArg] = [self.request_id, self.index, self.path]
        for key, value in self.info.items():
            args.extend([key, value])
        return self.address, args

    @classmethod
    def from_osc(cls, args: tuple[Any, ...] | list[Any]) -> Stem:
        extra = list(args[3:])
        info = dict(zip(extra[0::2], extra[1::2], strict=False))
        return cls(str(args[0]), int(args[1]), str(args[2]), info)
