"""⑤ Where the stem's first bar line is: the prompt's, the learned tracker's or the heuristic's."""

from __future__ import annotations

import numpy as np

from sidecar.post.report import DownbeatSource
from sidecar.post.tempo import TempoEstimate

__all__ = ["grid_start"]

#: A trusted bar line at sample 0 moves to a later beat only over near-silence: the audio
#: stays under this fraction (-20 dB) of its first hit's peak for the first `_LEAD_SECONDS`.
#: A late first hit (model latency) is preceded by silence; a correct sample 0 by its own
#: attack.
_QUIET_BEFORE = 0.1
#: The first hit's peak is sought up to this long after the beat.
_ATTACK_SECONDS = 0.03
#: A first hit within this of sample 0 leaves it where it is (a correct sample 0).
_LEAD_SECONDS = 0.003


def grid_start(
    source: TempoEstimate,
    audio: np.ndarray,
    sample_rate: int,
    *,
    confident: bool,
    downbeat_at_start: bool,
    snap_downbeat: bool,
    heuristic_snap: bool = False,
) -> tuple[float, DownbeatSource]:
    """Seconds from sample 0 of `audio` to the first bar line, and who placed it.

    With `downbeat_at_start` (a continuation of a bar-aligned prompt) the prompt's bar phase
    wins: sample 0 is the bar line, and it moves only to a confident beat within a quarter
    beat after it over near-silence (`sample0_snapped`: model latency). A correct sample 0
    has its own attack and is never moved. `heuristic_snap` keeps the old rule (any
    confident beat within a quarter beat), for comparison in bench/tempo_eval.py.
    Otherwise the tracker's bar line: "learned" where madmom's downbeat networks placed it,
    "tracker" where the onset heuristics did; sample 0 when the reading is not confident.
    """
    if not confident or source.bpm is None or source.first_beat_seconds is None:
        return 0.0, "sample0"
    if downbeat_at_start:
        if not snap_downbeat:
            return 0.0, "sample0"
        beat = 60.0 / source.bpm
        nearest = min(
            (source.first_beat_seconds, source.first_beat_seconds - beat), key=lambda t: abs(t)
        )
        if not 0.0 <= nearest <= beat / 4:
            return 0.0, "sample0"
        if heuristic_snap or _quiet_before(audio, sample_rate, nearest):
            return nearest, "sample0_snapped"
        return 0.0, "sample0"
    if source.first_downbeat_seconds is None:
        return 0.0, "sample0"
    if source.downbeat_tracker == "learned":
        return source.first_downbeat_seconds, "learned"
    return source.first_downbeat_seconds, "tracker"


def _quiet_before(audio: np.ndarray, sample_rate: int, beat_seconds: float) -> bool:
    """Whether `audio` is near-silent from sample 0 until its first hit (before the beat at
    `beat_seconds`, whose flux onset can lag the attack by some ms): nothing reaches
    `_QUIET_BEFORE` of the loudest sample up to `_ATTACK_SECONDS` after the beat within the
    first `_LEAD_SECONDS`."""
    stop = round((beat_seconds + _ATTACK_SECONDS) * sample_rate)
    level = np.max(np.abs(audio[:, :stop]), axis=0)
    if level.size == 0 or float(level.max()) <= 0:
        return False
    first_hit = int(np.argmax(level >= _QUIET_BEFORE * float(level.max())))
    return first_hit > _LEAD_SECONDS * sample_rate
