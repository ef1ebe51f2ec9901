"""The Remote Script folder stays loadable by Live: own address copy, 3.7 syntax, stdlib only."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import sidecar.osc.addresses as server_addresses
from plugin_host.ableton import addresses as script_addresses

ROOT = Path(__file__).resolve().parents[3]
SCRIPT_DIR = ROOT / "plugin_host" / "ableton"
SCRIPT_FILES = sorted(SCRIPT_DIR.glob("*.py"))


def python_3_7() -> str | None:
    """A Python 3.7 interpreter that runs (Live 11's Python; a pyenv shim may have none)."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [str(p) for p in sorted(pyenv.glob("3.7.*/bin/python"))]
    candidates += [found for found in [shutil.which("python3.7")] if found]
    for candidate in candidates:
        check = "import sys; sys.exit(sys.version_info[:2] != (3, 7))"
        if subprocess.run([candidate, "-c", check], capture_output=True).returncode == 0:
            return candidate
    return None


def constants(module: object) -> dict[str, object]:
    return {
        name: value
        for name, value in vars(module).items()
        if name.isupper() and isinstance(value, str | int) and not isinstance(value, bool)
    }


def test_address_copy_equals_the_sidecar_addresses() -> None:
    """Every address the script carries is the sidecar's, and the ones it uses are there."""
    copy, server = constants(script_addresses), constants(server_addresses)
    assert {name: server.get(name) for name in copy} == copy
    for needed in (
        "CONTINUE",
        "CANCEL",
        "PING",
        "ACCEPTED",
        "PROGRESS",
        "STEM",
        "DONE",
        "ERROR",
        "CANCELLED",
        "PONG",
        "DEFAULT_HOST",
        "DEFAULT_PORT",
    ):
        assert needed in copy


@pytest.mark.parametrize("path", SCRIPT_FILES, ids=lambda p: p.name)
def test_parses_as_python_3_7(path: Path) -> None:
    ast.parse(path.read_text(), filename=str(path), feature_version=(3, 7))


@pytest.mark.parametrize("path", SCRIPT_FILES, ids=lambda p: p.name)
def test_imports_only_the_stdlib_live_and_itself(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level > 0 or node.module == "__future__":
                continue
            names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names or top == "Live", f"{path.name} imports {name}"


@pytest.mark.parametrize("path", SCRIPT_FILES, ids=lambda p: p.name)
def test_postpones_annotations(path: Path) -> None:
    # `X | None` and `list[int]` in annotations only work on Live's older Python this way.
    assert "from __future__ import annotations" in path.read_text()


@pytest.mark.skipif(python_3_7() is None, reason="no Python 3.7 interpreter here")
def test_generate_pin_and_cancel_run_on_python_3_7() -> None:
    interpreter = python_3_7()
    assert interpreter is not None
    smoke = Path(__file__).with_name("py37_smoke.py")
    result = subprocess.run(
        [interpreter, str(smoke), str(ROOT)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3.7." in result.stdout and "markers [(0.0, 0.0), (12.0, 6.0)]" in result.stdout
    assert "cancelled on disconnect: True" in result.stdout
