"""The command line: `sidecar send` against a real server, `generate` one-shot, the demo."""

from __future__ import annotations

import os
import time
from pathlib import Path

import soundfile
from pedalboard.io import AudioFile

from tests.support.cli import run_sidecar as sidecar
from tests.support.cli import without_portaudio
from tests.support.server import free_udp_port, running_sidecar


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
        # Every request with an answer of its own ends there, not at the timeout; positional
        # arguments after the id (a take, a model name) go through as they are.
        quick = ["--timeout", "20"]
        for words, first in [
            (["presets"], "/sidecar/presets/reply"),
            (["model/list"], "/sidecar/model/list/reply"),
            (["history", str(clip), "5"], "/sidecar/history/"),
            (["reroll", "rr-1", "cli-1"], "/sidecar/accepted rr-1"),
            (["model/load", "ml-1", "tiny"], "/sidecar/accepted ml-1"),
        ]:
            started = time.monotonic()
            reply = sidecar("send", *words, *port, *quick)
            assert reply.returncode == 0, (words, reply.stdout, reply.stderr)
            assert reply.stdout.startswith(first), (words, reply.stdout)
            assert time.monotonic() - started < 15, words
        # A clip path for history is made absolute, as clip= is: the server has its own cwd.
        absolute = sidecar("send", "history", str(clip), *port, *quick)
        relative = sidecar("send", "history", os.path.relpath(clip), *port, *quick)
        assert "cli-1" in absolute.stdout
        assert (relative.returncode, relative.stdout) == (0, absolute.stdout)


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


def test_generate_checks_its_output_folder_before_the_model_loads(tmp_path: Path) -> None:
    # A file where the folder should be fails at once, naming it: no model load, no decode.
    # The model does not exist either: its error would show if it were loaded first.
    blocker = tmp_path / "stems"
    blocker.write_text("not a folder")
    missing_model = str(tmp_path / "no-such-model")
    for output_dir in (blocker, blocker / "takes"):
        result = sidecar(
            "generate",
            "--model",
            missing_model,
            "--output-dir",
            str(output_dir),
            "prompt=lofi keys",
            "bars=1",
            "bpm=90",
            timeout=120,
        )
        assert result.returncode == 1, result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
        assert errors == [
            f"error [delivery_error]: --output-dir {output_dir}: {blocker} is a file, not a folder"
        ], result.stderr
        assert "no-such-model" not in result.stderr and "%" not in result.stderr
        assert blocker.read_text() == "not a folder"


def test_the_offline_demo_does_what_the_readme_says(tmp_path: Path) -> None:
    # README "Offline demo": tiny model, a synthesized 2-bar drum clip, one continue over OSC,
    # every reply printed, and a stem of exactly 2 bars at 120 BPM, 48 kHz, 24-bit.
    port = str(free_udp_port())
    started = time.monotonic()
    result = sidecar("demo", "--port", port, "--output-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    # The demo's server stops as soon as the take is done (it used to hang 30 s on join).
    assert "shutting down" in result.stderr
    assert time.monotonic() - started < 120
    lines = result.stdout.splitlines()
    clip = Path(lines[0].removeprefix("example clip: "))
    assert clip.parent == tmp_path and clip.exists()
    server = lines[1].split()  # server: <version> <model> <device> <state>
    assert server[0] == "server:" and server[2] == "tiny" and server[-1] == "ready"
    addresses = [line.split()[0] for line in lines[2:]]
    assert addresses[0] == "/sidecar/accepted" and addresses[-1] == "/sidecar/done"
    assert "/sidecar/progress" in addresses
    stem = next(line for line in lines if line.startswith("/sidecar/stem")).split()[3]
    assert Path(stem).is_relative_to(tmp_path / "stems")
    with AudioFile(stem) as f:
        assert (f.samplerate, f.frames) == (48000, 2 * 4 * 60 / 120 * 48000)
    assert soundfile.info(stem).subtype == "PCM_24"


def test_the_demo_does_not_use_another_server_on_its_port(tmp_path: Path) -> None:
    with running_sidecar(tmp_path / "other", "--no-warm-up") as other:
        result = sidecar("demo", "--port", str(other.port), "--output-dir", str(tmp_path / "d"))
        assert result.returncode == 1
        assert f"the demo server could not listen on port {other.port}" in result.stderr
        assert not list(other.output_dir.rglob("*.wav"))  # no job went to the other server


def test_server_runs_where_the_looper_cannot_load(tmp_path: Path) -> None:
    # A headless GPU box has no PortAudio: serving must not depend on the looper's audio stack.
    env = without_portaudio(tmp_path)
    with running_sidecar(tmp_path, "--no-warm-up", env=env) as server:
        pong = sidecar("send", "ping", "--port", str(server.port), env=env, timeout=60)
        assert pong.returncode == 0 and pong.stdout.split()[2:] == ["tiny", "cpu", "ready"]
    loop = sidecar("loop", "--bars", "4", "--clock", "midi", env=env, timeout=60)
    assert loop.returncode == 1
    assert "`sidecar loop` cannot run here" in loop.stderr
    assert "PortAudio library not found" in loop.stderr and "libportaudio2" in loop.stderr
    listed = sidecar("--help", env=env, timeout=60)
    assert "unavailable here" in listed.stdout


def test_ordinary_mistakes_get_one_line_not_a_traceback() -> None:
    for words, message in [
        (["serve", "--port", "99999"], "argument --port: 99999 is not a port; allowed: 0 to 65535"),
        (["serve", "--queue-size", "0"], "argument --queue-size: 0; allowed: 1 or more"),
        (["send", "ping", "--port", "-5"], "argument --port: -5 is not a port"),
    ]:
        result = sidecar(*words, timeout=60)
        assert result.returncode == 2 and message in result.stderr, (words, result.stderr)
        assert "Traceback" not in result.stderr


def test_send_carries_the_token_of_a_server_started_with_one(tmp_path: Path) -> None:
    token = "s3cret-studio-token"
    no_token = {"SIDECAR_TOKEN": ""}  # whatever this shell has set
    with running_sidecar(tmp_path, "--no-warm-up", token=token) as server:
        port = ["--port", str(server.port), "--timeout", "20"]
        for words in (["ping"], ["ping", "--token", "wrong-token"]):
            refused = sidecar("send", *words, *port, env=no_token, timeout=60)
            assert refused.returncode == 1, (words, refused.stdout, refused.stderr)
            assert refused.stdout.split()[:2] == ["/sidecar/error", "unauthorized"], words
        flag = sidecar("send", "ping", *port, "--token", token, env=no_token, timeout=60)
        assert flag.returncode == 0 and flag.stdout.startswith("/sidecar/pong "), flag.stdout
        from_env = sidecar("send", "ping", *port, env={"SIDECAR_TOKEN": token}, timeout=60)
        assert from_env.returncode == 0 and from_env.stdout.split()[2:] == ["tiny", "cpu", "ready"]
        # The token pair goes after the request's own pairs: they are checked, not refused.
        bad = sidecar("send", "generate", "tk-1", "bpm=fast", *port, "--token", token, timeout=60)
        assert bad.returncode == 1
        assert bad.stdout.startswith("/sidecar/error tk-1 bad_request bpm: 'fast'"), bad.stdout
