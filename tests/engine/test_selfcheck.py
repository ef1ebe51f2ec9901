"""The start-up self-check on real tiny models: it passes where the conditions reach the logits
and catches models made on purpose to ignore their melody or their text."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
import torch
import transformers

from sidecar.engine.base import GenerationSpec
from sidecar.engine.fast import FastMusicgenEngine
from sidecar.engine.musicgen import MusicgenEngine
from sidecar.engine.selfcheck import (
    MIN_RELATIVE_CHANGE,
    check_conditioning,
    probe_spec,
    stock_drops_melody_conditions,
)
from sidecar.engine.tiny import build_tiny_model
from sidecar.errors import ModelError

MODES = ["stock", "exact", "fp32", "fast", "int8"]


def _engine(model: Any, tokenizer: Any, name: str, mode: str) -> MusicgenEngine:
    if mode == "stock":
        return MusicgenEngine(model, tokenizer, name, "cpu", is_random=True)
    return FastMusicgenEngine(model, tokenizer, name, "cpu", True, mode=mode)  # type: ignore[arg-type]


def _melody_spec(prompt: str | None = "warm pad") -> GenerationSpec:
    t = np.arange(32000) / 32000
    tone = (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)[None]
    return GenerationSpec(duration_seconds=0.2, prompt=prompt, melody=tone, temperature=0.0)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("melody", [False, True], ids=["tiny", "tiny-melody"])
def test_the_tiny_models_pass_with_their_conditions_well_above_the_threshold(
    melody: bool, mode: str
) -> None:
    model, tokenizer = build_tiny_model(melody=melody)
    check = check_conditioning(_engine(model, tokenizer, "tiny", mode))
    assert check is not None
    if melody and mode == "stock" and stock_drops_melody_conditions(transformers.__version__):
        assert check.ignored == ("text", "melody")  # caught: this generate drops them
        return
    assert check.ok and check.message == ""
    # a share of the logits' spread, not a rounding (a melody model's text is 8 positions of
    # its prefix, the chroma 235: 3 % and 44 % here)
    assert check.text_change > 0.01
    if melody:
        assert check.melody_change is not None and check.melody_change > 0.1
    else:
        assert check.melody_change is None


def test_the_tiny_models_projections_are_not_degenerate() -> None:
    """Every chroma bin and every text state direction reaches the decoder on its own: the
    projections have full rank and keep distinct inputs apart."""
    melody, _ = build_tiny_model(melody=True)
    chroma = melody.audio_enc_to_dec_proj
    assert torch.linalg.matrix_rank(chroma.weight) == 12
    bins = chroma(torch.eye(12))  # each bin's prefix vector
    apart = min((bins[i] - bins[j]).norm().item() for i, j in itertools.combinations(range(12), 2))
    assert apart > 0.5 * bins.norm(dim=1).mean().item()
    wide, _ = build_tiny_model(text_width=48)  # text wider than the decoder: projected
    text = wide.enc_to_dec_proj
    assert torch.linalg.matrix_rank(text.weight) == 32
    check = check_conditioning(_engine(*build_tiny_model(text_width=48), "wide", "exact"))
    assert check is not None and check.text_change > 0.05


@pytest.mark.parametrize("mode", ["stock", "exact", "fp32"])
def test_a_zeroed_chroma_projection_is_caught_and_melody_requests_are_refused(mode: str) -> None:
    model, tokenizer = build_tiny_model(melody=True)
    with torch.no_grad():
        model.audio_enc_to_dec_proj.weight.zero_()  # every melody gives the same prefix
    engine = _engine(model, tokenizer, "melody-blind", mode)
    engine.generate(_melody_spec())  # unchecked, it makes a take that ignores the melody
    check = check_conditioning(engine)
    assert check is not None
    assert f"transformers {transformers.__version__}" in check.message
    assert f"decoder {mode}" in check.message and " Fix: " in check.message
    if mode == "stock" and stock_drops_melody_conditions(transformers.__version__):
        # this transformers' generate drops every condition: the fix is another decoder
        assert check.ignored == ("text", "melody") and "--decoder auto" in check.message
    else:
        assert check.ignored == ("melody",)
        assert check.melody_change == 0.0 and check.text_change > 0.01
        assert check.message.startswith("model 'melody-blind' ignores the melody")
        assert "audio_enc_to_dec_proj" in check.message  # the weights are at fault, named
    assert engine.conditioning is check
    for spec in (_melody_spec(), _melody_spec(prompt=None)):
        with pytest.raises(ModelError) as refused:
            engine.generate(spec)
        assert refused.value.message == check.message and refused.value.code == "model_error"
    if check.ignored == ("melody",):  # what does not use the melody is still served
        text_only = GenerationSpec(duration_seconds=0.2, prompt="warm pad")
        assert engine.generate(text_only).shape == (1, 1, 6400)


@pytest.mark.parametrize("melody", [False, True], ids=["tiny", "tiny-melody"])
def test_a_text_encoder_that_says_nothing_is_caught_and_prompts_are_refused(melody: bool) -> None:
    model, tokenizer = build_tiny_model(melody=melody)
    with torch.no_grad():
        model.text_encoder.encoder.final_layer_norm.weight.zero_()  # every text → zero states
    engine = _engine(model, tokenizer, "deaf", "exact")
    check = check_conditioning(engine)
    assert check is not None and check.ignored == ("text",)
    assert "ignores the text" in check.message and "text encoder" in check.message
    with pytest.raises(ModelError, match="ignores the text"):
        engine.generate(GenerationSpec(duration_seconds=0.2, prompt="warm pad"))
    if melody:  # the melody alone still conditions the take
        assert engine.generate(_melody_spec(prompt=None)).shape == (1, 1, 6400)
    else:  # unconditional takes use no condition at all
        assert engine.generate(GenerationSpec(duration_seconds=0.2)).shape == (1, 1, 6400)


def test_the_probe_changes_one_condition_per_row() -> None:
    spec = probe_spec(32000, 50, melody=True)
    assert spec.prompts is not None and spec.melody is not None
    assert spec.prompts[0] == spec.prompts[2] != spec.prompts[1]
    assert np.array_equal(spec.melody[0], spec.melody[1])
    assert not np.array_equal(spec.melody[0], spec.melody[2])
    assert spec.guidance_scale == 1.0 and spec.temperature == 0.0
    assert MIN_RELATIVE_CHANGE < 1e-3
