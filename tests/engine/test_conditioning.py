"""Every conditioning input changes the tokens, in every decoder mode, on the tiny models.

Each test decodes a baseline and the same request with one input changed, and compares the
codes the engine hands to EnCodec. Greedy decoding where the input must matter on its own
(text, audio prompt, melody, guidance); sampling for seed, top-k and temperature, with the
same seed on both sides. `static` is `exact` through the fixed-shape step that CUDA graphs
capture (`StaticStepper`), run eagerly here.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import numpy as np
import pytest
import torch
import transformers

from sidecar.engine.base import GenerationSpec
from sidecar.engine.fast import FastMusicgenEngine
from sidecar.engine.musicgen import MusicgenEngine
from sidecar.engine.selfcheck import check_conditioning, stock_drops_melody_conditions
from sidecar.errors import ModelError

RATE = 32000
SECONDS = 0.3
MODES = ["stock", "exact", "static", "fp32", "fast", "int8"]


def _tone(hz: float, seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)[None]


def _noise(seed: int) -> np.ndarray:
    return (np.random.RandomState(seed).randn(1, RATE // 2) * 0.2).astype(np.float32)


A440, EB311 = _tone(440.0), _tone(311.13)


def _blind(model: str, mode: str) -> bool:
    """This transformers' own generate drops the melody model's conditions (5.1 to 5.17)."""
    return (
        model == "tiny-melody"
        and mode == "stock"
        and stock_drops_melody_conditions(transformers.__version__)
    )


@functools.cache
def _stock(model: str) -> MusicgenEngine:
    return MusicgenEngine.load(model, "cpu")


@functools.cache
def engine(model: str, mode: str) -> MusicgenEngine:
    stock = _stock(model)
    if mode == "stock":
        return stock
    fast = FastMusicgenEngine(
        stock.model, stock.tokenizer, model, "cpu", True, mode="exact" if mode == "static" else mode
    )
    if mode == "static":
        fast.settings = dataclasses.replace(fast.settings, static_steps=True)
    return fast


def tokens(model: str, mode: str, spec: GenerationSpec) -> torch.Tensor:
    """The new codes `(batch, codebooks, frames)` that `generate(spec)` decodes to audio
    (a continuation's prompt frames left out)."""
    chosen = engine(model, mode)
    codec: Any = chosen.model.audio_encoder
    original = codec.decode
    seen: list[torch.Tensor] = []

    def decode(codes: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        seen.append(codes[0].clone())
        return original(codes, *args, **kwargs)

    codec.decode = decode
    try:
        chosen.generate(spec)
    finally:
        del codec.decode
    return torch.cat(seen)[..., -chosen.frames_for(spec.duration_seconds) :]


def _greedy(model: str, **changes: Any) -> GenerationSpec:
    base: dict[str, Any] = {"duration_seconds": SECONDS, "prompt": "warm bass", "temperature": 0.0}
    if model == "tiny-melody":
        base["melody"] = A440
    else:
        base["audio_prompt"] = _noise(0)
    return GenerationSpec(**{**base, **changes})


def _sampled(model: str, **changes: Any) -> GenerationSpec:
    return _greedy(model, **{"temperature": 1.0, "top_k": 250, "seed": 3, **changes})


def _assert_changes(model: str, mode: str, base: GenerationSpec, changed: GenerationSpec) -> None:
    if _blind(model, mode):
        # This transformers' own generate drops the melody model's conditions: what the
        # start-up self-check catches, after which such takes are refused, not made.
        chosen = engine(model, mode)
        check = check_conditioning(chosen)
        assert check is not None and check.ignored == ("text", "melody")
        with pytest.raises(ModelError, match="--decoder auto"):
            chosen.generate(base)
        return
    first, second = tokens(model, mode, base), tokens(model, mode, changed)
    assert first.shape == second.shape
    same = (first == second).float().mean().item()
    assert not torch.equal(first, second), f"{model}/{mode}: identical tokens"
    assert same < 0.95, f"{model}/{mode}: {same:.0%} of the tokens are the same"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("model", ["tiny", "tiny-melody"])
def test_the_text_changes_the_tokens(model: str, mode: str) -> None:
    _assert_changes(model, mode, _greedy(model), _greedy(model, prompt="bright arpeggio"))


@pytest.mark.parametrize("mode", MODES)
def test_the_audio_prompt_of_a_continuation_changes_the_tokens(mode: str) -> None:
    _assert_changes("tiny", mode, _greedy("tiny"), _greedy("tiny", audio_prompt=_noise(1)))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("prompt", ["warm bass", None])
def test_the_melody_changes_the_tokens(mode: str, prompt: str | None) -> None:
    model = "tiny-melody"
    base = _greedy(model, prompt=prompt)
    _assert_changes(model, mode, base, dataclasses.replace(base, melody=EB311))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("model", ["tiny", "tiny-melody"])
def test_the_guidance_scale_changes_the_tokens(model: str, mode: str) -> None:
    _assert_changes(model, mode, _greedy(model), _greedy(model, guidance_scale=6.0))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("model", ["tiny", "tiny-melody"])
def test_the_seed_changes_sampled_tokens_and_the_same_seed_repeats_them(
    model: str, mode: str
) -> None:
    base = _sampled(model)
    _assert_changes(model, mode, base, dataclasses.replace(base, seed=4))
    if not _blind(model, mode):
        assert torch.equal(tokens(model, mode, base), tokens(model, mode, base))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("model", ["tiny", "tiny-melody"])
def test_top_k_changes_sampled_tokens(model: str, mode: str) -> None:
    _assert_changes(model, mode, _sampled(model), _sampled(model, top_k=3))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("model", ["tiny", "tiny-melody"])
def test_temperature_changes_sampled_tokens(model: str, mode: str) -> None:
    _assert_changes(model, mode, _sampled(model), _sampled(model, temperature=0.3))
