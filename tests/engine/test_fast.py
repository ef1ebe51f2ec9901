"""The fast decode engine against stock transformers generate, on the tiny model (CPU)."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import numpy as np
import pytest
import torch

from sidecar.engine.base import GenerationSpec
from sidecar.engine.fast import FastMusicgenEngine
from sidecar.engine.loader import DECODERS, load_engine, resolve_decoder
from sidecar.engine.musicgen import MusicgenEngine
from sidecar.engine.sampling import SamplingPlan, choose_tokens
from sidecar.errors import ModelLoadError
from sidecar.jobs.models import engine_bytes

RATE = 32000
PROMPT = (np.random.RandomState(0).randn(1, RATE // 2) * 0.1).astype(np.float32)

CASES = {
    "text-cfg-batch2": GenerationSpec(duration_seconds=0.4, prompt="warm bass", variations=2),
    "texts-padded-cfg": GenerationSpec(duration_seconds=0.4, prompts=("a b", "a longer prompt")),
    "text-no-cfg": GenerationSpec(duration_seconds=0.4, prompt="drums", guidance_scale=1.0),
    "continuation-cfg-batch2": GenerationSpec(
        duration_seconds=0.4, prompt="keys", audio_prompt=PROMPT, variations=2
    ),
    "continuation-no-cfg": GenerationSpec(
        duration_seconds=0.4, audio_prompt=PROMPT, guidance_scale=1.0, variations=2
    ),
    "continuation-unconditional": GenerationSpec(duration_seconds=0.4, audio_prompt=PROMPT),
}


@pytest.fixture(scope="module")
def stock() -> MusicgenEngine:
    return MusicgenEngine.load("tiny", "cpu")


def _fast(stock: MusicgenEngine, mode: Any, static_steps: bool = False) -> FastMusicgenEngine:
    engine = FastMusicgenEngine(
        stock.model, stock.tokenizer, "tiny", str(stock.device), True, mode=mode
    )
    if static_steps:
        engine.settings = dataclasses.replace(engine.settings, static_steps=True)
    return engine


def _greedy(spec: GenerationSpec) -> GenerationSpec:
    return dataclasses.replace(spec, temperature=0.0)


def _stock_run(stock: MusicgenEngine, spec: GenerationSpec) -> tuple[torch.Tensor, np.ndarray]:
    """Stock audio, and the codes stock generate hands to EnCodec (its tokens, de-delayed)."""
    codec = stock.model.audio_encoder
    original = codec.decode
    seen: list[torch.Tensor] = []

    def decode(codes, *args, **kwargs):
        seen.append(codes[0].clone())
        return original(codes, *args, **kwargs)

    codec.decode = decode
    try:
        audio = stock.generate(spec)
    finally:
        del codec.decode
    return seen[0], audio


@pytest.fixture(scope="module")
def exact(stock: MusicgenEngine) -> FastMusicgenEngine:
    return _fast(stock, "exact")


@pytest.mark.parametrize("case", sorted(CASES))
def test_exact_mode_is_token_identical_to_stock_under_greedy(stock, exact, case):
    spec = _greedy(CASES[case])
    codes, audio = _stock_run(stock, spec)
    ours = exact.generate(spec)
    assert exact.last_codes is not None
    assert exact.last_codes.shape == codes.shape
    assert torch.equal(exact.last_codes, codes)
    assert np.array_equal(ours, audio)


@pytest.mark.parametrize(
    "case", ["text-cfg-batch2", "continuation-cfg-batch2", "continuation-unconditional"]
)
def test_static_step_path_is_token_identical_in_exact_precision(stock, case):
    """The fixed-shape step that CUDA graphs capture, run eagerly on CPU."""
    spec = _greedy(CASES[case])
    codes, _ = _stock_run(stock, spec)
    engine = _fast(stock, "exact", static_steps=True)
    assert torch.equal(engine.generate_codes(spec).codes, codes)
    # a second request reuses the same step buffers
    assert torch.equal(engine.generate_codes(spec).codes, codes)


def test_a_failed_graph_capture_falls_back_to_eager_steps(stock, monkeypatch, caplog):
    """Where a driver cannot capture the step, requests still decode (same tokens), said once."""
    from sidecar.engine.static_step import StaticStepper

    def no_capture(self: StaticStepper) -> None:
        raise RuntimeError("CUDA error: operation not permitted when stream is capturing")

    monkeypatch.setattr(StaticStepper, "_capture", no_capture)
    engine = _fast(stock, "exact", static_steps=True)
    engine.settings = dataclasses.replace(engine.settings, cuda_graphs=True)
    spec = _greedy(CASES["continuation-cfg-batch2"])
    codes, _ = _stock_run(stock, spec)
    with caplog.at_level("ERROR", logger="sidecar.engine.fast"):
        assert torch.equal(engine.generate_codes(spec).codes, codes)
        assert torch.equal(engine.generate_codes(spec).codes, codes)
    assert not engine.settings.cuda_graphs
    assert engine.info.dtype.endswith("/no-graphs")
    failures = [r for r in caplog.records if "graph capture failed" in r.getMessage()]
    assert len(failures) == 1 and "operation not permitted" in failures[0].getMessage()


def test_static_steps_survive_batch_changes_and_capture_warm_up(stock, monkeypatch):
    """One engine, alternating row counts; the graph warm-up (run eagerly here) after a prefill."""
    from sidecar.engine.static_step import StaticStepper

    monkeypatch.setattr(StaticStepper, "_capture", StaticStepper._warm_up)
    engine = _fast(stock, "exact", static_steps=True)
    engine.settings = dataclasses.replace(engine.settings, cuda_graphs=True)
    for case in ["text-cfg-batch2", "continuation-unconditional", "text-no-cfg", "text-cfg-batch2"]:
        spec = _greedy(CASES[case])
        codes, _ = _stock_run(stock, spec)
        result = engine.generate_codes(spec)
        assert torch.equal(result.codes, codes), case
        # layer 0's cache holds exactly what an eager run writes (no warm-up residue); deeper
        # layers differ in the last bits (masked full-length attention vs a prefix)
        reference = _fast(stock, "exact")
        reference.generate_codes(spec)
        length = result.prompt_frames + 1 + result.steps - 1
        rows = list(engine._buffers.caches)[-1]  # the cache this request used (most recent last)
        ours, theirs = engine._buffers.caches[rows], reference._buffers.caches[rows]
        assert torch.equal(ours.keys[0][:, :, :length], theirs.keys[0][:, :, :length])
        assert torch.equal(ours.values[0][:, :, :length], theirs.values[0][:, :, :length])


@pytest.mark.parametrize("mode", ["fp32", "fast", "int8"])
def test_fast_modes_stay_close_to_stock(stock, mode):
    """fp32 makes stock's tokens; bf16 and int8 round the logits by ~1 % of their spread, and
    the tiny model's conditioned greedy takes branch off where a rounding flips a token, so
    for those the first step's logits are compared (with a prompt, over every position)."""
    spec = _greedy(CASES["continuation-cfg-batch2"])
    codes, audio = _stock_run(stock, spec)
    engine = _fast(stock, mode)
    ours = engine.generate(spec)
    assert ours.shape == audio.shape
    reference = stock.first_step_logits(spec)
    logits = engine.first_step_logits(spec)
    rel_logits = np.sqrt(np.mean((logits - reference) ** 2)) / np.std(reference)
    assert rel_logits < {"fp32": 1e-4, "fast": 0.03, "int8": 0.04}[mode]
    if mode == "fp32":
        assert (engine.last_codes == codes).float().mean().item() >= 0.99
        assert np.sqrt(np.mean((ours - audio) ** 2)) / np.sqrt(np.mean(audio**2)) < 0.5


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_same_seed_same_audio_other_seed_other_audio(stock, mode):
    engine = _fast(stock, mode)
    spec = GenerationSpec(duration_seconds=0.3, prompt="seeded", variations=2, seed=7)
    first = engine.generate(spec)
    again = engine.generate(spec)
    other = engine.generate(dataclasses.replace(spec, seed=8))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert not np.array_equal(first[0], first[1])  # variations differ within the batch


