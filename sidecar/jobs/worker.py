"""③ The model worker: the queue's one consumer thread, and a finisher thread beside it."""

from __future__ import annotations

import threading

from sidecar.jobs.queue import JobQueue
from sidecar.jobs.runner import DecodedJob, JobRunner

__all__ = ["Worker"]


class Worker(threading.Thread):
    """The single consumer of the job queue; with `pipeline`, a second thread finishes jobs.

    Pipelined, the model decodes job N+1 while job N is post-processed and delivered on the
    finisher thread, so back-to-back requests are not held up by the CPU work between them.
    At most one job waits for or runs on the finisher: decoding the next one waits for it
    rather than piling up decoded audio. Actions (a model switch) run between decodes; the
    job being finished needs nothing from the model.
    """

    def __init__(self, queue: JobQueue, runner: JobRunner, pipeline: bool = True) -> None:
        super().__init__(name="sidecar-worker", daemon=True)
        self.queue = queue
        self.runner = runner
        self.pipeline = pipeline
        self._finisher: threading.Thread | None = None

    def run(self) -> None:
        try:
            while True:
                job = self.queue.take()
                if job is None:
                    return
                decoded = None
                try:
                    decoded = self.runner.decode(job)
                except Exception as e:  # a bug outside the job's own handling: keep serving
                    self.runner.answer_failure(job, e)
                finally:
                    if decoded is None:
                        self.queue.task_done(job)
                if decoded is not None:
                    self._hand_off(decoded)
                # Nothing of the last job stays referenced while the queue is empty.
                job = decoded = None
        finally:
            self._join_finisher()
            self.runner.close()

    def _hand_off(self, decoded: DecodedJob) -> None:
        if not self.pipeline:
            self._finish(decoded)
            return
        self._join_finisher()
        self._finisher = threading.Thread(
            target=self._finish, args=(decoded,), name="sidecar-finisher", daemon=True
        )
        self._finisher.start()

    def _join_finisher(self) -> None:
        if self._finisher is not None:
            self._finisher.join()
            self._finisher = None

    def _finish(self, decoded: DecodedJob) -> None:
        try:
            self.runner.finish(decoded)
        except Exception as e:  # as in `run`: the finisher never dies silently
            self.runner.answer_failure(decoded.job, e)
        finally:
            self.queue.task_done(decoded.job)
