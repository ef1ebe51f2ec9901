"""`sidecar install-ableton`: the copied folder imports on its own and starts inside a fake Live."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sidecar.cli.install_ableton import default_remote_scripts_dir, install, register

ISOLATED_CHECK = """
import sys
sys.path.insert(0, {dest!r})
import MusicGenSidecar
assert "plugin_host" not in sys.modules and "sidecar" not in sys.modules, sorted(sys.modules)
try:
    import plugin_host
except ImportError:
    pass
else:
    raise SystemExit("plugin_host is importable: the check is not isolated")

class CInstance:
    messages = []
    def song(self): return None
    def show_message(self, m): self.messages.append(m)
    def log_message(self, m): self.messages.append(m)
    def handle(self): return 1
    def request_rebuild_midi_map(self): pass

c = CInstance()
surface = MusicGenSidecar.create_instance(c)
assert surface.settings is not None and surface.settings.sidecar_port == 9310, c.messages
surface.update_display()
surface.disconnect()
print("ok", MusicGenSidecar.__file__)
"""


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="sidecar")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return int(args.func(args))


def test_installed_folder_imports_without_this_repository(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli("install-ableton", "--dest", str(tmp_path)) == 0
    printed = capsys.readouterr().out
    assert "Control Surface" in printed and "MusicGenSidecar" in printed
    folder = tmp_path / "MusicGenSidecar"
    assert (folder / "__init__.py").is_file() and (folder / "osc_codec.py").is_file()
    assert json.loads((folder / "settings.json").read_text())["sidecar_port"] == 9310
    # -S: no site-packages (where this project is installed), -I: no PYTHONPATH, no cwd.
    result = subprocess.run(
        [sys.executable, "-S", "-I", "-c", ISOLATED_CHECK.format(dest=str(tmp_path))],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok " + str(folder))


def test_reinstall_keeps_the_producers_settings(tmp_path: Path) -> None:
    folder = install(tmp_path)
    (folder / "settings.json").write_text('{"sidecar_port": 9999}')
    install(tmp_path)
    assert json.loads((folder / "settings.json").read_text()) == {"sidecar_port": 9999}


@pytest.mark.parametrize(
    ("platform", "tail"),
    [
        ("darwin", "Music/Ableton/User Library/Remote Scripts"),
        ("win32", "Documents/Ableton/User Library/Remote Scripts"),
    ],
)
def test_default_locations(platform: str, tail: str) -> None:
    assert default_remote_scripts_dir(platform, Path("/home/u")) == Path("/home/u") / tail


def test_linux_without_dest_says_to_pass_dest(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    assert run_cli("install-ableton") == 2
    assert "--dest" in capsys.readouterr().err
