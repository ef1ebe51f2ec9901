"""What the page's routes work with: the server's receiver, queue and stores, and the page's own."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse

from sidecar.errors import RequestError, SidecarError
from sidecar.files.paths import PathPolicy
from sidecar.osc.fields import FIELDS
from sidecar.osc.receiver import OscReceiver
from sidecar.osc.replier import PAGE
from sidecar.web.events import EventHub
from sidecar.web.uploads import UploadStore

__all__ = ["StudioContext", "error_response", "field_of", "new_request_id"]

#: HTTP status of each error code (the codes are the OSC protocol's).
_STATUS = {
    "bad_request": 400,
    "bad_audio": 400,
    "not_found": 404,
    "forbidden": 403,
    "unauthorized": 401,
    "busy": 503,
    "duplicate_id": 409,
}


@dataclass(frozen=True)
class StudioContext:
    receiver: OscReceiver
    hub: EventHub
    uploads: UploadStore
    #: The folders the page may read files from: the output folder only.
    files: PathPolicy
    #: The HTTP port the page is served on (shown in the page's own links).
    port: int
    token: str | None = None

    def call(self, address: str, args: tuple[Any, ...]) -> None:
        """Run the OSC handler of `address` for the page: the same parsing and checks as a
        datagram gets; its replies reach the page's event stream (`PAGE`)."""
        self.receiver.handlers[address](args, PAGE)


def new_request_id() -> str:
    return f"page-{uuid.uuid4().hex[:10]}"


def field_of(error: SidecarError) -> str | None:
    """The request field an error is about: the `RequestError`'s, else the 'name:' its
    message starts with (clip paths, audio), when that is a field."""
    if isinstance(error, RequestError) and error.field:
        return error.field
    head = error.message.split(":", 1)[0]
    return (
        head
        if head in FIELDS
        or head in ("request_id", "take", "take_id", "file", "path", "name", "mode", "body")
        else None
    )


def error_response(error: SidecarError) -> JSONResponse:
    """An error as the page sees it: the OSC error code, the field, the same message."""
    return JSONResponse(
        {"code": error.code, "field": field_of(error), "message": error.message},
        status_code=_STATUS.get(error.code, 500),
    )
