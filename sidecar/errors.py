"""One exception hierarchy; each class carries the OSC `/sidecar/error` code it maps to."""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ERROR_CODES",
    "AudioError",
    "BusyError",
    "CancelledError",
    "DeliveryError",
    "DuplicateRequestError",
    "ForbiddenError",
    "ModelError",
    "ModelLoadError",
    "NotFoundError",
    "OutOfMemoryError",
    "PresetError",
    "RequestError",
    "SidecarError",
    "UnauthorizedError",
    "UnknownAddressError",
]

#: Every code a client can see in `/sidecar/error <request_id> <code> <message>`.
ERROR_CODES: dict[str, str] = {
    "bad_request": "a field is missing, unknown, of the wrong type or out of range",
    "unknown_address": "no handler for that OSC address",
    "not_found": "a file or request id that does not exist",
    "bad_audio": "the clip could not be decoded, is silent, or is too short or too long",
    "forbidden": "a path outside the allowed roots, or not a regular file",
    "unauthorized": "a remote request without the shared token",
    "busy": "the queue is full; try again later",
    "duplicate_id": "a request with that id is already queued or running",
    "out_of_memory": "the device ran out of memory for this job",
    "model_error": "the model failed while generating",
    "delivery_error": "the output could not be written",
    "internal": "an unexpected error; the server keeps serving",
}


class SidecarError(Exception):
    """Base of every error the sidecar reports to a client."""

    code = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RequestError(SidecarError):
    """A request field is missing, unknown, mistyped or out of range."""

    code = "bad_request"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class PresetError(RequestError):
    """A preset file is invalid, or a request names a preset that does not exist.

    `path` is the offending file (None for a lookup by name); `field` the preset key, dotted
    for nested ones ('params.guidance', 'effects[2].ratio').
    """

    def __init__(
        self,
        message: str,
        field: str | None = None,
        path: Path | None = None,
        errors: tuple[PresetError, ...] = (),
    ) -> None:
        super().__init__(message, field)
        self.path = path
        #: For a folder load: every file's error (this error sums them up).
        self.errors = errors


class UnknownAddressError(SidecarError):
    code = "unknown_address"


class NotFoundError(SidecarError):
    code = "not_found"


class AudioError(SidecarError):
    """The prompt clip cannot be used (undecodable, silent, too short or long)."""

    code = "bad_audio"


class ForbiddenError(SidecarError):
    code = "forbidden"


class UnauthorizedError(SidecarError):
    code = "unauthorized"


class BusyError(SidecarError):
    code = "busy"


class DuplicateRequestError(SidecarError):
    code = "duplicate_id"


class OutOfMemoryError(SidecarError):
    code = "out_of_memory"


class ModelError(SidecarError):
    code = "model_error"


class DeliveryError(SidecarError):
    code = "delivery_error"


class CancelledError(SidecarError):
    """Raised inside the worker to unwind a cancelled job; answered with `/sidecar/cancelled`."""

    code = "cancelled"


class ModelLoadError(SidecarError):
    """The model could not be loaded at start-up; the process exits non-zero with this message."""

    code = "model_error"
