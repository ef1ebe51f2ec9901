"""Mixed precision as placed on CUDA (decoder in half, T5 and EnCodec in fp32), run on CPU."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from sidecar.engine.base import GenerationSpec
from sidecar.engine.fast import FastMusicgenEngine
from sidecar.engine.musicgen import MusicgenEngine
from sidecar.engine.precision import decoder_dtype, inference_dtype, place_model
from sidecar.engine.tiny import build_tiny_model

RATE = 32000
PROMPT = (np.random.RandomState(1).randn(1, RATE // 2) * 0.1).astype(np.float32)
HALF = [torch.float16, torch.bfloat16]
SPECS = {
    "continuation-text-cfg-batch2": GenerationSpec(
        duration_seconds=0.3, prompt="keys", audio_prompt=PROMPT, variations=2
    ),
    "continuation-unconditional": GenerationSpec(duration_seconds=0.3, audio_prompt=PROMPT),
    "text-cfg": GenerationSpec(duration_seconds=0.3, prompt="a warm pad"),
}


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_cuda_gets_half_and_everything_else_fp32():
    assert inference_dtype("cuda") == torch.float16
    assert inference_dtype("cuda:1") == torch.float16
    assert inference_dtype("cpu") == torch.float32
    assert inference_dtype("mps") == torch.float32


@pytest.mark.parametrize("dtype", HALF)
def test_t5_and_codec_stay_fp32_bit_for_bit_and_the_decoder_is_half(dtype):
    model, _ = build_tiny_model(text_width=48)
    text, codec = _state(model.text_encoder), _state(model.audio_encoder)
    decoder = _state(model.decoder)
    placed = place_model(model, "cpu", dtype)
    assert decoder_dtype(placed) == dtype
    assert placed.enc_to_dec_proj.weight.dtype == dtype
    # never rounded through half precision on the way
    for before, module in ((text, placed.text_encoder), (codec, placed.audio_encoder)):
        after = module.state_dict()
        assert all(
            torch.equal(after[k], v) and after[k].dtype == v.dtype for k, v in before.items()
        )
    assert all(
        torch.equal(placed.decoder.state_dict()[k], v.to(dtype))
        for k, v in decoder.items()
        if v.is_floating_point()
    )
    assert not placed.training


def test_fp32_placement_adds_no_hooks():
    model = place_model(build_tiny_model(text_width=48)[0], "cpu")
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert not model.decoder._forward_pre_hooks
    assert not model.enc_to_dec_proj._forward_pre_hooks


@pytest.fixture(scope="module", params=[(d, w) for d in HALF for w in (32, 48)], ids=str)
def engines(request) -> tuple[MusicgenEngine, FastMusicgenEngine]:
    dtype, text_width = request.param
    model, tokenizer = build_tiny_model(text_width=text_width)
    model = place_model(model, "cpu", dtype)
    stock = MusicgenEngine(model, tokenizer, "tiny", "cpu", True)
    exact = FastMusicgenEngine(model, tokenizer, "tiny", "cpu", True, mode="exact")
    return stock, exact


@pytest.mark.parametrize("case", sorted(SPECS))
def test_half_decoder_generates_and_exact_mode_still_matches_stock(engines, case):
    """With and without `enc_to_dec_proj` (text width 48 vs the decoder's 32)."""
    stock, exact = engines
    assert stock.info.dtype == str(decoder_dtype(stock.model)).removeprefix("torch.")
    spec = dataclasses.replace(SPECS[case], temperature=0.0)
    audio = stock.generate(spec)
    assert audio.dtype == np.float32 and audio.shape[-1] == round(0.3 * RATE)
    assert np.isfinite(audio).all() and float(np.abs(audio).max()) > 0
    assert np.array_equal(exact.generate(spec), audio)


@pytest.mark.parametrize("dtype", HALF)
def test_melody_model_runs_with_and_without_a_melody(dtype):
    model, tokenizer = build_tiny_model(melody=True)
    stock = MusicgenEngine(place_model(model, "cpu", dtype), tokenizer, "tiny-melody", "cpu", True)
    t = np.arange(RATE) / RATE
    melody = (0.3 * np.sin(2 * np.pi * 220 * t))[None].astype(np.float32)
    for spec in (
        GenerationSpec(duration_seconds=0.3, prompt="lead", melody=melody, temperature=0.0),
        GenerationSpec(duration_seconds=0.3, prompt="lead", temperature=0.0),
    ):
        audio = stock.generate(spec)
        assert np.isfinite(audio).all() and audio.shape[-1] == round(0.3 * RATE)


def test_cpu_loading_keeps_everything_fp32():
    engine = MusicgenEngine.load("tiny", "cpu")
    assert engine.info.dtype == "float32"
    assert {p.dtype for p in engine.model.parameters()} == {torch.float32}


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_loading_halves_only_the_decoder():
    """For the GPU session: what `load` does there, and that it decodes."""
    engine = MusicgenEngine.load("tiny", "cuda")
    assert engine.info.dtype == "float16"
    model = engine.model
    assert {p.dtype for p in model.text_encoder.parameters()} == {torch.float32}
    assert {p.dtype for p in model.audio_encoder.parameters()} == {torch.float32}
    assert {p.dtype for p in model.decoder.parameters()} == {torch.float16}
    spec = dataclasses.replace(SPECS["continuation-text-cfg-batch2"], temperature=0.0)
    audio = engine.generate(spec)
    assert np.isfinite(audio).all()
    exact = FastMusicgenEngine(model, engine.tokenizer, "tiny", "cuda", True, mode="exact")
    assert np.array_equal(exact.generate(spec), audio)
