"""The REAPER scripts stay loadable by REAPER's Python: 3.7 syntax, stdlib and this checkout."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT_FILES = sorted((ROOT / "plugin_host" / "reaper").glob("*.py"))
ALLOWED_TOP_LEVEL = {"reaper_python", "plugin_host"}


def python_3_7() -> str | None:
    """A Python 3.7 interpreter that runs (a pyenv shim may exist without one behind it)."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [str(p) for p in sorted(pyenv.glob("3.7.*/bin/python"))]
    candidates += [found for found in [shutil.which("python3.7")] if found]
    for candidate in candidates:
        check = "import sys; sys.exit(sys.version_info[:2] != (3, 7))"
        if subprocess.run([candidate, "-c", check], capture_output=True).returncode == 0:
            return candidate
    return None


@pytest.mark.parametrize("path", SCRIPT_FILES, ids=lambda p: p.name)
def test_parses_as_python_3_7(path: Path) -> None:
    ast.parse(path.read_text(), filename=str(path), feature_version=(3, 7))


@pytest.mark.parametrize("path", SCRIPT_FILES, ids=lambda p: p.name)
def test_postpones_annotations(path: Path) -> None:
    assert "from __future__ import annotations" in path.read_text()


@pytest.mark.parametrize("path", SCRIPT_FILES, ids=lambda p: p.name)
def test_imports_only_the_stdlib_reaper_and_plugin_host(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text())):
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
            assert top in sys.stdlib_module_names or top in ALLOWED_TOP_LEVEL, name
            if top == "plugin_host":
                assert name.startswith(("plugin_host.reaper", "plugin_host.ableton")), name


@pytest.mark.skipif(python_3_7() is None, reason="no Python 3.7 interpreter here")
def test_continue_and_reroll_run_on_python_3_7() -> None:
    interpreter = python_3_7()
    assert interpreter is not None
    smoke = Path(__file__).with_name("py37_smoke.py")
    result = subprocess.run(
        [interpreter, str(smoke), str(ROOT)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3.7." in result.stdout and "positions [6.0, 10.0, 14.0, 18.0]" in result.stdout
