"""⑤ Tempo, beat phase, downbeat and confidence of audio: librosa onsets + comb refinement."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import librosa
import numpy as np

from sidecar.post.channels import to_mono
from sidecar.post.resample import resample

__all__ = ["TempoEstimate", "estimate_tempo", "tempo_near"]

#: Onsets are analysed at 16 kHz: enough bandwidth for kicks, snares and hats, and a third of
#: the spectrogram work of 48 kHz.
_ANALYSIS_RATE = 16000
_N_FFT = 1024
_HOP = 80  # 5 ms
_FRAME_RATE = _ANALYSIS_RATE / _HOP
_N_MELS = 48
_LOW_BAND_HZ = 180.0
_PRIOR_BPM = 120.0
#: Local refinement searches this far (as a fraction) around the autocorrelation tempo, first
#: coarsely, then finely around the best coarse period.
_SEARCH_SPAN = 0.03
_SEARCH_STEPS = 41
_FINE_SPAN = 0.002
_FINE_STEPS = 41
#: Periods with no simple ratio to the beat: how periodic is the audio at a period that means
#: nothing? The confidence compares the beat period's comb contrast against these.
_NULL_FACTORS = (0.618, 0.707, 0.794, 1.26, 1.414, 1.618)
_MIN_SECONDS = 1.0
#: Confidence from which a reading is usable (the pipeline's default `min_confidence`).
_SURE = 0.5
#: Bar positions scoring within this fraction of the best count as tied for the downbeat.
_DOWNBEAT_TIE = 0.9
#: Metrical levels a third apart from the autocorrelation's tempo: x3/2 and its octaves (a
#: dotted-quarter pulse, as in 6/8 and 12/8, counted in quarter notes) and x2/3 and its
#: octaves (a pulse a tracker can lock onto in half-time trap: 1.5 beats).
_TERNARY_FACTORS = (3 / 8, 3 / 4, 3 / 2, 3.0, 1 / 3, 2 / 3, 4 / 3, 8 / 3)
#: A ternary level nearer the reference replaces the octave level when the flux is at least
#: this periodic there (as a fraction of the octave level's comb contrast); 1: it must be
#: the clearer pulse (the autocorrelation misread), as a 4/4 groove always is at its beat.
_TERNARY_EVIDENCE = 1.0
#: ... and in a compound metre (bar a multiple of 3 beats, the pulse divides into three
#: eighths), where the quarter is a weaker pulse than the dotted quarter (measured 0.82-3.2 of
#: the octave level's contrast on 6/8, 9/8, 12/8 grooves; 0.17-0.41 for 4/4 drums).
_COMPOUND_EVIDENCE = 0.75
#: A pulse divides into three when the flux folded at it has onsets at both its thirds, at
#: least this high above the profile floor (as a fraction of the beat's own peak), and at least
#: half as high as anything at its middle. Measured: 0.08-0.57 on compound grooves, at most
#: 0.04 on simple ones.
_THIRDS_MIN = 0.06
#: The beat phase moves from the flux peak to a half, third or quarter beat later only when
#: the accents there dominate: their bar-position profile is this much larger in sum (kicks
#: against an off-beat bass: 7-130x; an arpeggio's low note on the bar: 4.6x; half-time
#: trap's kick and 808 on the "and" of 4 against its kick on 1 and snare on 3: 1.4-1.65x) ...
_PHASE_GAIN = 2.0
#: ... and no bar position (ranked by strength) is below this fraction of its counterpart.
_PHASE_RANK = 0.6
_PHASE_SHIFTS = (1 / 2, 1 / 3, 2 / 3, 1 / 4, 3 / 4)


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
    """
    mono = _analysis_signal(audio, sample_rate)
    if mono is None:
        return TempoEstimate.nothing()
    frame_rate = _FRAME_RATE
    full, accents = _onset_envelopes(mono)

    raw_bpm = _coarse_bpm(full, frame_rate, min_bpm, max_bpm)
    if raw_bpm is None:
        return TempoEstimate.nothing()
    octave = _octave_towards(raw_bpm, reference_bpm, min_bpm, max_bpm)
    period = 60.0 * frame_rate / (raw_bpm * octave)
    if period * 2 > full.size:
        return TempoEstimate(None, raw_bpm, 0.0, octave, None, None)
    period, contrast = _refine(full, period, _SEARCH_SPAN)
    compound = False
    if reference_bpm is not None:
        octave, period, contrast, compound = _ternary_level(
            full, raw_bpm, octave, period, contrast, reference_bpm, beats_per_bar, min_bpm, max_bpm
        )

    confidence = _confidence(full, period, contrast)
    peaks = _local_peaks(accents)
    if beats_per_bar % 3 == 0 and not compound:
        compound = _counts_a_compound_metre(full, period)
    if compound:
        # The counted quarter is no pulse of a compound metre (6/8: eighths 1, 3, 5 carry the
        # snare as often as 0, 2, 4 carry the kick): the bar starts on its most accented
        # eighth, and the quarter beats are counted from there.
        eighth = period / 2
        eighths = _phase_frames(full, eighth)
        downbeat = _downbeat_frames(peaks, eighth, eighths, 2 * beats_per_bar)
        phase = downbeat % period
    else:
        phase = _beat_phase(full, peaks, period, beats_per_bar)
        downbeat = _downbeat_frames(peaks, period, phase, beats_per_bar)
    evidence = None
    if reference_bpm is not None:
        evidence = _evidence_at(full, 60.0 * frame_rate / reference_bpm, contrast)
    return TempoEstimate(
        bpm=60.0 * frame_rate / period,
        raw_bpm=raw_bpm,
        confidence=confidence,
        octave=octave,
        first_beat_seconds=phase / frame_rate,
        first_downbeat_seconds=downbeat / frame_rate,
        reference_evidence=evidence,
    )


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
    resampled = _analysis_signal(audio, sample_rate)
    if resampled is None:
        return TempoEstimate.nothing()
    frame_rate = _FRAME_RATE
    full, _ = _onset_envelopes(resampled)
    period = 60.0 * frame_rate / bpm
    if period * 2 > full.size:
        return TempoEstimate.nothing()
    factors = np.exp(np.linspace(-span, span, _SEARCH_STEPS))
    contrasts = _fold_contrast(full, period * factors)
    best = int(np.argmax(contrasts))
    period, contrast = _refine(full, float(period * factors[best]), 0.0)
    near = TempoEstimate(
        bpm=60.0 * frame_rate / period,
        raw_bpm=None,
        confidence=_confidence(full, period, contrast),
        octave=1.0,
        first_beat_seconds=None,
        first_downbeat_seconds=None,
        reference_evidence=1.0,
    )
    if 0 < best < factors.size - 1 and near.confidence >= _SURE:
        return near
    free = estimate_tempo(audio, sample_rate, reference_bpm=bpm, beats_per_bar=beats_per_bar)
    return free if free.confidence > near.confidence else near


