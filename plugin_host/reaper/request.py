"""What one REAPER action asks of the sidecar, and the last request kept for re-roll."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .host import track_exists

if TYPE_CHECKING:
    from .api import ReaperApi

__all__ = [
    "CANCEL_KEY",
    "EXT_SECTION",
    "LAST_REQUEST_KEY",
    "MAX_SEED",
    "RerollError",
    "SidecarRequest",
    "last_request_id",
    "load_last_request",
    "new_seed",
    "save_last_request",
]

#: ExtState section the actions share (generate, re-roll and cancel).
EXT_SECTION = "musicgen_sidecar"
#: Changed by the cancel action; a running request cancels when it sees a new value.
CANCEL_KEY = "cancel"
#: The last request, as JSON, for the re-roll action (kept for this REAPER session only).
LAST_REQUEST_KEY = "last_request"
MAX_SEED = 2**31 - 1


class RerollError(ValueError):
    """There is no last request to repeat, or it can no longer be placed."""


def new_seed(other_than: int | None = None) -> int:
    """A random seed for the sidecar, different from `other_than`."""
    while True:
        seed = random.randint(0, MAX_SEED)
        if seed != other_than:
            return seed


@dataclass(frozen=True)
class SidecarRequest:
    """A `/sidecar/continue` request and where its stems go (a track and a time, seconds)."""

    track: str
    insert_at_seconds: float
    file_path: str
    source_start_seconds: float
    source_end_seconds: float
    bpm: float
    beats_per_bar: int
    bars: int
    variations: int
    seed: int
    preset: str = "default"
    #: extra request keys (prompt, sampling, key), sorted pairs
    options: tuple[tuple[str, Any], ...] = ()
    #: quarter notes in one beat of `bpm`: 0.5 in 7/8 (eighth-note beats), else 1
    beat_quarters: float = 1.0
    #: the file's own tempo, in beats of `bpm` a minute, where it is not `bpm` (an item played
    #: faster or slower, or a tempo change at its end): the sidecar stretches the prompt by
    #: `bpm / clip_bpm`; None: the file is at `bpm`
    clip_bpm: float | None = None

    @property
    def project_bpm(self) -> float:
        """The tempo as REAPER shows it (quarter notes a minute)."""
        return self.bpm * self.beat_quarters

    def to_osc_arguments(self, request_id: str) -> list[Any]:
        """`/sidecar/continue` arguments; the range goes in seconds (the sidecar takes one unit)."""
        pairs: list[tuple[str, Any]] = [
            ("clip", self.file_path),
            ("clip_start", float(self.source_start_seconds)),
            ("clip_end", float(self.source_end_seconds)),
            ("bpm", float(self.bpm)),
            *([] if self.clip_bpm is None else [("clip_bpm", float(self.clip_bpm))]),
            ("beats_per_bar", int(self.beats_per_bar)),
            ("bars", int(self.bars)),
            ("seed", int(self.seed)),
            ("variations", int(self.variations)),
        ]
        pairs.extend(self.options)
        arguments: list[Any] = [request_id]
        for key, value in pairs:
            arguments += [key, value]
        return arguments

    def rerolled(self) -> SidecarRequest:
        """The same request with a new seed."""
        return replace(self, seed=new_seed(other_than=self.seed))

    def placed_at(self, insert_at_seconds: float) -> SidecarRequest:
        return replace(self, insert_at_seconds=insert_at_seconds)

    def to_json(self) -> str:
        fields = {
            "track": self.track,
            "insert_at_seconds": self.insert_at_seconds,
            "file_path": self.file_path,
            "source_start_seconds": self.source_start_seconds,
            "source_end_seconds": self.source_end_seconds,
            "bpm": self.bpm,
            "beats_per_bar": self.beats_per_bar,
            "bars": self.bars,
            "variations": self.variations,
            "seed": self.seed,
            "preset": self.preset,
            "options": [list(pair) for pair in self.options],
            "beat_quarters": self.beat_quarters,
            "clip_bpm": self.clip_bpm,
        }
        return json.dumps(fields, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SidecarRequest:
        """Parse `to_json`'s text; raises RerollError when it is not a stored request."""
        try:
            raw = json.loads(text)
            return cls(
                track=str(raw["track"]),
                insert_at_seconds=float(raw["insert_at_seconds"]),
                file_path=str(raw["file_path"]),
                source_start_seconds=float(raw["source_start_seconds"]),
                source_end_seconds=float(raw["source_end_seconds"]),
                bpm=float(raw["bpm"]),
                beats_per_bar=int(raw["beats_per_bar"]),
                bars=int(raw["bars"]),
                variations=int(raw["variations"]),
                seed=int(raw["seed"]),
                preset=str(raw["preset"]),
                options=tuple((str(key), value) for key, value in raw["options"]),
                beat_quarters=float(raw.get("beat_quarters", 1.0)),
                clip_bpm=None if raw.get("clip_bpm") is None else float(raw["clip_bpm"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise RerollError(
                f"the stored last request is unreadable ({error!r}); run Continue again"
            ) from error


def save_last_request(api: ReaperApi, request_id: str, request: SidecarRequest) -> None:
    """Keep `request` for re-roll in ExtState, for this REAPER session (not persisted)."""
    api.RPR_SetExtState(EXT_SECTION, LAST_REQUEST_KEY, request.to_json(), False)
    api.RPR_SetExtState(EXT_SECTION, LAST_REQUEST_KEY + "_id", request_id, False)


def last_request_id(api: ReaperApi) -> str:
    return str(api.RPR_GetExtState(EXT_SECTION, LAST_REQUEST_KEY + "_id"))


def load_last_request(api: ReaperApi) -> SidecarRequest:
    """The last request sent in this REAPER session; RerollError when there is none to place."""
    text = str(api.RPR_GetExtState(EXT_SECTION, LAST_REQUEST_KEY))
    if not text:
        raise RerollError("nothing to re-roll yet: select an item and run Continue first")
    request = SidecarRequest.from_json(text)
    if not track_exists(api, request.track):
        raise RerollError(
            "the last request's track is not in this project (deleted, or another project "
            "tab is open): select an item and run Continue"
        )
    return request
