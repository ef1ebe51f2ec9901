"""Running the `sidecar` command line in a subprocess, and an environment without PortAudio."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_sidecar(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`python -m sidecar ARGS`, output captured as text; `env` is added to this process's."""
    return subprocess.run(
        [sys.executable, "-m", "sidecar", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def without_portaudio(tmp_path: Path) -> dict[str, str]:
    """An environment where `import sounddevice` fails as it does with no PortAudio library."""
    shim = tmp_path / "no-portaudio"
    shim.mkdir(exist_ok=True)
    (shim / "sounddevice.py").write_text('raise OSError("PortAudio library not found")\n')
    return {"PYTHONPATH": os.pathsep.join([str(shim), *sys.path])}