def _refine(env: np.ndarray, period: float, span: float) -> tuple[float, float]:
    """The sharpest period within ±`span` (then ±0.2 %) of `period`, and its comb contrast."""
    passes = (
        ((span, _SEARCH_STEPS), (_FINE_SPAN, _FINE_STEPS)) if span else ((_FINE_SPAN, _FINE_STEPS),)
    )
    contrast = 0.0
    for width, steps in passes:
        factors = np.exp(np.linspace(-width, width, steps))
        contrasts = _fold_contrast(env, period * factors)
        best = int(np.argmax(contrasts))
        step = _parabolic_offset(contrasts, best) * 2 * width / (steps - 1)
        period = float(period * factors[best] * math.exp(step))
        contrast = float(contrasts[best])
    return period, contrast


def _ternary_level(
    env: np.ndarray,
    raw_bpm: float,
    octave: float,
    period: float,
    contrast: float,
    reference_bpm: float,
    beats_per_bar: int,
    lo: float,
    hi: float,
) -> tuple[float, float, float, bool]:
    """(level, period, contrast, compound): the ternary level nearest the reference when the
    audio pulses there clearly enough (see `_TERNARY_EVIDENCE`), else the octave level
    unchanged; `compound`: taken as the quarter (or eighth) of a compound metre."""
    unchanged = octave, period, contrast, False
    raw_period = period * octave
    options = [f for f in _TERNARY_FACTORS if lo <= raw_bpm * f <= hi]
    if not options:
        return unchanged
    level = min(options, key=lambda f: abs(math.log(raw_bpm * f / reference_bpm)))
    bpm = 60.0 * _FRAME_RATE / period
    if abs(math.log(raw_bpm * level / reference_bpm)) >= abs(math.log(bpm / reference_bpm)):
        return unchanged
    candidate = raw_period / level
    if candidate * 2 > env.size:
        return unchanged
    candidate, candidate_contrast = _refine(env, candidate, 0.0)
    dotted = level in (3 / 8, 3 / 4, 3 / 2, 3.0)
    compound = dotted and beats_per_bar % 3 == 0 and _divides_in_three(env, raw_period)
    needed = _COMPOUND_EVIDENCE if compound else _TERNARY_EVIDENCE
    if candidate_contrast < needed * contrast:
        return unchanged
    return level, candidate, candidate_contrast, compound


