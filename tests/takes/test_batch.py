"""Take making: the key check that reports and fixes a take's key, and batches of takes."""

from __future__ import annotations

import numpy as np
import pytest

from sidecar.cli.examples import drum_loop
from sidecar.engine.base import Engine, EngineInfo, GenerationSpec, ProgressCallback
from sidecar.engine.musicgen import MusicgenEngine
from sidecar.musical.presets import Preset
from sidecar.osc.schema import GenerateRequest
from sidecar.post.key import estimate_key
from sidecar.post.loudness import integrated_loudness, true_peak_dbtp
from sidecar.post.pipeline import PostSpec, process
from sidecar.post.prompt import prepare_prompt
from sidecar.post.resample import resample
from sidecar.takes.batch import TakeMaker
from sidecar.takes.finish import finish_take
from sidecar.takes.parallel import TakePool
from sidecar.takes.windows import plan_windows
from tests.post.test_key import CADENCE_MAJOR, SAMPLE_RATE, synth_progression


@pytest.mark.parametrize(("fix", "expected_shift"), [(False, 0), (True, -1)])
def test_a_take_a_semitone_off_the_session_key_is_fixed_when_asked(
    fix: bool, expected_shift: int
) -> None:
    c_sharp = np.repeat(synth_progression(1, CADENCE_MAJOR), 2, axis=0)  # C# major, stereo
    request = GenerateRequest(request_id="k", key="C major", fix_key=fix, sample_rate=SAMPLE_RATE)
    take = finish_take(request, c_sharp, [{"bars": 4}], 0, None, None)
    assert take.report["key_shift_semitones"] == expected_shift
    assert take.report["key"] == "Db major"  # what the model made (C# major), before any fix
    assert take.audio.shape == c_sharp.shape
    assert estimate_key(take.audio, SAMPLE_RATE).label == ("C major" if fix else "Db major")


@pytest.mark.parametrize("channels", [1, 2])
def test_a_fixed_key_keeps_the_stems_loudness_and_ceiling(channels: int) -> None:
    """Transposing moves the peaks: the stem is levelled again to its target, under -1 dBTP
    (a mono stem as it plays, on both speakers)."""
    c_sharp = np.repeat(synth_progression(1, CADENCE_MAJOR), channels, axis=0)
    spec = PostSpec(sample_rate=SAMPLE_RATE, loudness_lufs=-9.0, sample_format="pcm24")
    delivered, post_report = process(c_sharp, SAMPLE_RATE, spec)
    request = GenerateRequest(request_id="k", key="C major", fix_key=True, sample_rate=SAMPLE_RATE)
    take = finish_take(request, delivered, [post_report.to_dict()], 0, None, None)
    assert take.report["key_shift_semitones"] == -1
    loudness = integrated_loudness(np.repeat(take.audio, 3 - channels, axis=0), SAMPLE_RATE)
    peak = true_peak_dbtp(take.audio, SAMPLE_RATE)
    assert loudness is not None and peak is not None
    assert abs(loudness - -9.0) <= 0.1
    assert peak <= -1.0 + 1e-6
    assert take.report["loudness_lufs"] == pytest.approx(loudness, abs=0.01)
    assert take.report["true_peak_dbtp"] == pytest.approx(peak, abs=0.01)


def test_takes_post_processed_side_by_side_equal_takes_done_one_by_one() -> None:
    engine = MusicgenEngine.load("tiny", "cpu")
    info = engine.info
    clip = drum_loop(120.0, 2, sample_rate=48000)
    prompt = prepare_prompt(clip, 48000, info.sample_rate, info.channels)
    request = GenerateRequest(
        request_id="p", mode="continue", clip="loop.wav", bars=1, bpm=120.0, variations=3
    )
    made = {}
    for workers in (1, 3):
        maker = TakeMaker(engine, TakePool(workers))
        try:
            decoded = maker.decode(
                request, None, prompt, clip, 48000, 7, lambda _: None, lambda: None
            )
            made[workers] = decoded.finish(maker.pool, lambda: None)
        finally:
            maker.pool.close()
    assert len(made[3]) == 3
    for serial, parallel in zip(made[1], made[3], strict=True):
        assert np.array_equal(serial.audio, parallel.audio)
        assert serial.audio.shape[-1] == 48000 * 2  # one bar at 120 BPM
        timing_free = {k: v for k, v in serial.report.items() if not k.startswith("seconds_")}
        assert timing_free == {
            k: v for k, v in parallel.report.items() if not k.startswith("seconds_")
        }
        # Measured once for the batch (while the model decodes), reported on each take.
        assert parallel.report["clip_key"] == estimate_key(clip, 48000).label


