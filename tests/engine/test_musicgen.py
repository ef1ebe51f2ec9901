"""The transformers engine on the tiny model: real `generate`, batching, seeds, prompt cut."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sidecar.engine.base import GenerationSpec
from sidecar.engine.musicgen import MusicgenEngine
from sidecar.errors import RequestError


@pytest.fixture(scope="module")
def engine() -> MusicgenEngine:
    return MusicgenEngine.load("tiny", "cpu")


def test_text_to_music_length_and_batch(engine: MusicgenEngine) -> None:
    audio = engine.generate(GenerationSpec(duration_seconds=0.7, prompt="house", variations=3))
    assert audio.shape == (3, 1, int(0.7 * 32000)) and audio.dtype == np.float32
    assert np.all(np.isfinite(audio))
    # One batch, three different takes.
    assert not np.array_equal(audio[0], audio[1]) and not np.array_equal(audio[1], audio[2])


def test_same_seed_same_audio_other_seed_other_audio(engine: MusicgenEngine) -> None:
    spec = GenerationSpec(duration_seconds=0.5, prompt="dub techno", seed=1234)
    a, b = engine.generate(spec), engine.generate(spec)
    c = engine.generate(GenerationSpec(duration_seconds=0.5, prompt="dub techno", seed=1235))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_continuation_returns_only_new_audio(engine: MusicgenEngine) -> None:
    rng = np.random.default_rng(0)
    prompt = rng.uniform(-0.5, 0.5, (1, 32000 + 100)).astype(np.float32)
    steps: list[tuple[int, int]] = []
    audio = engine.generate(
        GenerationSpec(duration_seconds=1.25, prompt="x", audio_prompt=prompt, seed=3),
        progress=lambda done, total: steps.append((done, total)),
    )
    assert audio.shape == (1, 1, 40000)
    # One callback per decoding step: 62.5 → 63 frames plus the delay pattern's 3.
    assert steps[-1] == (66, 66) and len(steps) == 66


def test_unconditional_and_greedy(engine: MusicgenEngine) -> None:
    assert engine.generate(GenerationSpec(duration_seconds=0.3, seed=2)).shape == (1, 1, 9600)
    # Unconditional continuation of a batch (regression: CFG doubled the decoder batch only).
    prompt = np.zeros((1, 16000), dtype=np.float32)
    batch = engine.generate(GenerationSpec(duration_seconds=0.3, audio_prompt=prompt, variations=2))
    assert batch.shape == (2, 1, 9600)
    greedy = GenerationSpec(duration_seconds=0.3, prompt="x", temperature=0.0)
    assert np.array_equal(engine.generate(greedy), engine.generate(greedy))


def test_progress_exception_cancels_and_engine_stays_usable(engine: MusicgenEngine) -> None:
    class Stop(Exception):
        pass

    def stop_at_5(done: int, total: int) -> None:
        if done == 5:
            raise Stop

    with pytest.raises(Stop):
        engine.generate(GenerationSpec(duration_seconds=2.0, prompt="x"), progress=stop_at_5)
    assert engine.generate(GenerationSpec(duration_seconds=0.2, prompt="x")).shape == (1, 1, 6400)


def test_prompt_plus_continuation_must_fit_the_window(engine: MusicgenEngine) -> None:
    prompt = np.zeros((1, 32000 * 20), dtype=np.float32)
    with pytest.raises(RequestError, match="exceed the model's 30 s window"):
        engine.generate(GenerationSpec(duration_seconds=15.0, audio_prompt=prompt))


def test_melody_needs_a_melody_model(engine: MusicgenEngine) -> None:
    melody = np.zeros((1, 32000), dtype=np.float32)
    with pytest.raises(RequestError, match="not a melody model"):
        engine.generate(GenerationSpec(duration_seconds=0.2, melody=melody))


def _serve(model: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "sidecar",
            "serve",
            "--model",
            model,
            "--port",
            "0",
            "--output-dir",
            str(tmp_path / "out"),
            "--no-warm-up",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.mark.parametrize("kind", ["hub id offline", "missing dir", "corrupt dir"])
def test_unloadable_model_exits_nonzero_with_one_clear_message(kind: str, tmp_path: Path) -> None:
    if kind == "hub id offline":
        model = "facebook/musicgen-small"
    elif kind == "missing dir":
        model = str(tmp_path / "no-such-model")
    else:
        corrupt = tmp_path / "corrupt"
        corrupt.mkdir()
        (corrupt / "config.json").write_text("{ not json")
        model = str(corrupt)
    result = _serve(model, tmp_path)
    assert result.returncode == 1
    out = result.stdout + result.stderr
    assert f"cannot load model '{model}'" in out
    assert "--model tiny" in out
    assert "Traceback" not in out
    if kind == "hub id offline":
        assert "hf download facebook/musicgen-small" in out and "cache" in out


def test_melody_model_is_conditioned_on_the_clips_chroma() -> None:
    melody_engine = MusicgenEngine.load("tiny-melody", "cpu")
    assert melody_engine.info.supports_melody
    t = np.arange(32000 * 3) / 32000
    a440 = (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)[None]
    seen: dict[str, object] = {}
    real = melody_engine.model.generate

    def spy(**kwargs: object) -> object:  # the device edge: look at what the model is fed
        seen.update(kwargs)
        return real(**kwargs)

    melody_engine.model.generate = spy
    audio = melody_engine.generate(
        GenerationSpec(duration_seconds=1.0, prompt="x", melody=a440, variations=2, seed=1)
    )
    assert audio.shape == (2, 1, 32000)
    features = seen["input_features"]
    # One-hot chroma frames of the 3 s clip, one set per row (the model tiles them over its
    # 30 s window, as transformers' feature extractor leaves them): 1 + 96000 // 4096.
    assert features.shape == (2, 24, 12)
    assert torch.equal(features.sum(dim=-1), torch.ones(2, 24))
    # While the tone sounds, the dominant pitch class is A.
    assert (features[0, 2:20].argmax(dim=-1) == 9).all()
    assert "input_values" not in seen  # conditioned on, not continued


def test_stereo_model_generates_and_continues_in_stereo() -> None:
    from sidecar.engine.tiny import build_tiny_model

    model, tokenizer = build_tiny_model(audio_channels=2)  # 8 codebooks, like stereo-small
    stereo = MusicgenEngine(model, tokenizer, "tiny-stereo", "cpu", is_random=True)
    assert stereo.info.channels == 2
    assert stereo.generate(
        GenerationSpec(duration_seconds=0.5, prompt="x", variations=2)
    ).shape == (2, 2, 16000)
    prompt = np.random.default_rng(0).uniform(-0.3, 0.3, (2, 32000)).astype(np.float32)
    spec = GenerationSpec(duration_seconds=0.5, prompt="x", audio_prompt=prompt)
    assert stereo.generate(spec).shape == (1, 2, 16000)
    # A mono clip is spread to both channels of a stereo model.
    mono = GenerationSpec(duration_seconds=0.5, audio_prompt=prompt[:1])
    assert stereo.generate(mono).shape == (1, 2, 16000)
