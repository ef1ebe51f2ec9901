"""Take making: window plans, and the key check that reports and fixes a take's key."""

from __future__ import annotations

import numpy as np
import pytest

from sidecar.engine.musicgen import MusicgenEngine
from sidecar.osc.schema import GenerateRequest
from sidecar.post.key import estimate_key
from sidecar.takes import CONTEXT_SECONDS, TakeMaker, plan_windows
from tests.post.test_key import CADENCE_MAJOR, SAMPLE_RATE, synth_progression


def test_one_window_when_it_fits_bar_aligned_windows_past_it() -> None:
    assert plan_windows(8.0, 120.0, 4, 30.0, True, 4) == [(8.0, 4)]
    plan = plan_windows(70.0, 120.0, 4, 30.0, True)
    assert sum(bars for _, bars in plan) == 35 and len(plan) >= 3
    assert all(seconds == bars * 2.0 for seconds, bars in plan)  # whole bars of 2 s
    # Each window leaves room for its re-prompt and the tempo slack.
    assert max(s for s, _ in plan) * 1.1 + 0.5 + CONTEXT_SECONDS <= 30.0
    assert plan_windows(45.0, None, 4, 30.0, False) == [(17.0, None), (17.0, None), (11.0, None)]


@pytest.mark.parametrize(("fix", "expected_shift"), [(False, 0), (True, -1)])
def test_a_take_a_semitone_off_the_session_key_is_fixed_when_asked(
    fix: bool, expected_shift: int
) -> None:
    maker = TakeMaker(MusicgenEngine.load("tiny", "cpu"))
    c_sharp = np.repeat(synth_progression(1, CADENCE_MAJOR), 2, axis=0)  # C# major, stereo
    request = GenerateRequest(request_id="k", key="C major", fix_key=fix, sample_rate=SAMPLE_RATE)
    take = maker._finish(request, c_sharp, [{"bars": 4}], 0, None, None, None)
    assert take.report["key_shift_semitones"] == expected_shift
    assert take.report["key"] == "Db major"  # what the model made (C# major), before any fix
    assert take.audio.shape == c_sharp.shape
    assert estimate_key(take.audio, SAMPLE_RATE).label == ("C major" if fix else "Db major")
