"""⑤ Tempo, beat phase, downbeat and confidence of audio: librosa onsets + comb refinement."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import librosa
import numpy as np

from sidecar.post.channels import to_mono
from sidecar.post.resample import resample

__all__ = ["TempoEstimate", "estimate_tempo"]

#: Onsets are analysed at 16 kHz: enough bandwidth for kicks, snares and hats, and a third of
#: the spectrogram work of 48 kHz.
_ANALYSIS_RATE = 16000
_N_FFT = 1024
_HOP = 80  # 5 ms
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
#: Bar positions scoring within this fraction of the best count as tied for the downbeat.
_DOWNBEAT_TIE = 0.9


@dataclass(frozen=True)
class TempoEstimate:
    """What the tracker found. Times are seconds from sample 0 of the analysed audio."""

    #: Refined tempo at the metrical level nearest `reference_bpm` (None: too short or silent).
    bpm: float | None
    #: The autocorrelation's own tempo before octave folding (quantized to the frame rate).
    raw_bpm: float | None
    #: 0 (nothing periodic: noise, silence) to 1 (a metronome); 0.5 separates usable from not.
    confidence: float
    #: bpm / raw_bpm: 0.25, 0.5, 1, 2 or 4 (half/double-time folding towards the reference).
    octave: float
    first_beat_seconds: float | None
    first_downbeat_seconds: float | None

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

    1. Onset envelopes (librosa log-mel spectral flux, 5 ms hop), full band and below 180 Hz.
    2. Coarse tempo: autocorrelation of the envelope under a log-normal prior around 120 BPM.
    3. Half/double time: the octave (x1/4 ... x4) nearest `reference_bpm` is kept.
    4. Refinement: the envelope is folded at periods within ±3 % and the period whose folded
       profile is sharpest wins (sub-step by parabolic interpolation); its peak is the phase.
    5. Confidence: sharpness at the beat period against periods with no musical relation.
    6. Downbeat: of the `beats_per_bar` beat phases, the one with most low-band (kick) onset
       energy, summed over all bars.
    """
    mono = to_mono(audio) if audio.ndim == 2 else np.asarray(audio, dtype=np.float32)
    if mono.size < _MIN_SECONDS * sample_rate or float(np.max(np.abs(mono))) < 1e-5:
        return TempoEstimate.nothing()
    mono = resample(mono[np.newaxis, :], sample_rate, _ANALYSIS_RATE, engine="soxr")[0]
    frame_rate = _ANALYSIS_RATE / _HOP
    full, accents = _onset_envelopes(mono)

    raw_bpm = _coarse_bpm(full, frame_rate, min_bpm, max_bpm)
    if raw_bpm is None:
        return TempoEstimate.nothing()
    octave = _octave_towards(raw_bpm, reference_bpm, min_bpm, max_bpm)
    period = 60.0 * frame_rate / (raw_bpm * octave)
    if period * 2 > full.size:
        return TempoEstimate(None, raw_bpm, 0.0, octave, None, None)

    for span, steps in ((_SEARCH_SPAN, _SEARCH_STEPS), (_FINE_SPAN, _FINE_STEPS)):
        factors = np.exp(np.linspace(-span, span, steps))
        contrasts = _fold_contrast(full, period * factors)
        best = int(np.argmax(contrasts))
        step = _parabolic_offset(contrasts, best) * 2 * span / (steps - 1)
        period = float(period * factors[best] * math.exp(step))
    peak_contrast = float(contrasts[best])

    confidence = _confidence(full, period, peak_contrast)
    phase = _phase_frames(full, period)
    # Bars are `beats_per_bar` beats at the folded tempo; candidate downbeats are the beats of
    # the faster of the two levels (a 140 BPM groove read at 70 BPM still has its kick on
    # the 140 BPM beats, either of the two in each 70 BPM beat).
    if octave < 1.0:
        step = period * octave
        downbeat = _downbeat_frames(
            accents, step, _phase_frames(full, step), round(beats_per_bar / octave)
        )
    else:
        downbeat = _downbeat_frames(accents, period, phase, beats_per_bar)
    return TempoEstimate(
        bpm=60.0 * frame_rate / period,
        raw_bpm=raw_bpm,
        confidence=confidence,
        octave=octave,
        first_beat_seconds=phase / frame_rate,
        first_downbeat_seconds=downbeat / frame_rate,
    )


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


def _phase_frames(env: np.ndarray, period: float) -> float:
    profile = _fold_profiles(env, np.array([period]))[0]
    bins = profile.size
    best = int(np.argmax(profile))
    offset = _parabolic_offset(profile, best, circular=True)
    return float(((best + offset) % bins) * period / bins)


def _downbeat_frames(accents: np.ndarray, period: float, phase: float, beats_per_bar: int) -> float:
    """The beat (of those at `phase + k * period`) that starts the most accented bar position."""
    beats = np.arange(phase, accents.size - 1, period)
    if beats_per_bar <= 1 or beats.size < beats_per_bar:
        return phase
    # An attack's power rise can sit a few frames off the comb's phase: take the local max.
    window = np.maximum.reduce([np.roll(accents, k) for k in range(-3, 4)])
    at_beats = window[np.round(beats).astype(np.int64)]
    whole_bars = at_beats.size // beats_per_bar * beats_per_bar
    scores = at_beats[:whole_bars].reshape(-1, beats_per_bar).mean(axis=0)
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
