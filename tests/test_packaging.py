"""The wheel carries every package and the shipped presets, and an installed server finds them."""

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import setuptools

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_the_listed_packages_are_exactly_the_source_packages():
    # pyproject lists packages by hand (to map presets/ into the wheel); a new subpackage must be
    # added there, or an installed sidecar would fail to import it.
    found = set(setuptools.find_packages(str(ROOT), include=["sidecar*", "plugin_host*"]))
    mapped = set(PYPROJECT["package-dir"])
    assert set(PYPROJECT["packages"]) == found | mapped
    assert PYPROJECT["package-dir"]["sidecar.shipped_presets"] == "presets"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # Built from a clean copy: setuptools builds in the source tree, and a stale build/ there
    # could carry files the source no longer has.
    source = out / "source"
    skip = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache")
    shutil.copytree(ROOT, source, ignore=skip)
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    done = subprocess.run([*build, "-w", str(out), str(source)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"pip wheel failed:\n{done.stdout}\n{done.stderr}")
    (path,) = out.glob("*.whl")
    return path


def test_the_wheel_carries_the_shipped_presets(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.name for p in (ROOT / "presets").glob("*.toml")}
    assert shipped
    assert {f"sidecar/shipped_presets/{name}" for name in shipped} <= names
    assert "sidecar/py.typed" in names and "plugin_host/ableton/settings.json" in names
    static = {p.name for p in (ROOT / "sidecar" / "web" / "static").iterdir()}
    assert {f"sidecar/web/static/{name}" for name in static} <= names  # the studio page


def test_an_installed_wheel_loads_the_shipped_presets(wheel, tmp_path):
    target = tmp_path / "site"
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target)]
    subprocess.run([*install, str(wheel)], check=True, capture_output=True)
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from sidecar.musical.presets import PresetLibrary, default_presets_dir;"
        "folder = default_presets_dir(); library = PresetLibrary.load(folder);"
        "print(folder); print(' '.join(library.names()))"
    )
    # -I: isolated, so neither the checkout nor an editable install can answer instead.
    done = subprocess.run(
        [sys.executable, "-I", "-c", probe, str(target)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    folder, names = done.stdout.splitlines()
    assert Path(folder) == target / "sidecar" / "shipped_presets"
    assert set(names.split()) == {p.stem for p in (ROOT / "presets").glob("*.toml")}
