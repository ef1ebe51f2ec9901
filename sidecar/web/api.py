"""The page's requests: fields, generate/continue, cancel, reroll, recall, model switch, uploads."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from sidecar.errors import RequestError, SidecarError, UnauthorizedError
from sidecar.osc import addresses as A
from sidecar.osc.fields import FIELDS
from sidecar.osc.schema import GenerateRequest
from sidecar.web.context import StudioContext, error_response, new_request_id
from sidecar.web.guard import TOKEN_COOKIE
from sidecar.web.peaks import read_peaks

__all__ = ["PAGE_ONLY_OSC", "field_table", "request_routes"]

log = logging.getLogger(__name__)

#: Fields the page does not offer: its replies come over its event stream, not a UDP port.
PAGE_ONLY_OSC = ("reply_port",)
#: Fields only a continuation takes (shown in the Make view's continue part).
_CONTINUE_FIELDS = (
    "clip",
    "clip_start",
    "clip_end",
    "clip_start_beats",
    "clip_end_beats",
    "clip_bpm",
    "melody",
)
_MAIN_FIELDS = (
    "prompt",
    "preset",
    "bpm",
    "bars",
    "beats_per_bar",
    "key",
    "variations",
    "seed",
    "guidance",
    "temperature",
    "loop",
    "stems",
)
#: Largest JSON body of a request (a prompt is at most 4096 characters).
_MAX_JSON_BYTES = 64 * 1024


def field_table() -> list[dict[str, Any]]:
    """Every request field the page offers, from `sidecar.osc.fields`: the form is built from it."""
    defaults = GenerateRequest(request_id="-")
    rows = []
    for name, spec in FIELDS.items():
        if name in PAGE_ONLY_OSC:
            continue
        default = getattr(defaults, name, None)
        group = (
            "continue" if name in _CONTINUE_FIELDS else "main" if name in _MAIN_FIELDS else "more"
        )
        rows.append(
            {
                "name": name,
                "kind": spec.kind,
                "minimum": spec.minimum,
                "maximum": spec.maximum,
                "choices": list(spec.choices),
                "max_length": spec.max_length,
                "help": spec.help,
                "allowed": spec.allowed(),
                "default": default,
                "group": group,
            }
        )
    return rows


async def _json_body(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > _MAX_JSON_BYTES:
        raise RequestError(f"body: {len(body)} bytes; allowed: at most {_MAX_JSON_BYTES}", "body")
    try:
        values = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError) as e:
        raise RequestError(f"body: not JSON ({e}); send a JSON object", "body") from e
    if not isinstance(values, dict):
        raise RequestError(f"body: a JSON {type(values).__name__}; send an object", "body")
    return values


def _osc_args(rid: str, values: dict[str, Any]) -> tuple[Any, ...]:
    """A JSON object of request fields as OSC `request_id key value...` (null: not sent)."""
    args: list[Any] = [rid]
    for key, value in values.items():
        if key in PAGE_ONLY_OSC:
            raise RequestError(
                f"{key}: the page's replies come over its event stream; not allowed here", key
            )
        if value is None:
            continue
        args.extend([key, value])
    return tuple(args)


def request_routes(ctx: StudioContext) -> list[Route | WebSocketRoute]:
    async def fields(request: Request) -> Response:
        return JSONResponse({"fields": field_table()})

    async def generate(request: Request) -> Response:
        """`{"mode": "generate" | "continue", "fields": {...}}` → the OSC request's path."""
        try:
            body = await _json_body(request)
            mode = body.get("mode", "generate")
            if mode not in ("generate", "continue"):
                raise RequestError(f"mode: {str(mode)[:40]!r}; allowed: generate, continue", "mode")
            values = body.get("fields", {})
            if not isinstance(values, dict):
                raise RequestError("fields: send an object of request fields", "fields")
            rid = new_request_id()
            ctx.call(A.CONTINUE if mode == "continue" else A.GENERATE, _osc_args(rid, values))
            return _accepted(rid)
        except SidecarError as e:
            return error_response(e)

    def _accepted(rid: str) -> Response:
        job = ctx.receiver.queue.get(rid)
        position = ctx.receiver.queue.position(job) if job is not None else -1
        return JSONResponse({"request_id": rid, "queue_position": position}, status_code=202)

    async def cancel(request: Request) -> Response:
        try:
            rid = (await _json_body(request)).get("request_id")
            if not isinstance(rid, str) or ctx.receiver.queue.get(rid) is None:
                raise RequestError(f"request_id: no job {str(rid)[:40]!r}", "request_id")
            ctx.call(A.CANCEL, (rid,))
            return JSONResponse({"request_id": rid})
        except SidecarError as e:
            return error_response(e)

    async def reroll(request: Request) -> Response:
        try:
            take = (await _json_body(request)).get("take")
            rid = new_request_id()
            ctx.call(A.REROLL, (rid, take) if take is not None else (rid,))
            return _accepted(rid)
        except SidecarError as e:
            return error_response(e)

    async def recall(request: Request) -> Response:
        try:
            take_id = (await _json_body(request)).get("take_id")
            rid = new_request_id()
            ctx.call(A.RECALL, (rid, take_id) if take_id is not None else (rid,))
            return JSONResponse({"request_id": rid})
        except SidecarError as e:
            return error_response(e)

    async def load_model(request: Request) -> Response:
        try:
            name = (await _json_body(request)).get("name")
            rid = new_request_id()
            ctx.call(A.MODEL_LOAD, (rid, name))
            return _accepted(rid)
        except SidecarError as e:
            return error_response(e)

    async def upload(request: Request) -> Response:
        """The body is the file; `?name=` its name. Stored only if it reads as a clip."""
        name = request.query_params.get("name", "")
        try:
            declared = request.headers.get("content-length")
            if declared is not None and declared.isdigit():
                ctx.uploads.check_size(name, int(declared))
            chunks, size = [], 0
            async for chunk in request.stream():
                size += len(chunk)
                ctx.uploads.check_size(name, size)
                chunks.append(chunk)
            stored = await run_in_threadpool(ctx.uploads.store, name, b"".join(chunks))
            peaks = await run_in_threadpool(read_peaks, stored.path, 1200)
        except SidecarError as e:
            return error_response(e)
        return JSONResponse(
            {
                "path": str(stored.path),
                "name": stored.name,
                "sample_rate": stored.sample_rate,
                "channels": stored.channels,
                "duration_seconds": stored.duration_seconds,
                "peaks": peaks.to_json(),
            },
            status_code=201,
        )

    async def login(request: Request) -> Response:
        try:
            sent = (await _json_body(request)).get("token")
            if ctx.token is None:
                return JSONResponse({"token_required": False})
            if not isinstance(sent, str) or not hmac.compare_digest(
                sent.encode(), ctx.token.encode()
            ):
                raise UnauthorizedError("token: wrong; ask whoever started the server")
        except SidecarError as e:
            return error_response(e)
        response = JSONResponse({"token_required": True})
        response.set_cookie(TOKEN_COOKIE, sent, httponly=True, samesite="strict", path="/")
        return response

    async def jobs(request: Request) -> Response:
        return JSONResponse({"jobs": ctx.hub.snapshot()})

    async def events(websocket: WebSocket) -> None:
        """Every job event, from the page's jobs and the DAW's, as JSON text frames."""
        await websocket.accept()
        with ctx.hub.subscribe() as queue:
            # The page sends nothing; reading is how its going away is noticed between events.
            gone = asyncio.ensure_future(websocket.receive())
            event: asyncio.Future[dict[str, Any] | None] | None = None
            try:
                await websocket.send_json({"type": "jobs", "jobs": ctx.hub.snapshot()})
                while True:
                    if event is None:
                        event = asyncio.ensure_future(queue.get())
                    waiting: set[asyncio.Future[Any]] = {event, gone}
                    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                    if gone.done():
                        if gone.result()["type"] == "websocket.disconnect":
                            return
                        gone = asyncio.ensure_future(websocket.receive())  # ignore what it sent
                    if not event.done():
                        continue
                    item, event = event.result(), None
                    if item is None:  # the server stops
                        await websocket.close(1001)
                        return
                    await websocket.send_json(item)
            except (WebSocketDisconnect, RuntimeError, OSError):
                return  # the page went away mid-send; its subscription ends with this block
            finally:
                gone.cancel()
                if event is not None:
                    event.cancel()

    return [
        Route("/api/fields", fields),
        Route("/api/generate", generate, methods=["POST"]),
        Route("/api/cancel", cancel, methods=["POST"]),
        Route("/api/reroll", reroll, methods=["POST"]),
        Route("/api/recall", recall, methods=["POST"]),
        Route("/api/models/load", load_model, methods=["POST"]),
        Route("/api/upload", upload, methods=["POST"]),
        Route("/api/login", login, methods=["POST"]),
        Route("/api/jobs", jobs),
        WebSocketRoute("/api/events", events),
    ]
