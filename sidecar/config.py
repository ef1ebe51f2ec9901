"""What `sidecar serve` was asked for (`ServerConfig`), and the network rule it must obey."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from sidecar.errors import UnauthorizedError
from sidecar.osc.addresses import DEFAULT_HOST, DEFAULT_PORT
from sidecar.web import MAX_UPLOAD_BYTES

__all__ = ["ServerConfig", "check_network"]


@dataclass(frozen=True)
class ServerConfig:
    model: str = "facebook/musicgen-small"
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    device: str | None = None
    decoder: str = "auto"
    output_dir: Path = Path("stems")
    queue_size: int = 32
    warm_up: bool = True
    shutdown_timeout_seconds: float = 10.0
    allow_remote: bool = False
    token: str | None = None
    #: Folders clips may be read from; None → the home, output and temp directories.
    allowed_roots: tuple[Path, ...] | None = None
    #: Preset folder; None → the shipped presets.
    presets_dir: Path | None = None
    #: Take history database; None → `<output_dir>/history.sqlite`.
    history_path: Path | None = None
    #: Finish job N (post-processing, delivery) on a second thread while job N+1 decodes.
    pipeline: bool = True
    #: TCP port of the studio page on `host` (the same loopback/remote rules; 0: any free
    #: port); None: no page. `sidecar serve` serves it on `DEFAULT_HTTP_PORT` unless --no-http.
    http_port: int | None = None
    #: The largest clip the page may upload.
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    #: The Demucs model that `separate` requests use unless they name one.
    separator: str = "htdemucs"
    #: Load the separator at start (else on the first request that separates).
    load_separator: bool = False
    #: A GPU pool that decodes `remote:NAME` models (`--engine`), and its token.
    engine_url: str | None = None
    engine_token: str | None = None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_network(config: ServerConfig) -> None:
    """Refuse a non-loopback bind without --allow-remote, and a remote bind without a token."""
    if _is_loopback(config.host):
        return
    if not config.allow_remote:
        raise UnauthorizedError(
            f"refusing to listen on {config.host}: only 127.0.0.1 is served by default. "
            "To serve other machines, pass --allow-remote and a shared token "
            "(--token or the SIDECAR_TOKEN environment variable); see docs/security.md"
        )
    if not config.token or len(config.token) < 8:
        raise UnauthorizedError(
            f"refusing to listen on {config.host} without a shared token of at least 8 "
            "characters: pass --token or set SIDECAR_TOKEN"
        )
