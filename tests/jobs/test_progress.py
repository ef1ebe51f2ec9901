"""Progress across windows: each window's share follows its decoding work, so the ETA holds."""

from __future__ import annotations

import itertools
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from sidecar.cli.examples import drum_loop
from sidecar.engine.base import Engine, EngineInfo, GenerationSpec, ProgressCallback
from sidecar.jobs import runner as job_runner
from sidecar.jobs.queue import Job
from sidecar.osc.schema import GenerateRequest, Stem
from sidecar.output.delivery import Delivery
from sidecar.takes.batch import TakeMaker
from sidecar.takes.parallel import TakePool
from sidecar.takes.windows import plan_windows, progress_shares, window_works

BPM = 80.0
RATE = 32000
FRAME_RATE = 50
#: 16 bars at 80 BPM: windows of 5 + 5 + 5 + 1 bars (15, 15, 15 and 3 s).
REQUEST = GenerateRequest(request_id="long", prompt="drums", bars=16, bpm=BPM, seed=3)


class _Clock:
    """Simulated seconds: the engine spends them, the worker's progress clock reads them."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def now(self) -> float:
        return self.seconds


class _TimedEngine(Engine):
    """A model on a simulated clock: one step per frame (plus the delay pattern's three), the
    codec encoding the prompt before the first step and decoding the window (prompt included)
    after the last one, at `encode` and `decode` seconds of steps per second of audio. It plays
    a drum loop at 80 BPM, so every window goes through the tempo contract."""

    def __init__(
        self, clock: _Clock, step_seconds: float = 0.01, encode: float = 0.1, decode: float = 0.15
    ) -> None:
        self.clock, self.step_seconds = clock, step_seconds
        self.encode, self.decode = encode, decode
        self._loop = drum_loop(BPM, 1, sample_rate=RATE)
        #: Each call's index into the fractions reported so far, with its seconds generated.
        self.calls: list[tuple[int, float]] = []
        self.fractions: list[float] | None = None

    @property
    def info(self) -> EngineInfo:
        return EngineInfo("timed", "cpu", "float32", RATE, 1, FRAME_RATE, 30.0, False, True)

    def generate(
        self, spec: GenerationSpec, progress: ProgressCallback | None = None
    ) -> np.ndarray:
        if self.fractions is not None:
            self.calls.append((len(self.fractions), spec.duration_seconds))
        audio_second = FRAME_RATE * self.step_seconds  # what one second of steps costs
        prompt = 0.0 if spec.audio_prompt is None else spec.audio_prompt.shape[-1] / RATE
        self.clock.seconds += self.encode * prompt * audio_second
        steps = round(spec.duration_seconds * FRAME_RATE) + 3
        for step in range(1, steps + 1):
            self.clock.seconds += self.step_seconds
            if progress is not None:
                progress(step, steps)
        self.clock.seconds += self.decode * (prompt + spec.duration_seconds) * audio_second
        samples = round(spec.duration_seconds * RATE)
        take = np.tile(self._loop, (1, samples // self._loop.shape[-1] + 1))[:, :samples]
        return np.stack([take] * spec.variations).astype(np.float32)


class _Progress:
    """A reporter that keeps the progress replies, in order, and what came after them."""

    def __init__(self) -> None:
        self.replies: list[tuple[float, float]] = []
        self.after: list[str] = []

    def progress(self, job: Job, fraction: float, eta_seconds: float) -> None:
        assert not self.after, f"progress after {self.after}"
        self.replies.append((fraction, eta_seconds))

    def preview(self, job: Job, path: str, seconds_ready: float) -> None:
        pass

    def stem(self, job: Job, stem: Stem) -> None:
        pass

    def done(self, job: Job, n_files: int) -> None:
        self.after.append("done")

    def error(self, job: Job, code: str, message: str) -> None:
        self.after.append(f"error {code}: {message}")

    def cancelled(self, job: Job) -> None:
        self.after.append("cancelled")


def test_each_windows_share_is_weighed_by_its_work() -> None:
    plan = plan_windows(REQUEST.duration_seconds, BPM, 4, 30.0, False, 16)
    assert [bars for _, bars in plan] == [5, 5, 5, 1]
    works = window_works(plan, BPM, 4, 30.0, 0.0)
    shares = progress_shares(works)
    assert shares[0][0] == 0.0
    assert sum(width for _, width in shares) == pytest.approx(1.0)
    for (start, width), (following, _) in itertools.pairwise(shares):
        assert following == pytest.approx(start + width)
    total = sum(work.total for work in works)
    for work, (_, width) in zip(works, shares, strict=True):
        assert width == pytest.approx(work.total / total)
    # The 1-bar window's steps are its 3.8 s (3 s and the tempo slack), not a quarter.
    assert [work.steps for work in works] == pytest.approx([17.0, 17.0, 17.0, 3.8])
    assert shares[-1][1] < 0.125


def test_progress_of_a_long_take_follows_the_seconds_each_window_decodes() -> None:
    clock = _Clock()
    engine = _TimedEngine(clock)
    fractions: list[float] = []
    engine.fractions = fractions
    maker = TakeMaker(engine, TakePool(1))
    try:
        maker.decode(REQUEST, None, None, None, None, 3, fractions.append, lambda: None).abandon()
    finally:
        maker.pool.close()
    assert len(engine.calls) == 4
    assert fractions == sorted(fractions)  # never goes back
    assert fractions[-1] == pytest.approx(1.0)
    # A window's steps move the bar in proportion to the seconds it decodes (the 1-bar window's
    # 3.8 s are 1/14 of the steps, not a quarter of them). Its whole share (its steps, and the
    # codec's work on them and on its 9 s prompt) is about a tenth of the bar.
    moves = []
    for first, seconds in engine.calls:
        steps = round(seconds * FRAME_RATE) + 3
        covered = (fractions[first + steps - 1] - fractions[first]) * steps / (steps - 1)
        moves.append(covered / seconds)
    assert moves == pytest.approx([moves[0]] * 4, rel=1e-6)
    last_first, last_seconds = engine.calls[-1]
    assert last_seconds == pytest.approx(3.8)
    assert 1.0 - fractions[last_first - 1] < 0.125


@pytest.mark.parametrize("decode", [0.05, 0.15, 0.25])
def test_the_eta_of_a_long_take_does_not_jump_up_at_window_boundaries(
    decode: float, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The codec's work (cheaper or dearer than the allowance for it) comes between windows,
    where no step reports: the ETA never rises by more than 5 % (+0.1 s) from one progress reply
    to the next. With equal shares per window it rose by a third at each boundary."""
    clock = _Clock()
    real_clock = job_runner._Clock
    monkeypatch.setattr(job_runner, "time", SimpleNamespace(monotonic=clock.now))
    monkeypatch.setattr(job_runner, "_Clock", lambda: real_clock(started=clock.now()))
    reporter = _Progress()
    runner = job_runner.JobRunner(_TimedEngine(clock, decode=decode), Delivery(tmp_path), reporter)
    job = Job(REQUEST, ("", 0))
    job.start()
    try:
        runner.run(job)
    finally:
        runner.close()
    assert reporter.after == ["done"]
    fractions = [fraction for fraction, _ in reporter.replies]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0 and max(fractions[:-1]) < 1.0  # 1 only once delivered
    etas = [eta for fraction, eta in reporter.replies if fraction > 0.01]
    assert len(etas) > 20
    rises = [
        (later - earlier, earlier) for earlier, later in itertools.pairwise(etas) if later > earlier
    ]
    assert all(rise <= 0.05 * earlier + 0.1 for rise, earlier in rises), rises