class _TonalEngine(Engine):
    """Stands in for a model that plays in C# major (the tiny model only makes noise)."""

    def __init__(self) -> None:
        tonal = synth_progression(1, CADENCE_MAJOR)
        self._take = resample(np.repeat(tonal, 2, axis=0), SAMPLE_RATE, 32000)

    @property
    def info(self) -> EngineInfo:
        return EngineInfo("tonal", "cpu", "float32", 32000, 2, 50, 30.0, False, True)

    def generate(
        self, spec: GenerationSpec, progress: ProgressCallback | None = None
    ) -> np.ndarray:
        samples = round(spec.duration_seconds * 32000)
        take = np.tile(self._take, (1, samples // self._take.shape[-1] + 1))[:, :samples]
        return np.stack([take] * spec.variations).astype(np.float32)


def test_each_takes_key_is_found_beside_its_post_processing_and_fixed() -> None:
    request = GenerateRequest(
        request_id="k2", seconds=4.0, key="C major", fix_key=True, variations=2
    )
    maker = TakeMaker(_TonalEngine(), TakePool(2))
    try:
        decoded = maker.decode(request, None, None, None, None, 3, lambda _: None, lambda: None)
        takes = decoded.finish(maker.pool, lambda: None)
    finally:
        maker.pool.close()
    for take in takes:
        assert take.report["key"] == "Db major"  # what the model played
        assert take.report["key_shift_semitones"] == -1
        assert estimate_key(take.audio, 48000).label == "C major"  # what was delivered


@pytest.mark.parametrize(("bpm", "beats_per_bar"), [(120.0, 4), (100.0, 3), (200.0, 4)])
def test_a_long_clip_is_cut_to_fit_the_window_exactly(bpm: float, beats_per_bar: int) -> None:
    """4 bars after a 25 s clip: the clip is cut to leave room for the bars plus slack, and
    float error in that slack (9.3 s × 50 frames/s = 465.00000000000006) must not make the
    continuation a frame too long for the 30 s window."""
    engine = MusicgenEngine.load("tiny", "cpu")
    request = GenerateRequest(
        request_id="long-clip",
        mode="continue",
        clip="clip.wav",
        bars=4,
        bpm=bpm,
        beats_per_bar=beats_per_bar,
        temperature=0.0,
        guidance=1.0,
    )
    clip = (0.1 * np.random.default_rng(0).standard_normal((1, 25 * 32000))).astype(np.float32)
    maker = TakeMaker(engine, TakePool(1))
    try:
        decoded = maker.decode(request, None, clip, None, None, 1, lambda _: None, lambda: None)
    finally:
        maker.pool.close()
    seconds = 4 * beats_per_bar * 60.0 / bpm
    assert decoded.raws[0].shape[-1] >= round(seconds * 32000)


def test_a_melody_model_refuses_a_take_past_one_window_before_decoding() -> None:
    from sidecar.errors import RequestError

    engine = MusicgenEngine.load("tiny-melody", "cpu")
    request = GenerateRequest(request_id="m", prompt="x", seconds=50.0)
    fractions: list[float] = []
    maker = TakeMaker(engine, TakePool(1))
    try:
        with pytest.raises(RequestError, match="melody model 'tiny-melody' cannot continue"):
            maker.decode(request, None, None, None, None, 1, fractions.append, lambda: None)
    finally:
        maker.pool.close()
    assert fractions == []  # refused before any decoding


class _LastBeatEngine(Engine):
    """Plays one noise burst on the last beat of a 120 BPM bar (a tail-less one-shot)."""

    @property
    def info(self) -> EngineInfo:
        return EngineInfo("last-beat", "cpu", "float32", 32000, 1, 50, 30.0, False, True)

    def generate(
        self, spec: GenerationSpec, progress: ProgressCallback | None = None
    ) -> np.ndarray:
        take = np.zeros((1, round(spec.duration_seconds * 32000)), np.float32)
        burst = np.random.default_rng(5).standard_normal(12000).astype(np.float32)
        take[0, 48000 : 48000 + burst.size] = 0.3 * burst * np.hanning(burst.size)
        return np.stack([take] * spec.variations)


def _loop_with(effects: list[dict[str, object]]) -> np.ndarray:
    preset = Preset.from_dict("echo", {"description": "d", "prompt": "p", "effects": effects})
    request = GenerateRequest(request_id="fx", bars=1, bpm=120.0, loop=True, sample_rate=48000)
    maker = TakeMaker(_LastBeatEngine(), TakePool(1))
    try:
        decoded = maker.decode(request, preset, None, None, None, 1, lambda _: None, lambda: None)
        (take,) = decoded.finish(maker.pool, lambda: None)
    finally:
        maker.pool.close()
    assert take.audio.shape == (1, 96000)  # one bar at 120 BPM
    return take.audio[0]


def test_a_loop_presets_echo_of_its_last_beat_rings_into_its_first() -> None:
    """Effects on a loop are run as the DAW will play it (as a loop, after the tempo contract),
    so a tail from the end wraps to the start instead of being cut at the last bar line."""
    dry = _loop_with([{"type": "gain", "gain_db": 0.0}])
    echo = _loop_with([{"type": "delay", "delay_beats": 1.0, "feedback": 0.0, "mix": 1.0}])
    beat = 24000

    def level(audio: np.ndarray) -> float:
        return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))

    assert level(dry[3 * beat :]) > 100 * level(dry[:beat])  # the burst is on beat 4
    # The one-beat echo of beat 4 lands on beat 1 of the next cycle, i.e. the loop's start.
    assert level(echo[:beat]) > 100 * level(echo[beat:])
    first, last = echo[:beat], dry[3 * beat :]
    correlation = float(first @ last) / (np.linalg.norm(first) * np.linalg.norm(last))
    assert correlation > 0.95