def _divides_in_three(env: np.ndarray, raw_period: float) -> bool:
    """Whether the pulse (or its half or double: the dotted quarter, wherever the reading
    landed) has onsets at both thirds of it and little at its middle (see `_THIRDS_MIN`)."""
    return any(_thirds(env, span) for span in (raw_period / 2, raw_period, raw_period * 2))


def _counts_a_compound_metre(env: np.ndarray, period: float) -> bool:
    """Whether beats of `period` are the quarters of a compound metre: the dotted quarter (1.5
    beats) is the clearer pulse and divides into three eighths (whatever level the
    autocorrelation read: 6/8 at a dotted quarter of 50 reads its eighths, 150)."""
    dotted = 1.5 * period
    if dotted * 2 > env.size:
        return False
    contrasts = _fold_contrast(env, np.array([period, dotted]))
    return bool(contrasts[1] > contrasts[0]) and _thirds(env, dotted)


def _thirds(env: np.ndarray, span: float) -> bool:
    """Whether `env` folded at `span` has onsets at both thirds of it, little at its middle."""
    if span * 2 > env.size or span < 12:
        return False
    profile = _fold_profiles(env, np.array([span]))[0]
    peak = int(np.argmax(profile))
    floor = float(np.percentile(profile, 10))
    height = float(profile[peak]) - floor
    if height <= 0:
        return False
    thirds = min(_near(profile, peak, 1 / 3), _near(profile, peak, 2 / 3)) - floor
    return thirds >= _THIRDS_MIN * height and thirds >= 0.5 * (_near(profile, peak, 0.5) - floor)


def _near(profile: np.ndarray, peak: int, fraction: float) -> float:
    """The folded profile's largest value within ±2 bins of `fraction` of a cycle after `peak`."""
    bins = profile.size
    index = np.round(peak + fraction * bins + np.arange(-2, 3)).astype(np.int64) % bins
    return float(profile[index].max())


def _evidence_at(env: np.ndarray, period: float, contrast: float) -> float | None:
    """Comb contrast at `period` (the sharpest within ±1.5 %) as a fraction of `contrast`."""
    if period * 2 > env.size or contrast <= 0:
        return None
    local = _fold_contrast(env, period * np.exp(np.linspace(-0.015, 0.015, 13)))
    return float(local.max()) / contrast


@cache
def _mel_basis() -> np.ndarray:
    # norm=None: unnormalized triangles, so summed band power tracks the total power.
    basis = librosa.filters.mel(
        sr=_ANALYSIS_RATE,
        n_fft=_N_FFT,
        n_mels=_N_MELS,
        fmin=20.0,
        fmax=_ANALYSIS_RATE / 2,
        norm=None,
    )
    return np.asarray(basis, dtype=np.float32)


def _analysis_signal(audio: np.ndarray, sample_rate: int) -> np.ndarray | None:
    """`audio` as mono at the analysis rate; None when too short or silent to measure."""
    mono = to_mono(audio) if audio.ndim == 2 else np.asarray(audio, dtype=np.float32)
    if mono.size < _MIN_SECONDS * sample_rate or float(np.max(np.abs(mono))) < 1e-5:
        return None
    return resample(mono[np.newaxis, :], sample_rate, _ANALYSIS_RATE, engine="soxr")[0]


