"""④ An engine on a GPU pool: only the decode goes over HTTP to `sidecar pool serve`."""

from __future__ import annotations

import http.client
import json
import logging
import ssl
import uuid
from urllib.parse import urlsplit

import numpy as np

from sidecar import errors
from sidecar.engine.base import Engine, EngineInfo, GenerationSpec, ProgressCallback
from sidecar.engine.stream import AudioCallback
from sidecar.engine.wire import (
    audio_from_payload,
    encode_frame,
    info_from_json,
    read_frame,
    spec_to_wire,
)

__all__ = ["REMOTE_PREFIX", "RemoteEngine", "remote_model_name"]

log = logging.getLogger(__name__)

#: `--model remote:NAME` decodes NAME on the pool that `--engine URL` names.
REMOTE_PREFIX = "remote:"

#: Codes the pool sends, back into the hierarchy the worker answers with.
_ERRORS: dict[str, type[errors.SidecarError]] = {
    "bad_request": errors.RequestError,
    "bad_audio": errors.AudioError,
    "out_of_memory": errors.OutOfMemoryError,
    "model_error": errors.ModelError,
    "unauthorized": errors.UnauthorizedError,
    "busy": errors.BusyError,
}


def remote_model_name(name: str) -> str | None:
    """`remote:NAME` → NAME; None for a local model name."""
    return name[len(REMOTE_PREFIX) :] if name.startswith(REMOTE_PREFIX) else None


