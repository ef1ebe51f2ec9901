import numpy as np
import pytest

from plugin_host.looper.ring import AudioRing, RingOverrunError


def counter_blocks(total: int, block: int, channels: int = 2):
    n = 0
    while n < total:
        frames = min(block, total - n)
        data = np.arange(n, n + frames, dtype=np.float32)[:, None] + np.arange(channels) * 0.5
        yield data.astype(np.float32)
        n += frames


@pytest.mark.parametrize("block", [1, 64, 256, 1000, 4096])
def test_captured_audio_equals_input_across_wraparound(block):
    ring = AudioRing(capacity_frames=3000, channels=2)
    fed = np.concatenate(list(counter_blocks(10_007, block)))
    for b in counter_blocks(10_007, block):
        ring.write(b)
    assert ring.frames_written == 10_007
    start = ring.oldest_frame()
    got = ring.read(start, ring.capacity_frames)
    np.testing.assert_array_equal(got, fed[start:])
    # A window straddling the physical wrap point (index 0 of the buffer).
    wrap = (10_007 // 3000) * 3000
    got = ring.read(wrap - 100, 200)
    np.testing.assert_array_equal(got, fed[wrap - 100 : wrap + 100])


def test_block_longer_than_capacity_keeps_the_tail():
    ring = AudioRing(100, 1)
    data = np.arange(250, dtype=np.float32)[:, None]
    ring.write(data)
    assert ring.frames_written == 250
    np.testing.assert_array_equal(ring.read(150, 100), data[150:])


def test_reading_overwritten_or_future_frames_raises():
    ring = AudioRing(100, 1)
    ring.write(np.zeros((250, 1), np.float32))
    with pytest.raises(RingOverrunError, match="overwritten"):
        ring.read(149, 10)
    with pytest.raises(RingOverrunError, match="not written yet"):
        ring.read(245, 10)
    with pytest.raises(RingOverrunError, match="at most 100"):
        ring.read(0, 101)


def test_bad_arguments():
    with pytest.raises(ValueError, match="capacity_frames"):
        AudioRing(0, 1)
    ring = AudioRing(10, 2)
    ring.write(np.zeros((10, 2), np.float32))
    with pytest.raises(ValueError, match="shape"):
        ring.read(0, 5, out=np.zeros((5, 1), np.float32))
