"""The studio's ASGI app and its uvicorn server, run on the sidecar's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from sidecar.web import DEFAULT_HTTP_PORT
from sidecar.web.api import request_routes
from sidecar.web.browse import browse_routes
from sidecar.web.context import StudioContext
from sidecar.web.guard import Guard, GuardPolicy, allowed_hosts

__all__ = ["DEFAULT_HTTP_PORT", "STATIC_DIR", "StudioServer", "build_app"]

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")
#: Open pages get this long to close when the server stops.
_GRACEFUL_SECONDS = 2


def build_app(ctx: StudioContext, bind_host: str) -> Guard:
    """The page, its static files and its API, behind the Host/Origin/token guard."""

    async def index(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers={"cache-control": "no-cache"})

    app = Starlette(
        routes=[
            Route("/", index),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
            *request_routes(ctx),
            *browse_routes(ctx),
        ]
    )
    policy = GuardPolicy(port=ctx.port, hosts=allowed_hosts(bind_host), token=ctx.token)
    return Guard(app, policy)


class _Uvicorn(uvicorn.Server):
    """uvicorn without its signal handlers: the sidecar's own handlers stop everything."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind_tcp(host: str, port: int) -> socket.socket:
    """A listening TCP socket (bound here so a taken port is a clear start-up error)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class StudioServer:
    """Serves the app on an already bound socket until `stop()`."""

    def __init__(self, app: Guard, sock: socket.socket) -> None:
        self.sock = sock
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=_GRACEFUL_SECONDS,
            ws="websockets-sansio",
        )
        self._server = _Uvicorn(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._server.serve([self.sock]))

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        await self._task
        self._task = None
