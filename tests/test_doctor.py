"""`sidecar doctor`: each check against the real thing it checks, and the command's verdict."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from sidecar.doctor import (
    check_decoder,
    check_looper,
    check_model,
    check_output_dir,
    check_port,
    run_checks,
)
from sidecar.engine.tiny import build_tiny_model
from tests.support.cli import run_sidecar, without_portaudio
from tests.support.server import free_udp_port


def _doctor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_sidecar("doctor", *args, env=env, timeout=120)


def test_ready_with_the_built_in_model(tmp_path: Path) -> None:
    done = _doctor("--model", "tiny", "--output-dir", str(tmp_path), "--port", str(free_udp_port()))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    names = [line.split()[1] for line in lines[:-1] if not line.lstrip().startswith("fix:")]
    expected = ["device", "transformers", "model", "decoder", "dsp", "output", "port", "looper"]
    assert names == expected
    assert lines[-1] == "ready to serve"
    assert any(line.startswith("ok    model") and "built in code" in line for line in lines)


def test_a_model_not_downloaded_fails_offline_and_is_a_warning_online(
    tmp_path: Path,
) -> None:
    empty_cache = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    done = _doctor("--output-dir", str(tmp_path), "--port", str(free_udp_port()), env=empty_cache)
    assert done.returncode == 1
    assert (
        "fail  model         facebook/musicgen-small: not in the Hugging Face cache" in done.stdout
    )
    assert "HF_HUB_OFFLINE is set" in done.stdout
    assert "fix: hf download facebook/musicgen-small" in done.stdout
    assert done.stdout.splitlines()[-1] == "not ready: model"
    # Online, the first `sidecar serve` downloads it: a warning, not a failure (doctor itself
    # never asks the hub, so this runs without a network too).
    online = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "0"}
    done = _doctor("--output-dir", str(tmp_path), "--port", str(free_udp_port()), env=online)
    assert done.returncode == 0, done.stdout
    assert "warn  model" in done.stdout and "downloads it on first start" in done.stdout


def test_a_saved_model_directory_and_a_cached_hub_model_are_found(tmp_path: Path) -> None:
    model, _ = build_tiny_model()
    saved = tmp_path / "my-finetune"
    model.save_pretrained(saved)
    assert check_model(str(saved)).status == "ok"
    assert check_model(str(tmp_path / "missing")).status == "fail"
    # The hub cache's own layout: refs/main names a snapshot folder holding the files.
    cache = tmp_path / "hub"
    repo = cache / "models--someone--musicgen-tiny"
    model.save_pretrained(repo / "snapshots" / "0123abcd")
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123abcd")
    found = check_model("someone/musicgen-tiny", cache_dir=cache)
    assert found.status == "ok" and "GiB of weights" in found.detail, found
    missing = check_model("someone/not-there", cache_dir=cache)  # fail offline, warn online
    assert missing.status != "ok" and "not in the Hugging Face cache" in missing.detail


def test_a_taken_port_and_an_unwritable_folder_fail(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        check = check_port("127.0.0.1", port)
        assert check.status == "fail" and f"sidecar send ping --port {port}" in check.fix
    assert check_port("127.0.0.1", port).status == "ok"
    blocker = tmp_path / "stems"
    blocker.write_text("a file where the folder should be")
    assert check_output_dir(blocker / "out").status == "fail"
    assert check_output_dir(tmp_path / "out").status == "ok"


def test_without_portaudio_the_looper_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    env = without_portaudio(tmp_path)
    done = _doctor(
        "--model", "tiny", "--output-dir", str(tmp_path), "--port", str(free_udp_port()), env=env
    )
    assert done.returncode == 0
    assert "warn  looper" in done.stdout and "PortAudio library not found" in done.stdout
    assert check_looper().status in ("ok", "warn")  # here: whatever this machine has


def test_run_checks_in_process(tmp_path: Path) -> None:
    results = run_checks("tiny", "cpu", "127.0.0.1", free_udp_port(), tmp_path)
    assert {c.name: c.status for c in results}["model"] == "ok"
    assert all(c.status != "fail" for c in results), results


def test_decoder_check_says_what_auto_means_here() -> None:
    assert check_decoder("auto", "cpu").detail.startswith("auto -> fp32 on cpu (")
    assert check_decoder("auto", "cuda").detail == (
        "auto -> fast on cuda (float16 weights, a CUDA graph per step)"
    )
    # fp32 on CUDA is the model's dtype (the decoder is fp16 there), not full precision
    assert check_decoder("fp32", "cuda").detail.startswith("fp32 on cuda (float16 weights")
    assert check_decoder("int8", "cpu").detail == "int8 on cpu (int8 weights, int8 linears)"
    assert check_decoder("exact", "cpu").detail == (
        "exact on cpu (token-identical to transformers' generate)"
    )
    bad = check_decoder("turbo", "cpu")
    assert bad.status == "fail" and "got 'turbo'" in bad.detail and "auto" in bad.fix


def test_a_device_this_torch_cannot_use_is_one_clear_error(tmp_path) -> None:
    """`--device cuda` (as in the README) on a CPU-only torch: no traceback, the field named."""
    import torch

    from tests.support.cli import run_sidecar

    if torch.cuda.is_available():
        return  # nothing to refuse on a GPU machine
    result = run_sidecar(
        "serve",
        "--model",
        "tiny",
        "--device",
        "cuda",
        "--port",
        "0",
        "--output-dir",
        str(tmp_path / "out"),
        "--no-warm-up",
        timeout=120,
    )
    assert result.returncode == 1
    assert "--device: 'cuda' is not available here" in result.stderr
    assert "Traceback" not in result.stderr