class RemoteEngine(Engine):
    """The `Engine` interface over a pool: prompt audio goes up as FLAC, the take comes back as
    FLAC, progress and preview chunks stream back as frames (`sidecar.engine.wire`).

    A cancel (the progress callback raising) is sent to the pool, which frees the request's batch
    slot. A stream silent for `stall_seconds` (the pool sends a frame at least every second) or cut
    mid-take ends the take with one `ModelError` naming the pool.
    """

    def __init__(
        self, url: str, model: str, token: str | None, stall_seconds: float = 30.0
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise errors.ModelLoadError(
                f"engine: {url!r} is not a pool address; allowed: http://HOST:PORT or "
                "https://HOST:PORT (a `sidecar pool serve`)"
            )
        self.url = url.rstrip("/")
        self.remote_model = model  # not `model`: that is a torch module on local engines
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._base = parts.path.rstrip("/")
        self._token = token
        self.stall_seconds = stall_seconds
        self._info = self._fetch_info()

    # ------------------------------------------------------------------ interface

    @property
    def info(self) -> EngineInfo:
        return self._info

    @property
    def streams_audio(self) -> bool:
        return True

    def warm_up(self) -> None:
        """The pool's replicas are warm already: one cheap question checks it still answers."""
        self._fetch_info()

    def generate(
        self,
        spec: GenerationSpec,
        progress: ProgressCallback | None = None,
        on_audio: AudioCallback | None = None,
        audio_every_seconds: float = 2.0,
    ) -> np.ndarray:
        ticket = uuid.uuid4().hex
        head, payload = spec_to_wire(spec, self._info.sample_rate)
        body = encode_frame(
            "generate",
            payload,
            model=self.remote_model,
            ticket=ticket,
            spec=head,
            preview_every=audio_every_seconds if on_audio is not None else 0.0,
        )
        conn = self._connection(self.stall_seconds)
        try:
            response = self._send(conn, "POST", "/v1/generate", body)
            return self._receive(response, ticket, progress, on_audio)
        except TimeoutError as e:
            raise errors.ModelError(
                f"remote engine {self.url}: no answer for {self.stall_seconds:g} s mid-take "
                "(network down, or the pool stopped); the take was abandoned"
            ) from e
        except (OSError, http.client.HTTPException, ValueError) as e:
            raise errors.ModelError(
                f"remote engine {self.url}: the connection dropped mid-take ({e})"
            ) from e
        finally:
            conn.close()

    # ------------------------------------------------------------------ the stream

    def _receive(
        self,
        response: http.client.HTTPResponse,
        ticket: str,
        progress: ProgressCallback | None,
        on_audio: AudioCallback | None,
    ) -> np.ndarray:
        best = 0
        while (frame := read_frame(response)) is not None:
            kind, fields = frame.kind, frame.fields
            try:
                if kind == "progress" and progress is not None:
                    done, total = int(fields["done"]), int(fields["total"])
                    if done > best:  # a retry on another replica starts again: never go back
                        best = done
                        progress(done, total)
                elif kind == "preview" and on_audio is not None:
                    chunk = audio_from_payload(fields["audio"], frame.payload)
                    on_audio(chunk, float(fields["seconds_ready"]))
            except BaseException:
                self._cancel(ticket)
                raise
            if kind == "audio":
                return audio_from_payload(fields["audio"], frame.payload)
            if kind == "retry":
                log.warning("pool %s: %s", self.url, fields.get("reason", "retrying"))
            elif kind == "cancelled":
                raise errors.CancelledError("cancelled on the pool")
            elif kind == "error":
                cls = _ERRORS.get(str(fields.get("code")), errors.ModelError)
                raise cls(f"pool: {fields.get('message', 'the decode failed')}")
        raise ValueError("the stream ended before the take")

    def _cancel(self, ticket: str) -> None:
        """Tell the pool (briefly, best effort: the caller is unwinding a cancel already)."""
        conn = self._connection(2.0)
        try:
            self._send(conn, "POST", f"/v1/cancel/{ticket}", b"").read()
        except (OSError, http.client.HTTPException, errors.SidecarError) as e:
            log.warning("pool %s: the cancel of %s did not arrive: %s", self.url, ticket, e)
        finally:
            conn.close()

    # ------------------------------------------------------------------ HTTP

    def _fetch_info(self) -> EngineInfo:
        conn = self._connection(10.0)
        try:
            data = json.loads(self._send(conn, "GET", "/v1/models", None).read())
        except (OSError, http.client.HTTPException) as e:
            raise errors.ModelLoadError(
                f"engine: the pool at {self.url} cannot be reached ({e}); start it with "
                "`sidecar pool serve` there, or check the address (an SSH tunnel: "
                "docs/remote.md); local models still load with /sidecar/model/load"
            ) from e
        except errors.UnauthorizedError as e:
            raise errors.ModelLoadError(f"engine: {e.message}") from e
        finally:
            conn.close()
        models = {m["name"]: m for m in data.get("models", [])}
        if self.remote_model not in models:
            offered = ", ".join(sorted(models)) or "none"
            raise errors.ModelLoadError(
                f"model: the pool at {self.url} does not serve {self.remote_model!r}; "
                f"it serves: {offered}"
            )
        info = info_from_json(models[self.remote_model]["info"])
        return EngineInfo(**{**info.__dict__, "name": f"{REMOTE_PREFIX}{info.name}"})

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        if self._https:
            context = ssl.create_default_context()
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=timeout, context=context
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def _send(
        self, conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None
    ) -> http.client.HTTPResponse:
        headers = {"Content-Type": "application/octet-stream"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        conn.request(method, self._base + path, body=body, headers=headers)
        response = conn.getresponse()
        if response.status == 200:
            return response
        text = response.read().decode("utf-8", "replace")
        try:
            message = str(json.loads(text).get("message", text))
        except ValueError:
            message = text[:300]
        if response.status in (401, 403):
            raise errors.UnauthorizedError(
                f"the pool at {self.url} refused the token ({message}); pass the pool's token "
                "with --engine-token or SIDECAR_ENGINE_TOKEN"
            )
        raise errors.ModelError(f"pool {self.url}: HTTP {response.status}: {message}")

    def __repr__(self) -> str:
        return f"RemoteEngine({self.url!r}, {self.remote_model!r})"
