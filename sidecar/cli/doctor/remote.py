"""Doctor's remote-engine check: the pool `--engine URL` names (reachable, token, models)."""

from __future__ import annotations

import http.client
import json
import ssl
from urllib.parse import urlsplit

from sidecar.cli.doctor.check import Check
from sidecar.engine.remote import remote_model_name

__all__ = ["POOL_TIMEOUT_SECONDS", "check_engine"]

#: How long doctor waits for the pool's answer to each question.
POOL_TIMEOUT_SECONDS = 10.0


def check_engine(url: str, token: str | None, model: str | None = None) -> Check:
    """Ask the pool at `url` for its health (no token) and its models (with `token`); when
    `model` is `remote:NAME`, the pool must serve NAME."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Check(
            "engine",
            "fail",
            f"{url!r} is not a pool address",
            "pass --engine http://HOST:PORT or https://HOST:PORT (a `sidecar pool serve`)",
        )
    base = parts.path.rstrip("/")
    try:
        health, _ = _get(parts.scheme, parts.hostname, parts.port, base + "/v1/health", None)
        status, body = _get(parts.scheme, parts.hostname, parts.port, base + "/v1/models", token)
    except (OSError, http.client.HTTPException, ValueError) as e:
        return Check(
            "engine",
            "fail",
            f"the pool at {url} cannot be reached: {e}",
            "start it there with `sidecar pool serve`, or check the address and the tunnel "
            "(docs/remote.md)",
        )
    if status in (401, 403):
        where = "was given" if token else "is set"
        return Check(
            "engine",
            "fail",
            f"the pool at {url} is up but refused the token (HTTP {status}; a token {where})",
            "pass the pool's token with --engine-token or SIDECAR_ENGINE_TOKEN",
        )
    if health != 200 or status != 200:
        return Check("engine", "fail", f"the pool at {url} answered HTTP {status}", "")
    listed = body.get("models")
    served = (
        sorted(str(m.get("name")) for m in listed if isinstance(m, dict))
        if isinstance(listed, list)
        else []
    )
    wanted = remote_model_name(model) if model else None
    if wanted is not None and wanted not in served:
        return Check(
            "engine",
            "fail",
            f"the pool at {url} does not serve {wanted!r}; it serves: "
            f"{', '.join(served) or 'none'}",
            f"pass --model remote:NAME with a NAME it serves, or add `--model {wanted}` to "
            "`sidecar pool serve`",
        )
    return Check("engine", "ok", f"the pool at {url} accepts the token; serves {', '.join(served)}")


def _get(
    scheme: str, host: str, port: int | None, path: str, token: str | None
) -> tuple[int, dict[str, object]]:
    conn: http.client.HTTPConnection
    if scheme == "https":
        conn = http.client.HTTPSConnection(
            host, port, timeout=POOL_TIMEOUT_SECONDS, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(host, port, timeout=POOL_TIMEOUT_SECONDS)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        text = response.read()
        data = json.loads(text) if text else {}
        return response.status, data if isinstance(data, dict) else {}
    finally:
        conn.close()
