"""⑤ Tempo, beat phase, downbeat and confidence of audio: comb-refined onsets + learned bars."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from sidecar.post.beat_phase import (
    bar_profile,
    beat_phase,
    downbeat_frames,
    local_peaks,
    phase_frames,
)
from sidecar.post.channels import to_mono
from sidecar.post.comb import (
    SEARCH_SPAN,
    SEARCH_STEPS,
    comb_confidence,
    evidence_at,
    fold_contrast,
    fold_profiles,
    parabolic_offset,
    refine,
)
from sidecar.post.learned_bar import learned_bar
from sidecar.post.learned_beats import learned_activations, learned_available
from sidecar.post.metrical import counts_a_compound_metre, octave_towards, ternary_level
from sidecar.post.onsets import (
    FLUX_DELAY_FRAMES,
    FRAME_RATE,
    analysis_signal,
    coarse_bpm,
    onset_envelopes,
)

__all__ = ["BeatTracker", "DownbeatTracker", "TempoEstimate", "estimate_tempo", "tempo_near"]

logger = logging.getLogger(__name__)

#: "auto": the learned downbeat tracker where madmom is installed, else the heuristics;
#: "heuristic": the onset heuristics alone (the tracker before learned downbeats).
BeatTracker = Literal["auto", "heuristic"]
#: Who placed `first_downbeat_seconds`: "learned" (madmom's downbeat networks folded at the
#: comb's period) or "heuristic" (onset accents).
DownbeatTracker = Literal["learned", "heuristic"]
#: Confidence from which a reading is usable (the pipeline's default `min_confidence`).
SURE = 0.5
#: The learned tracker analyses this much audio from sample 0 (or 3 bars, if longer): enough
#: bars to tell the one (4 at 120 BPM) at a bounded cost (about 20 ms of CPU a second of
#: audio; the bar line was as often right from 8 s as from 12 or 20 s on the real-music set).
LEARNED_SECONDS = 8.0
_LEARNED_MIN_BARS = 3
#: ... and places the bar line when its beats fold at least this clearly on the period.
_LEARNED_MIN_BEAT_CONFIDENCE = 0.3
#: The heuristics' bar line wins where the networks' downbeat confidence is under this
#: fraction of the accents' margin: a metronome's accented click (margin 0.17 against the
#: networks' 0-0.08), synthetic drums' kick on 1 (0.5 against 0.12). On the real-music set
#: the networks were right in 39 of 74 excerpts, the accents in 24, this rule in 34.
_ACCENT_WEIGHT = 0.5
#: Under this the networks heard no "one" at all (equal clicks read 0.009): their bar line is
#: noise, and the heuristics' (the first of equal beats) is kept. Placing the bar line on a
#: later beat for nothing costs audio at the end: a window of a long take came up a quarter
#: second short and was padded with silence at its join.
_LEARNED_MIN_DOWNBEAT_CONFIDENCE = 0.02
#: The folded beat probability half a period after the beat at this fraction of the beat's
#: or more: the period is two network beats (half time).
_HALF_TIME = 0.7
#: The reference's tempo is sought within this span (a model drifts by a few percent) ...
_NEAR_SPAN = 0.04
#: ... and is another reading when further than this from the comb's.
_SAME_PERIOD = 0.005
#: The learned beat is moved to the flux peak within this much of it (its frames are 10 ms).
_ONSET_WINDOW_SECONDS = 0.035


@dataclass(frozen=True)
class TempoEstimate:
    """What the tracker found. Times are seconds from sample 0 of the analysed audio."""

    #: Refined tempo at the metrical level nearest `reference_bpm` (None: too short or silent).
    bpm: float | None
    #: The autocorrelation's own tempo before octave folding (quantized to the frame rate;
    #: None from `tempo_near`, which does not look for it).
    raw_bpm: float | None
    #: 0 (nothing periodic: noise, silence) to 1 (a metronome); 0.5 separates usable from not.
    confidence: float
    #: bpm / raw_bpm: the metrical level kept: 0.25, 0.5, 1, 2 or 4 (half/double time), or a
    #: ternary one (x3/2, x3/4, x2/3, ...: compound metre, or a misread pulse of 1.5 beats).
    octave: float
    first_beat_seconds: float | None
    first_downbeat_seconds: float | None
    #: How periodic the audio is at the reference's beat period, as a fraction of how periodic
    #: it is at `bpm` (1: as clearly; 4/4 drums score 0.3-0.55 at a period 4/3 or 3/4 of their
    #: beat, 0.6-0.7 against their eighths). None without a reference, or when the audio is too
    #: short to fold at it.
    reference_evidence: float | None = None
    #: Who placed the downbeat, and how sure it was (0-1: the best bar position's margin over
    #: the runner-up).
    downbeat_tracker: DownbeatTracker = "heuristic"
    downbeat_confidence: float = 0.0

    @staticmethod
    def nothing() -> TempoEstimate:
        return TempoEstimate(None, None, 0.0, 1.0, None, None)


def estimate_tempo(
    audio: np.ndarray,
    sample_rate: int,
    *,
    reference_bpm: float | None = None,
    beats_per_bar: int = 4,
    min_bpm: float = 30.0,
    max_bpm: float = 320.0,
    tracker: BeatTracker = "auto",
    bar_line_known: bool = False,
) -> TempoEstimate:
    """Estimate the tempo of `(channels, samples)` or 1-D audio to about 0.05 %.

    1. Onset envelopes (librosa log-mel spectral flux, 5 ms hop), and an accent curve: the
       rise in linear power, below 180 Hz and over the full band.
    2. Coarse tempo: autocorrelation of the envelope under a log-normal prior around 120 BPM.
    3. Half/double time: the octave (x1/4 ... x4) nearest `reference_bpm` is kept.
    4. Refinement: the envelope is folded at periods within ±3 % and the period whose folded
       profile is sharpest wins (sub-step by parabolic interpolation).
    5. Ternary levels: a level x3/2, x2/3 (or their octaves) of the autocorrelation's tempo
       that is nearer `reference_bpm` replaces the octave level when the flux is at least as
       periodic there; in a compound metre (`beats_per_bar` a multiple of 3 and the pulse
       dividing into three eighths) at 0.75 of it. 6/8 at a dotted quarter of 80 is read
       at the quarter, 120 (what a DAW sends), not at 160.
    6. Confidence: sharpness at the beat period against periods with no musical relation.
    7. Beat phase: the peak of the folded flux, unless the beats half (a third, a quarter) of
       a beat later carry clearly stronger accents at every rank of their bar positions (the
       kick of four-on-the-floor, not the off-beat bass that lights more bands); a single
       louder syncopated hit (trap's kick and 808 on the "and" of 4) is not enough.
    8. Downbeat: of the `beats_per_bar` beat phases, the one with most accent energy (the
       kick), summed over all bars; near-ties go to the earliest.
    9. `reference_evidence`: how periodic the audio is at the reference's period.
    10. With `tracker="auto"`, madmom's downbeat networks (where installed) are folded at the
        refined period (`learned_bar`): where their beats fold clearly, they set the beat
        phase (moved to its own flux onset) and the bar line, and the tempo confidence is at
        least their beat confidence (a groove the networks hear is a groove). With
        `bar_line_known` (a continuation: the prompt gave the bar line) they run only when
        the heuristic confidence is under 0.5, to say whether there is a groove.
    """
    mono = analysis_signal(audio, sample_rate)
    if mono is None:
        return TempoEstimate.nothing()
    frame_rate = FRAME_RATE
    full, accents = onset_envelopes(mono)

    raw_bpm = coarse_bpm(full, frame_rate, min_bpm, max_bpm)
    if raw_bpm is None:
        return TempoEstimate.nothing()
    octave = octave_towards(raw_bpm, reference_bpm, min_bpm, max_bpm)
    period = 60.0 * frame_rate / (raw_bpm * octave)
    if period * 2 > full.size:
        return TempoEstimate(None, raw_bpm, 0.0, octave, None, None)
    period, contrast = refine(full, period, SEARCH_SPAN)
    compound = False
    if reference_bpm is not None:
        octave, period, contrast, compound = ternary_level(
            full, raw_bpm, octave, period, contrast, reference_bpm, beats_per_bar, min_bpm, max_bpm
        )

    confidence = comb_confidence(full, period, contrast)
    peaks = local_peaks(accents)
    if beats_per_bar % 3 == 0 and not compound:
        compound = counts_a_compound_metre(full, period)
    if compound:
        # The counted quarter is no pulse of a compound metre (6/8: eighths 1, 3, 5 carry the
        # snare as often as 0, 2, 4 carry the kick): the bar starts on its most accented
        # eighth, and the quarter beats are counted from there.
        eighth = period / 2
        eighths = phase_frames(full, eighth)
        downbeat = downbeat_frames(peaks, eighth, eighths, 2 * beats_per_bar)
        phase = downbeat % period
    else:
        phase = beat_phase(full, peaks, period, beats_per_bar)
        downbeat = downbeat_frames(peaks, period, phase, beats_per_bar)
    evidence = None
    if reference_bpm is not None:
        evidence = evidence_at(full, 60.0 * frame_rate / reference_bpm, contrast)
    heuristic = TempoEstimate(
        bpm=60.0 * frame_rate / period,
        raw_bpm=raw_bpm,
        confidence=confidence,
        octave=octave,
        first_beat_seconds=phase / frame_rate,
        first_downbeat_seconds=downbeat / frame_rate,
        reference_evidence=evidence,
        downbeat_confidence=_margin(bar_profile(peaks, phase, period, beats_per_bar)),
    )
    if tracker == "heuristic" or compound or not learned_available():
        return heuristic
    if bar_line_known and heuristic.confidence >= SURE:
        # A continuation's bar line is its prompt's: the networks would decide nothing.
        return heuristic
    return _with_learned(heuristic, audio, sample_rate, full, period, beats_per_bar, reference_bpm)


def tempo_near(
    audio: np.ndarray,
    sample_rate: int,
    bpm: float,
    *,
    span: float = 0.04,
    beats_per_bar: int = 4,
) -> TempoEstimate:
    """The tempo within ±`span` of `bpm` that `audio` pulses at, with its confidence.

    For checking a stem that should be at `bpm`: the comb search starts at `bpm` instead of at
    a free autocorrelation reading, so a stem at 140 with a strong 1.5-beat pattern reads 140
    (a free estimate read 186.6, 4/3 of it). When the sharpest period is on the edge of the
    search or unsure (confidence under 0.5: the audio is further off than `span`, or has no
    pulse), the free estimate folded towards `bpm` (in `beats_per_bar`) is returned if it is
    surer. Beat phase and downbeat are not measured (None).
    """
    resampled = analysis_signal(audio, sample_rate)
    if resampled is None:
        return TempoEstimate.nothing()
    frame_rate = FRAME_RATE
    full, _ = onset_envelopes(resampled)
    period = 60.0 * frame_rate / bpm
    if period * 2 > full.size:
        return TempoEstimate.nothing()
    factors = np.exp(np.linspace(-span, span, SEARCH_STEPS))
    contrasts = fold_contrast(full, period * factors)
    best = int(np.argmax(contrasts))
    period, contrast = refine(full, float(period * factors[best]), 0.0)
    near = TempoEstimate(
        bpm=60.0 * frame_rate / period,
        raw_bpm=None,
        confidence=comb_confidence(full, period, contrast),
        octave=1.0,
        first_beat_seconds=None,
        first_downbeat_seconds=None,
        reference_evidence=1.0,
    )
    if 0 < best < factors.size - 1 and near.confidence >= SURE:
        return near
    free = estimate_tempo(audio, sample_rate, reference_bpm=bpm, beats_per_bar=beats_per_bar)
    return free if free.confidence > near.confidence else near


def _with_learned(
    heuristic: TempoEstimate,
    audio: np.ndarray,
    sample_rate: int,
    env: np.ndarray,
    period: float,
    beats_per_bar: int,
    reference_bpm: float | None,
) -> TempoEstimate:
    """`heuristic` with the learned beat phase and bar line, where the networks hear beats;
    and the tempo near `reference_bpm` (what the model was asked for, within ±4 %) instead of
    the comb's reading when the networks' beats fold on it at least as clearly (a loop of
    sixteenths read at 5/4 or 4/3 of its beat)."""
    mono = to_mono(audio) if audio.ndim == 2 else np.asarray(audio, dtype=np.float32)
    bar_seconds = beats_per_bar * period / FRAME_RATE
    mono = mono[: int(max(LEARNED_SECONDS, _LEARNED_MIN_BARS * bar_seconds) * sample_rate)]
    activations = learned_activations(mono, sample_rate)
    bar = learned_bar(activations, period / FRAME_RATE, beats_per_bar)
    near = None if reference_bpm is None else _period_near(env, 60.0 * FRAME_RATE / reference_bpm)
    if near is not None and abs(near[0] / period - 1.0) > _SAME_PERIOD:
        other = learned_bar(activations, near[0] / FRAME_RATE, beats_per_bar)
        if other is not None and (bar is None or other.beat_rise >= bar.beat_rise):
            period, bar = near[0], other
            bpm = 60.0 * FRAME_RATE / period
            heuristic = replace(
                heuristic,
                bpm=bpm,
                confidence=comb_confidence(env, period, near[1]),
                octave=bpm / heuristic.raw_bpm if heuristic.raw_bpm else 1.0,
                reference_evidence=1.0,
            )
    if bar is None or bar.beat_confidence < _LEARNED_MIN_BEAT_CONFIDENCE:
        return heuristic
    half_time = bar.half_beat_rise > _HALF_TIME * bar.beat_rise
    unsure = bar.downbeat_confidence < max(
        _ACCENT_WEIGHT * heuristic.downbeat_confidence, _LEARNED_MIN_DOWNBEAT_CONFIDENCE
    )
    if half_time or unsure:
        # The accents tell the one more clearly than the networks do, or the period is two of
        # the networks' beats (half time: 140 material for a 70 session), which the accents
        # choose between (step 7).
        return replace(heuristic, confidence=max(heuristic.confidence, bar.beat_confidence))
    # On its own flux onset, as the heuristics' beats are (`refine_attack` finds the attack).
    beat = _onset_near(env, period, bar.beat_seconds * FRAME_RATE + FLUX_DELAY_FRAMES)
    beat /= FRAME_RATE
    shift = beat - bar.beat_seconds
    logger.debug(
        "learned bar line %.3f s (beat %.2f, downbeat %.2f); heuristic %.3f s",
        bar.downbeat_seconds + shift,
        bar.beat_confidence,
        bar.downbeat_confidence,
        heuristic.first_downbeat_seconds,
    )
    return replace(
        heuristic,
        confidence=max(heuristic.confidence, bar.beat_confidence),
        first_beat_seconds=beat % (period / FRAME_RATE),
        first_downbeat_seconds=max(0.0, bar.downbeat_seconds + shift),
        downbeat_tracker="learned",
        downbeat_confidence=bar.downbeat_confidence,
    )


def _period_near(env: np.ndarray, period: float) -> tuple[float, float] | None:
    """The sharpest period within ±4 % of `period` and its comb contrast; None when that is
    on the edge of the search (the audio pulses further off) or the audio is too short."""
    if period * 2 > env.size:
        return None
    factors = np.exp(np.linspace(-_NEAR_SPAN, _NEAR_SPAN, SEARCH_STEPS))
    best = int(np.argmax(fold_contrast(env, period * factors)))
    if not 0 < best < factors.size - 1:
        return None
    return refine(env, float(period * factors[best]), 0.0)


def _onset_near(env: np.ndarray, period: float, phase: float) -> float:
    """The peak of `env` folded at `period` within `_ONSET_WINDOW_SECONDS` of `phase` (frames)."""
    profile = fold_profiles(env, np.array([period]))[0]
    bins = profile.size
    reach = max(1, int(round(_ONSET_WINDOW_SECONDS * FRAME_RATE * bins / period)))
    centre = phase / period * bins
    index = np.round(centre + np.arange(-reach, reach + 1)).astype(np.int64) % bins
    best = int(index[int(np.argmax(profile[index]))])
    found = ((best + parabolic_offset(profile, best, circular=True)) % bins) * period / bins
    # Unwrapped next to `phase`, so that a beat near the period's end stays there.
    return float(phase + (found - phase + period / 2) % period - period / 2)


def _margin(scores: np.ndarray) -> float:
    """How far the best bar position's accent leads the runner-up's, as a share of it."""
    if scores.size < 2 or float(scores.max()) <= 0:
        return 0.0
    ranked = np.sort(scores)[::-1]
    return float((ranked[0] - ranked[1]) / ranked[0])
