"""④ The pool's front door: HTTP with a token, each request routed to its model's replicas."""

from __future__ import annotations

import asyncio
import hmac
import io
import logging
from collections.abc import AsyncIterator
from typing import Any

import ray
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from sidecar.engine.wire import encode_frame, read_frame
from sidecar.pool.board import board
from sidecar.pool.replica import PoolJob
from sidecar.pool.router import bucket_of

__all__ = ["Ingress"]

log = logging.getLogger(__name__)

#: A request whose replica dies mid-take is tried again on another this many times.
RETRIES = 1


class Ingress:
    """`GET /v1/health | /v1/models | /v1/status`, `POST /v1/generate`, `POST /v1/cancel/ID`.

    Every route but health needs `Authorization: Bearer <token>`.
    """

    def __init__(self, models: dict[str, Any], token: str) -> None:
        if not token:
            raise ValueError("token: the pool needs one; nothing is served without it")
        self.models = models  # name -> DeploymentHandle
        self.token = token
        self.board = board()

    async def __call__(self, request: Request) -> Response:
        path = request.url.path.rstrip("/")
        if path.endswith("/v1/health"):
            return JSONResponse({"ok": True})
        if not self._authorized(request):
            return JSONResponse(
                {"code": "unauthorized", "message": "a wrong or missing token"}, 401
            )
        if path.endswith("/v1/models") and request.method == "GET":
            return JSONResponse({"models": await self._models()})
        if path.endswith("/v1/status") and request.method == "GET":
            return JSONResponse(await self.board.status.remote())
        if "/v1/cancel/" in path and request.method == "POST":
            await self.board.cancel.remote(path.rsplit("/", 1)[-1])
            return JSONResponse({"ok": True})
        if path.endswith("/v1/generate") and request.method == "POST":
            return await self._generate(request)
        return JSONResponse(
            {"code": "not_found", "message": f"no route {request.method} {path}"}, 404
        )

    def _authorized(self, request: Request) -> bool:
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode())

    async def _models(self) -> list[dict[str, Any]]:
        infos = await asyncio.gather(*(h.info.remote() for h in self.models.values()))
        return list(infos)

    async def _generate(self, request: Request) -> Response:
        try:
            frame = read_frame(io.BytesIO(await request.body()))
            if frame is None or frame.kind != "generate":
                raise ValueError("the body is not a 'generate' frame")
            model, ticket = str(frame.fields["model"]), str(frame.fields["ticket"])
            spec = dict(frame.fields["spec"])
            preview_every = float(frame.fields.get("preview_every", 0.0))
            job = PoolJob(ticket, spec, frame.payload, preview_every, bucket_of(spec))
        except (ValueError, KeyError, TypeError) as e:
            return JSONResponse({"code": "bad_request", "message": f"generate: {e}"}, 400)
        handle = self.models.get(model)
        if handle is None:
            served = ", ".join(sorted(self.models))
            message = f"model: {model!r} is not served here; served: {served}"
            return JSONResponse({"code": "bad_request", "message": message}, 400)
        return StreamingResponse(self._stream(handle, job), media_type="application/octet-stream")

    async def _stream(self, handle: Any, job: PoolJob) -> AsyncIterator[bytes]:
        attempt = 0
        try:
            while True:
                try:
                    async for chunk in handle.options(stream=True).stream.remote(job):
                        if chunk:
                            yield chunk
                    return
                except ray.exceptions.RayTaskError as e:  # a bug in the replica: no retry
                    log.error("decode of %s failed: %s", job.ticket, e)
                    yield encode_frame(
                        "error", code="model_error", message=f"the pool failed: {e.cause!r}"
                    )
                    return
                except ray.exceptions.RayActorError as e:  # the replica died or is unreachable
                    attempt += 1
                    reason = f"the replica decoding {job.ticket} was lost ({type(e).__name__})"
                    log.warning("%s; attempt %d of %d", reason, attempt, RETRIES + 1)
                    if attempt > RETRIES:
                        yield encode_frame(
                            "error",
                            code="model_error",
                            message=f"{reason}, and again on retry: no take",
                        )
                        return
                    yield encode_frame("retry", reason=f"{reason}: trying another replica")
        except asyncio.CancelledError:  # the producer's sidecar went away
            await self.board.cancel.remote(job.ticket)
            raise
