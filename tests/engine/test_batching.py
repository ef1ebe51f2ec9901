"""Requests from different callers decoded as one batch give each the take it gets alone."""

from __future__ import annotations

import numpy as np
import pytest

from sidecar.engine.base import GenerationSpec
from sidecar.engine.batching import batch_key, combine, split
from sidecar.engine.loader import load_engine

RATE = 32000


def _clip(freq: float, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32)[None]


@pytest.fixture(scope="module", params=["exact", "fp32", "fast", "int8"])
def engine(request: pytest.FixtureRequest):
    return load_engine("tiny", "cpu", request.param)


def _solo_and_batched(engine, specs):
    solo = [engine.generate(spec) for spec in specs]
    combined = combine(specs)
    batched = split(engine.generate(combined), specs)
    return solo, batched


def test_text_requests_of_two_callers_batched_equal_their_solo_takes(engine) -> None:
    specs = [
        GenerationSpec(duration_seconds=0.4, prompt="funk bass", seed=11),
        GenerationSpec(duration_seconds=0.4, prompt="ambient pad", seed=12, variations=2),
        GenerationSpec(duration_seconds=0.4, prompts=("drums", "keys"), seed=13),
    ]
    solo, batched = _solo_and_batched(engine, specs)
    for alone, together in zip(solo, batched, strict=True):
        assert alone.shape == together.shape
        np.testing.assert_allclose(together, alone, atol=1e-4)
    # and the seeds still matter inside the batch: the callers' takes differ from each other
    assert not np.allclose(batched[0][0], batched[1][0], atol=1e-3)


def test_continuations_of_two_callers_batched_equal_their_solo_takes(engine) -> None:
    specs = [
        GenerationSpec(duration_seconds=0.4, prompt="go on", audio_prompt=_clip(220), seed=3),
        GenerationSpec(duration_seconds=0.4, prompt="go on", audio_prompt=_clip(330), seed=4),
    ]
    solo, batched = _solo_and_batched(engine, specs)
    for alone, together in zip(solo, batched, strict=True):
        np.testing.assert_allclose(together, alone, atol=1e-4)


def test_only_requests_that_share_length_sampling_and_conditioning_shape_are_bucketed() -> None:
    base = GenerationSpec(duration_seconds=2.0, prompt="x", seed=1)
    same = GenerationSpec(duration_seconds=2.0, prompt="other words", seed=9, variations=3)
    assert batch_key(base) == batch_key(same)
    for other in (
        GenerationSpec(duration_seconds=3.0, prompt="x"),
        GenerationSpec(duration_seconds=2.0, prompt="x", guidance_scale=4.0),
        GenerationSpec(duration_seconds=2.0, prompt="x", temperature=0.7),
        GenerationSpec(duration_seconds=2.0, prompt="x", top_k=50),
        GenerationSpec(duration_seconds=2.0, prompt=None),
        GenerationSpec(duration_seconds=2.0, prompt="x", audio_prompt=_clip(100)),
    ):
        assert batch_key(other) != batch_key(base)
    assert batch_key(GenerationSpec(duration_seconds=2.0, melody=_clip(100))) is None
    with pytest.raises(ValueError, match="cannot share a decode"):
        combine([base, GenerationSpec(duration_seconds=3.0, prompt="x")])