def _onset_envelopes(mono: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log-mel spectral flux (for periodicity) and a linear-power accent curve (for downbeats).

    Log flux barely depends on how loud a hit is, which makes it a good pulse detector and a
    poor accent detector; the accent curve is the rise in linear power, low band weighted up.
    """
    spectrum = librosa.stft(mono, n_fft=_N_FFT, hop_length=_HOP, center=True)
    power = np.square(np.abs(spectrum), dtype=np.float32)
    mel = _mel_basis() @ power
    log_mel = librosa.power_to_db(mel, ref=np.max, top_db=80.0)
    flux = librosa.onset.onset_strength(S=log_mel, sr=_ANALYSIS_RATE, n_fft=_N_FFT, hop_length=_HOP)
    centres = librosa.mel_frequencies(n_mels=_N_MELS + 2, fmin=20.0, fmax=_ANALYSIS_RATE / 2)[1:-1]
    n_low = max(1, int(np.count_nonzero(centres < _LOW_BAND_HZ)))
    accents = np.zeros(flux.size, dtype=np.float64)
    for power in (mel[:n_low].sum(axis=0), 0.5 * mel.sum(axis=0)):
        rise = np.maximum(0.0, np.diff(power, prepend=power[0]))
        rise = rise[: flux.size] / max(float(rise.max()), 1e-20)
        accents[: rise.size] += rise
    return np.asarray(flux, dtype=np.float64), accents


def _coarse_bpm(env: np.ndarray, frame_rate: float, min_bpm: float, max_bpm: float) -> float | None:
    centred = env - env.mean()
    max_lag = min(env.size - 1, int(60.0 * frame_rate / min_bpm) + 2)
    min_lag = max(1, int(60.0 * frame_rate / max_bpm))
    if max_lag <= min_lag + 2:
        return None
    ac = librosa.autocorrelate(centred, max_size=max_lag + 1)
    if ac[0] <= 0:
        return None
    lags = np.arange(min_lag, max_lag)
    bpms = 60.0 * frame_rate / lags
    prior = np.exp(-0.5 * np.log2(bpms / _PRIOR_BPM) ** 2)
    weighted = ac[min_lag:max_lag] / ac[0] * prior
    best = int(np.argmax(weighted))
    if weighted[best] <= 0:
        return None
    lag = lags[best] + _parabolic_offset(weighted, best)
    return float(60.0 * frame_rate / lag)


def _octave_towards(raw_bpm: float, reference_bpm: float | None, lo: float, hi: float) -> float:
    if reference_bpm is None:
        return 1.0
    options = [2.0**k for k in range(-2, 3) if lo <= raw_bpm * 2.0**k <= hi] or [1.0]
    return min(options, key=lambda f: abs(math.log(raw_bpm * f / reference_bpm)))


def _fold_profiles(env: np.ndarray, periods: np.ndarray) -> np.ndarray:
    """Average `env` over each period's cycle: one row of phase bins per period."""
    bins = int(np.clip(round(float(periods.min())), 16, 256))
    frames = np.arange(env.size, dtype=np.float64)
    phase = np.mod(frames[np.newaxis, :] / periods[:, np.newaxis], 1.0)
    index = np.minimum((phase * bins).astype(np.int64), bins - 1)
    index += (np.arange(periods.size) * bins)[:, np.newaxis]
    total = periods.size * bins
    sums = np.bincount(index.ravel(), weights=np.tile(env, periods.size), minlength=total)
    counts = np.bincount(index.ravel(), minlength=total)
    profiles = (sums / np.maximum(counts, 1)).reshape(periods.size, bins)
    return 0.5 * profiles + 0.25 * (np.roll(profiles, 1, axis=1) + np.roll(profiles, -1, axis=1))


def _fold_contrast(env: np.ndarray, periods: np.ndarray) -> np.ndarray:
    profiles = _fold_profiles(env, periods)
    mean = profiles.mean(axis=1)
    return np.asarray(profiles.max(axis=1) / np.maximum(mean, 1e-12) - 1.0)


def _confidence(env: np.ndarray, period: float, peak_contrast: float) -> float:
    nulls = []
    local = np.exp(np.linspace(-0.01, 0.01, 11))
    for factor in _NULL_FACTORS:
        null_period = period * factor
        if null_period * 2 > env.size:
            continue
        nulls.append(float(_fold_contrast(env, null_period * local).max()))
    if not nulls or peak_contrast <= 0:
        return 0.0
    ratio = peak_contrast / max(float(np.median(nulls)), 1e-9)
    # ratio ~1-1.4 for noise, ~2 for busy but pulsed music, 5-50 for drums and clicks.
    return float(np.clip((ratio - 1.3) / 1.4, 0.0, 1.0))


def _local_peaks(accents: np.ndarray) -> np.ndarray:
    """The accent curve's maximum within ±15 ms of each frame: an attack's power rise can sit
    a few frames off the comb's phase."""
    return np.maximum.reduce([np.roll(accents, k) for k in range(-3, 4)])


def _bar_profile(peaks: np.ndarray, phase: float, period: float, beats_per_bar: int) -> np.ndarray:
    """Mean accent at each of the bar's beat positions, beats at `phase + k * period` (the
    beats themselves when there is less than a bar)."""
    beats = np.arange(phase, peaks.size - 1, period)
    at_beats = peaks[np.round(beats).astype(np.int64)]
    whole_bars = at_beats.size // beats_per_bar * beats_per_bar
    if whole_bars == 0:
        return np.asarray(at_beats, dtype=np.float64)
    return np.asarray(at_beats[:whole_bars].reshape(-1, beats_per_bar).mean(axis=0))


def _dominates(candidate: np.ndarray, current: np.ndarray) -> bool:
    """Whether `candidate`'s bar positions are clearly the stronger accents: `_PHASE_GAIN`
    times the sum, and every rank at least `_PHASE_RANK` of the current one's."""
    if candidate.sum() < _PHASE_GAIN * current.sum() or candidate.size == 0:
        return False
    n = min(candidate.size, current.size)
    ranked, against = np.sort(candidate)[::-1][:n], np.sort(current)[::-1][:n]
    return bool(np.all(ranked >= _PHASE_RANK * against))


def _phase_frames(env: np.ndarray, period: float) -> float:
    """Frames from sample 0 to the peak of `env` folded at `period`."""
    profile = _fold_profiles(env, np.array([period]))[0]
    bins = profile.size
    best = int(np.argmax(profile))
    offset = _parabolic_offset(profile, best, circular=True)
    return float(((best + offset) % bins) * period / bins)


def _beat_phase(env: np.ndarray, peaks: np.ndarray, period: float, beats_per_bar: int) -> float:
    """Frames from sample 0 to the first beat (see `estimate_tempo`, step 7)."""
    profile = _fold_profiles(env, np.array([period]))[0]
    bins = profile.size
    best = int(np.argmax(profile))
    phase = ((best + _parabolic_offset(profile, best, circular=True)) % bins) * period / bins
    current = _bar_profile(peaks, phase, period, beats_per_bar)
    chosen, strongest = None, 0.0
    for shift in _PHASE_SHIFTS:
        candidate = (phase + shift * period) % period
        accents = _bar_profile(peaks, candidate, period, beats_per_bar)
        if _dominates(accents, current) and float(accents.sum()) > strongest:
            chosen, strongest = candidate, float(accents.sum())
    if chosen is None:
        return phase
    # The new beat's own onset: the flux peak within an eighth of a beat of it.
    centre = chosen / period * bins
    index = np.round(centre + np.arange(-bins // 8, bins // 8 + 1)).astype(np.int64) % bins
    best = int(index[int(np.argmax(profile[index]))])
    return float(((best + _parabolic_offset(profile, best, circular=True)) % bins) * period / bins)


def _downbeat_frames(peaks: np.ndarray, period: float, phase: float, beats_per_bar: int) -> float:
    """The beat (of those at `phase + k * period`) that starts the most accented bar position."""
    beats = np.arange(phase, peaks.size - 1, period)
    if beats_per_bar <= 1 or beats.size < beats_per_bar:
        return phase
    scores = _bar_profile(peaks, phase, period, beats_per_bar)
    # Near-ties (kick on 1 and 3, or the two source bars in a half-time bar): the earliest.
    best = int(np.argmax(scores >= _DOWNBEAT_TIE * scores.max()))
    return float(beats[best])


def _parabolic_offset(values: np.ndarray, index: int, circular: bool = False) -> float:
    n = values.size
    if circular:
        left, right = values[(index - 1) % n], values[(index + 1) % n]
    elif 0 < index < n - 1:
        left, right = values[index - 1], values[index + 1]
    else:
        return 0.0
    centre = values[index]
    denom = left - 2 * centre + right
    if denom >= 0:
        return 0.0
    return float(np.clip(0.5 * (left - right) / denom, -0.5, 0.5))
