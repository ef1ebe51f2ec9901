"""The take pool: order kept, work side by side, cancel and errors stop the batch."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from sidecar.errors import CancelledError
from sidecar.post.pipeline import PostSpec, process
from sidecar.takes.parallel import TakePool, usable_cores
from tests.post.synth import drums


def _spectrum_energy(seed: int) -> float:
    """Real numpy work that releases the GIL: the energy of a 2**20-point spectrum."""
    signal = np.random.default_rng(seed).standard_normal(1 << 20)
    return float(np.sum(np.abs(np.fft.rfft(signal)) ** 2))


def test_results_come_back_in_input_order_and_equal_serial_results() -> None:
    pool = TakePool(3)
    try:
        got = pool.map(_spectrum_energy, list(range(7)), lambda: None)
    finally:
        pool.close()
    assert got == [_spectrum_energy(seed) for seed in range(7)]


def test_takes_run_on_several_threads_at_once() -> None:
    pool = TakePool(2)
    both_inside = threading.Barrier(2, timeout=10.0)
    names: list[str] = []

    def take(item: int) -> int:
        names.append(threading.current_thread().name)
        both_inside.wait()  # only passes if two takes are running at the same time
        return item * 10

    try:
        assert pool.map(take, [1, 2], lambda: None) == [10, 20]
    finally:
        pool.close()
    assert len(set(names)) == 2 and all(n.startswith("sidecar-take") for n in names)


def test_one_take_runs_inline_on_the_callers_thread() -> None:
    pool = TakePool(4)
    seen: list[threading.Thread] = []

    def take(item: int) -> int:
        seen.append(threading.current_thread())
        return item

    assert pool.map(take, [5], lambda: None) == [5]
    assert seen == [threading.current_thread()]
    assert pool._executor is None  # no threads were started for it


def test_cancel_drops_takes_not_started_and_waits_for_the_running_one() -> None:
    pool = TakePool(2)
    started: list[int] = []
    running = threading.Event()
    finished: list[int] = []
    cancelled = threading.Event()

    def take(item: int) -> int:
        started.append(item)
        running.set()
        time.sleep(0.05 * (item + 1))
        finished.append(item)
        return item

    def check_cancel() -> None:
        cancelled.set()
        raise CancelledError("cancelled by the client")

    try:
        with pytest.raises(CancelledError):
            pool.map(take, list(range(8)), check_cancel)
        # The first take to finish triggered the cancel; at most the two running ones ran.
        assert cancelled.is_set() and len(started) <= 3
        assert sorted(finished) == sorted(started)  # nothing is still running after map returns
        time.sleep(0.3)
        assert len(started) <= 3  # and nothing starts later
    finally:
        pool.close()


def test_a_failing_take_raises_its_own_error() -> None:
    pool = TakePool(2)

    def take(item: int) -> int:
        if item == 2:
            raise ValueError(f"take {item}: bad audio")
        return item

    try:
        with pytest.raises(ValueError, match="take 2: bad audio"):
            pool.map(take, [0, 1, 2, 3], lambda: None)
        assert pool.map(take, [0, 1], lambda: None) == [0, 1]  # the pool still serves
    finally:
        pool.close()


def test_close_stops_the_threads() -> None:
    pool = TakePool(2)
    pool.map(_spectrum_energy, [0, 1], lambda: None)
    assert pool._executor is not None
    threads = list(pool._executor._threads)
    assert threads and all(t.is_alive() for t in threads)
    pool.close()
    for thread in threads:
        thread.join(timeout=5.0)
    assert not any(t.is_alive() for t in threads)


def test_default_size_follows_the_cores_this_process_may_use() -> None:
    assert TakePool().max_workers == min(8, usable_cores())
    assert usable_cores() >= 1


def test_start_runs_beside_the_caller_and_map_still_serves_meanwhile() -> None:
    pool = TakePool(2)
    release = threading.Event()

    def slow() -> str:
        release.wait(10.0)
        return threading.current_thread().name

    try:
        background = pool.start(slow)
        # The other thread still takes a batch while the background task waits.
        assert pool.map(_spectrum_energy, [3, 4], lambda: None) == [
            _spectrum_energy(3),
            _spectrum_energy(4),
        ]
        assert not background.done()
        release.set()
        assert background.result(timeout=10.0).startswith("sidecar-take")
    finally:
        release.set()
        pool.close()


def test_the_tempo_contract_gives_the_same_stems_side_by_side_as_one_by_one() -> None:
    # Three takes at different tempi, each stretched (Rubber Band), gridded, looped and
    # loudness-matched at once on three threads: bit for bit what one thread gives.
    takes = [drums(bpm, 6, 32000, 2, seed=i).audio for i, bpm in enumerate((116, 118, 123))]
    spec = PostSpec(bpm=120, bars=4, loop=True, downbeat_at_start=True)

    def one(audio: np.ndarray) -> tuple[np.ndarray, str]:
        stem, report = process(audio, 32000, spec)
        return stem, report.decision

    serial = [one(audio) for audio in takes]
    pool = TakePool(3)
    try:
        for _ in range(2):
            side_by_side = pool.map(one, takes, lambda: None)
            for (a, decision_a), (b, decision_b) in zip(serial, side_by_side, strict=True):
                assert decision_a == decision_b == "stretched"
                assert np.array_equal(a, b)
    finally:
        pool.close()


def test_meanwhile_waits_for_what_it_started_even_when_the_block_fails() -> None:
    pool = TakePool(2)
    finished: list[int] = []

    def slow(item: int) -> int:
        time.sleep(0.2)
        finished.append(item)
        return item

    try:
        with pytest.raises(CancelledError), pool.meanwhile() as meanwhile:
            first, second = meanwhile(slow, 1), meanwhile(slow, 2)
            raise CancelledError("cancelled by the client")
        assert first.done() and second.done() and sorted(finished) == [1, 2]
        with pool.meanwhile() as meanwhile:
            third = meanwhile(slow, 3)
            assert pool.map(lambda x: x + 1, [1, 2], lambda: None) == [2, 3]
        assert third.result() == 3
    finally:
        pool.close()
