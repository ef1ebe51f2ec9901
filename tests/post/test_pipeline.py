"""The tempo contract end to end on synthesized material of known tempo (issue #3)."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pyloudnorm
import pytest
import scipy.signal

from sidecar.errors import AudioError, RequestError
from sidecar.post.grid import grid_num_samples
from sidecar.post.loudness import reference_loudness
from sidecar.post.pipeline import PostSpec, _decide, process
from sidecar.post.tempo import TempoEstimate

from .synth import (
    Material,
    arpeggio,
    clicks,
    compound,
    drums,
    half_time_trap,
    kick,
    noise,
    offbeat_house,
    onset_times,
)

MODEL_RATE = 32000
OUT_RATE = 48000

# Every source tempo, targets spanning 70-180 BPM: slower, faster, half/double time, equal.
CONTRACT_CASES = [
    (87, 70),
    (87, 120),
    (97, 97),
    (97, 150),
    (123, 110),
    (123, 180),
    (140, 100),
    (140, 142),
    (174, 90),
    (174, 165),
]


def _source(kind: str, src_bpm: float, tgt_bpm: float, bars: int, channels: int) -> Material:
    # Enough source bars for `bars` target bars after the stretch, half/double folding, a
    # two-beat pickup before the first downbeat and the model's ~10 % slack.
    folded = min((src_bpm * f for f in (0.5, 1.0, 2.0)), key=lambda b: abs(math.log(b / tgt_bpm)))
    need = bars * src_bpm / folded * 1.1 + 1.5
    maker = clicks if kind == "clicks" else drums
    return maker(src_bpm, math.ceil(need), MODEL_RATE, channels, pickup_beats=2)


def _true_peak_db(audio: np.ndarray) -> float:
    """Independent of the code under test: 8x polyphase oversampling."""
    up = scipy.signal.resample_poly(audio.astype(np.float64), 8, 1, axis=1)
    return 20 * math.log10(float(np.max(np.abs(up))))


def _lufs(audio: np.ndarray, rate: int) -> float:
    """pyloudnorm's reading as a DAW plays the stem: a mono file on both speakers."""
    played = np.repeat(audio, 2, axis=0) if audio.shape[0] == 1 else audio
    return float(pyloudnorm.Meter(rate).integrated_loudness(played.T.astype(np.float64)))


def _grid_bpm(stem: np.ndarray, rate: int, bpm: float) -> float:
    """Tempo from a least-squares fit of click onsets to the nearest eighth-note grid index."""
    times = onset_times(stem, rate, threshold=0.2)
    eighth = 30.0 / bpm
    index = np.round(times / eighth)
    slope = np.polyfit(index, times, 1)[0]
    return 30.0 / slope


def seam_excess_dbfs(stem: np.ndarray, rate: int, bars: int) -> float:
    """How much the wrap-around step (last sample -> first) exceeds natural steps.

    A looped stem plays sample -1 then sample 0. Audio has its own sample-to-sample steps:
    large for hats and noise, largest at an attack, and every bar line of this material has
    one. The reference is the largest step within 1 ms either side of the seam and of every
    bar line inside the stem; a click is a wrap step larger than all of them. Returns that
    excess in dBFS (-240 when there is none).
    """
    width = rate // 1000
    step = np.abs(stem[:, 0] - stem[:, -1])
    steps = np.abs(np.diff(stem, axis=1))
    bar = stem.shape[1] / bars
    windows = [steps[:, :width], steps[:, -width:]]
    for k in range(1, bars):
        centre = round(k * bar)
        windows.append(steps[:, centre - width : centre + width])
    natural = np.concatenate(windows, axis=1).max(axis=1)
    excess = float(np.max(np.maximum(0.0, step - natural)))
    return 20 * math.log10(excess) if excess > 0 else -240.0


