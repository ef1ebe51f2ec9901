"""Window plans for takes past the model's 30 s window."""

from __future__ import annotations

import pytest

from sidecar.errors import RequestError
from sidecar.windows import CONTEXT_SECONDS, plan_windows, with_slack


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
