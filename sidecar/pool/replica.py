"""④ One pool replica: a warm MusicGen on one GPU; concurrent requests of a bucket, one decode."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from ray import serve

from sidecar.engine.base import Engine, GenerationSpec
from sidecar.engine.batching import batch_key, combine, split
from sidecar.engine.wire import audio_to_payload, encode_frame, info_to_json, spec_from_wire
from sidecar.errors import CancelledError, ModelError, SidecarError
from sidecar.pool.board import board

__all__ = ["PoolJob", "Replica"]

log = logging.getLogger(__name__)

#: Progress frames per request at most this often (the decode reports every step).
PROGRESS_EVERY_SECONDS = 0.1
#: A waiting request hears from its replica at least this often (the client's stall guard).
HEARTBEAT_SECONDS = 1.0
#: How often a running decode asks the board whether its requests were cancelled.
CANCEL_POLL_SECONDS = 0.1

Chunk = bytes | None | type[StopIteration]

#: The index of the frame a decode sends last, after every other.
_END = -1


@dataclass(frozen=True)
class PoolJob:
    """One request as the ingress hands it on: its ticket, its spec's wire form and payload."""

    ticket: str
    spec: dict[str, Any]
    payload: bytes
    preview_every: float = 0.0
    #: Which requests could share a decode (`sidecar.pool.router.bucket_of`): the router's hint.
    bucket: str = ""


@dataclass
class _Running:
    """The jobs of one bucket being decoded together, and what is known of them."""

    jobs: list[tuple[int, PoolJob, GenerationSpec]]
    cancelled: set[str]


