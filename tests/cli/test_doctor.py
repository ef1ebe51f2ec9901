"""`sidecar doctor`: each check against the real thing it checks, and the command's verdict."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import constants

import sidecar.cli.doctor.model
from sidecar.cli.doctor import (
    check_decoder,
    check_host,
    check_looper,
    check_model,
    check_output_dir,
    check_port,
    run_checks,
)
from sidecar.engine.musicgen import MusicgenEngine
from sidecar.engine.tiny import build_tiny_model
from sidecar.errors import ModelLoadError
from sidecar.jobs.journal import Journal
from tests.support.cli import run_sidecar, without_portaudio
from tests.support.server import free_udp_port


def _doctor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_sidecar("doctor", *args, env=env, timeout=120)


#: Model ids the fake hub below has; it answers any other with the hub's own 404.
_ON_THE_HUB = ("someone/musicgen-tiny", "facebook/musicgen-small")


class _FakeHub(BaseHTTPRequestHandler):
    """The hub's model-info endpoint (`/api/models/<id>`), on loopback: no network."""

    def do_GET(self) -> None:
        model = self.path.removeprefix("/api/models/").split("?")[0]
        if model not in _ON_THE_HUB:
            self.send_response(404)
            self.send_header("X-Error-Code", "RepoNotFound")
            self.end_headers()
            return
        body = json.dumps({"id": model}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture()
def hub() -> Iterator[str]:
    """The address of a fake hub that answers."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture()
def no_hub() -> Iterator[str]:
    """An address where no hub answers: a TCP port bound but not listening (refused at once,
    as a machine without network refuses, and without a packet leaving the machine)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as closed:
        closed.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{closed.getsockname()[1]}"


@pytest.fixture()
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    """HF_HUB_OFFLINE unset, whatever the environment says."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


@pytest.fixture(scope="module")
def tiny_model() -> tuple[Any, Any]:
    return build_tiny_model()


def _save(folder: Path, tiny_model: tuple[Any, Any], tokenizer: bool = True) -> Path:
    """A complete `save_pretrained` folder of the tiny model (weights, config, tokenizer)."""
    model, tok = tiny_model
    model.save_pretrained(folder)
    if tokenizer:
        tok.save_pretrained(folder)
    return folder


def _cache(cache: Path, repo_id: str, tiny_model: tuple[Any, Any]) -> Path:
    """The hub cache's own layout: refs/main names a snapshot folder holding the files."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = _save(repo / "snapshots" / "0123abcd", tiny_model)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123abcd")
    return snapshot


def test_ready_with_the_built_in_model(tmp_path: Path) -> None:
    done = _doctor("--model", "tiny", "--output-dir", str(tmp_path), "--port", str(free_udp_port()))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    names = [line.split()[1] for line in lines[:-1] if not line.lstrip().startswith("fix:")]
    expected = [
        "device",
        "transformers",
        "model",
        "decoder",
        "conditions",
        "separator",
        "dsp",
        "host",
        "output",
        "port",
        "looper",
    ]
    assert names == expected
    assert lines[-1] == "ready to serve"
    assert any(line.startswith("ok    model") and "built in code" in line for line in lines)
    # the server's start-up self-check, on the model as serve loads it
    conditions = next(line for line in lines if line.split()[1] == "conditions")
    assert conditions.split()[0] == "ok"
    assert "tiny: the text reaches the logits (logits change with the text" in conditions
    assert "decoder fp32" in conditions and "transformers " in conditions


def test_a_model_not_downloaded_fails_offline_and_is_a_warning_with_the_hub_reachable(
    tmp_path: Path, hub: str
) -> None:
    empty_cache = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    done = _doctor("--output-dir", str(tmp_path), "--port", str(free_udp_port()), env=empty_cache)
    assert done.returncode == 1
    assert (
        "fail  model         facebook/musicgen-small: not in the Hugging Face cache" in done.stdout
    )
    assert "HF_HUB_OFFLINE is set" in done.stdout
    assert (
        "fix: download it once on a machine with network: hf download facebook/musicgen-small"
        in (done.stdout)
    )
    assert done.stdout.splitlines()[-1] == "not ready: model"
    # With the hub reachable (a fake one on loopback: HF_ENDPOINT), the first `sidecar serve`
    # downloads it: a warning, not a failure. The same run: a remote --host with what serve
    # asks for it (--allow-remote, a token from SIDECAR_TOKEN) is a warning too.
    online = {
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_OFFLINE": "0",
        "HF_ENDPOINT": hub,
        "SIDECAR_TOKEN": "a-shared-secret",
    }
    done = _doctor(
        *("--output-dir", str(tmp_path), "--port", str(free_udp_port())),
        *("--host", "0.0.0.0", "--allow-remote"),
        env=online,
    )
    assert done.returncode == 0, done.stdout
    assert "warn  model" in done.stdout and "downloads it from" in done.stdout
    assert "on first start" in done.stdout
    assert "warn  host" in done.stdout and "docs/security.md" in done.stdout


def test_a_saved_model_directory_and_a_cached_hub_model_are_found(
    tmp_path: Path, tiny_model: tuple[Any, Any], no_hub: str
) -> None:
    saved = _save(tmp_path / "my-finetune", tiny_model)
    assert check_model(str(saved)).status == "ok"
    assert check_model(str(tmp_path / "missing")).status == "fail"
    cache = tmp_path / "hub"
    _cache(cache, "someone/musicgen-tiny", tiny_model)
    found = check_model("someone/musicgen-tiny", cache_dir=cache, endpoint=no_hub)
    assert found.status == "ok" and "GiB of weights" in found.detail, found
    missing = check_model("someone/not-there", cache_dir=cache, endpoint=no_hub)
    assert missing.status == "fail" and "not in the Hugging Face cache" in missing.detail


def test_a_model_neither_cached_nor_downloadable_fails(
    tmp_path: Path, online: None, no_hub: str, hub: str
) -> None:
    """Not cached, and no network: `sidecar serve` fails loading, so doctor fails it."""
    empty = tmp_path / "hub"
    check = check_model("someone/musicgen-tiny", cache_dir=empty, endpoint=no_hub)
    assert check.status == "fail", check
    assert check.detail.startswith("someone/musicgen-tiny: not in the Hugging Face cache")
    assert f"{no_hub} cannot be reached" in check.detail
    assert "on a machine with network: hf download someone/musicgen-tiny" in check.fix
    assert "--model DIR" in check.fix
    # The hub reachable: serve downloads it (a wait, a warning) ...
    found = check_model("someone/musicgen-tiny", cache_dir=empty, endpoint=hub)
    assert found.status == "warn" and "downloads it from" in found.detail, found
    # ... unless the hub has no such model: serve fails, whatever the network.
    typo = check_model("someone/musicgen-tiyn", cache_dir=empty, endpoint=hub)
    assert typo.status == "fail" and "has no model 'someone/musicgen-tiyn'" in typo.detail


def test_a_hub_that_does_not_answer_is_a_warning_within_the_time_limit(
    tmp_path: Path, online: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hub that accepts the connection and never answers cannot be known: warn, not hang."""
    monkeypatch.setattr(sidecar.cli.doctor.model, "HUB_TIMEOUT_SECONDS", 0.3)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # the kernel completes the handshake; nobody ever reads
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        check = check_model("someone/musicgen-tiny", cache_dir=tmp_path, endpoint=endpoint)
        took = time.monotonic() - started
    assert check.status == "warn" and "did not answer within 0.3 s" in check.detail, check
    assert took < 3, took


def test_a_local_model_folder_that_cannot_load_fails_naming_what_is_missing(
    tmp_path: Path, tiny_model: tuple[Any, Any]
) -> None:
    """Each broken folder fails with its path and what is wrong, and the fix is a complete
    folder (never `hf download`: it is not a hub id)."""
    complete = _save(tmp_path / "complete", tiny_model)
    assert check_model(str(complete)).status == "ok"

    def broken(name: str) -> Path:
        return _save(tmp_path / name, tiny_model)

    no_config = broken("no-config")
    (no_config / "config.json").unlink()
    bad_config = broken("bad-config")
    (bad_config / "config.json").write_text('{"model_type": "musicgen", ')
    not_musicgen = broken("not-musicgen")
    (not_musicgen / "config.json").write_text('{"model_type": "t5"}')
    no_weights = broken("no-weights")
    (no_weights / "model.safetensors").unlink()
    cut = broken("cut-weights")
    weights = cut / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    shards = broken("missing-shard")
    (shards / "model.safetensors").rename(shards / "model-00001-of-00002.safetensors")
    index = {
        "weight_map": {
            "a": "model-00001-of-00002.safetensors",
            "b": "model-00002-of-00002.safetensors",
        }
    }
    (shards / "model.safetensors.index.json").write_text(json.dumps(index))
    no_tokenizer = _save(tmp_path / "no-tokenizer", tiny_model, tokenizer=False)

    cases = {
        no_config: "it lacks config.json",
        bad_config: "config.json cannot be read (JSONDecodeError",
        not_musicgen: "config.json describes a 't5' model, not MusicGen",
        no_weights: "it lacks the weights (model.safetensors or pytorch_model.bin",
        cut: "model.safetensors is cut short",
        shards: "it lacks model-00002-of-00002.safetensors (listed in model.safetensors.index",
        no_tokenizer: "it lacks a tokenizer (tokenizer.json or spiece.model",
    }
    for folder, problem in cases.items():
        check = check_model(str(folder))
        assert check.status == "fail", (folder, check)
        assert check.detail.startswith(f"{folder}: the folder {folder} cannot be loaded: ")
        assert problem in check.detail, (problem, check.detail)
        assert "hf download" not in check.fix and "a complete folder" in check.fix
    # What doctor fails, `sidecar serve` cannot load.
    for folder in (no_config, bad_config, not_musicgen, no_weights, cut):
        with pytest.raises(ModelLoadError):
            MusicgenEngine.load(str(folder), "cpu")
    # A file where the folder should be.
    file = tmp_path / "weights.bin"
    file.write_bytes(b"not a folder")
    check = check_model(str(file))
    assert check.status == "fail" and f"no folder at {file}" in check.detail
    assert "hf download" not in check.fix


def test_a_cached_model_with_broken_or_missing_files(
    tmp_path: Path, tiny_model: tuple[Any, Any], online: None, no_hub: str, hub: str
) -> None:
    cache = tmp_path / "hub"
    snapshot = _cache(cache, "someone/musicgen-tiny", tiny_model)
    weights = snapshot / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    check = check_model("someone/musicgen-tiny", cache_dir=cache, endpoint=hub)
    assert check.status == "fail" and "model.safetensors is cut short" in check.detail, check
    assert "hf download someone/musicgen-tiny --force-download" in check.fix
    # A file missing from the cache is downloaded by serve when the hub can be reached only.
    _save(snapshot, tiny_model)
    (snapshot / "tokenizer.json").unlink()
    offline = check_model("someone/musicgen-tiny", cache_dir=cache, endpoint=no_hub)
    assert offline.status == "fail" and "but without a tokenizer" in offline.detail, offline
    assert check_model("someone/musicgen-tiny", cache_dir=cache, endpoint=hub).status == "warn"


def test_an_output_folder_held_by_a_running_server_fails(tmp_path: Path) -> None:
    """The lock is the one a server takes (its journal's claim), held for real."""
    folder = tmp_path / "stems"
    journal = Journal(folder)
    try:
        check = check_output_dir(folder)
        assert check.status == "fail", check
        assert f"held by another running sidecar (pid {os.getpid()})" in check.detail
        assert "its own --output-dir" in check.fix
    finally:
        journal.close()
    assert check_output_dir(folder).status == "ok"
    # Doctor leaves the folder free: a server can claim it after the check.
    Journal(folder).close()


def test_a_remote_host_is_reported_as_serve_will_treat_it() -> None:
    refused = check_host("0.0.0.0")
    assert refused.status == "fail" and "refusing to listen on 0.0.0.0" in refused.detail
    assert "--allow-remote" in refused.fix
    no_token = check_host("0.0.0.0", allow_remote=True, token="short")
    assert no_token.status == "fail" and "token of at least 8" in no_token.detail
    allowed = check_host("0.0.0.0", allow_remote=True, token="a-shared-secret")
    assert allowed.status == "warn" and "docs/security.md" in allowed.fix
    for loopback in ("127.0.0.1", "localhost"):
        assert check_host(loopback).status == "ok"


def test_not_ready_when_serve_would_refuse_to_start(tmp_path: Path, no_hub: str) -> None:
    """One run, three ways `sidecar serve` fails: the model cannot be had (no cache, no hub),
    a remote --host without --allow-remote, and an output folder a second process holds."""
    folder = tmp_path / "stems"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from sidecar.jobs.journal import Journal; "
            f"held = Journal(Path({str(folder)!r})); print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        env = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "0", "HF_ENDPOINT": no_hub}
        done = _doctor(
            *("--model", "someone/musicgen-tiny", "--output-dir", str(folder)),
            *("--host", "0.0.0.0", "--port", str(free_udp_port())),
            env=env,
        )
    finally:
        holder.communicate("", timeout=30)
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "fail  model         someone/musicgen-tiny: not in the Hugging Face cache" in out
    assert "fix: download it once on a machine with network: hf download" in out
    assert "fail  host" in out and "refusing to listen on 0.0.0.0" in out
    held = f"fail  output        {folder} is held by another running sidecar (pid {holder.pid})"
    assert held in out
    assert out.splitlines()[-1] == "not ready: model, host, output"


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


def test_an_ipv6_host_is_bound_as_serve_binds_it() -> None:
    """`--host ::1` is an IPv6 socket in `sidecar serve`; doctor called it 'taken'."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    assert check_port("::1", 0).status == "ok"
    assert check_host("::1").status == "ok"


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


def test_the_self_check_fails_for_a_model_that_ignores_its_melody_and_prints_the_fix(
    tmp_path: Path,
) -> None:
    import torch

    model, tokenizer = build_tiny_model(melody=True)
    with torch.no_grad():
        model.audio_enc_to_dec_proj.weight.zero_()
    folder = tmp_path / "melody-blind"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    args = ["--model", str(folder), "--output-dir", str(tmp_path), "--port", str(free_udp_port())]
    done = run_sidecar("doctor", *args)  # it loads the model: more time than the others
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.split()[1:2] == ["conditions"])
    assert lines[at].startswith("fail  conditions")
    assert f"model '{folder}' ignores the melody" in lines[at]
    assert lines[at + 1].split()[0] == "fix:" and "audio_enc_to_dec_proj" in lines[at + 1]
    assert lines[-1].startswith("not ready: conditions")
    skipped = run_sidecar("doctor", *args, "--no-self-check")
    assert "conditions" not in skipped.stdout
