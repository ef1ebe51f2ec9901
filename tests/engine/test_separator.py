"""The Demucs separator on tiny random HTDemucs models built from Demucs's own classes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sidecar.engine.demucs_models import SEPARATOR_MODELS, separator_parts
from sidecar.engine.separator import Separator, fetch_command, is_cached
from sidecar.errors import CancelledError, ModelLoadError

RATE = 32000


@pytest.fixture(scope="module")
def separator() -> Separator:
    return Separator.load("tiny-demucs")


def _takes(count: int, channels: int, seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    base = 0.3 * np.sin(2 * np.pi * 110.0 * t) * (np.sin(2 * np.pi * 2.0 * t) > 0)
    takes = base + 0.05 * rng.standard_normal((count, channels, t.size))
    return takes.astype(np.float32)


def test_parts_have_the_takes_shape_mono_and_stereo(separator: Separator) -> None:
    assert separator.info.parts == ("drums", "bass", "other", "vocals")
    assert separator.info.is_random and separator.info.memory_bytes > 0
    for channels in (1, 2):
        takes = _takes(1, channels, 1.3, seed=channels)
        parts = separator.separate(takes, RATE)
        assert parts.shape == (1, 4, channels, takes.shape[-1])
        assert parts.dtype == np.float32 and np.all(np.isfinite(parts))
        assert float(np.abs(parts).max()) > 0


def test_a_batch_separates_each_take_as_alone(separator: Separator) -> None:
    takes = _takes(2, 1, 1.2, seed=3)
    together = separator.separate(takes, RATE)
    alone = separator.separate(takes[1:], RATE)
    np.testing.assert_allclose(together[1], alone[0], atol=2e-5)
    # Another take gives other parts: the output follows the input.
    assert float(np.abs(together[0] - together[1]).max()) > 1e-3


def test_six_part_model_adds_guitar_and_piano() -> None:
    six = Separator.load("tiny-demucs-6s")
    assert six.info.parts == SEPARATOR_MODELS["htdemucs_6s"] == separator_parts("htdemucs_6s")
    parts = six.separate(_takes(1, 2, 1.0, seed=4), RATE)
    assert parts.shape[:2] == (1, 6)


def test_progress_counts_segments_and_a_cancel_stops_mid_separation(
    separator: Separator,
) -> None:
    takes = _takes(1, 1, 4.0, seed=5)  # 2 s segments, 1.5 s apart: 3 of them
    seen: list[tuple[int, int]] = []
    separator.separate(takes, RATE, lambda done, total: seen.append((done, total)))
    assert (
        seen
        == [(1, 3), (2, 3), (3, 3)]
        == [(i, separator.segments(takes.shape[-1], RATE)) for i in (1, 2, 3)]
    )

    calls: list[int] = []

    def cancel_after_first(done: int, total: int) -> None:
        calls.append(done)
        raise CancelledError("cancelled")

    with pytest.raises(CancelledError):
        separator.separate(takes, RATE, cancel_after_first)
    assert calls == [1]  # stopped after the first segment, not at the end
    # Still usable after a cancel.
    assert separator.separate(takes[:, :, :RATE], RATE).shape == (1, 4, 1, RATE)


def test_unknown_name_is_one_clear_error() -> None:
    with pytest.raises(ModelLoadError, match="separator: got 'htdemux'; expected one of htdemucs"):
        Separator.load("htdemux")
    assert is_cached("tiny-demucs") and not is_cached("htdemux")


def test_offline_and_uncached_names_the_model_and_the_fetch_command(tmp_path: Path) -> None:
    """Demucs's real loader, with empty caches and no network (HF offline, a dead proxy)."""
    env = {
        **os.environ,
        "HF_HOME": str(tmp_path / "hf"),
        "TORCH_HOME": str(tmp_path / "torch"),
        "HF_HUB_OFFLINE": "1",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    code = (
        "from sidecar.engine.separator import Separator, is_cached\n"
        "assert not is_cached('htdemucs_6s')\n"
        "Separator.load('htdemucs_6s')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "ModelLoadError: separator: 'htdemucs_6s' is not in the cache" in done.stderr
    assert fetch_command("htdemucs_6s") in done.stderr
