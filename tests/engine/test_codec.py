"""The fast engine's codec: prompt rows encoded once (as the whole batch), rows decoded apart."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from sidecar.engine.base import GenerationSpec
from sidecar.engine.codec import Codec
from sidecar.engine.fast import FastMusicgenEngine
from sidecar.engine.musicgen import MusicgenEngine
from sidecar.engine.prompt_codes import PromptCodes
from sidecar.engine.tiny import build_tiny_model

RATE = 32000


def _codec_encode():
    model, _ = build_tiny_model()
    rows = Codec(model.audio_encoder, 1, torch.device("cpu"), rows_apart=False).encode_rows
    calls: list[int] = []

    def encode(values: torch.Tensor) -> torch.Tensor:
        calls.append(values.shape[0])
        with torch.inference_mode():
            return rows(values)

    return encode, calls


def test_identical_rows_are_encoded_once_and_match_the_whole_batch():
    encode, calls = _codec_encode()
    rng = np.random.default_rng(0)
    clip = torch.from_numpy(rng.standard_normal((1, 1, RATE)).astype(np.float32) * 0.1)
    other = torch.from_numpy(rng.standard_normal((1, 1, RATE)).astype(np.float32) * 0.1)
    batch = torch.cat([clip, clip, other, clip])
    whole = encode(batch)
    calls.clear()
    codes = PromptCodes(encode)
    first = codes(batch)
    assert torch.equal(first, whole)
    assert calls == [2] and (codes.encoded, codes.reused) == (2, 2)
    # a re-roll of the same clip: nothing encoded again
    assert torch.equal(codes(clip.expand(3, -1, -1)), whole[:, [0, 0, 0]])
    assert calls == [2] and (codes.encoded, codes.reused) == (2, 5)


def test_least_recently_used_rows_are_dropped():
    encode, calls = _codec_encode()
    codes = PromptCodes(encode, max_entries=2)
    clips = [torch.full((1, 1, 3200), 0.01 * (i + 1)) for i in range(3)]
    for clip in clips:
        codes(clip)
    codes(clips[2])  # kept
    codes(clips[0])  # dropped by the third: encoded again
    assert calls == [1, 1, 1, 1] and codes.encoded == 4 and codes.reused == 1


def test_variations_encode_their_clip_once_and_stay_identical_to_stock():
    stock = MusicgenEngine.load("tiny", "cpu")
    exact = FastMusicgenEngine(stock.model, stock.tokenizer, "tiny", "cpu", True, mode="exact")
    prompt = (np.random.RandomState(2).randn(1, RATE // 2) * 0.1).astype(np.float32)
    spec = GenerationSpec(
        duration_seconds=0.3, prompt="keys", audio_prompt=prompt, variations=3, temperature=0.0
    )
    expected = stock.generate(spec)
    assert np.array_equal(exact.generate(spec), expected)
    assert (exact.codec.prompt_codes.encoded, exact.codec.prompt_codes.reused) == (1, 2)
    reroll = dataclasses.replace(spec, seed=5)
    assert np.array_equal(exact.generate(reroll), stock.generate(reroll))
    assert (exact.codec.prompt_codes.encoded, exact.codec.prompt_codes.reused) == (1, 5)


def test_cpu_decodes_rows_apart_outside_exact_to_the_last_bits():
    stock = MusicgenEngine.load("tiny", "cpu")
    exact, fp32 = (
        FastMusicgenEngine(stock.model, stock.tokenizer, "tiny", "cpu", True, mode=mode)
        for mode in ("exact", "fp32")
    )
    assert not exact.codec.rows_apart and fp32.codec.rows_apart
    codes = torch.randint(0, 2048, (3, 4, 40), generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        batched = exact.decode_codes(codes)
        calls: list[int] = []
        decode = fp32.codec.encodec.decode

        def counting(c, *args, **kwargs):
            calls.append(c.shape[1])
            return decode(c, *args, **kwargs)

        fp32.codec.encodec.decode = counting
        try:
            apart = fp32.decode_codes(codes)
        finally:
            del fp32.codec.encodec.decode
    assert calls == [1, 1, 1]
    assert apart.shape == batched.shape
    assert torch.allclose(apart, batched, rtol=0, atol=1e-6)