@pytest.mark.parametrize("kind", ["clicks", "drums"])
@pytest.mark.parametrize(("src_bpm", "tgt_bpm"), CONTRACT_CASES)
def test_contract(kind: str, src_bpm: float, tgt_bpm: float) -> None:
    bars = 4
    material = _source(kind, src_bpm, tgt_bpm, bars, channels=2)
    # Targets the material can reach under -1 dBTP: a click track is nearly all peak (-24.7
    # LUFS at -1 dBTP), the drums need up to 4 dB of limiting for -20 LUFS after a stretch.
    target = -26.0 if kind == "clicks" else -20.0
    spec = PostSpec(bpm=tgt_bpm, bars=bars, loop=True, loudness_lufs=target)
    stem, report = process(material.audio, MODEL_RATE, spec)

    # Exactly N bars, to the sample, at the session rate.
    assert stem.shape == (2, grid_num_samples(bars, 4, tgt_bpm, OUT_RATE))
    assert stem.dtype == np.float32
    assert report.decision in ("stretched", "in_tempo")
    assert report.tempo_confidence >= 0.9
    assert report.bars == bars

    # Tempo measured again on the delivered stem: within 0.3 % (report and, for clicks, an
    # independent onset fit).
    assert report.delivered_bpm is not None
    assert abs(report.delivered_bpm / tgt_bpm - 1) < 0.003
    if kind == "clicks":
        assert abs(_grid_bpm(stem, OUT_RATE, tgt_bpm) / tgt_bpm - 1) < 0.003

    # First onset within 5 ms of sample 0, and the start is the attack, not its decay.
    first = onset_times(stem, OUT_RATE)[0]
    assert first <= 0.005
    head = np.abs(stem[:, : OUT_RATE // 100]).max()
    assert head >= 0.5 * np.abs(stem[:, : OUT_RATE // 10]).max()

    # Loop seam: no click.
    assert seam_excess_dbfs(stem, OUT_RATE, bars) < -40.0
    assert report.loop_seam == "overhang_crossfade"

    # Loudness within 0.5 LU of the target, true peak at or under -1 dBTP.
    assert abs(_lufs(stem, OUT_RATE) - target) < 0.5
    assert _true_peak_db(stem) <= -1.0 + 0.05


def test_contract_numbers_for_the_record(capsys: pytest.CaptureFixture[str]) -> None:
    """One table of what the contract cases measure (printed with -s; asserts the worst)."""
    rows = []
    worst = {"tempo_pct": 0.0, "onset_ms": 0.0, "seam_db": -240.0, "lu": 0.0}
    for src_bpm, tgt_bpm in CONTRACT_CASES[::3]:
        material = _source("drums", src_bpm, tgt_bpm, 4, channels=1)
        stem, report = process(
            material.audio, MODEL_RATE, PostSpec(bpm=tgt_bpm, bars=4, loop=True, loudness_lufs=-23)
        )
        assert report.delivered_bpm is not None
        tempo_pct = abs(report.delivered_bpm / tgt_bpm - 1) * 100
        onset_ms = onset_times(stem, OUT_RATE)[0] * 1000
        seam_db = seam_excess_dbfs(stem, OUT_RATE, 4)
        lu = abs(_lufs(stem, OUT_RATE) + 23)
        rows.append(
            f"{src_bpm:>4} -> {tgt_bpm:>4}: tempo {tempo_pct:.3f} %  onset {onset_ms:.2f} ms  "
            f"seam {seam_db:.0f} dBFS  loudness {lu:.2f} LU  ({report.decision})"
        )
        worst = {
            "tempo_pct": max(worst["tempo_pct"], tempo_pct),
            "onset_ms": max(worst["onset_ms"], onset_ms),
            "seam_db": max(worst["seam_db"], seam_db),
            "lu": max(worst["lu"], lu),
        }
    print("\n" + "\n".join(rows))
    assert worst["tempo_pct"] < 0.3
    assert worst["onset_ms"] < 5
    assert worst["seam_db"] < -40
    assert worst["lu"] < 0.5


def test_the_limiter_wraps_around_a_loop_so_the_seam_does_not_click() -> None:
    """A kick on the downbeat over a held bass, limited hard: the gain ducking the kick at
    sample 0 must also lead into it at the loop's end, or the loop jumps in level there."""
    t = np.arange(9 * MODEL_RATE) / MODEL_RATE
    audio = 0.25 * np.sin(2 * np.pi * 55 * t)
    hit = kick(MODEL_RATE, 0.9)
    for beat in range(18):
        at = beat * MODEL_RATE // 2
        audio[at : at + hit.size] += hit[: audio.size - at]
    spec = PostSpec(bpm=120.0, bars=4, loop=True, downbeat_at_start=True, loudness_lufs=-9.0)
    stem, report = process(audio.astype(np.float32)[None], MODEL_RATE, spec)
    assert report.limiter_reduction_db > 3.0
    assert seam_excess_dbfs(stem, OUT_RATE, 4) < -40


def test_a_dc_offset_is_removed_and_does_not_cost_loudness() -> None:
    material = drums(120, 5, MODEL_RATE, 1).audio
    spec = PostSpec(bpm=120.0, bars=4, loudness_lufs=-14.0)
    clean, clean_report = process(0.5 * material, MODEL_RATE, spec)
    offset, report = process(0.5 * material + 0.1, MODEL_RATE, spec)
    assert abs(float(offset.mean())) < 1e-3
    assert report.loudness_lufs == pytest.approx(clean_report.loudness_lufs, abs=0.05)
    assert np.max(np.abs(offset - clean)) < 1e-3


def test_a_long_stem_a_hair_off_tempo_is_stretched_not_left_to_drift() -> None:
    """64 bars 0.028 % fast: 36 ms early by the end if left alone (a long `conform`)."""
    material = clicks(120.0 * 1.00028, bars=65, sample_rate=MODEL_RATE, channels=1)
    stem, report = process(material.audio, MODEL_RATE, PostSpec(bpm=120.0, bars=64))
    assert report.decision == "stretched"
    onsets = onset_times(stem, OUT_RATE, threshold=0.3)
    off_grid = onsets - np.round(onsets / 0.5) * 0.5
    assert onsets.size == 256 and np.max(np.abs(off_grid)) < 0.005


def test_a_mono_take_matched_to_a_stereo_clip_keeps_its_level() -> None:
    """The same loop as a stereo clip (L = R) and as a mono take sounds equally loud in a
    stereo DAW, so matching the one to the other changes nothing (it used to add 3 dB)."""
    mono = 0.25 * _source("drums", 120.0, 120.0, 5, channels=1).audio
    stereo_clip = np.concatenate([mono, mono])
    spec = PostSpec(sample_rate=MODEL_RATE, bpm=120.0, bars=4, downbeat_at_start=True)
    stem, report = process(mono, MODEL_RATE, spec, stereo_clip, MODEL_RATE)
    assert abs(report.gain_db) < 0.1
    assert report.loudness_lufs == pytest.approx(_lufs(stereo_clip, MODEL_RATE), abs=0.1)
    assert _lufs(stem, MODEL_RATE) == pytest.approx(_lufs(stereo_clip, MODEL_RATE), abs=0.1)
    # And a stereo take matched to a mono clip: the clip is heard on both speakers too.
    stem, report = process(stereo_clip, MODEL_RATE, spec, mono, MODEL_RATE)
    assert abs(report.gain_db) < 0.1


def test_limiter_reaches_a_loud_target_under_the_ceiling() -> None:
    material = drums(120, 5, MODEL_RATE, 2)
    stem, report = process(material.audio, MODEL_RATE, PostSpec(bpm=120, bars=4, loudness_lufs=-15))
    assert report.limiter_reduction_db > 1.0
    assert abs(_lufs(stem, OUT_RATE) + 15) < 0.5
    assert _true_peak_db(stem) <= -1.0 + 0.05


def test_unreachable_loudness_stops_at_6_db_of_limiting_and_says_so() -> None:
    material = clicks(120, 5, MODEL_RATE, 1)
    stem, report = process(material.audio, MODEL_RATE, PostSpec(bpm=120, bars=4, loudness_lufs=-8))
    assert report.limiter_reduction_db == pytest.approx(6.0, abs=0.05)
    assert report.loudness_lufs is not None and report.loudness_lufs < -12
    assert report.loudness_target_lufs == -8
    assert _true_peak_db(stem) <= -1.0 + 0.05


def test_hard_cut_loop_clicks_and_crossfade_fixes_it() -> None:
    """The seam metric sees a real click: a sustained bass tone cut at a bar line."""
    t = np.arange(6 * MODEL_RATE) / MODEL_RATE
    bass = (0.4 * np.sin(2 * np.pi * 61.3 * t)).astype(np.float32)[np.newaxis, :]
    hard, _ = process(bass, MODEL_RATE, PostSpec(bpm=120, bars=2, loudness_lufs=-20))
    spec = PostSpec(bpm=120, bars=2, loop=True, loudness_lufs=-20)
    looped, report = process(bass, MODEL_RATE, spec)
    assert seam_excess_dbfs(hard, OUT_RATE, 2) > -30.0
    assert seam_excess_dbfs(looped, OUT_RATE, 2) < -40.0
    assert report.loop_seam == "overhang_crossfade"


def test_a_loop_at_another_tempo_keeps_its_downbeat_attack() -> None:
    """120 BPM drums in a 150 BPM session are left unstretched: the audio past the last bar
    line is then mid-beat, and crossfading it over sample 0 would fade the kick in."""
    material = drums(120, 6, MODEL_RATE, 1).audio
    spec = PostSpec(bpm=150.0, bars=2, downbeat_at_start=True, loudness_lufs=-20.0)
    one_shot, _ = process(material, MODEL_RATE, spec)
    looped, report = process(material, MODEL_RATE, replace(spec, loop=True))
    assert report.decision == "unstretched_far_off"
    assert report.loop_seam != "overhang_crossfade"
    attack = OUT_RATE // 500  # 2 ms
    assert np.max(np.abs(looped[:, :attack])) == pytest.approx(
        np.max(np.abs(one_shot[:, :attack])), rel=0.05
    )


def test_noise_from_a_random_model_is_delivered_exactly_with_low_confidence() -> None:
    for seed, spec in enumerate(
        [
            PostSpec(bpm=120, bars=4),
            PostSpec(bpm=97, bars=2, loop=True, downbeat_at_start=True),
            PostSpec(bpm=174, bars=None, channels=2),
        ]
    ):
        audio = noise(9.0, MODEL_RATE, channels=1, seed=seed)
        stem, report = process(audio, MODEL_RATE, spec)
        assert spec.bpm is not None
        bars = report.bars
        assert bars is not None and bars >= 1
        assert stem.shape[1] == grid_num_samples(bars, 4, spec.bpm, OUT_RATE)
        assert report.tempo_confidence < 0.5
        assert report.decision == "unstretched_low_confidence"
        assert report.stretch_ratio == 1.0
        assert report.downbeat_source == "sample0"
        json.dumps(report.to_dict())  # the report is plain JSON


def test_short_audio_is_padded_and_reported() -> None:
    material = drums(120, 2, MODEL_RATE, 1)
    stem, report = process(material.audio, MODEL_RATE, PostSpec(bpm=120, bars=4))
    assert stem.shape[1] == grid_num_samples(4, 4, 120, OUT_RATE)
    assert report.padded_seconds > 3.0
    assert np.all(stem[:, -OUT_RATE:] == 0)


def test_whole_bars_when_bars_not_given() -> None:
    material = clicks(100, 6, MODEL_RATE, 1, tail_seconds=0.3)
    stem, report = process(material.audio, MODEL_RATE, PostSpec(bpm=100))
    assert report.bars == 6
    assert stem.shape[1] == grid_num_samples(6, 4, 100, OUT_RATE)


def test_far_off_tempo_is_left_alone_and_reported() -> None:
    material = drums(97, 8, MODEL_RATE, 1)
    spec = PostSpec(bpm=120, bars=4, max_stretch_ratio=1.1)
    stem, report = process(material.audio, MODEL_RATE, spec)
    assert report.decision == "unstretched_far_off"
    assert report.stretch_ratio == 1.0
    assert report.source_bpm is not None and abs(report.source_bpm - 97) < 0.1
    assert stem.shape[1] == grid_num_samples(4, 4, 120, OUT_RATE)
    assert onset_times(stem, OUT_RATE)[0] <= 0.005


def test_continuation_trusts_the_bar_line_at_sample_0() -> None:
    # A continuation: bar line at sample 0 but the first hit 12 ms late (model latency), and a
    # louder hit on beat 3 that a tracker alone could take for the downbeat.
    material = drums(118, 6, MODEL_RATE, 2)
    late = np.concatenate([np.zeros((2, 384), np.float32), material.audio], axis=1)
    spec = PostSpec(bpm=120, bars=4, downbeat_at_start=True)
    stem, report = process(late, MODEL_RATE, spec)
    assert report.downbeat_source == "sample0_snapped"
    assert abs(report.grid_start_seconds - 0.012) < 0.004
    assert report.decision == "stretched"
    assert onset_times(stem, OUT_RATE)[0] <= 0.005


def test_half_time_reading_keeps_the_stretch_small() -> None:
    material = drums(87, 10, MODEL_RATE, 1)
    _, report = process(material.audio, MODEL_RATE, PostSpec(bpm=176, bars=4))
    assert report.source_bpm is not None and abs(report.source_bpm - 174) < 0.2
    assert abs(report.stretch_ratio - 176 / 174) < 0.002


def test_loudness_matches_the_reference_clip() -> None:
    material = drums(120, 6, MODEL_RATE, 2)
    reference = 0.3 * drums(120, 2, 44100, 2, seed=5).audio
    reference_lufs = _lufs(reference, 44100)
    stem, report = process(material.audio, MODEL_RATE, PostSpec(bpm=120, bars=2), reference, 44100)
    assert report.loudness_source == "reference"
    assert abs(_lufs(stem, OUT_RATE) - reference_lufs) < 0.5
    # Measured once for a batch of takes and handed in: the same stem, the same report.
    measured = reference_loudness(reference, 44100)
    assert measured is not None and abs(measured - reference_lufs) < 1e-6
    again, report_again = process(
        material.audio, MODEL_RATE, PostSpec(bpm=120, bars=2), reference, 44100, measured
    )
    assert np.array_equal(again, stem)
    timing_free = {k: v for k, v in report.to_dict().items() if not k.startswith("seconds_")}
    assert timing_free == {
        k: v for k, v in report_again.to_dict().items() if not k.startswith("seconds_")
    }


def test_no_tempo_contract_only_converts() -> None:
    audio = noise(3.0, MODEL_RATE, channels=1)
    stem, report = process(audio, MODEL_RATE, PostSpec(channels=2, sample_format="float32"))
    assert stem.shape == (2, 3 * OUT_RATE)
    assert report.decision == "no_tempo_contract"
    assert report.bars is None
    assert abs(_lufs(stem, OUT_RATE) + 14.0) < 0.5


def test_inputs_are_not_modified() -> None:
    audio = drums(120, 3, MODEL_RATE, 1).audio
    before = audio.copy()
    process(audio, MODEL_RATE, PostSpec(bpm=125, bars=2, loop=True))
    assert np.array_equal(audio, before)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sample_rate": 1000}, "sample_rate"),
        ({"channels": 3}, "channels"),
        ({"bpm": 0.0}, "bpm"),
        ({"bpm": float("nan")}, "bpm"),
        ({"bpm": 120.0, "bars": 0}, "bars"),
        ({"bars": 4}, "bars"),
        ({"beats_per_bar": 0}, "beats_per_bar"),
        ({"loudness_lufs": 3.0}, "loudness_lufs"),
        ({"sample_format": "pcm8"}, "sample_format"),
        ({"max_stretch_ratio": 0.5}, "max_stretch_ratio"),
    ],
)
def test_spec_rejects_bad_values_naming_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(RequestError) as info:
        PostSpec(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
    assert field in str(info.value)


def test_bad_audio_is_an_audio_error() -> None:
    with pytest.raises(AudioError, match="NaN"):
        process(np.full((1, 32000), np.nan, np.float32), MODEL_RATE, PostSpec())
    with pytest.raises(AudioError, match="transpose"):
        process(np.zeros((32000, 2), np.float32), MODEL_RATE, PostSpec())
    with pytest.raises(AudioError, match="no samples"):
        process(np.zeros((1, 0), np.float32), MODEL_RATE, PostSpec())


def test_downmix_and_pcm16_output() -> None:
    material = drums(120, 3, MODEL_RATE, 2)
    spec = PostSpec(bpm=120, bars=2, channels=1, sample_format="pcm16", sample_rate=44100)
    stem, report = process(material.audio, MODEL_RATE, spec)
    assert stem.shape == (1, grid_num_samples(2, 4, 120, 44100))
    assert report.channels == 1 and report.sample_rate == 44100
    assert float(np.abs(stem).max()) < 1.0


def test_a_continuation_whose_beat_falls_just_before_sample_0_is_not_padded_with_silence() -> None:
    """A continuation's sample 0 is the bar line; when the model's beat lands 12 ms before it
    there is no audio to move the bar line back to: the stem starts at sample 0, not with
    12 ms of digital silence."""
    material = drums(120, 5, MODEL_RATE, 1).audio
    t = np.arange(material.shape[1]) / MODEL_RATE
    held = (0.05 * np.sin(2 * np.pi * 98.0 * t)).astype(np.float32)
    early = (material + held)[:, round(0.012 * MODEL_RATE) :]
    spec = PostSpec(bpm=120.0, bars=4, downbeat_at_start=True, loudness_lufs=-16.0)
    stem, report = process(early, MODEL_RATE, spec)
    assert report.grid_start_seconds >= 0.0
    assert report.padded_seconds == 0.0
    assert np.all(np.abs(stem[0, :48]) > 0)  # no silence before the held note in the first ms


def _off_grid(seconds: float, origin: float, period: float) -> float:
    """Distance in seconds from `seconds` to the nearest `origin + k * period`."""
    offset = (seconds - origin) % period
    return min(offset, period - offset)


def test_four_on_the_floor_with_an_off_beat_bass_is_cut_on_a_kick() -> None:
    """The audit's case: 126.9 BPM house with a bass on every "and" for a 128 session was cut
    186 ms after a kick (every kick 184 ms off the grid), stretched, confidence 1.0."""
    material = offbeat_house(126.9, 10, MODEL_RATE, 1, bass_gain=0.3, lead_seconds=0.33)
    stem, report = process(material.audio, MODEL_RATE, PostSpec(bpm=128.0, bars=8))
    assert report.decision == "stretched"
    bar = 4 * 60.0 / 126.9
    assert _off_grid(report.grid_start_seconds, material.first_downbeat_seconds, bar) < 0.01
    assert stem.shape[1] == grid_num_samples(8, 4, 128.0, OUT_RATE)


def test_an_arpeggio_is_cut_on_its_bar() -> None:
    material = arpeggio(118.0, 10, MODEL_RATE, 1, lead_seconds=0.2)
    _, report = process(material.audio, MODEL_RATE, PostSpec(bpm=120.0, bars=8))
    assert report.decision == "stretched"
    bar = 4 * 60.0 / 118.0
    assert _off_grid(report.grid_start_seconds, material.first_downbeat_seconds, bar) < 0.01


def test_half_time_trap_is_cut_on_its_bar_and_measured_at_its_tempo() -> None:
    """A trap stem on the grid had its tempo measured again as 186.57 (4/3 of 140) at
    confidence 1.0: the delivered stem is now measured at the target."""
    material = half_time_trap(140.0, 10, MODEL_RATE, 1)
    _, report = process(material.audio, MODEL_RATE, PostSpec(bpm=140.0, bars=8))
    assert report.decision == "in_tempo"
    assert (
        _off_grid(report.grid_start_seconds, material.first_downbeat_seconds, 4 * 60 / 140) < 0.01
    )
    assert report.delivered_bpm is not None and abs(report.delivered_bpm / 140 - 1) < 0.003


@pytest.mark.parametrize(
    ("dotted_bpm", "dotted_per_bar", "beats_per_bar", "bars"), [(80.0, 2, 3, 8), (70.0, 4, 6, 4)]
)
def test_compound_metre_keeps_its_tempo_and_bars(
    dotted_bpm: float, dotted_per_bar: int, beats_per_bar: int, bars: int
) -> None:
    """6/8 at quarter = 120 (sent as 120 BPM, 3 beats) came back stretched by x0.75 (source
    160.03) and the report said so with confidence 1.0: it played at quarter = 90; 12/8 at
    dotted quarter 70 for 105 BPM, 6 beats, by x1.5."""
    material = compound(dotted_bpm, bars + 2, MODEL_RATE, 1, dotted_per_bar=dotted_per_bar)
    spec = PostSpec(bpm=material.bpm, bars=bars, beats_per_bar=beats_per_bar)
    stem, report = process(material.audio, MODEL_RATE, spec)
    assert report.decision == "in_tempo" and report.stretch_ratio == 1.0
    assert report.source_bpm is not None and abs(report.source_bpm / material.bpm - 1) < 0.002
    bar = beats_per_bar * 60.0 / material.bpm
    assert _off_grid(report.grid_start_seconds, material.first_downbeat_seconds, bar) < 0.01
    assert report.delivered_bpm is not None
    assert abs(report.delivered_bpm / material.bpm - 1) < 0.003
    assert stem.shape[1] == grid_num_samples(bars, beats_per_bar, material.bpm, OUT_RATE)


def test_a_stretch_past_5_4_is_refused_when_the_audio_pulses_at_the_session_period() -> None:
    """x1.25 to x1.5 (a compound metre or a pattern read at the wrong level) is only made
    when the audio has no pulse of its own at the session's beat period."""
    spec = PostSpec(bpm=120.0, bars=4)
    pulsing = TempoEstimate(160.0, 80.0, 1.0, 2.0, 0.1, 0.1, reference_evidence=0.9)
    assert _decide(pulsing, spec, 8.0, 12.0) == ("unstretched_far_off", 1.0)
    weak = replace(pulsing, reference_evidence=0.4)
    assert _decide(weak, spec, 8.0, 12.0) == ("stretched", 0.75)
    # Below x1.25 the session period's own pulse does not matter.
    near = replace(pulsing, bpm=130.0)
    assert _decide(near, spec, 8.0, 12.0) == ("stretched", 120.0 / 130.0)


def test_drums_for_a_triple_session_a_third_away_are_still_stretched() -> None:
    material = drums(120, 10, MODEL_RATE, 1)
    _, report = process(material.audio, MODEL_RATE, PostSpec(bpm=90.0, bars=4, beats_per_bar=3))
    assert report.decision == "stretched"
    assert report.stretch_ratio == pytest.approx(0.75, abs=0.002)


def test_delivered_bpm_is_none_below_min_confidence() -> None:
    _, report = process(noise(9.0, MODEL_RATE, seed=3), MODEL_RATE, PostSpec(bpm=120, bars=4))
    assert report.delivered_tempo_confidence < 0.5 and report.delivered_bpm is None
    tiny = drums(120, 1, MODEL_RATE, 1).audio[:, : round(0.7 * MODEL_RATE)]
    _, report = process(tiny, MODEL_RATE, PostSpec(bpm=120, bars=1))
    assert report.delivered_bpm is None


def test_audio_shorter_than_two_bars_is_not_stretched_and_starts_at_sample_0() -> None:
    """1.6 s of a 120 groove (under a bar) was stretched by x1.0133 from a 118.43 reading at
    confidence 0.60, its grid starting on beat 2."""
    material = drums(120, 2, MODEL_RATE, 1)
    short = material.audio[:, : round(1.6 * MODEL_RATE)]
    stem, report = process(short, MODEL_RATE, PostSpec(bpm=120.0, bars=1))
    assert report.decision == "unstretched_low_confidence"
    assert report.stretch_ratio == 1.0
    assert report.downbeat_source == "sample0" and report.grid_start_seconds == 0.0
    assert stem.shape[1] == grid_num_samples(1, 4, 120.0, OUT_RATE)
    assert report.delivered_bpm is None  # one bar is too short to measure either