def test_progress_is_called_after_every_step_like_stock(stock, exact):
    spec = _greedy(CASES["text-no-cfg"])
    seen_stock: list[tuple[int, int]] = []
    seen_fast: list[tuple[int, int]] = []
    stock.generate(spec, lambda s, t: seen_stock.append((s, t)))
    exact.generate(spec, lambda s, t: seen_fast.append((s, t)))
    assert seen_fast == seen_stock
    assert seen_fast[-1][0] == seen_fast[-1][1] == exact.frames_for(0.4) + 3


class _Cancelled(Exception):
    pass


@pytest.mark.parametrize("static_steps", [False, True])
def test_cancel_from_progress_propagates_and_engine_stays_usable(stock, static_steps):
    engine = _fast(stock, "fast", static_steps=static_steps)
    spec = GenerationSpec(duration_seconds=0.4, prompt="cancel me", seed=1)
    expected = engine.generate(spec)

    def cancel(step: int, total: int) -> None:
        if step == 5:
            raise _Cancelled

    with pytest.raises(_Cancelled):
        engine.generate(spec, cancel)
    assert np.array_equal(engine.generate(spec), expected)


def test_streamed_chunks_cover_the_request_and_match_the_final_audio(stock):
    engine = _fast(stock, "exact")
    spec = _greedy(dataclasses.replace(CASES["continuation-cfg-batch2"], duration_seconds=1.5))
    chunks: list[np.ndarray] = []
    seconds: list[float] = []
    decoded_frames: list[int] = []
    original = engine.decode_codes

    def counting(codes):
        decoded_frames.append(codes.shape[-1])
        return original(codes)

    engine.decode_codes = counting
    final = engine.generate(
        spec, on_audio=lambda c, s: (chunks.append(c), seconds.append(s)), audio_every_seconds=0.3
    )
    streamed = np.concatenate(chunks, axis=-1)
    assert len(chunks) >= 3
    assert streamed.shape == final.shape
    assert seconds[-1] == pytest.approx(1.5)
    assert all(b > a for a, b in itertools.pairwise(seconds))
    # every window is left context + one chunk + the held-back frames, never everything again
    every_frames, context_frames, hold_frames = 15, 50, 5
    windows, full = decoded_frames[:-1], decoded_frames[-1]
    assert full == engine.last_codes.shape[-1]
    assert max(windows) <= context_frames + every_frames + hold_frames
    rel = np.sqrt(np.mean((streamed - final) ** 2)) / np.sqrt(np.mean(final**2))
    assert rel < 0.25


