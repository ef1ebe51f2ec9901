"""The command line: `sidecar send` against a real server, `sidecar generate` one-shot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pedalboard.io import AudioFile

from tests.support.server import running_sidecar


def sidecar(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sidecar", *args], capture_output=True, text=True, timeout=timeout
    )


def test_send_prints_replies_until_the_terminal_one(tmp_path: Path, clip: Path) -> None:
    with running_sidecar(tmp_path, "--no-warm-up") as server:
        port = ["--port", str(server.port)]
        pong = sidecar("send", "ping", *port)
        assert pong.returncode == 0 and pong.stdout.startswith("/sidecar/pong ")
        assert pong.stdout.split()[2:] == ["tiny", "cpu", "ready"]
        done = sidecar(
            "send",
            "continue",
            "cli-1",
            f"clip={clip}",
            "bars=1",
            "bpm=120",
            "prompt=funk bass",
            *port,
        )
        lines = done.stdout.splitlines()
        assert done.returncode == 0, done.stderr
        assert lines[0] == "/sidecar/accepted cli-1 0" and lines[-1] == "/sidecar/done cli-1 1"
        stem = next(line for line in lines if line.startswith("/sidecar/stem"))
        with AudioFile(stem.split()[3]) as f:
            assert f.frames == 96000
        bad = sidecar("send", "generate", "cli-2", "bpm=fast", *port)
        assert bad.returncode == 1
        assert bad.stdout.startswith("/sidecar/error cli-2 bad_request bpm: 'fast'")


def test_generate_one_shot_writes_the_file_and_says_where(tmp_path: Path) -> None:
    result = sidecar(
        "generate",
        "--model",
        "tiny",
        "--output-dir",
        str(tmp_path),
        "--id",
        "one",
        "prompt=lofi keys",
        "bars=1",
        "bpm=90",
    )
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip().splitlines()[-1])
    assert path == tmp_path / "one" / "one-1.wav" and path.exists()
    with AudioFile(str(path)) as f:
        assert f.frames == round(4 * 60 / 90 * 48000)
    assert "100%" in result.stderr and "done: 1 file(s)" in result.stderr
    bad = sidecar("generate", "--model", "tiny", "variations=9")
    assert bad.returncode == 2 and "variations: 9 is out of range" in bad.stderr
