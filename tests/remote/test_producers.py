"""Two producers' sidecars (`serve --engine`) on one real pool: batched decodes, stems on the
producers' own disks, cancel and previews through the pool."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from pedalboard.io import AudioFile

from sidecar.osc import addresses as A
from sidecar.osc.client import Reply, SidecarClient
from tests.support.pool import PoolProcess
from tests.support.server import SidecarProcess


def one_terminal(client: SidecarClient, rid: str, timeout_seconds: float = 240) -> list[Reply]:
    """The replies of `rid` up to its terminal one, and then silence about it for a second."""
    replies = client.until_terminal(rid, timeout_seconds)
    assert replies and replies[-1][0] in A.TERMINAL_REPLIES, replies
    deadline = time.monotonic() + 1.0
    while (left := deadline - time.monotonic()) > 0:
        late = client.receive(left)
        assert late is None or late[1][0] != rid, f"a reply after the terminal one: {late}"
    return replies


def read_stem(path: str) -> tuple[int, np.ndarray]:
    with AudioFile(path) as f:
        return int(f.samplerate), f.read(f.frames)


def batches_of_two_or_more(pool: PoolProcess) -> int:
    return sum(n for size, n in pool.status()["batch_sizes"].items() if int(size) >= 2)


def continue_args(clip: Path, seed: int) -> tuple[object, ...]:
    return ("clip", str(clip), "bars", 2, "bpm", 120.0, "prompt", "drums", "seed", seed)


def test_two_producers_at_once_are_one_batch_with_bar_exact_stems_written_locally(
    pool: PoolProcess, producer_a: SidecarProcess, producer_b: SidecarProcess, clip: Path
) -> None:
    batched_before = batches_of_two_or_more(pool)
    with (
        SidecarClient(producer_a.host, producer_a.port) as a,
        SidecarClient(producer_b.host, producer_b.port) as b,
    ):
        a.send(A.CONTINUE, "pa-1", *continue_args(clip, 5))
        b.send(A.CONTINUE, "pb-1", *continue_args(clip, 6))
        took = {"pa-1": one_terminal(a, "pa-1"), "pb-1": one_terminal(b, "pb-1")}
        stems = {}
        for rid, producer in (("pa-1", producer_a), ("pb-1", producer_b)):
            replies = took[rid]
            assert replies[-1] == (A.DONE, (rid, 1)), replies
            path = next(args for kind, args in replies if kind == A.STEM)[2]
            # written by the producer's own sidecar, in its own folder, not on the pool's side
            assert Path(path).is_relative_to(producer.output_dir), path
            rate, audio = read_stem(path)
            # 2 bars of 4/4 at 120 BPM are 4 s: 192000 frames at 48 kHz, to the sample
            assert (rate, audio.shape[1]) == (48000, 192000)
            stems[rid] = audio
        assert batches_of_two_or_more(pool) > batched_before, pool.status()
        # the seeds still matter inside one batch
        assert not np.allclose(stems["pa-1"], stems["pb-1"], atol=1e-3)

        # The same request alone (a batch of one, unbatched) gives the same audio (exact mode).
        singles = pool.status()["batch_sizes"].get("1", 0)
        a.send(A.CONTINUE, "pa-2", *continue_args(clip, 5))
        replies = one_terminal(a, "pa-2")
        assert replies[-1][0] == A.DONE, replies
        assert pool.status()["batch_sizes"].get("1", 0) == singles + 1
        _, alone = read_stem(next(args for kind, args in replies if kind == A.STEM)[2])
        np.testing.assert_allclose(alone, stems["pa-1"], atol=1e-4)


def test_a_cancel_reaches_the_pool_and_frees_its_ticket(
    pool: PoolProcess, producer_a: SidecarProcess
) -> None:
    with SidecarClient(producer_a.host, producer_a.port) as client:
        client.send(A.GENERATE, "pa-long", "prompt", "x", "seconds", 30.0)
        while True:
            reply = client.receive(240)
            assert reply is not None
            if reply[0] == A.PROGRESS and reply[1][0] == "pa-long" and reply[1][1] > 0.01:
                break
        assert len(pool.status()["active"]) == 1
        client.send(A.CANCEL, "pa-long")
        assert one_terminal(client, "pa-long", 60)[-1] == (A.CANCELLED, ("pa-long",))
    deadline = time.monotonic() + 20
    while pool.status()["active"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert pool.status()["active"] == {}


def test_previews_stream_back_through_the_pool(producer_b: SidecarProcess) -> None:
    with SidecarClient(producer_b.host, producer_b.port) as client:
        client.send(A.GENERATE, "pb-prev", "prompt", "x", "seconds", 3.0, "preview", 1.0)
        replies = one_terminal(client, "pb-prev")
    kinds = [kind for kind, _ in replies]
    assert kinds[-1] == A.DONE, replies
    previews = [args for kind, args in replies if kind == A.PREVIEW]
    ready = [p[2] for p in previews]
    assert previews and ready == sorted(ready) and ready[0] < 3.0
    assert max(i for i, k in enumerate(kinds) if k == A.PREVIEW) < kinds.index(A.STEM)
    assert ready[-1] == pytest.approx(3.0)
