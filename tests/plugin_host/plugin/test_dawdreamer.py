"""DawDreamer (a JUCE host with a real transport) plays the VST3 with a tiny sidecar answering."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.plugin_host.plugin.audio_checks import (
    HOST_RATE,
    bar_frames,
    expected_take,
    mono,
    read_mono,
    tile_loop,
)
from tests.plugin_host.plugin.bundles import vst3_bundle
from tests.plugin_host.plugin.hostproc import HostProcess
from tests.plugin_host.plugin.observe import PluginWatch
from tests.support.server import SidecarProcess


def norm_bars(bars: int) -> float:
    """INTERFACE.md: bars params are 1..32, normalised (v - 1) / 31."""
    return (bars - 1) / 31.0


def test_take_starts_exactly_on_a_bar_line_and_loops(
    sidecar: SidecarProcess,
    amen_bar: tuple[Path, float],
    watch_for: Callable[[int], PluginWatch],
    dawdreamer: Callable[[PluginWatch], HostProcess],
    tmp_path: Path,
) -> None:
    loop_path, bpm = amen_bar
    bar = bar_frames(bpm, 4, 4, HOST_RATE)
    drums = tile_loop(loop_path, 8, tmp_path / "amen-8-bars.wav")
    watch = watch_for(sidecar.port)
    host = dawdreamer(watch)
    host.call("load", plugin=str(vst3_bundle()), sample_rate=HOST_RATE, block_size=512, bpm=bpm)
    host.call("input", wav=str(drums))
    host.call("param", name="Mix", value=1.0)  # take only: the output is the take
    host.call("param", name="Capture bars", value=norm_bars(2))
    host.call("param", name="Take bars", value=norm_bars(2))

    # Render 1: generate pressed in bar 2 (2.5 bars in); the last 2 complete bars are taken at
    # the next bar line (bar 3 = ppq 12).
    press_seconds = 2.5 * bar / HOST_RATE
    host.call("automate", name="Generate", points=[[0, 0.0], [press_seconds, 1.0]])
    first = host.call("render", seconds=6 * bar / HOST_RATE)
    status = watch.wait_for_take()

    capture = status["capture"]
    assert capture["beats_per_bar"] == 4 and capture["bars"] == 2
    assert abs(capture["bpm"] - bpm) < 1e-3
    quarter_frames = 60.0 / bpm * HOST_RATE  # ppq is checked to a small part of a frame
    assert capture["start_ppq"] == pytest.approx(4.0, abs=0.01 / quarter_frames)
    assert capture["end_ppq"] == pytest.approx(12.0, abs=0.01 / quarter_frames)
    # The capture is exactly bars 1..2 of what the host played (24-bit PCM of the input).
    captured, capture_rate = sf.read(capture["path"], dtype="float64", always_2d=True)
    played, _ = sf.read(str(drums), dtype="float64", always_2d=True)
    assert capture_rate == HOST_RATE
    assert captured.shape[0] == round(2 * bar)
    assert np.max(np.abs(captured - played[round(bar): round(3 * bar)])) < 1e-5

    # Render 2 restarts DawDreamer's transport at 0; the plugin kept the take and plays it on
    # the grid. The stem (sidecar's file) must appear sample-exactly from a bar line, looping.
    host.call("param", name="Generate", value=0.0)
    second = host.call("render", seconds=8 * bar / HOST_RATE)
    out_path = tmp_path / "dawdreamer-out.wav"
    host.call("save", path=str(out_path))
    output, _ = sf.read(str(out_path), dtype="float64", always_2d=True)
    render1 = mono(output[: first["frames"]])
    render2 = mono(output[second["first_sample"]:])

    take = next(t for t in watch.status()["takes"] if t.get("loaded"))
    stem, stem_rate = read_mono(Path(take["path"]))
    assert stem_rate == HOST_RATE  # the sidecar delivered at 48 kHz; no resampling involved
    # No take yet: mix 1 outputs silence (after the first block: DawDreamer applies the Mix
    # automation from the second block on, the first plays at the default mix 0.5).
    assert np.max(np.abs(render1[512:])) == 0.0, "no take yet: mix 1 outputs silence"

    # The take starts on a bar line of render 2 (the first the plugin saw after it loaded)
    # and, from there, every frame is the stem's frame at that grid position, looped every
    # 2 bars: the player is locked to DawDreamer's ppq to the frame.
    player = watch.status()["player"]
    assert player["state"] == "playing", player
    start_ppq = float(player["start_ppq"])
    assert start_ppq == pytest.approx(4.0 * player["start_bar"], abs=1e-9), player
    timeline = [[second["frames"], 0.0, bpm, True, True]]
    model = expected_take(timeline, stem, start_ppq, bpm, round(2 * bar))
    error = np.abs(render2[512:] - model[512:])  # the first block: DawDreamer's, see above
    assert error.max() < 1e-4, f"frame {int(np.argmax(error)) + 512}: off by {error.max()}"
    assert np.count_nonzero(model) > 0.9 * model.size, "the take plays all through render 2"
    assert abs(float(np.abs(render2).max())) > 0.01

    # Mix 0 is the input, exactly, whatever the take does.
    host.call("param", name="Mix", value=0.0)
    third = host.call("render", seconds=2 * bar / HOST_RATE)
    host.call("save", path=str(out_path))
    output, _ = sf.read(str(out_path), dtype="float64", always_2d=True)
    dry = output[third["first_sample"]:]
    assert np.max(np.abs(dry - played[: dry.shape[0]])[512:]) < 1e-6
