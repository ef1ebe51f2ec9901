"""What the page reads: server state, models, presets, the take history, files and their peaks."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from sidecar.errors import RequestError, SidecarError
from sidecar.osc.fields import FieldSpec, check_value
from sidecar.output.history import Take
from sidecar.post.key import normalize_key
from sidecar.web.context import StudioContext, error_response
from sidecar.web.peaks import MAX_BUCKETS, read_peaks

__all__ = ["browse_routes", "take_json"]

log = logging.getLogger(__name__)

_BUCKETS = FieldSpec("buckets", "int", 16, MAX_BUCKETS)
_LIMIT = FieldSpec("limit", "int", 1, 500)
_BPM = FieldSpec("bpm", "float", 20.0, 300.0)
_TEXT = FieldSpec("text", "str", max_length=200)
_MEDIA = {".wav": "audio/wav", ".json": "application/json", ".mid": "audio/midi"}


def take_json(take: Take) -> dict[str, Any]:
    params = dict(take.params)
    return {
        "take_id": take.take_id,
        "request_id": take.request_id,
        "model": take.model,
        "clip": take.clip,
        "created": take.created,
        "seed": take.seed,
        "tempo_bpm": take.tempo_bpm,
        "key": take.key,
        "files": list(take.files),
        "prompt": params.get("prompt"),
        "preset": params.get("preset"),
        "bpm": params.get("bpm"),
        "bars": params.get("bars"),
        "mode": params.get("mode"),
        "variation": params.get("variation"),
        "part": params.get("part"),
    }


def _number(request: Request, spec: FieldSpec) -> float | int | None:
    """A query parameter as the field's number (same checks and messages), or None."""
    raw = request.query_params.get(spec.name)
    if raw is None or raw == "":
        return None
    try:
        value: float | int | str = float(raw) if spec.kind == "float" else int(raw)
    except ValueError:
        value = raw
    return check_value(spec, value)  # type: ignore[return-value]


def _text(request: Request, name: str) -> str | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    return str(check_value(FieldSpec(name, "str", max_length=_TEXT.max_length), raw))


def _key(request: Request) -> str | None:
    """A key to search for, normalized as a request's key is ('am' → 'A minor')."""
    raw = _text(request, "key")
    return None if raw is None else normalize_key(raw)


def _report_beside(wav: Path) -> dict[str, Any] | None:
    """The JSON the worker writes beside a stem (request, report), if there is one."""
    meta = wav.with_suffix(".json")
    if not meta.is_file():
        return None
    try:
        values = json.loads(meta.read_text())
    except (OSError, ValueError) as e:
        log.warning("stem metadata %s unreadable: %s", meta, e)
        return None
    return values if isinstance(values, dict) else None


def browse_routes(ctx: StudioContext) -> list[Route]:
    receiver = ctx.receiver

    async def status(request: Request) -> Response:
        running = receiver.queue.running
        return JSONResponse(
            {
                "state": receiver.state.state,
                "model": receiver.state.model,
                "device": receiver.state.device,
                "queue_length": len(receiver.queue),
                "running": running.request_id if running else None,
                "token_required": ctx.token is not None,
            }
        )

    async def presets(request: Request) -> Response:
        library = receiver.presets
        rows = []
        for name in library.names() if library is not None else ():
            preset = library.get(name)  # type: ignore[union-attr]
            rows.append(
                {
                    "name": name,
                    "description": preset.description,
                    "prompt_template": preset.prompt_template,
                    "bars": preset.bars,
                    "stems": list(preset.stems),
                    "model_hint": preset.model_hint,
                    "effects": len(preset.effects),
                }
            )
        return JSONResponse({"presets": rows})

    async def models(request: Request) -> Response:
        manager = receiver.models
        rows = [
            {
                "name": m.name,
                "device": m.device,
                "megabytes": round(m.bytes / 1e6, 1),
                "state": "current" if m.current else "loaded",
            }
            for m in (manager.listing() if manager is not None else [])
        ]
        loading = manager.loading if manager is not None else None
        if loading is not None:
            rows.append({"name": loading, "device": "", "megabytes": 0.0, "state": "loading"})
        return JSONResponse({"models": rows, "server_state": receiver.state.state})

    async def history(request: Request) -> Response:
        try:
            if receiver.history is None:
                raise RequestError("history: this server keeps no take history", "history")
            found = receiver.history.search(
                prompt=_text(request, "prompt"),
                preset=_text(request, "preset"),
                key=_key(request),
                bpm=_number(request, _BPM),
                limit=int(_number(request, _LIMIT) or 100),
            )
        except SidecarError as e:
            return error_response(e)
        return JSONResponse({"takes": [take_json(t) for t in found]})

    async def peaks(request: Request) -> Response:
        """`?path=` (a file in the output folder) and `?buckets=`: its peaks and report."""
        try:
            path = ctx.files.check_clip(request.query_params.get("path", ""), "path")
            buckets = int(_number(request, _BUCKETS) or 1200)
            found = await run_in_threadpool(read_peaks, path, buckets)
        except SidecarError as e:
            return error_response(e)
        meta = await run_in_threadpool(_report_beside, path)
        return JSONResponse(
            {
                "path": str(path),
                "peaks": found.to_json(),
                "report": (meta or {}).get("report"),
                "request": (meta or {}).get("request"),
                "seed": (meta or {}).get("seed"),
            }
        )

    async def file(request: Request) -> Response:
        """A file in the output folder (`?download=1`: as an attachment)."""
        try:
            path = ctx.files.check_clip(request.query_params.get("path", ""), "path")
        except SidecarError as e:
            return error_response(e)
        download = request.query_params.get("download") == "1"
        return FileResponse(
            path,
            media_type=_MEDIA.get(path.suffix.lower(), "application/octet-stream"),
            filename=path.name if download else None,
            headers={"cache-control": "no-cache"},
        )

    return [
        Route("/api/status", status),
        Route("/api/presets", presets),
        Route("/api/models", models),
        Route("/api/history", history),
        Route("/api/peaks", peaks),
        Route("/api/file", file),
    ]
