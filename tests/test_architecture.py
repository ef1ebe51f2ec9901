"""The house's rules: stages import only lower stages, post/ has no I/O, the DAW side imports
nothing from sidecar, no module import cycles; each contract fails when broken on purpose."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    lint = Path(sys.executable).with_name("lint-imports")
    command = [str(lint)] if lint.exists() else [sys.executable, "-m", "importlinter.cli"]
    return subprocess.run(
        [*command, "--config", str(cwd / "pyproject.toml"), "--no-cache"],
        cwd=cwd,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_import_contracts_hold() -> None:
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_each_contract_fails_when_broken_on_purpose(tmp_path: Path) -> None:
    for name in ("sidecar", "plugin_host"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    assert _lint(tmp_path).returncode == 0

    def add_line(relative: str, line: str) -> None:
        path = tmp_path / relative
        path.write_text(path.read_text() + f"\n{line}\n")

    add_line("sidecar/engine/base.py", "from sidecar.jobs import queue as _upward  # noqa")
    add_line("sidecar/post/grid.py", "import sqlite3 as _io  # noqa")
    add_line("plugin_host/reaper/request.py", "from sidecar.osc import addresses as _own  # noqa")
    done = _lint(tmp_path)
    assert done.returncode != 0
    out = done.stdout
    assert "3 broken" in out, out
    assert "sidecar.engine.base -> sidecar.jobs.queue" in out
    assert "sidecar.post.grid -> sqlite3" in out
    assert "plugin_host.reaper.request -> sidecar.osc.addresses" in out


def _cycles(package: str) -> list[tuple[str, str]]:
    graph = grimp.build_graph(package)
    found = []
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported != module and graph.chain_exists(importer=imported, imported=module):
                found.append((module, imported))
    return found


@pytest.mark.parametrize("package", ["sidecar", "plugin_host"])
def test_no_module_imports_itself_back(package: str) -> None:
    """Lazy imports inside functions count: `presets` and `preset_validation` once did this."""
    assert _cycles(package) == []


def test_every_package_docstring_names_its_stage_and_what_it_may_import() -> None:
    for init in sorted((ROOT / "sidecar").glob("*/__init__.py")):
        if init.parent.name == "shipped_presets":
            continue
        text = init.read_text()
        assert text.startswith('"""'), init
        assert "import" in text.split('"""')[1], f"{init}: say what the package may import"
