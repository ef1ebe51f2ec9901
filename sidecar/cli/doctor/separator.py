"""`sidecar doctor`'s separator line: Demucs importable, and the model's weights in the cache."""

from __future__ import annotations

import importlib.metadata

from sidecar.cli.doctor.check import Check

__all__ = ["DEMUCS_INSTALL", "check_separator"]

#: Demucs without its torchaudio (which would pull another torch): only its model code is used.
DEMUCS_INSTALL = "pip install --no-deps demucs==4.1.0 julius==0.2.8 einops==0.8.2"


def check_separator(name: str) -> Check:
    """ok: `name` loads without the network; warn: it will download on first use (offline,
    `separate` requests will fail); fail: Demucs is not installed."""
    try:
        version = importlib.metadata.version("demucs")
        from sidecar.engine.separator import fetch_command, is_cached
    except (importlib.metadata.PackageNotFoundError, ImportError) as e:
        return Check("separator", "fail", f"demucs is not importable ({e})", DEMUCS_INSTALL)
    if is_cached(name):
        return Check("separator", "ok", f"{name}: ready offline (demucs {version})")
    return Check(
        "separator",
        "warn",
        f"{name}: not downloaded; the first request with separate 1 downloads it (offline, "
        "it fails with this fix)",
        fetch_command(name),
    )
