"""⑤ What the tempo contract did to one stem: its report, the JSON written beside the stem."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Literal

from sidecar.post.loudness import DEFAULT_LOUDNESS_LUFS

__all__ = ["Decision", "DownbeatSource", "StemReport"]

#: What was done about tempo, in the report:
#: "stretched": measured confidently and stretched to the session tempo;
#: "in_tempo": measured confidently and already within 5 ms of drift over the stem: untouched;
#: "unstretched_low_confidence": no clear pulse (noise, ambient, a random-weight model), or
#:   too short to trust one (under 6 beats or 2 bars): left at its own tempo and cut to the
#:   grid from sample 0 (or the trusted bar line);
#: "unstretched_far_off": a clear pulse, but further from the session tempo (after half/double
#:   folding) than `max_stretch_ratio`: a stretch that large would sound worse than a clip the
#:   producer can warp by hand; cut to the grid from the measured downbeat;
#: "no_tempo_contract": `bpm` was None: only rate, channels, loudness and format.
Decision = Literal[
    "stretched",
    "in_tempo",
    "unstretched_low_confidence",
    "unstretched_far_off",
    "no_tempo_contract",
]
#: Where sample 0 of the stem came from: "learned" (the bar line of madmom's downbeat networks
#: folded at the measured tempo), "tracker" (the onset heuristics' downbeat: no learned
#: tracker installed, or its beats unclear), "sample0" (the generated audio's own sample 0:
#: a continuation's bar line, or no confident reading), "sample0_snapped" (a bar line trusted
#: at sample 0, moved to a confident beat within a quarter beat after it over near-silence:
#: model latency), "none" (no grid).
DownbeatSource = Literal["learned", "tracker", "sample0", "sample0_snapped", "none"]


@dataclass(frozen=True)
class StemReport:
    """What happened to one stem; `to_dict` gives the flat JSON that goes beside it."""

    #: Tempo of the generated audio at the metrical level nearest the session tempo.
    source_bpm: float | None
    tempo_confidence: float
    #: Target tempo / source tempo (> 1: sped up); 1.0 when not stretched.
    stretch_ratio: float
    bars: int | None
    #: Tempo measured again on the delivered stem.
    delivered_bpm: float | None
    loudness_lufs: float | None
    true_peak_dbtp: float | None
    decision: Decision
    target_bpm: float | None = None
    beats_per_bar: int = 4
    #: The tracker's own tempo before half/double folding.
    source_bpm_raw: float | None = None
    stretch_engine: str = "none"
    delivered_tempo_confidence: float = 0.0
    downbeat_source: DownbeatSource = "none"
    #: How sure the tracker that placed the bar line was (0-1: its best bar position's margin
    #: over the runner-up); 0 when no tracker placed it (sample 0, snapped, none).
    downbeat_confidence: float = 0.0
    #: Whose tempo the contract followed: "own", or "part <name>" (a stem-set part too quiet
    #: or too even to measure follows the most confident part of its set).
    tempo_source: str = "own"
    #: Where in the generated audio (seconds from its sample 0) the stem's sample 0 comes from.
    grid_start_seconds: float = 0.0
    #: Silence added at the end because the generated audio was too short for the bars.
    padded_seconds: float = 0.0
    loop_seam: str = "none"
    #: Samples of what followed the last bar line, delivered after the stem (`overhang_seconds`).
    overhang_samples: int = 0
    loudness_target_lufs: float = DEFAULT_LOUDNESS_LUFS
    #: "target" (spec.loudness_lufs), "reference" (the prompt clip), "excerpt" (`conform`:
    #: the loudness the stem's bars had in the file) or "default".
    loudness_source: str = "default"
    gain_db: float = 0.0
    limiter_reduction_db: float = 0.0
    sample_rate: int = 48000
    channels: int = 1
    num_samples: int = 0
    sample_format: str = "pcm24"
    #: Wall time of each step, in pipeline order.
    step_seconds: tuple[tuple[str, float], ...] = field(default=())

    def to_dict(self) -> dict[str, float | int | str | None]:
        out: dict[str, float | int | str | None] = {}
        for key, value in asdict(self).items():
            if key == "step_seconds":
                continue
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            out[key] = value
        for step, seconds in self.step_seconds:
            out[f"seconds_{step}"] = round(seconds, 6)
        return out
