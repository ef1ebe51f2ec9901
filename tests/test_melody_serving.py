"""Melody through a real `sidecar serve` over OSC: it follows the clip's chroma, and a model
that ignores its chroma (zeroed on purpose) is served as degraded and refuses melody takes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from pedalboard.io import AudioFile

from sidecar.engine.tiny import build_tiny_model
from sidecar.files.audiofile import write_audio_atomic
from sidecar.osc import addresses as A
from sidecar.osc.client import Reply, SidecarClient
from tests.support.server import running_sidecar

RATE = 48000


def _tone_clip(folder: Path, hz: float) -> Path:
    """Two seconds of a held note with its octave (a tonal clip: one dominant chroma bin)."""
    t = np.arange(2 * RATE) / RATE
    note = 0.3 * np.sin(2 * np.pi * hz * t) + 0.15 * np.sin(2 * np.pi * 2 * hz * t)
    return write_audio_atomic(folder / f"tone-{hz:.0f}.wav", note[None].astype(np.float32), RATE)


def _stem(replies: list[Reply]) -> np.ndarray:
    assert replies[-1][0] == A.DONE, replies
    path = next(args[2] for address, args in replies if address == A.STEM)
    with AudioFile(path) as f:
        return np.asarray(f.read(f.frames))


def _take(client: SidecarClient, rid: str, clip: Path) -> np.ndarray:
    client.send(A.CONTINUE, rid, "clip", str(clip), "seconds", 1.0, "temperature", 0.0, "seed", 5)
    return _stem(client.until_terminal(rid, 180))


def test_two_melodies_give_two_takes_through_a_real_server(tmp_path: Path) -> None:
    a4, eb4 = _tone_clip(tmp_path, 440.0), _tone_clip(tmp_path, 311.13)
    with (
        running_sidecar(
            tmp_path / "srv", "--model", "tiny-melody", "--no-warm-up", ready_timeout_seconds=300
        ) as server,
        SidecarClient(server.host, server.port) as client,
    ):
        assert client.ping(5)[1:] == ("tiny-melody", "cpu", "ready")
        first, again = _take(client, "a", a4), _take(client, "b", a4)
        other = _take(client, "c", eb4)
    assert np.array_equal(first, again)  # same clip, same seed: the same take
    assert first.shape == other.shape
    # Another melody, another take: by far more than the 24-bit rounding (6e-8). The tiny
    # random codec turns different codes into small changes on a code-independent waveform
    # (0.1 % of full scale here), so the difference is measured, not the sound.
    assert np.mean(np.abs(first - other)) > 1e-5


@pytest.fixture(scope="module")
def chroma_blind_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tiny-melody saved with its chroma projection zeroed: every melody projects to the same
    prefix (the bias), as if transformers had dropped it."""
    folder = tmp_path_factory.mktemp("models") / "melody-blind"
    model, tokenizer = build_tiny_model(melody=True)
    with torch.no_grad():
        model.audio_enc_to_dec_proj.weight.zero_()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_a_model_that_ignores_the_melody_is_degraded_and_refuses_melody_requests(
    tmp_path: Path, chroma_blind_model: Path
) -> None:
    clip = _tone_clip(tmp_path, 440.0)
    with (
        running_sidecar(  # the self-check runs with or without the warm-up
            tmp_path / "srv",
            "--model",
            str(chroma_blind_model),
            "--no-warm-up",
            ready_states=("degraded",),
            ready_timeout_seconds=300,
        ) as server,
        SidecarClient(server.host, server.port) as client,
    ):
        assert client.ping(5)[1:] == (str(chroma_blind_model), "cpu", "degraded")
        client.send(A.STATUS)
        status = client.receive(5)
        assert status is not None and status[0] == A.STATUS_REPLY
        assert status[1][:2] == ("", "degraded")
        client.send(A.CONTINUE, "m1", "clip", str(clip), "seconds", 1.0)
        replies = client.until_terminal("m1", 120)
        assert replies[0][0] == A.ACCEPTED and replies[-1][0] == A.ERROR, replies
        rid, code, message = replies[-1][1]
        assert (rid, code) == ("m1", "model_error")
        assert not any(address == A.STEM for address, _ in replies)  # no unconditioned take
        # A text-only take does not use the melody: it is made.
        client.send(A.GENERATE, "t1", "prompt", "warm pad", "seconds", 0.5)
        assert client.until_terminal("t1", 120)[-1] == (A.DONE, ("t1", 1))
        log = server.log()
    import transformers

    assert f"model '{chroma_blind_model}' ignores the melody" in message
    assert f"transformers {transformers.__version__}" in message
    assert "Fix: " in message and "audio_enc_to_dec_proj" in message
    errors = [line for line in log.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and message in errors[0], log  # said once, at start-up