def test_loader_offers_the_fast_modes():
    assert {"stock", "exact", "fast"} <= set(DECODERS)
    engine = load_engine("tiny", "cpu", "exact")
    assert isinstance(engine, FastMusicgenEngine)
    assert engine.mode == "exact"
    engine.warm_up()  # the worker's start-up path: text and continuation requests
    assert type(load_engine("tiny", "cpu", "stock")) is MusicgenEngine
    with pytest.raises(ModelLoadError, match="decoder: got 'warp'; expected one of auto, "):
        load_engine("tiny", "cpu", "warp")


def test_auto_decoder_is_fast_on_cuda_fp32_on_cpu_exact_elsewhere():
    assert resolve_decoder("auto", "cuda") == "fast"
    assert resolve_decoder("auto", "cuda:1") == "fast"
    assert resolve_decoder("auto", "cpu") == "fp32"
    assert resolve_decoder("auto", "mps") == "exact"
    assert all(resolve_decoder(d, "cpu") == d for d in DECODERS if d != "auto")
    engine = load_engine("tiny", "cpu", "auto")
    assert isinstance(engine, FastMusicgenEngine) and engine.mode == "fp32"
    assert engine.info.dtype == "float32/mkldnn/fp32"


@pytest.mark.parametrize("mode", ["exact", "fp32", "fast", "int8"])
def test_weights_replaced_by_packed_copies_are_freed_and_the_takes_stay_the_same(mode):
    engine = FastMusicgenEngine.load("tiny", "cpu", mode=mode)
    spec = GenerationSpec(duration_seconds=0.4, prompts=("x",), seed=3)
    before = engine.generate(spec)
    held = engine_bytes(engine)
    freed = engine.release_replaced_weights()
    assert np.array_equal(engine.generate(spec), before)
    assert engine_bytes(engine) == held - freed  # what /sidecar/model/list reports drops too
    if mode == "exact":  # decodes from the model's own tensors: nothing is a copy
        assert freed == 0
        return
    # Every projection and head was packed into a copy, except the cross-attention keys and
    # values, which run once per request from the model's own fp32 tensors.
    linears = {
        name: m
        for name, m in engine.model.decoder.named_modules()
        if isinstance(m, torch.nn.Linear)
        and not name.endswith(("encoder_attn.k_proj", "encoder_attn.v_proj"))
    }
    assert linears and freed >= sum(m.in_features * m.out_features * 4 for m in linears.values())
    assert all(m.weight.numel() == 0 for m in linears.values())
    # The model's own forward cannot run on what is left: a loud error, not a wrong take.
    with pytest.raises(RuntimeError):
        MusicgenEngine.generate(engine, spec)
    # T5 and EnCodec, which the engine runs itself, are untouched.
    assert all(p.numel() > 0 for p in engine.model.text_encoder.parameters())
    assert all(p.numel() > 0 for p in engine.model.audio_encoder.parameters())


@pytest.mark.parametrize("mode", ["fp32", "int8"])
def test_freeing_while_packing_frees_the_same_and_makes_the_same_takes(mode):
    spec = GenerationSpec(duration_seconds=0.4, prompts=("x",), seed=5)
    after = FastMusicgenEngine.load("tiny", "cpu", mode=mode)
    reference = after.generate(spec)  # packed on first use, the originals still there
    freed_after = after.release_replaced_weights()
    during = FastMusicgenEngine.load("tiny", "cpu", mode=mode)  # the same seeded weights
    assert during.release_replaced_weights() == freed_after > 0  # packed layer by layer
    assert np.array_equal(during.generate(spec), reference)
    assert engine_bytes(during) == engine_bytes(after)


