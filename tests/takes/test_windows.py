"""Window plans for takes past the model's 30 s window."""

from __future__ import annotations

import numpy as np
import pytest

from sidecar.errors import RequestError
from sidecar.takes.windows import CONTEXT_SECONDS, plan_windows, with_slack


def test_one_window_when_it_fits_bar_aligned_windows_past_it() -> None:
    assert plan_windows(8.0, 120.0, 4, 30.0, True, 4) == [(8.0, 4)]
    plan = plan_windows(70.0, 120.0, 4, 30.0, True)
    assert sum(bars for _, bars in plan) == 35 and len(plan) >= 3
    assert all(seconds == bars * 2.0 for seconds, bars in plan)  # whole bars of 2 s
    # Each window leaves room for its re-prompt and the tempo slack.
    assert max(s for s, _ in plan) * 1.1 + 0.5 + CONTEXT_SECONDS <= 30.0
    assert plan_windows(45.0, None, 4, 30.0, False) == [(17.0, None), (17.0, None), (11.0, None)]


def test_a_bar_too_long_for_any_window_is_refused_naming_bars() -> None:
    with pytest.raises(RequestError, match=r"bars: one bar at 12 bpm is 20\.0 s") as caught:
        plan_windows(120.0, 12.0, 4, 30.0, True)
    assert caught.value.field == "bars"


def test_slack_only_when_the_tempo_will_be_corrected() -> None:
    assert with_slack(10.0, 120.0) == pytest.approx(11.5)
    assert with_slack(10.0, None) == 10.0


def test_previews_of_a_windowed_take_hold_what_they_say_and_only_the_bars() -> None:
    """20 bars at 120 BPM in 3 windows, previews every 2 s: the file always holds exactly the
    seconds published, and those never go back (no window's tempo slack is previewed, the
    last one's included: the preview ends where the take does)."""
    from sidecar.engine.loader import load_engine
    from sidecar.osc.schema import GenerateRequest
    from sidecar.takes.batch import TakeMaker
    from sidecar.takes.parallel import TakePool

    engine = load_engine("tiny", "cpu", "auto")  # a decoder that streams
    request = GenerateRequest(
        request_id="p", prompt="techno", bars=20, bpm=120.0, preview=2.0, seed=1
    )
    published: list[tuple[int, float]] = []
    maker = TakeMaker(engine, TakePool(1))
    try:
        maker.decode(
            request,
            None,
            None,
            None,
            None,
            1,
            lambda _: None,
            lambda: None,
            lambda batch, seconds: published.append((batch[0].shape[-1], seconds)),
        ).abandon()
    finally:
        maker.pool.close()
    held = np.cumsum([n for n, _ in published]) / engine.info.sample_rate
    seconds = np.array([s for _, s in published])
    assert np.allclose(held, seconds, atol=1e-3)
    assert np.all(np.diff(seconds) > 0)
    assert seconds[-1] == pytest.approx(40.0, abs=1e-6)  # the take, not its slack
