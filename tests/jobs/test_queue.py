"""The bounded FIFO queue: order, back-pressure, duplicates, cancel, one terminal state."""

from __future__ import annotations

import threading

import pytest

from sidecar.errors import BusyError, DuplicateRequestError
from sidecar.jobs.queue import Job, JobQueue, JobState
from sidecar.osc.schema import GenerateRequest


def job(rid: str) -> Job:
    return Job(request=GenerateRequest(request_id=rid), reply_to=("127.0.0.1", 1))


def test_fifo_positions_and_take() -> None:
    q = JobQueue(4)
    assert [q.submit(job(x)) for x in "abc"] == [0, 1, 2]
    first = q.take(0.1)
    assert first is not None and first.request_id == "a" and first.state is JobState.RUNNING
    assert q.position(first) == 0
    b = q.get("b")
    assert b is not None and q.position(b) == 1
    assert q.submit(job("d")) == 3  # one running + b, c queued ahead


def test_full_queue_is_busy_and_duplicates_are_refused() -> None:
    q = JobQueue(2)
    q.submit(job("a"))
    q.submit(job("b"))
    with pytest.raises(BusyError, match="queue full"):
        q.submit(job("c"))
    with pytest.raises(DuplicateRequestError, match="'a' is already queued"):
        q.submit(job("a"))
    running = q.take(0.1)
    assert running is not None
    with pytest.raises(DuplicateRequestError, match="already running"):
        q.submit(job("a"))
    assert running.finish(JobState.DONE)
    q.task_done(running)
    q.submit(job("a"))  # a finished id may be used again


def test_cancel_queued_and_running() -> None:
    q = JobQueue(4)
    q.submit(job("a"))
    q.submit(job("b"))
    running = q.take(0.1)
    assert running is not None
    cancelled, answered_here = q.cancel("b")
    assert answered_here and cancelled is not None and cancelled.state is JobState.CANCELLED
    flagged, answered_here = q.cancel("a")
    assert not answered_here and flagged is running and running.cancel_requested
    assert q.cancel("nope") == (None, False)
    assert q.take(0.05) is None  # b is gone


def test_terminal_state_is_set_once_across_threads() -> None:
    j = job("x")
    wins: list[bool] = []
    threads = [
        threading.Thread(target=lambda s=s: wins.append(j.finish(s)))
        for s in (JobState.DONE, JobState.CANCELLED, JobState.FAILED) * 10
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1


def test_drain_closes_the_queue() -> None:
    q = JobQueue(4)
    q.submit(job("a"))
    assert [j.request_id for j in q.drain()] == ["a"]
    with pytest.raises(BusyError, match="shutting down"):
        q.submit(job("b"))
    assert q.take(0.01) is None


def test_two_running_jobs_one_finishing_and_one_on_the_model() -> None:
    q = JobQueue(4)
    for rid in ("a", "b", "c"):
        q.submit(job(rid))
    first, second = q.take(0.1), q.take(0.1)
    assert first is not None and second is not None
    assert q.running_jobs == (first, second)
    assert q.running is second  # the model's job, which /sidecar/status names
    assert q.position(first) == q.position(second) == 0
    waiting = q.get("c")
    assert waiting is not None and q.position(waiting) == 1
    assert not q.wait_idle(0.01)
    assert first.finish(JobState.DONE)
    q.task_done(first)
    assert q.running_jobs == (second,) and not q.wait_idle(0.01)
    assert second.finish(JobState.DONE)
    q.task_done(second)
    assert q.running is None and q.wait_idle(0.01)


def test_finished_jobs_are_forgotten_even_while_one_job_runs_long() -> None:
    """Submit-and-cancel churn during one long job keeps the status table bounded, and the
    running job (the oldest entry) is still known."""
    from sidecar.jobs.queue import _HISTORY

    queue = JobQueue(4)
    queue.submit(Job(GenerateRequest("long"), ("127.0.0.1", 1)))
    running = queue.take()
    assert running is not None
    for i in range(3 * _HISTORY):
        queue.submit(Job(GenerateRequest(f"r{i}"), ("127.0.0.1", 1)))
        queue.cancel(f"r{i}")
    assert len(queue._known) <= _HISTORY + queue.max_size + 1
    assert queue.get("long") is running
    assert queue.get(f"r{3 * _HISTORY - 1}") is not None  # the newest are remembered
    assert queue.get("r0") is None  # the oldest finished one is not
