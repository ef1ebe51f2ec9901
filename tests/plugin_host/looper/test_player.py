import numpy as np
import pytest

from plugin_host.looper.player import LoopPlayer, SwitchCommand
from plugin_host.looper.scheduler import (
    capture_bars,
    fit_to_length,
    frames_per_bar,
    next_switch_bar,
)


def render(player, total, block, frame0=0):
    out = np.zeros((total, player.channels), np.float32)
    for start in range(0, total, block):
        n = min(block, total - start)
        player.render(out[start : start + n], frame0 + start)
    return out


def dc(value, frames, channels=2):
    return np.full((frames, channels), value, np.float32)


@pytest.mark.parametrize("block", [64, 256, 1000])
@pytest.mark.parametrize("switch_frame", [0, 5000, 5001, 9999])
def test_switch_lands_on_the_requested_frame_sample_exactly(block, switch_frame):
    player = LoopPlayer(channels=2, max_block_frames=512, crossfade_frames=0)
    player.schedule(SwitchCommand(1, switch_frame, dc(0.5, 300)))
    out = render(player, 12_000, block)
    assert not out[:switch_frame].any()
    assert (out[switch_frame:] == 0.5).all()
    assert player.applied_switches() == [(1, switch_frame, switch_frame)]


def test_loop_wraps_with_its_phase_anchored_at_the_start_frame():
    player = LoopPlayer(channels=1, max_block_frames=128, crossfade_frames=0)
    loop = np.arange(100, dtype=np.float32)[:, None]
    player.schedule(SwitchCommand(1, 37, loop))
    out = render(player, 1000, 128)
    frames = np.arange(37, 1000)
    np.testing.assert_array_equal(out[37:, 0], (frames - 37) % 100)


def test_crossfade_is_equal_power_and_has_no_dropout():
    xf = 480
    player = LoopPlayer(channels=1, max_block_frames=256, crossfade_frames=xf)
    player.schedule(SwitchCommand(1, 0, dc(1.0, 1000, 1)))
    render(player, 2000, 256)
    player.schedule(SwitchCommand(2, 3000, dc(1.0, 1000, 1)))
    out = render(player, 4000, 256, frame0=2000)[:, 0]
    before, fade, after = out[:1000], out[1000 : 1000 + xf], out[1000 + xf :]
    assert (before == 1.0).all() and (after == 1.0).all()
    # sin + cos of the same angle: ≥ 1 everywhere (no dip), ≤ √2.
    assert fade.min() >= 0.999 and fade.max() <= np.sqrt(2) + 1e-6


def test_stop_fades_out_then_silence():
    player = LoopPlayer(channels=1, max_block_frames=256, crossfade_frames=100)
    player.schedule(SwitchCommand(1, 0, dc(1.0, 64, 1)))
    player.schedule(SwitchCommand(1, 0, dc(1.0, 64, 1)))
    render(player, 512, 256)
    player.schedule(SwitchCommand(2, 1000, None))
    out = render(player, 1000, 256, frame0=512)[:, 0]
    assert (out[: 1000 - 512] == 1.0).all()
    assert (out[1000 - 512 + 100 :] == 0.0).all()
    assert player.current is None


def test_late_switch_is_applied_at_once_and_logged():
    player = LoopPlayer(channels=1, max_block_frames=256, crossfade_frames=0)
    render(player, 1024, 256)
    player.schedule(SwitchCommand(7, 500, dc(1.0, 10, 1)))
    render(player, 256, 256, frame0=1024)
    assert player.applied_switches()[-1] == (7, 500, 1024)


def test_cancel_withdraws_a_pending_switch():
    player = LoopPlayer(channels=1, max_block_frames=256, crossfade_frames=0)
    player.schedule(SwitchCommand(1, 10_000, dc(1.0, 10, 1)))
    assert player.cancel() is not None
    out = render(player, 20_000, 256)
    assert not out.any()


def test_schedule_rejects_wrong_layout():
    player = LoopPlayer(channels=2, max_block_frames=256, crossfade_frames=0)
    with pytest.raises(ValueError, match=r"float32 \(frames, 2\)"):
        player.schedule(SwitchCommand(1, 0, np.zeros((10, 1), np.float32)))


@pytest.mark.parametrize(
    ("beats_now", "expected"),
    [(16.0, (0, 4)), (17.9, (0, 4)), (19.4, (0, 4)), (19.5, (1, 5)), (19.99, (1, 5))],
)
def test_capture_bars_takes_the_last_whole_bars_and_forgives_early_presses(beats_now, expected):
    assert capture_bars(beats_now, 4, 4, early_window_beats=0.5) == expected


def test_next_switch_bar_quantizes_to_bar_or_loop_length():
    assert next_switch_bar(5.2, 0.0) == 6
    assert next_switch_bar(5.0, 0.0) == 5
    assert next_switch_bar(5.2, 0.0, "loop", loop_start_bar=4, loop_bars=4) == 8
    assert next_switch_bar(8.0, 0.0, "loop", loop_start_bar=4, loop_bars=4) == 8
    assert next_switch_bar(8.01, 0.0, "loop", loop_start_bar=4, loop_bars=2) == 10


@pytest.mark.parametrize("bpm", [96.0, 120.0, 174.0])
def test_fit_to_length_pads_and_trims_to_the_grid(bpm):
    n = round(4 * frames_per_bar(bpm, 48000))
    short = fit_to_length(np.ones((n - 1000, 2), np.float32), n)
    long = fit_to_length(np.ones((n + 1000, 2), np.float32), n)
    assert short.shape == long.shape == (n, 2)
    assert (short[-1000:] == 0).all()
    assert long[-1, 0] == 0.0 and long[0, 0] == 1.0
