"""Build the `/sidecar/continue` request from the clip region, the song and the settings."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from typing import Any

from .selection import ClipRegion, SongContext

__all__ = [
    "MAX_BPM",
    "MAX_SECONDS",
    "MAX_SEED",
    "MIN_BPM",
    "ContinueRequest",
    "bars_for_region",
    "build_request",
    "max_bars",
    "new_request_id",
    "new_seed",
    "tempo_problem",
]

MAX_SEED = 2**31 - 1
#: The longest take the sidecar makes in one model window (30 s, less the 0.5 s of prompt
#: it keeps at least); longer regions are capped here: one window comes back soonest (a
#: longer take is made window after window). A `bars` setting asks for more.
MAX_SECONDS = 29.5
#: The sidecar's range for `bpm` and `clip_bpm` (sidecar/osc/fields.py; a test keeps them equal).
MIN_BPM = 20.0
MAX_BPM = 300.0
_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_NOTE_NAMES = {1.0: "quarter notes", 0.5: "eighth notes", 0.25: "sixteenth notes"}


def new_request_id(prefix: str = "live") -> str:
    """A request id that is unique enough across Live sessions: prefix plus 10 random chars."""
    return prefix + "-" + "".join(random.choice(_ID_ALPHABET) for _ in range(10))


def new_seed() -> int:
    return random.randint(0, MAX_SEED)


def tempo_problem(context: SongContext, numerator: int, denominator: int) -> str | None:
    """Why the sidecar would refuse this tempo (None when it takes it).

    A metre whose bar is not a whole number of quarter notes is sent in its own beats
    (7/8 at 160 is 320 eighth notes a minute), which can pass the sidecar's top tempo.
    """
    bpm = context.beat_bpm
    if MIN_BPM <= bpm <= MAX_BPM:
        return None
    metre = f"{numerator}/{denominator} at {context.bpm:g} bpm"
    if context.beat_quarters != 1.0:
        unit = _NOTE_NAMES.get(context.beat_quarters, "beats")
        metre += f" counts {bpm:g} {unit} a minute"
    return (
        f"{metre}: the sidecar takes {MIN_BPM:g} to {MAX_BPM:g} beats a minute, so nothing was sent"
    )


def max_bars(bpm: float, beats_per_bar: int) -> int:
    """The most whole bars of `beats_per_bar` beats at `bpm` in one window (`MAX_SECONDS`)."""
    return max(1, math.floor(MAX_SECONDS * bpm / (60.0 * beats_per_bar) + 1e-9))


def bars_for_region(region: ClipRegion, context: SongContext) -> int:
    """Whole bars in the region (clip beats play as song beats), at least 1, at most max_bars."""
    bars = max(1, round(region.length_beats / context.bar_quarters))
    return min(bars, max_bars(context.beat_bpm, context.beats_per_bar))


@dataclass(frozen=True)
class ContinueRequest:
    """Everything one press sends; `reroll()` keeps it all but the seed and the id."""

    request_id: str
    region: ClipRegion
    context: SongContext
    bars: int
    seed: int
    variations: int
    preset_name: str
    preset_values: tuple[tuple[str, Any], ...]

    def reroll(self) -> ContinueRequest:
        return replace(self, request_id=new_request_id(), seed=new_seed())

    def with_variations(self, variations: int) -> ContinueRequest:
        return replace(self, variations=variations)

    def to_osc_arguments(self) -> list[Any]:
        """`request_id` followed by key/value pairs, only keys the sidecar knows."""
        region = self.region
        # The sidecar counts beats (bpm, clip_bpm, a range in beats) in the metre's beat:
        # eighth notes in 7/8, where Live counts quarter notes.
        quarters = self.context.beat_quarters
        pairs: list[tuple[str, Any]] = [("clip", region.file_path)]
        # The sidecar takes the range in seconds or in beats, not both: seconds are exact
        # (they went through the warp markers), beats at clip_bpm are the fallback.
        if region.start_seconds is not None and region.end_seconds is not None:
            pairs += [("clip_start", region.start_seconds), ("clip_end", region.end_seconds)]
        else:
            pairs += [
                ("clip_start_beats", region.start_beats / quarters),
                ("clip_end_beats", region.end_beats / quarters),
            ]
        # The clip's own tempo: the sidecar stretches the prompt from it to `bpm`, as Live
        # plays a warped clip at the set's tempo (without it the prompt keeps its own).
        if region.clip_bpm is not None:
            clip_bpm = min(MAX_BPM, max(MIN_BPM, region.clip_bpm / quarters))
            pairs.append(("clip_bpm", clip_bpm))
        pairs += [
            ("bpm", self.context.beat_bpm),
            ("beats_per_bar", self.context.beats_per_bar),
            ("bars", self.bars),
            ("seed", self.seed),
            ("variations", self.variations),
        ]
        if self.context.key is not None:
            pairs.append(("key", self.context.key))
        pairs += [(key, value) for key, value in self.preset_values if value != ""]
        arguments: list[Any] = [self.request_id]
        for key, value in pairs:
            arguments += [key, value]
        return arguments


def build_request(
    region: ClipRegion,
    context: SongContext,
    preset_name: str,
    preset_values: tuple[tuple[str, Any], ...],
    variations: int,
    bars: int | None = None,
) -> ContinueRequest:
    """A fresh request (new id, new seed); `bars=None` means as long as the region."""
    return ContinueRequest(
        request_id=new_request_id(),
        region=region,
        context=context,
        bars=bars if bars is not None else bars_for_region(region, context),
        seed=new_seed(),
        variations=variations,
        preset_name=preset_name,
        preset_values=preset_values,
    )
