"""Doctor's serving checks: the output folder (writable, not held), the host, the port."""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

from sidecar.cli.doctor.check import Check
from sidecar.jobs.journal import LOCK_NAME

__all__ = ["check_host", "check_output_dir", "check_port"]


def check_output_dir(folder: Path) -> Check:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-"):
            pass
    except OSError as e:
        return Check(
            "output",
            "fail",
            f"cannot write in {folder}: {e.strerror or e}",
            "pass --output-dir to a folder you can write to",
        )
    holder = _lock_holder(folder)
    if holder is not None:
        return Check(
            "output",
            "fail",
            f"{folder} is held by another running sidecar ({holder}): `sidecar serve` refuses "
            "a second server on one folder",
            "stop that server, or give this one its own --output-dir",
        )
    return Check("output", "ok", f"stems go to {folder}")


def _lock_holder(folder: Path) -> str | None:
    """Who holds `folder`'s advisory lock (the one `sidecar serve` takes there, see
    `sidecar.jobs.journal`), or None when it is free. Asked without waiting, given back at once.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: serve takes no lock there either
        return None
    try:
        with open(folder / LOCK_NAME, "a+") as handle:  # as serve opens it
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                handle.seek(0)
                return handle.read().strip() or "another process"
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    except OSError as e:  # serve could not open it either
        return f"{LOCK_NAME} cannot be opened: {e.strerror or e}"
    return None


def check_host(host: str, allow_remote: bool = False, token: str | None = None) -> Check:
    """What `sidecar serve` does with `--host`: its own rule (`check_network`), applied here."""
    from sidecar.errors import UnauthorizedError
    from sidecar.server import ServerConfig, check_network

    try:
        check_network(ServerConfig(host=host, allow_remote=allow_remote, token=token))
    except UnauthorizedError as e:
        fix = (
            "set SIDECAR_TOKEN (or --token) to a shared secret of 8 or more characters"
            if allow_remote
            else "keep the default --host 127.0.0.1; to serve other machines add "
            "--allow-remote and SIDECAR_TOKEN (docs/security.md)"
        )
        return Check("host", "fail", f"`sidecar serve` will not start: {e.message}", fix)
    try:
        check_network(ServerConfig(host=host))  # passes for loopback addresses only
    except UnauthorizedError:
        return Check(
            "host",
            "warn",
            f"{host}: other machines can drive this server (each request must carry the "
            "token; OSC is plaintext on the wire)",
            "only on a network you trust, or tunnel it (WireGuard, SSH); see docs/security.md",
        )
    return Check("host", "ok", f"{host}: only this machine can send requests")


def check_port(host: str, port: int) -> Check:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as `sidecar serve` binds
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as e:
            return Check(
                "port",
                "fail",
                f"udp://{host}:{port} is taken ({e.strerror or e})",
                f"a sidecar may already run there (sidecar send ping --port {port}); "
                "or pick another --port",
            )
    return Check("port", "ok", f"udp://{host}:{port} is free")
