"""Grid arithmetic, cutting, padding, loop seams and attack refinement."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import numpy as np
import pytest
import scipy.signal

from sidecar.post.attack import refine_attack
from sidecar.post.grid import (
    cut_to_grid,
    grid_num_samples,
    whole_bars,
    wrap_overhang,
)
from sidecar.post.resample import resample
from sidecar.post.stretch import time_stretch

from .synth import Material, clicks, drums, kick, placed, tonal_note

MODEL_RATE = 32000
RATE = 48000


@pytest.mark.parametrize("bpm", [70.0, 87.0, 97.0, 123.0, 140.0, 174.0, 180.0, 127.35])
@pytest.mark.parametrize("bars", [1, 4, 8, 64])
@pytest.mark.parametrize("sample_rate", [44100, 48000])
def test_grid_length_is_rounded_once(bpm: float, bars: int, sample_rate: int) -> None:
    exact = Fraction(bars * 4 * 60 * sample_rate) / Fraction(bpm)
    n = grid_num_samples(bars, 4, bpm, sample_rate)
    assert abs(n - exact) <= Fraction(1, 2)
    # Not the sum of per-bar roundings: no drift over long stems.
    assert abs(n - bars * grid_num_samples(1, 4, bpm, sample_rate)) <= bars // 2 + 1


def test_grid_rounds_half_up() -> None:
    # 1 bar of 1 beat at 96 BPM, 100 Hz: 62.5 samples exactly -> 63.
    assert grid_num_samples(1, 1, 96.0, 100) == 63
    assert grid_num_samples(8, 4, 120.0, 48000) == 768000
    assert grid_num_samples(8, 4, 174.0, 48000) == 529655  # 529655.17


def test_grid_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="bars"):
        grid_num_samples(0, 4, 120.0, 48000)


def test_whole_bars() -> None:
    bar = grid_num_samples(1, 4, 120.0, 48000)
    assert whole_bars(bar * 5 + 100, 4, 120.0, 48000) == 5
    assert whole_bars(bar * 5 - 10, 4, 120.0, 48000) == 5  # 1 % slack, padded
    assert whole_bars(10, 4, 120.0, 48000) == 1


def test_cut_pads_short_audio_with_silence() -> None:
    audio = np.ones((2, 1000), np.float32)
    out, cut = cut_to_grid(audio, 200, 1500, sample_rate=48000)
    assert out.shape == (2, 1500)
    assert cut.padded_samples == 700
    assert np.all(out[:, 800:] == 0)
    assert out[0, 799] < 0.1  # faded out before the padding


def test_cut_pads_in_front_for_a_downbeat_before_sample_0() -> None:
    audio = np.ones((1, 1000), np.float32)
    out, cut = cut_to_grid(audio, -10, 500, sample_rate=48000)
    assert cut.lead_padding_samples == 10
    assert np.all(out[:, :10] == 0) and np.all(out[:, 10:] == 1)


def _tone(n: int) -> np.ndarray:
    return np.sin(2 * np.pi * 61.3 * np.arange(n) / 48000).astype(np.float32)[np.newaxis, :]


def test_loop_seam_overhang_makes_the_wrap_continuous() -> None:
    audio = _tone(20000)
    out, cut = cut_to_grid(audio, 1000, 9000, loop=True, crossfade_samples=480)
    assert cut.loop_seam == "overhang_crossfade"
    # Wrapping plays out[-1] then out[0]: exactly audio[9999] then audio[10000].
    assert out[0, -1] == audio[0, 9999]
    assert out[0, 0] == pytest.approx(audio[0, 10000], abs=1e-4)


def test_loop_seam_preroll_when_nothing_follows() -> None:
    audio = _tone(10000)
    out, cut = cut_to_grid(audio, 1000, 9000, loop=True, crossfade_samples=480)
    assert cut.loop_seam == "preroll_crossfade"
    assert out[0, -1] == pytest.approx(audio[0, 999], abs=1e-4)  # leads into audio[1000] = out[0]
    assert out[0, 0] == audio[0, 1000]


def test_loop_seam_fade_as_a_last_resort() -> None:
    audio = _tone(9000)
    out, cut = cut_to_grid(audio, 0, 9000, loop=True, crossfade_samples=480)
    assert cut.loop_seam == "fade"
    assert abs(out[0, -1]) < 1e-3 and abs(out[0, 0]) < 1e-3


def _together(*sounds: np.ndarray) -> np.ndarray:
    """Sounds starting on the same sample, summed."""
    out = np.zeros(max(sound.size for sound in sounds))
    for sound in sounds:
        out[: sound.size] += sound
    return out


def _seam_excess_dbfs(loop: np.ndarray, bars: int, rate: int = RATE) -> float:
    """The wrap step (last sample -> first) in excess of the largest natural step within 1 ms
    either side of the seam and of every bar line inside (as test_pipeline measures it)."""
    width = rate // 1000
    steps = np.abs(np.diff(loop, axis=1))
    windows = [steps[:, :width], steps[:, -width:]]
    for k in range(1, bars):
        centre = round(k * loop.shape[1] / bars)
        windows.append(steps[:, centre - width : centre + width])
    natural = np.concatenate(windows, axis=1).max(axis=1)
    excess = float(np.max(np.maximum(0.0, np.abs(loop[:, 0] - loop[:, -1]) - natural)))
    return 20 * np.log10(excess) if excess > 0 else -240.0


LOOP_BARS = 2
LOOP_SAMPLES = grid_num_samples(LOOP_BARS, 4, 120.0, RATE)
LOOP_START = round(0.3 * RATE)


def _kick_loop(next_kick_ms: float | None) -> np.ndarray:
    """Two bars at 120 BPM from sample LOOP_START: a kick on each downbeat over a held 62.5 Hz
    bass (whole cycles over the loop: only the kick is off), and the next bar's kick
    `next_kick_ms` off its bar line (None: no next kick, the bass goes on alone)."""
    total = LOOP_START + LOOP_SAMPLES + RATE // 2
    t = np.arange(total) / RATE
    out = 0.25 * np.sin(2 * np.pi * 62.5 * t)
    hit = kick(RATE, 0.9)
    downbeats = [LOOP_START + k * LOOP_SAMPLES // LOOP_BARS for k in range(LOOP_BARS)]
    if next_kick_ms is not None:
        downbeats.append(LOOP_START + LOOP_SAMPLES + round(next_kick_ms / 1000 * RATE))
    for at in downbeats:
        out[at : at + hit.size] += hit[: total - at]
    return out.astype(np.float32)[np.newaxis, :]


def _attack_peak(audio: np.ndarray) -> float:
    """The peak of the first 3 ms: the downbeat's attack."""
    return float(np.max(np.abs(audio[:, : 3 * RATE // 1000])))


@pytest.mark.parametrize("next_kick_ms", [2.0, -2.0, 1.0, 4.0, 0.0])
def test_loop_keeps_its_downbeat_attack_when_the_next_one_is_off_the_grid(
    next_kick_ms: float,
) -> None:
    """The overhang's kick 1-4 ms late or early: crossfaded as it lies, it faded the loop's
    first kick in (3 dB and more off the first 3 ms) or played it early at the loop's end.
    The loop's first 3 ms are the one-shot's, its end holds no piece of the next kick, and
    the seam does not click."""
    audio = _kick_loop(next_kick_ms)
    one_shot, _ = cut_to_grid(audio, LOOP_START, LOOP_SAMPLES, sample_rate=RATE)
    loop, cut = cut_to_grid(audio, LOOP_START, LOOP_SAMPLES, loop=True, sample_rate=RATE)
    assert cut.loop_seam == "overhang_crossfade"
    assert _attack_peak(loop) >= 0.9 * _attack_peak(one_shot)
    assert np.max(np.abs(loop[:, -RATE // 500 :])) < 0.5  # the bass (0.25) and no kick
    assert _seam_excess_dbfs(loop, LOOP_BARS) < -40.0


def test_loop_without_a_next_downbeat_keeps_its_attack() -> None:
    """The music stops at the last bar line (the bass goes on): nothing past it to crossfade
    over the kick, so the audio before the first downbeat leads into it at the loop's end."""
    audio = _kick_loop(None)
    one_shot, _ = cut_to_grid(audio, LOOP_START, LOOP_SAMPLES, sample_rate=RATE)
    loop, cut = cut_to_grid(audio, LOOP_START, LOOP_SAMPLES, loop=True, sample_rate=RATE)
    assert cut.loop_seam == "preroll_crossfade"
    assert np.array_equal(loop[:, : RATE // 100], one_shot[:, : RATE // 100])
    assert _seam_excess_dbfs(loop, LOOP_BARS) < -40.0


@pytest.mark.parametrize("next_kick_ms", [2.0, -2.0, 0.0])
def test_wrap_overhang_keeps_the_downbeat_attack(next_kick_ms: float) -> None:
    """Joined windows with the 10 ms that followed their last bar line: the same, with only
    that much overhang to align (the crossfade is shortened by a late kick's lag)."""
    audio = _kick_loop(next_kick_ms)
    overhang = RATE // 100
    joined = audio[:, LOOP_START : LOOP_START + LOOP_SAMPLES + overhang]
    loop, seam = wrap_overhang(joined, overhang, RATE)
    assert seam == "overhang_crossfade"
    assert loop.shape == (1, LOOP_SAMPLES)
    assert _attack_peak(loop) >= 0.9 * _attack_peak(joined)
    assert np.max(np.abs(loop[:, -RATE // 500 :])) < 0.5
    assert _seam_excess_dbfs(loop, LOOP_BARS) < -40.0


def test_wrap_overhang_of_a_held_tone_is_the_plain_crossfade() -> None:
    """No attack at the start: what followed the end is crossfaded in as it lies, so playback
    wraps from the last sample into exactly the sample that followed it."""
    audio = _tone(10480)
    loop, seam = wrap_overhang(audio, 480, RATE)
    assert seam == "overhang_crossfade"
    assert loop[0, -1] == audio[0, 9999]
    assert loop[0, 0] == pytest.approx(audio[0, 10000], abs=1e-4)


def test_refine_attack_finds_the_hit() -> None:
    rng = np.random.default_rng(1)
    audio = (0.01 * rng.standard_normal((1, 48000))).astype(np.float32)
    hit = 24000
    audio[0, hit : hit + 2400] += np.sin(2 * np.pi * 100 * np.arange(2400) / 48000) * np.exp(
        -np.arange(2400) / 600
    )
    for guess in (hit - 1500, hit + 1500, hit):
        assert abs(refine_attack(audio, 48000, guess) - hit) <= 48  # 1 ms
    silent = np.zeros((1, 48000), np.float32)
    assert refine_attack(silent, 48000, 1234) == 1234


def _as_delivered(audio: np.ndarray, ratio: float) -> np.ndarray:
    """What refine_attack sees in the pipeline: stretched at the model rate by Rubber Band
    (pedalboard), then resampled to the session rate."""
    if ratio != 1.0:
        audio, _ = time_stretch(audio, MODEL_RATE, ratio)
    return resample(audio, MODEL_RATE, RATE, engine="soxr")


def _worst_error_ms(audio: np.ndarray, true_sample: float) -> float:
    """The largest miss over guesses 20 ms early, on time and 20 ms late, in ms."""
    errors = [
        refine_attack(audio, RATE, round(true_sample + guess)) - true_sample
        for guess in (-0.02 * RATE, 0.0, 0.02 * RATE)
    ]
    return max(abs(e) for e in errors) / RATE * 1000


def _low_note_error_ms(wave: str, freq: float, attack: float, phase: float, ratio: float) -> float:
    """A note starting at 0.5 s over a -60 dBFS floor; its onset after the stretch is at
    0.5 s / ratio (the envelope's start, mapped by the ratio)."""
    note = tonal_note(MODEL_RATE, freq, attack, wave, phase)  # type: ignore[arg-type]
    audio = _as_delivered(placed(note, 0.5, 1.2, MODEL_RATE), ratio)
    return _worst_error_ms(audio, 0.5 / ratio * RATE)


LOW_NOTES = [
    ("sine", 41.2),
    ("sine", 55.0),
    ("sine", 110.0),
    ("saw", 41.2),
    ("saw", 73.4),
    ("saw", 110.0),
    ("pad", 110.0),
]
ATTACKS = [0.010, 0.015, 0.020]
PHASES = [0.0, 1.3, 2.9, 4.4]


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("attack", ATTACKS)
@pytest.mark.parametrize(("wave", "freq"), LOW_NOTES)
def test_refine_attack_finds_where_a_slow_low_note_starts(
    wave: str, freq: float, attack: float, phase: float
) -> None:
    """A bass note or pad rising over 10-20 ms: the attack is where its envelope leaves 0.

    The 1 ms power of a low note peaks at the waveform's crests, the largest of which lies
    inside (or after) the attack; the downbeat must still land on the envelope's start.
    """
    assert _low_note_error_ms(wave, freq, attack, phase, 1.0) <= 2.0


# Rubber Band rebuilds the first 10-20 ms of this note (a 41 Hz saw starting in the quiet half
# of its cycle): at 0.98 its output begins about 10 ms early with a lobe of the opposite sign
# before the attack proper, so the stretched audio has no single start near 0.5 s / ratio.
_REBUILT_BY_THE_STRETCH = pytest.mark.xfail(
    strict=True,
    reason="Rubber Band reshapes this attack (pre-echo lobe 10 ms ahead); measured 5.8-6.8 ms",
)


def _stretched_cases() -> list[object]:
    cases: list[object] = []
    for wave, freq in LOW_NOTES:
        if wave == "sine":
            continue  # see test_refine_attack_on_a_stretched_pure_sine
        for attack in ATTACKS:
            for ratio in (1.017, 0.98):
                for phase in PHASES:
                    rebuilt = (wave, freq, ratio, phase) == ("saw", 41.2, 0.98, 4.4)
                    marks = [_REBUILT_BY_THE_STRETCH] if rebuilt else []
                    cases.append(pytest.param(wave, freq, attack, ratio, phase, marks=marks))
    return cases


@pytest.mark.parametrize(("wave", "freq", "attack", "ratio", "phase"), _stretched_cases())
def test_refine_attack_finds_a_slow_low_note_after_a_stretch(
    wave: str, freq: float, attack: float, ratio: float, phase: float
) -> None:
    """The same after a real Rubber Band stretch: the envelope's start moves to onset / ratio."""
    assert _low_note_error_ms(wave, freq, attack, phase, ratio) <= 2.0


@pytest.mark.xfail(
    strict=True,
    reason="Rubber Band smears a pure low sine (no transient to reset its phases on): at 0.98 "
    "its output starts about 10 ms before onset / ratio (measured -9.2 to -11.6 ms), at 1.017 "
    "a 110 Hz one 4-5 ms after it; refine_attack follows the stretched audio",
)
@pytest.mark.parametrize(("freq", "ratio"), [(41.2, 0.98), (110.0, 0.98), (110.0, 1.017)])
def test_refine_attack_on_a_stretched_pure_sine(freq: float, ratio: float) -> None:
    assert _low_note_error_ms("sine", freq, 0.015, 0.0, ratio) <= 2.0


@pytest.mark.parametrize("ratio", [1.0, 1.017, 0.98])
@pytest.mark.parametrize("maker", [clicks, drums])
def test_refine_attack_keeps_stretched_hits_on_their_attack(
    maker: Callable[..., Material], ratio: float
) -> None:
    """Clicks, kick, snare and hats, stretched: Rubber Band's pre-echo before a click (up to a
    third of its peak) is not taken for a slow attack; every beat within 2 ms of beat / ratio."""
    audio = _as_delivered(maker(120.0, 2, MODEL_RATE, 2).audio, ratio)
    for beat in range(1, 8):
        assert _worst_error_ms(audio, beat * 0.5 / ratio * RATE) <= 2.0, f"beat {beat}"


KICK_BASS = [("saw", 82.4), ("saw", 55.0), ("saw", 41.2), ("sine", 55.0), ("sine", 61.7)]


@pytest.mark.parametrize("ratio", [1.0, 1.017, 0.98])
@pytest.mark.parametrize(("wave", "freq"), KICK_BASS)
def test_refine_attack_keeps_a_kick_with_a_bass_note_on_the_kick(
    wave: str, freq: float, ratio: float
) -> None:
    """A kick and a bass note (4 ms attack) starting together, as delivered (a real Rubber
    Band stretch where ratio != 1): where kick and bass crests add up, 4-30 ms on, the 1 ms
    power rises more than at the kick's own start, and the downbeat went there, cutting the
    kick's attack off. It stays within 1 ms of the kick's start."""
    bass = tonal_note(MODEL_RATE, freq, 0.004, wave, seconds=0.5, gain=0.5)  # type: ignore[arg-type]
    take = placed(_together(kick(MODEL_RATE, 0.9), bass), 0.5, 1.2, MODEL_RATE)
    audio = _as_delivered(take, ratio)
    assert _worst_error_ms(audio, 0.5 / ratio * RATE) <= 1.0


def _clap(sample_rate: int, seed: int = 0) -> np.ndarray:
    """A hand clap: three bursts of band-passed noise 9 ms apart, then a 90 ms tail."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(0.3 * sample_rate)) / sample_rate
    band = scipy.signal.butter(2, [900, 5000], "band", fs=sample_rate, output="sos")
    noise = scipy.signal.sosfilt(band, rng.standard_normal(t.size))
    envelope = sum((t >= d) * np.exp(-np.maximum(0.0, t - d) / 0.004) for d in (0.0, 0.009, 0.018))
    envelope = envelope + 0.7 * (t >= 0.025) * np.exp(-np.maximum(0.0, t - 0.025) / 0.09)
    return 0.75 * np.minimum(1.0, t / 0.0005) * envelope * noise


def test_refine_attack_puts_a_clap_near_its_first_burst() -> None:
    """A clap's bursts build up over 18 ms, and its largest 1 ms rise was the last burst: the
    downbeat went 17 ms late. Now never past the second burst (9 ms on), and for most claps
    (noise: it varies) within 2 ms of the first, stretched or not."""
    errors = [
        _worst_error_ms(
            _as_delivered(placed(_clap(MODEL_RATE, seed), 0.5, 1.2, MODEL_RATE), r), 0.5 / r * RATE
        )
        for r in (1.0, 1.017, 0.98)
        for seed in range(8)
    ]
    assert max(errors) <= 10.0
    assert sum(e <= 2.0 for e in errors) >= 2 * len(errors) // 3


def test_refine_attack_does_not_pull_a_legato_note_into_the_one_before() -> None:
    """A bass note taking over from one 6 dB quieter (released over its first 10 ms) rises
    out of no quiet: the low-note rule stays out and the downbeat is not put early, into the
    note before."""
    before = tonal_note(MODEL_RATE, 55.0, 0.015, "saw", seconds=0.6, gain=0.25)
    release = np.clip((0.51 - np.arange(before.size) / MODEL_RATE) / 0.01, 0.0, 1.0)
    take = placed(before * release, 0.0, 1.2, MODEL_RATE)
    take += placed(tonal_note(MODEL_RATE, 41.2, 0.01, "saw"), 0.5, 1.2, MODEL_RATE, -120.0)
    for ratio in (1.0, 1.017, 0.98):
        audio = _as_delivered(take, ratio)
        true = 0.5 / ratio * RATE
        for guess in (-0.02 * RATE, 0.0, 0.02 * RATE):
            assert refine_attack(audio, RATE, round(true + guess)) >= true - 0.002 * RATE


def test_refine_attack_finds_a_low_note_over_a_loud_noise_floor() -> None:
    """A 41 Hz sine over noise only 27 dB (RMS) under it: found where its envelope starts."""
    note = tonal_note(MODEL_RATE, 41.2, 0.015, "sine", gain=0.5)
    audio = _as_delivered(placed(note, 0.5, 1.2, MODEL_RATE, noise_dbfs=-36.0, seed=3), 1.0)
    assert _worst_error_ms(audio, 0.5 * RATE) <= 2.0