class _SongEngine(Engine):
    """One long piece (a held note growing louder, a click on every beat at 80 BPM), continued
    window by window exactly where the last one ended; later windows' beats `early_seconds`
    early. Any gap, skip or gain step at a join is the pipeline's doing."""

    BPM = 80.0

    def __init__(self, window_seconds: list[float], early_seconds: float) -> None:
        self._starts = np.concatenate([[0.0], np.cumsum(window_seconds)])
        self._early = early_seconds
        self.calls = 0

    @property
    def info(self) -> EngineInfo:
        return EngineInfo("song", "cpu", "float32", 32000, 1, 50, 30.0, False, True)

    def generate(
        self, spec: GenerationSpec, progress: ProgressCallback | None = None
    ) -> np.ndarray:
        start, shift = self._starts[self.calls], self._early if self.calls else 0.0
        self.calls += 1
        t = start + np.arange(round(spec.duration_seconds * 32000)) / 32000
        note = (0.05 + 0.01 * t) * np.sin(2 * np.pi * 110 * t)
        since = (t - start + shift) % (60.0 / self.BPM)
        click = np.where(since < 0.03, 0.5 * np.exp(-since / 0.004), 0.0)
        click *= np.sin(2 * np.pi * 1800 * since)
        return np.stack([[note + click]] * spec.variations).astype(np.float32)


@pytest.mark.parametrize("early_ms", [5.0, 20.0])
def test_windows_join_without_a_gap_or_a_gain_step(early_ms: float) -> None:
    """12 bars at 80 BPM take three windows. A window whose beats come a little early must not
    be padded with silence to put its beat on the bar line, and the take has one gain, so the
    note growing louder across the joins keeps growing (each window was levelled on its own)."""
    request = GenerateRequest(request_id="w", prompt="x", bpm=80.0, bars=12, loudness=-14.0)
    plan = plan_windows(request.duration_seconds, 80.0, 4, 30.0, False, 12)
    assert len(plan) == 3
    engine = _SongEngine([seconds for seconds, _ in plan], early_ms / 1000)
    maker = TakeMaker(engine, TakePool(1))
    try:
        decoded = maker.decode(request, None, None, None, None, 1, lambda _: None, lambda: None)
        (take,) = decoded.finish(maker.pool, lambda: None)
    finally:
        maker.pool.close()
    audio = take.audio[0].astype(np.float64)
    assert audio.size == 12 * 3 * 48000  # 12 bars of 3 s
    bar = 3 * 48000
    joins = np.cumsum([bars or 0 for _, bars in plan])[:-1] * bar
    note_only = 0.1 * 48000  # clear of the clicks: 100 ms into a beat
    for join in joins:
        around = np.abs(audio[join - 2400 : join + 2400])
        assert int(np.sum(around < 1e-5)) <= 4, "silence inserted at the join"
        # The held note's level just before and after the join (between clicks).
        before = np.sqrt(np.mean(audio[join - 24000 + int(note_only) : join - 2400] ** 2))
        after = np.sqrt(np.mean(audio[join + int(note_only) : join + 24000 - 2400] ** 2))
        assert abs(20 * np.log10(after / before)) < 0.5
    assert take.report["loudness_lufs"] == pytest.approx(-14.0, abs=0.1)
    assert integrated_loudness(take.audio, 48000) == pytest.approx(-14.0 - 3.01, abs=0.1)


