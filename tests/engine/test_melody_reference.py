"""`exact` on a melody model is token-identical to transformers' own MusicGen-Melody forward.

The reference needs no `generate` (whose first step drops the condition in transformers 5.1 to
5.17): greedy decoding by the model's `forward` over the whole sequence at every step, no
cache, with the chroma going through the model's own prefix code (projection, tiling to
`chroma_length`, chroma before text). Where `generate` works, `exact` matches it too, with
guidance (the last test).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import torch
import transformers

from sidecar.engine.base import GenerationSpec
from sidecar.engine.chroma import melody_features
from sidecar.engine.fast import FastMusicgenEngine
from sidecar.engine.musicgen import MusicgenEngine
from sidecar.engine.selfcheck import stock_drops_melody_conditions
from sidecar.engine.tiny import build_tiny_model

RATE = 32000
FRAMES = 10


def _tone(hz: float) -> np.ndarray:
    t = np.arange(RATE) / RATE
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)[None]


@pytest.fixture(scope="module")
def tiny_melody() -> tuple[Any, Any]:
    return build_tiny_model(melody=True)


def _reference(model: Any, tokenizer: Any, prompt: str, melody: np.ndarray) -> torch.Tensor:
    """Greedy codes `(1, codebooks, FRAMES)` from the model's forward, recomputed each step."""
    text = tokenizer([prompt], return_tensors="pt")
    features = melody_features(melody, RATE, 1)
    k = int(model.decoder.num_codebooks)
    start = int(model.generation_config.decoder_start_token_id)
    total = 1 + FRAMES + (k - 1)
    ids = torch.full((k, 1), start, dtype=torch.long)
    _, pattern = model.decoder.build_delay_pattern_mask(ids, pad_token_id=start, max_length=total)
    sequence = ids
    with torch.inference_mode():
        while sequence.shape[-1] < total:
            known = model.decoder.apply_delay_pattern_mask(sequence, pattern)
            logits = model(
                input_ids=text["input_ids"],
                attention_mask=text["attention_mask"],
                input_features=features,
                decoder_input_ids=known,
                use_cache=False,
            ).logits
            sequence = torch.cat([known, logits[:, -1].argmax(-1)[:, None]], dim=-1)
    sequence = model.decoder.apply_delay_pattern_mask(sequence, pattern)
    return sequence[sequence != start].reshape(1, k, FRAMES)


@pytest.mark.parametrize("static_steps", [False, True], ids=["eager", "static"])
@pytest.mark.parametrize("hz", [440.0, 311.13])
def test_exact_melody_decoding_is_the_models_own_forward(
    tiny_melody: tuple[Any, Any], hz: float, static_steps: bool
) -> None:
    model, tokenizer = tiny_melody
    engine = FastMusicgenEngine(model, tokenizer, "tiny-melody", "cpu", True, mode="exact")
    if static_steps:  # the fixed-shape step that CUDA graphs capture, run eagerly
        engine.settings = dataclasses.replace(engine.settings, static_steps=True)
    spec = GenerationSpec(
        duration_seconds=FRAMES / 50,
        prompt="warm pad",
        melody=_tone(hz),
        guidance_scale=1.0,
        temperature=0.0,
    )
    ours = engine.generate_codes(spec).codes
    assert torch.equal(ours, _reference(model, tokenizer, "warm pad", _tone(hz)))


@pytest.mark.skipif(
    stock_drops_melody_conditions(transformers.__version__),
    reason=f"transformers {transformers.__version__}'s generate drops the melody condition",
)
def test_exact_melody_with_guidance_is_token_identical_to_a_working_generate(
    tiny_melody: tuple[Any, Any],
) -> None:
    model, tokenizer = tiny_melody
    stock = MusicgenEngine(model, tokenizer, "tiny-melody", "cpu", is_random=True)
    exact = FastMusicgenEngine(model, tokenizer, "tiny-melody", "cpu", True, mode="exact")
    for spec in (
        GenerationSpec(duration_seconds=0.2, prompts=("a b", "a longer prompt"), melody=_tone(440)),
        GenerationSpec(duration_seconds=0.2, melody=_tone(311.13)),  # no text: no guidance
    ):
        spec = dataclasses.replace(spec, temperature=0.0)
        audio = stock.generate(spec)
        assert np.array_equal(exact.generate(spec), audio)