class Replica:
    """Loads `model` once and decodes batches; see `sidecar.pool.app` for its deployment."""

    def __init__(
        self,
        model: str,
        device: str | None,
        decoder: str,
        max_batch_size: int,
        batch_wait_seconds: float,
        warm_up: bool = True,
    ) -> None:
        from sidecar.engine.loader import load_engine

        self.model = model
        self.engine: Engine = load_engine(model, device, decoder)
        if warm_up:
            self.engine.warm_up()
        batcher: Any = self.decode  # type: ignore[misc]
        batcher.set_max_batch_size(max_batch_size)
        batcher.set_batch_wait_timeout_s(batch_wait_seconds)
        self.batching = max_batch_size > 1 and self.engine.supports_row_groups
        context = serve.get_replica_context()
        self.replica_id = str(getattr(context, "replica_tag", None) or context.replica_id)
        self.board = board()
        self.board.joined.remote(self.replica_id, os.getpid())
        log.info("replica %s: %s ready (batches up to %d)", self.replica_id, model, max_batch_size)

    async def info(self) -> dict[str, Any]:
        info = info_to_json(self.engine.info)
        return {"name": self.model, "replica": self.replica_id, "info": info}

    @serve.batch(max_batch_size=4, batch_wait_timeout_s=0.03)  # type: ignore[arg-type]
    async def decode(self, jobs: list[PoolJob]) -> AsyncGenerator[list[Chunk], None]:  # type: ignore[misc]
        """Called one job at a time, run on batches: Serve gathers concurrent calls (its batch
        queue). Every job of the batch gets its own stream of frames, ended by its sentinel."""
        out: list[Chunk] = [None] * len(jobs)
        finished = [False] * len(jobs)
        parsed: list[tuple[int, PoolJob, GenerationSpec]] = []
        for i, job in enumerate(jobs):
            try:
                parsed.append((i, job, spec_from_wire(job.spec, job.payload)))
            except (ValueError, TypeError, KeyError, SidecarError) as e:
                out[i] = encode_frame("error", code="bad_request", message=f"spec: {e}")
                finished[i] = True
        if any(finished):
            yield self._step(out, finished)
        for group in self._groups(parsed):
            async for chunks in self._run(group, len(jobs), finished):
                yield chunks

    async def stream(self, job: PoolJob) -> AsyncGenerator[Chunk, None]:
        """What the ingress calls (streaming): this job's frames from the batch it joins."""
        async for chunk in self.decode(job):  # type: ignore[misc, call-arg]
            yield chunk

    def _groups(
        self, parsed: list[tuple[int, PoolJob, GenerationSpec]]
    ) -> list[list[tuple[int, PoolJob, GenerationSpec]]]:
        """Jobs that can share a decode, together; the rest alone, in arrival order."""
        if not self.batching:
            return [[entry] for entry in parsed]
        buckets: dict[Any, list[tuple[int, PoolJob, GenerationSpec]]] = {}
        alone = []
        for entry in parsed:
            key = batch_key(entry[2])
            if key is None:
                alone.append([entry])
            else:
                buckets.setdefault(key, []).append(entry)
        return [*buckets.values(), *alone]

    async def _run(
        self,
        group: list[tuple[int, PoolJob, GenerationSpec]],
        width: int,
        finished: list[bool],
    ) -> AsyncGenerator[list[Chunk], None]:
        tickets = [job.ticket for _, job, _ in group]
        cancelled = set(await self.board.cancelled_among.remote(tickets))
        out: list[Chunk] = [None] * width
        live = []
        for i, job, spec in group:
            if job.ticket in cancelled:
                out[i] = encode_frame("cancelled")
                finished[i] = True
            else:
                live.append((i, job, spec))
        if not live:
            yield self._step(out, finished)
            return
        running = _Running(live, set())
        await self.board.started.remote(self.replica_id, [job.ticket for _, job, _ in live])
        loop = asyncio.get_running_loop()
        frames: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
        task = loop.run_in_executor(None, self._decode_group, running, frames, loop)
        last_poll = 0.0
        try:
            while True:  # until the decode's last word (`_END`): no frame follows it
                try:
                    index, frame = await asyncio.wait_for(frames.get(), HEARTBEAT_SECONDS)
                    if index == _END:
                        break
                    out[index] = frame
                except TimeoutError:
                    if task.done() and frames.empty():  # it failed before it could say so
                        break
                    for i in range(width):  # those of later buckets wait too
                        if not finished[i] and out[i] is None:
                            out[i] = encode_frame("wait")
                if time.monotonic() - last_poll > CANCEL_POLL_SECONDS:
                    last_poll = time.monotonic()
                    gone = await self.board.cancelled_among.remote([j.ticket for _, j, _ in live])
                    for i, job, _ in live:
                        if job.ticket in gone and not finished[i]:
                            running.cancelled.add(job.ticket)
                            out[i] = encode_frame("cancelled")
                            finished[i] = True
                if any(c is not None for c in out):
                    yield self._step(out, finished)
            for i, frame in self._results(await task, running):
                if not finished[i]:
                    out[i] = frame
                    finished[i] = True
            yield self._step(out, finished)
        finally:
            await self.board.finished.remote(tickets)

    def _step(self, out: list[Chunk], finished: list[bool]) -> list[Chunk]:
        """This round's chunks; the sentinel for each job that ended before this round."""
        chunks = [
            StopIteration if (finished[i] and out[i] is None) else out[i] for i in range(len(out))
        ]
        for i in range(len(out)):
            out[i] = None
        return chunks

    def _decode_group(
        self, running: _Running, frames: asyncio.Queue[tuple[int, bytes]], loop: Any
    ) -> np.ndarray | SidecarError:
        """On a worker thread: one decode of the group's rows, streaming frames to the loop."""
        specs = [spec for _, _, spec in running.jobs]
        spec = specs[0] if len(specs) == 1 else combine(specs)
        say: Callable[[int, bytes], None] = lambda i, f: loop.call_soon_threadsafe(  # noqa: E731
            frames.put_nowait, (i, f)
        )
        last = [0.0]

        def progress(done: int, total: int) -> None:
            if len(running.cancelled) == len(running.jobs):
                raise CancelledError("every request of this batch was cancelled")
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY_SECONDS or done == total:
                last[0] = now
                for i, _, _ in running.jobs:
                    say(i, encode_frame("progress", done=done, total=total))

        kwargs: dict[str, Any] = {}
        previews = [job.preview_every for _, job, _ in running.jobs if job.preview_every > 0]
        if previews and getattr(self.engine, "streams_audio", False):
            kwargs = {
                "on_audio": self._preview(running, specs, say),
                "audio_every_seconds": min(previews),
            }
        try:
            return np.asarray(self.engine.generate(spec, progress, **kwargs))
        except SidecarError as e:
            return e
        except Exception as e:  # a bug is this batch's error, not the replica's death
            log.exception("decode failed on %s", self.replica_id)
            return ModelError(f"the decode failed on the pool: {type(e).__name__}: {e}")
        finally:
            say(_END, b"")  # after every frame of this decode (the queue keeps their order)

    def _preview(
        self, running: _Running, specs: list[GenerationSpec], say: Callable[[int, bytes], None]
    ) -> Callable[[np.ndarray, float], None]:
        rate = self.engine.info.sample_rate

        def on_audio(chunk: np.ndarray, seconds_ready: float) -> None:
            for (i, job, _), rows in zip(running.jobs, split(chunk, specs), strict=True):
                if job.preview_every > 0:
                    meta, blob = audio_to_payload(rows, rate)
                    say(i, encode_frame("preview", blob, audio=meta, seconds_ready=seconds_ready))

        return on_audio

    def _results(
        self, result: np.ndarray | SidecarError, running: _Running
    ) -> list[tuple[int, bytes]]:
        if isinstance(result, CancelledError):
            return [(i, encode_frame("cancelled")) for i, _, _ in running.jobs]
        if isinstance(result, SidecarError):
            frame = encode_frame("error", code=result.code, message=result.message)
            return [(i, frame) for i, _, _ in running.jobs]
        specs = [spec for _, _, spec in running.jobs]
        rate = self.engine.info.sample_rate
        out = []
        for (i, _, _), rows in zip(running.jobs, split(result, specs), strict=True):
            meta, blob = audio_to_payload(rows, rate)
            out.append((i, encode_frame("audio", blob, audio=meta)))
        return out
