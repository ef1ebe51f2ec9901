"""`sidecar doctor`'s separator line: built in, downloaded (the Hugging Face cache), or not."""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_doctor import _doctor
from tests.support.server import free_udp_port


def _separator_line(out: str) -> list[str]:
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.split()[1:2] == ["separator"])
    return lines[at : at + 2]


def _run(tmp_path: Path, separator: str) -> str:
    env = {"HF_HOME": str(tmp_path / "hf"), "TORCH_HOME": str(tmp_path / "torch")}
    done = _doctor(
        "--model", "tiny", "--separator", separator, "--output-dir", str(tmp_path),
        "--port", str(free_udp_port()), env=env,
    )  # fmt: skip
    return done.stdout


def test_not_downloaded_is_a_warning_with_the_fetch_command(tmp_path: Path) -> None:
    line, fix = _separator_line(_run(tmp_path, "htdemucs_6s"))
    assert line.startswith("warn  separator") and "htdemucs_6s: not downloaded" in line
    assert fix.strip() == "fix: python -m sidecar fetch-separator htdemucs_6s"


def test_built_in_and_cached_models_are_ready_offline(tmp_path: Path) -> None:
    assert _separator_line(_run(tmp_path, "tiny-demucs"))[0].startswith("ok    separator")
    # The cache as Demucs 4.1 fills it: adefossez/HTDemucs with the bag's yaml and weights.
    repo = tmp_path / "hf" / "hub" / "models--adefossez--HTDemucs"
    snapshot = repo / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (snapshot / "htdemucs.yaml").write_text("models: ['955717e8']\n")
    (snapshot / "955717e8.safetensors").write_bytes(b"weights")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    line = _separator_line(_run(tmp_path, "htdemucs"))[0]
    assert line.startswith("ok    separator") and "htdemucs: ready offline" in line