class _DrumsAndPadEngine(Engine):
    """A stem set played at 117 BPM: clicks for the drums, a slow-attack pad whose chord
    changes on every bar line (no transient a beat tracker could follow)."""

    BPM = 117.0

    @property
    def info(self) -> EngineInfo:
        return EngineInfo("drums-pad", "cpu", "float32", 32000, 1, 50, 30.0, False, True)

    def generate(
        self, spec: GenerationSpec, progress: ProgressCallback | None = None
    ) -> np.ndarray:
        t = np.arange(round(spec.duration_seconds * 32000)) / 32000
        since_beat = t % (60.0 / self.BPM)
        drums = np.where(since_beat < 0.03, 0.6 * np.exp(-since_beat / 0.004), 0.0)
        drums *= np.sin(2 * np.pi * 1800 * since_beat)
        bar = 4 * 60.0 / self.BPM
        since_bar = t % bar
        chord = np.where((t // bar) % 2 == 0, 220.0, 261.63)
        pad = 0.3 * np.minimum(1.0, since_bar / 0.3) * np.sin(2 * np.pi * chord * t)
        assert spec.prompts is not None and len(spec.prompts) == 2
        return np.stack([[drums], [pad]]).astype(np.float32)


def test_a_stem_set_part_too_even_to_measure_follows_its_drums() -> None:
    """Drums are measured at 117 BPM and stretched to 120; the pad alone has no beat to find.
    It takes the drums' tempo and downbeat, so the parts stay together (left at its own tempo
    it drifted 50 ms a bar against them)."""
    request = GenerateRequest(request_id="set", prompt="x", bpm=120.0, bars=8, stems="drums,pads")
    maker = TakeMaker(_DrumsAndPadEngine(), TakePool(2))
    try:
        decoded = maker.decode(request, None, None, None, None, 1, lambda _: None, lambda: None)
        drums, pad = decoded.finish(maker.pool, lambda: None)
    finally:
        maker.pool.close()
    assert (drums.part, pad.part) == ("drums", "pads")
    assert drums.report["decision"] == pad.report["decision"] == "stretched"
    assert drums.report["tempo_source"] == "own"
    assert pad.report["tempo_source"] == "part drums"
    assert pad.report["stretch_ratio"] == drums.report["stretch_ratio"]
    assert pad.report["stretch_ratio"] == pytest.approx(120.0 / 117.0, abs=0.002)
    start_gap = pad.report["grid_start_seconds"] - drums.report["grid_start_seconds"]
    assert abs(start_gap) < 0.002
    assert drums.audio.shape == pad.audio.shape == (1, 8 * 2 * 48000)


def test_a_loop_longer_than_one_window_is_made_with_a_seamless_seam() -> None:
    """12 bars at 80 BPM (36 s) loop: three windows joined, and what followed the last bar
    line of the last one is crossfaded into the start, so the loop wraps without a click."""
    request = GenerateRequest(
        request_id="long-loop", prompt="x", bpm=80.0, bars=12, loop=True, loudness=-14.0
    )
    plan = plan_windows(request.duration_seconds, 80.0, 4, 30.0, False, 12)
    assert len(plan) == 3
    engine = _SongEngine([seconds for seconds, _ in plan], 0.0)
    maker = TakeMaker(engine, TakePool(1))
    try:
        decoded = maker.decode(request, None, None, None, None, 1, lambda _: None, lambda: None)
        (take,) = decoded.finish(maker.pool, lambda: None)
    finally:
        maker.pool.close()
    audio = take.audio[0].astype(np.float64)
    assert audio.size == 12 * 3 * 48000
    assert take.report["loop_seam"] == "overhang_crossfade"
    assert take.report["windows"] == 3
    # The wrap (last sample into sample 0) steps like any bar line inside the take, where the
    # held note runs on into a downbeat click.
    inside = [abs(audio[j] - audio[j - 1]) for j in (6 * 144000, 7 * 144000)]
    assert abs(audio[0] - audio[-1]) <= 1.5 * max(inside) + 1e-3
    assert take.report["loudness_lufs"] == pytest.approx(-14.0, abs=0.1)
