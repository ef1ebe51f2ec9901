"""Key estimation on synthesized cadences, key-name parsing, shift arithmetic and transposition."""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pytest

from sidecar.errors import RequestError
from sidecar.post.key import (
    KeyEstimate,
    estimate_key,
    fix_key,
    format_key,
    normalize_key,
    parse_key,
    semitone_offset,
)
from tests.post.synth import clicks, onset_times

SAMPLE_RATE = 22050

# Chords as (root offset from the tonic, quality); voiced around the tonic's octave.
_TRIADS = {"maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6)}
CADENCE_MAJOR = ((0, "maj"), (5, "maj"), (7, "maj"), (0, "maj"))  # I IV V I
CADENCE_MINOR = ((0, "min"), (5, "min"), (7, "maj"), (0, "min"))  # i iv V i
POP_MAJOR = (
    (0, "maj"),
    (7, "maj"),
    (9, "min"),
    (5, "maj"),
    (7, "maj"),
    (0, "maj"),
)  # I V vi IV V I
MINOR_ANDALUSIAN = ((0, "min"), (10, "maj"), (8, "maj"), (7, "maj"), (0, "min"))  # i VII VI V i
MINOR_II_V = ((0, "min"), (2, "dim"), (7, "maj"), (0, "min"))  # i ii° V i


def _tone(freq_hz: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A soft additive-synth note: 6 decaying harmonics, slight detune, attack/release ramps."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    note = np.zeros_like(t)
    for h in range(1, 7):
        f = freq_hz * h * (1 + rng.uniform(-0.001, 0.001))
        if f > SAMPLE_RATE / 2 - 500:
            break
        note += (0.6**h) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    envelope = np.minimum(1.0, t / 0.01) * np.minimum(1.0, (seconds - t) / 0.05) * np.exp(-t / 1.5)
    return note * envelope


def synth_progression(
    tonic_pc: int, chords: tuple[tuple[int, str], ...], chord_seconds: float = 0.6, seed: int = 0
) -> np.ndarray:
    """Triads with the root doubled in the bass, played twice; float32 (1, samples)."""
    rng = np.random.default_rng(seed)
    base_midi = 48 + tonic_pc  # tonic in octave 3 (C3 = 48)
    pieces = []
    for _ in range(2):
        for offset, quality in chords:
            root = base_midi + offset
            if root > 55:
                root -= 12  # keep the voicing in a compact range
            notes = [root + i for i in _TRIADS[quality]] + [root - 12]
            chord = sum(_tone(440.0 * 2 ** ((m - 69) / 12), chord_seconds, rng) for m in notes)
            pieces.append(chord)
    audio = np.concatenate(pieces)
    audio = 0.5 * audio / np.max(np.abs(audio))
    return audio[np.newaxis, :].astype(np.float32)


# (name, tonic pitch class, progression, expected label)
CASES = [
    ("C major I-IV-V-I", 0, CADENCE_MAJOR, "C major"),
    ("G major I-IV-V-I", 7, CADENCE_MAJOR, "G major"),
    ("D major I-V-vi-IV", 2, POP_MAJOR, "D major"),
    ("F# major I-IV-V-I", 6, CADENCE_MAJOR, "F# major"),
    ("Bb major I-V-vi-IV", 10, POP_MAJOR, "Bb major"),
    ("Ab major I-IV-V-I", 8, CADENCE_MAJOR, "Ab major"),
    ("E major I-V-vi-IV", 4, POP_MAJOR, "E major"),
    ("A minor i-iv-V-i", 9, CADENCE_MINOR, "A minor"),
    ("Eb minor i-iv-V-i", 3, CADENCE_MINOR, "Eb minor"),
    ("E minor i-VII-VI-V", 4, MINOR_ANDALUSIAN, "E minor"),
    ("C# minor i-iv-V-i", 1, CADENCE_MINOR, "C# minor"),
    ("F minor i-ii°-V-i", 5, MINOR_II_V, "F minor"),
    ("B minor i-VII-VI-V", 11, MINOR_ANDALUSIAN, "B minor"),
    ("G minor i-iv-V-i", 7, CADENCE_MINOR, "G minor"),
]


def _relation(found: tuple[int, str], expected: tuple[int, str]) -> str:
    if found == expected:
        return "exact"
    if found[1] != expected[1] and semitone_offset(found, expected) == 0:
        return "relative"
    if found[0] == expected[0]:
        return "parallel"
    return "wrong"


def test_estimate_key_on_synthesized_progressions() -> None:
    tally: Counter[str] = Counter()
    lines = []
    for i, (name, tonic_pc, chords, expected) in enumerate(CASES):
        estimate = estimate_key(synth_progression(tonic_pc, chords, seed=i), SAMPLE_RATE)
        relation = _relation((estimate.pitch_class, estimate.mode), parse_key(expected))
        tally[relation] += 1
        lines.append(
            f"  {name:22s} → {estimate.label:9s} ({relation}, r={estimate.correlation:.2f}, "
            f"conf={estimate.confidence:.2f}, runner-up {estimate.runner_up})"
        )
    print("\nkey estimation on synthesized progressions:")
    print("\n".join(lines))
    print(
        f"  summary over {len(CASES)}: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.items()))
    )
    # Exact-or-relative for all, exact for at least 12 of 14 (currently 14 of 14).
    assert tally["exact"] + tally["relative"] == len(CASES)
    assert tally["exact"] >= len(CASES) - 2


# Loops with no leading tone or only two chords: key-ambiguous by nature. Reported, and checked
# for keeping the key signature (what a transposition needs), not for the exact key.
AEOLIAN_LOOPS = [
    ("i-VII-VI-VII", ((0, "min"), (10, "maj"), (8, "maj"), (10, "maj"))),
    ("i-iv-VII-i", ((0, "min"), (5, "min"), (10, "maj"), (0, "min"))),
    ("i-VI-III-VII", ((0, "min"), (8, "maj"), (3, "maj"), (10, "maj"))),
]


def test_estimate_key_keeps_the_signature_on_aeolian_loops() -> None:
    tally: Counter[str] = Counter()
    misses = []
    for i, (name, chords) in enumerate(AEOLIAN_LOOPS):
        for tonic_pc in (0, 2, 4, 7, 9, 11):
            audio = synth_progression(tonic_pc, chords, seed=100 + 12 * i + tonic_pc)
            estimate = estimate_key(audio, SAMPLE_RATE)
            relation = _relation((estimate.pitch_class, estimate.mode), (tonic_pc, "minor"))
            tally[relation] += 1
            if relation not in ("exact", "relative"):
                misses.append(f"{format_key(tonic_pc, 'minor')} {name} → {estimate.label}")
    total = sum(tally.values())
    print(
        f"\naeolian loops over {total}: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.items()))
    )
    print("  misses: " + ("; ".join(misses) or "none"))
    assert tally["exact"] + tally["relative"] >= total - 3


def test_estimate_key_fields_and_scores() -> None:
    estimate = estimate_key(synth_progression(6, CADENCE_MAJOR), SAMPLE_RATE)
    assert isinstance(estimate, KeyEstimate)
    assert (estimate.tonic, estimate.mode, estimate.pitch_class) == ("F#", "major", 6)
    assert estimate.label == "F# major"
    assert len(estimate.scores) == 24
    assert estimate.correlation == pytest.approx(max(estimate.scores), abs=1e-3)
    assert 0.5 < estimate.confidence <= 1.0


def test_estimate_key_accepts_stereo_and_other_sample_rates() -> None:
    mono = synth_progression(3, CADENCE_MINOR)[0]
    import librosa

    at_48k = librosa.resample(mono, orig_sr=SAMPLE_RATE, target_sr=48000).astype(np.float32)
    stereo = np.stack([at_48k, 0.5 * at_48k])
    assert estimate_key(stereo, 48000).label == "Eb minor"
    assert estimate_key(mono, SAMPLE_RATE).label == "Eb minor"  # 1-D is mono


def test_estimate_key_on_silence_and_noise_has_low_confidence() -> None:
    silence = np.zeros((2, SAMPLE_RATE * 2), dtype=np.float32)
    assert estimate_key(silence, SAMPLE_RATE).confidence == 0.0
    noise = np.random.default_rng(1).standard_normal((1, SAMPLE_RATE * 3)).astype(np.float32) * 0.1
    assert estimate_key(noise, SAMPLE_RATE).confidence < 0.2


@pytest.mark.parametrize("chord_seconds", [0.25, 0.15])
def test_estimate_key_on_short_clips_is_exact_and_quiet(chord_seconds: float) -> None:
    """2 s and 1.2 s clips (a take of a bar or two): the constant-Q bass octaves are longer
    than the clip, which is analysed padded with silence instead of librosa's reflection
    (which warned "n_fft ... too large" 11 and 23 times over these cases)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _, tonic_pc, chords, expected in CASES:
            audio = synth_progression(tonic_pc, chords, chord_seconds=chord_seconds)
            assert estimate_key(audio, SAMPLE_RATE).label == expected
    assert not [w for w in caught if "too large" in str(w.message)]


def test_estimate_key_rejects_too_short_audio() -> None:
    with pytest.raises(ValueError, match=r"at least 0\.5 s"):
        estimate_key(np.zeros((1, 1000), dtype=np.float32), SAMPLE_RATE)


# ----------------------------------------------------------------------------- parse_key


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("C major", (0, "major")),
        ("A minor", (9, "minor")),
        ("F#m", (6, "minor")),
        ("Eb minor", (3, "minor")),
        ("E♭ minor", (3, "minor")),
        ("Bbmaj", (10, "major")),
        ("G", (7, "major")),
        ("c# min", (1, "minor")),
        ("Db Major", (1, "major")),
        ("A aeolian", (9, "minor")),
        ("F♯ MINOR", (6, "minor")),
        ("Cb major", (11, "major")),
        ("B#m", (0, "minor")),
        ("  D-minor ", (2, "minor")),
        ("DM", (2, "major")),
        ("E flat minor", (3, "minor")),
    ],
)
def test_parse_key_accepts_common_spellings(text: str, expected: tuple[int, str]) -> None:
    assert parse_key(text) == expected


@pytest.mark.parametrize("text", ["", "H major", "C lydian", "minor", "C major minor", "X#m"])
def test_parse_key_rejects_with_field_key(text: str) -> None:
    with pytest.raises(RequestError) as info:
        parse_key(text)
    assert info.value.field == "key"
    assert repr(text) in str(info.value)
    assert "allowed" in str(info.value)


def test_parse_key_rejects_non_strings() -> None:
    with pytest.raises(RequestError, match="is a int"):
        parse_key(5)  # type: ignore[arg-type]


def test_format_and_normalize_key_use_the_usual_spelling() -> None:
    assert format_key(3, "minor") == "Eb minor"
    assert format_key(6, "major") == "F# major"
    assert format_key(8, "major") == "Ab major"
    assert format_key(8, "minor") == "G# minor"
    assert normalize_key("ebm") == "Eb minor"
    assert normalize_key("A#maj") == "Bb major"
    with pytest.raises(ValueError, match="mode"):
        format_key(0, "dorian")


# ----------------------------------------------------------------------------- semitone_offset


@pytest.mark.parametrize(
    ("estimated", "target", "shift"),
    [
        ("C major", "C major", 0),
        ("A minor", "C major", 0),  # relative: same signature
        ("C major", "A minor", 0),
        ("C major", "D major", 2),
        ("D major", "C major", -2),
        ("C major", "B major", -1),
        ("B major", "C major", 1),
        ("C major", "F# major", -6),  # a tritone: down
        ("C major", "F major", 5),
        ("C major", "G major", -5),
        ("A minor", "A major", -3),  # parallel: to the relative minor of A major (F# minor)
        ("A minor", "C minor", 3),
        ("F#m", "Eb minor", -3),
        ((9, "minor"), (0, "major"), 0),
    ],
)
def test_semitone_offset(estimated: object, target: object, shift: int) -> None:
    assert semitone_offset(estimated, target) == shift  # type: ignore[arg-type]


def test_semitone_offset_is_always_within_a_tritone() -> None:
    for a in range(24):
        for b in range(24):
            ka = (a % 12, "major" if a < 12 else "minor")
            kb = (b % 12, "major" if b < 12 else "minor")
            shift = semitone_offset(ka, kb)
            assert -6 <= shift <= 5
            # shifting `a` by `shift` lands on `b` or its relative
            moved = ((ka[0] + shift) % 12, ka[1])
            assert semitone_offset(moved, kb) == 0


def test_semitone_offset_takes_an_estimate() -> None:
    estimate = estimate_key(synth_progression(9, CADENCE_MINOR), SAMPLE_RATE)
    assert semitone_offset(estimate, "C major") == 0
    assert semitone_offset(estimate, "B minor") == 2


# ----------------------------------------------------------------------------- fix_key


@pytest.mark.parametrize(
    ("tonic_pc", "chords", "target"),
    [
        (0, CADENCE_MAJOR, "D major"),
        (9, CADENCE_MINOR, "F# minor"),
        (4, POP_MAJOR, "Eb major"),
        (3, CADENCE_MINOR, "E minor"),
    ],
)
def test_fix_key_moves_the_estimated_key(tonic_pc: int, chords: tuple, target: str) -> None:
    audio = np.repeat(synth_progression(tonic_pc, chords), 2, axis=0)  # stereo
    before = estimate_key(audio, SAMPLE_RATE)
    shift = semitone_offset(before, target)
    assert shift != 0
    fixed = fix_key(audio, SAMPLE_RATE, shift)
    assert fixed.shape == audio.shape
    assert fixed.dtype == np.float32
    after = estimate_key(fixed, SAMPLE_RATE)
    assert after.label == normalize_key(target), (before.label, shift, after.label)
    assert semitone_offset(after, target) == 0


@pytest.mark.parametrize("semitones", [1, 2, -2])
def test_fix_key_keeps_every_beat_on_the_grid(semitones: int) -> None:
    """The transposed stem keeps the tempo: over 32 bars of clicks the beats do not drift.

    (Rubber Band's R3 engine ran at a slightly wrong rate: 20 ms off after 16 s.) R2 puts
    the beats after the first a few ms off (about 2.6 ms per semitone), the same all along.
    """
    rate = 48000
    metronome = clicks(120.0, bars=32, sample_rate=rate, tail_seconds=0.0).audio
    before = onset_times(metronome, rate, threshold=0.3)
    after = onset_times(fix_key(metronome, rate, semitones), rate, threshold=0.3)
    assert before.size == after.size == 128
    offsets = after - before
    assert abs(offsets[0]) < 0.0005
    assert np.max(np.abs(offsets)) < 0.007
    # The same offsets in the first and the last 8 bars: no drift.
    assert abs(np.mean(offsets[96:]) - np.mean(offsets[1:32])) < 0.001


def test_fix_key_zero_is_a_copy_and_input_is_untouched() -> None:
    audio = synth_progression(0, CADENCE_MAJOR)
    original = audio.copy()
    same = fix_key(audio, SAMPLE_RATE, 0)
    assert same is not audio
    np.testing.assert_array_equal(same, audio)
    fix_key(audio, SAMPLE_RATE, 3)
    np.testing.assert_array_equal(audio, original)


@pytest.mark.parametrize("semitones", [13, -13, 1.5, True])
def test_fix_key_rejects_bad_shifts(semitones: object) -> None:
    with pytest.raises(ValueError, match="semitones"):
        fix_key(np.zeros((1, SAMPLE_RATE), dtype=np.float32), SAMPLE_RATE, semitones)  # type: ignore[arg-type]


def test_a_loop_is_transposed_as_a_loop_and_keeps_its_seam() -> None:
    """A seamless loop (every partial completes whole cycles in it) a semitone off: transposed
    as a one-shot its wrap jumps (a click each time it repeats); as a loop it does not."""
    rate, seconds = 48000, 8.0
    t = np.arange(round(rate * seconds)) / rate
    whole = [round(f * seconds) / seconds for f in (116.54, 233.08, 277.18, 349.23)]
    pulse = 0.7 + 0.3 * np.cos(4 * np.pi * t)
    chord = sum(0.2 * np.sin(2 * np.pi * f * t) for f in whole) * pulse
    loop = np.asarray(chord, dtype=np.float32)[np.newaxis, :]

    def wrap_jump(audio: np.ndarray) -> float:
        return float(abs(audio[0, 0] - audio[0, -1]))

    def largest_step(audio: np.ndarray) -> float:
        return float(np.max(np.abs(np.diff(audio[0]))))

    assert wrap_jump(loop) <= largest_step(loop)
    one_shot = fix_key(loop, rate, -1)
    looped = fix_key(loop, rate, -1, loop=True)
    assert wrap_jump(one_shot) > 2 * largest_step(one_shot)
    assert wrap_jump(looped) <= largest_step(looped)
    assert looped.shape == loop.shape
    assert estimate_key(looped, rate).label == "A minor"
    # Inside, it is as loud either way (the phase vocoder's phases differ with what came
    # before, so the waveforms do not match sample for sample).
    levels = [float(np.sqrt(np.mean(np.square(a[0, rate:-rate])))) for a in (looped, one_shot)]
    assert abs(20 * np.log10(levels[0] / levels[1])) < 0.5
