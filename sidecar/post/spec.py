"""⑤ What a stem must be: the post-processing request (tempo, bars, metre, rates, loudness)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sidecar.errors import RequestError
from sidecar.post.fmt import SAMPLE_FORMATS
from sidecar.post.tempo import BeatTracker

__all__ = ["PostSpec"]


@dataclass(frozen=True)
class PostSpec:
    """What the delivered stem must be. Invalid values raise `RequestError` naming the field."""

    sample_rate: int = 48000
    #: None: as generated; else 1 or 2.
    channels: int | None = None
    #: Session tempo; None: no tempo contract (only rate, channels, loudness and format).
    bpm: float | None = None
    #: None with `bpm` set: as many whole bars as the audio holds.
    bars: int | None = None
    beats_per_bar: int = 4
    loop: bool = False
    #: Target loudness; None: the reference (prompt clip) if given, else -14 LUFS.
    loudness_lufs: float | None = None
    sample_format: str = "pcm24"
    #: Sample 0 of the generated audio is a bar line (continuation of a bar-aligned prompt).
    downbeat_at_start: bool = False
    #: With `downbeat_at_start`: move the bar line to the measured beat within a quarter beat
    #: after sample 0 (never before it: there is no audio there, it would be padded with
    #: silence). False for a window that continues the one before: its sample 0 continues that
    #: window's waveform, so any move would leave a gap or skip audio at the join.
    snap_downbeat: bool = True
    #: Set loudness, true-peak ceiling and sample format here. False leaves the level as made
    #: (float32) for the caller to set once over windows joined into one take; the report
    #: still names the target.
    level: bool = True
    #: One-shots: deliver this much of the audio past the last bar line after the stem (when
    #: there is any), for a loop seam made later over windows joined into one take
    #: (`grid.wrap_overhang`); the report says how many samples (`overhang_samples`).
    overhang_seconds: float = 0.0
    true_peak_dbtp: float = -1.0
    #: Below this tempo confidence the audio is not stretched.
    min_confidence: float = 0.5
    #: Largest stretch (either way) after metrical folding; None: 1.15 when
    #: `downbeat_at_start` (a continuation should already be near the session tempo), else 1.5
    #: (power-of-two folding leaves at most x1.41; past x1.25 a stretch is doubtful and only
    #: made when the audio has no pulse at the session's beat: docs/tempo-contract.md).
    max_stretch_ratio: float | None = None
    #: Length of the loop seam crossfade.
    crossfade_seconds: float = 0.01
    #: "auto": learned downbeats where madmom is installed; "heuristic": the onset heuristics
    #: alone, with the old snap rule (bench/tempo_eval.py compares the two).
    beat_tracker: BeatTracker = "auto"

    def __post_init__(self) -> None:
        def bad(name: str, value: object, allowed: str) -> RequestError:
            return RequestError(f"{name}: got {value!r}; {allowed}", field=name)

        if not isinstance(self.sample_rate, int) or not 8000 <= self.sample_rate <= 384000:
            raise bad("sample_rate", self.sample_rate, "expected an integer 8000 to 384000 Hz")
        if self.channels not in (None, 1, 2):
            raise bad("channels", self.channels, "expected 1, 2 or none (as generated)")
        if self.bpm is not None and not (math.isfinite(self.bpm) and 20.0 <= self.bpm <= 400.0):
            raise bad("bpm", self.bpm, "expected 20 to 400 BPM")
        if self.bars is not None and (not isinstance(self.bars, int) or not 1 <= self.bars <= 512):
            raise bad("bars", self.bars, "expected an integer 1 to 512")
        if self.bars is not None and self.bpm is None:
            raise bad("bars", self.bars, "bars need the session bpm")
        if not isinstance(self.beats_per_bar, int) or not 1 <= self.beats_per_bar <= 32:
            raise bad("beats_per_bar", self.beats_per_bar, "expected an integer 1 to 32")
        if self.loudness_lufs is not None and not -70.0 <= self.loudness_lufs <= 0.0:
            raise bad("loudness_lufs", self.loudness_lufs, "expected -70 to 0 LUFS")
        if self.sample_format not in SAMPLE_FORMATS:
            raise bad("sample_format", self.sample_format, f"expected one of {SAMPLE_FORMATS}")
        if not -20.0 <= self.true_peak_dbtp <= 0.0:
            raise bad("true_peak_dbtp", self.true_peak_dbtp, "expected -20 to 0 dBTP")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise bad("min_confidence", self.min_confidence, "expected 0 to 1")
        if self.max_stretch_ratio is not None and not 1.0 <= self.max_stretch_ratio <= 4.0:
            raise bad("max_stretch_ratio", self.max_stretch_ratio, "expected 1 to 4")
        if not 0.0 <= self.crossfade_seconds <= 0.5:
            raise bad("crossfade_seconds", self.crossfade_seconds, "expected 0 to 0.5 s")
        if not 0.0 <= self.overhang_seconds <= 0.5:
            raise bad("overhang_seconds", self.overhang_seconds, "expected 0 to 0.5 s")
        if self.beat_tracker not in ("auto", "heuristic"):
            raise bad("beat_tracker", self.beat_tracker, "expected 'auto' or 'heuristic'")

    @property
    def stretch_limit(self) -> float:
        if self.max_stretch_ratio is not None:
            return self.max_stretch_ratio
        return 1.15 if self.downbeat_at_start else 1.5