def test_the_loader_frees_what_packing_replaced_for_melody_models_too():
    fp32 = load_engine("tiny", "cpu", "fp32")
    assert isinstance(fp32, FastMusicgenEngine)
    assert fp32.model.decoder.lm_heads[0].weight.numel() == 0
    melody = load_engine("tiny-melody", "cpu", "fp32")  # decoded by our loop: packed, freed
    assert isinstance(melody, FastMusicgenEngine)
    assert melody.model.decoder.lm_heads[0].weight.numel() == 0
    assert melody.model.audio_enc_to_dec_proj.weight.numel() > 0  # run once per request
    tone = np.sin(2 * np.pi * 440.0 * np.arange(RATE) / RATE).astype(np.float32)[None]
    assert melody.generate(GenerationSpec(duration_seconds=0.2, melody=tone)).shape == (
        1,
        1,
        6400,
    )


def test_sampling_degenerate_cases_match_argmax():
    scores = torch.randn(6, 2048, generator=torch.Generator().manual_seed(0))
    greedy = scores.argmax(dim=-1)
    gen = torch.Generator().manual_seed(0)
    top1 = choose_tokens(scores, SamplingPlan(False, None, temperature=1.0, top_k=1), gen)
    tiny_p = choose_tokens(scores, SamplingPlan(False, None, temperature=1.0, top_p=1e-6), gen)
    assert torch.equal(top1, greedy)
    assert torch.equal(tiny_p, greedy)


@pytest.mark.parametrize("every_frames", [1, 7, 30])
def test_windowed_audio_is_seamless_for_a_context_free_codec(every_frames):
    """With a codec whose output per frame ignores its neighbours, windows add up exactly."""
    from sidecar.engine.stream import WindowedAudio

    hop, frames, prompt = 4, 60, 10
    codes = torch.arange(2 * 4 * frames, dtype=torch.float32).view(2, 4, frames)

    def decode(window):  # (batch, codebooks, n) → (batch, 1, n * hop)
        return window.sum(dim=1, keepdim=True).repeat_interleave(hop, dim=-1)

    chunks: list[np.ndarray] = []
    total = (frames - prompt) * hop - 3
    stream = WindowedAudio(decode, hop, 100, prompt, total, lambda c, s: chunks.append(c))
    for ready in range(prompt, frames + 1, every_frames):
        stream.push(codes, ready)
    stream.push(codes, frames, final=True)
    expected = decode(codes).numpy()[..., prompt * hop : prompt * hop + total]
    np.testing.assert_allclose(np.concatenate(chunks, axis=-1), expected, rtol=1e-6)
    assert stream.delivered_samples == total


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("mode", ["exact", "fp32", "fast"])
def test_cuda_modes_against_stock_with_graphs_seeds_and_cancel(mode):
    """For the GPU session: the graph path on the device (tiny model, fp16 decoder as loaded)."""
    stock_cuda = MusicgenEngine.load("tiny", "cuda")
    engine = _fast(stock_cuda, mode)
    assert engine.settings.cuda_graphs == (mode != "exact")
    spec = _greedy(CASES["continuation-cfg-batch2"])
    codes, audio = _stock_run(stock_cuda, spec)
    ours = engine.generate(spec)
    agreement = (engine.last_codes == codes).float().mean().item()
    assert agreement == 1.0 if mode == "exact" else agreement >= 0.9
    assert ours.shape == audio.shape
    sampled = GenerationSpec(duration_seconds=0.4, prompt="seeded", variations=2, seed=3)
    first = engine.generate(sampled)
    assert np.array_equal(first, engine.generate(sampled))

    def cancel(step: int, total: int) -> None:
        if step == 4:
            raise _Cancelled

    with pytest.raises(_Cancelled):
        engine.generate(sampled, cancel)
    assert np.array_equal(first, engine.generate(sampled))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_loader_frees_the_fused_originals_and_decodes_the_same():
    """For the GPU session: on CUDA `fast` fuses q/k/v and the heads into copies, and the
    server's loader frees the originals; the codes are the same as with them kept."""
    kept = FastMusicgenEngine.load("tiny", "cuda", mode="fast")
    lean = load_engine("tiny", "cuda", "fast")
    assert isinstance(lean, FastMusicgenEngine)
    assert lean.model.decoder.model.decoder.layers[0].self_attn.q_proj.weight.numel() == 0
    assert lean.release_replaced_weights() == 0  # done once, by the loader
    spec = _greedy(CASES["continuation-cfg-batch2"])
    kept.generate(spec)
    lean.generate(spec)
    assert torch.equal(kept.last_codes, lean.last_codes)
    assert engine_bytes(lean) < engine_bytes(kept)
