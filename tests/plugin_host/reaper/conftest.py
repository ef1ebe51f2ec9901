"""Fixtures: a fake REAPER project with a selected item; the action scripts run as REAPER does."""

from __future__ import annotations

import json
import shutil
import sys
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from plugin_host.ableton.link import SidecarLink
from plugin_host.reaper.settings import SETTINGS_FILE_NAME
from tests.plugin_host.ableton.conftest import Responder, write_wav
from tests.plugin_host.reaper.fake_reaper import FakeReaper

TRACK = "(MediaTrack*)0x0000000000000001"
SCRIPTS = Path(__file__).resolve().parents[3] / "plugin_host" / "reaper"
ACTION_SCRIPTS = (
    "sidecar_continue.py",
    "sidecar_reroll.py",
    "sidecar_cancel.py",
    "sidecar_selftest.py",
)
#: How REAPER compiles a script whose code gives no file name (the pessimistic case: whether
#: REAPER gives one is what the self-test reports).
NO_FILE_NAME = "<reascript>"
#: REAPER runs deferred code about every 30 ms.
DEFER_SECONDS = 0.03


@dataclass
class Rig:
    """The action scripts copied into a REAPER-like Scripts folder, run on a fake project."""

    reaper: FakeReaper
    folder: Path
    namespace: dict[str, Any] = field(default_factory=dict)

    def write_settings(self, **fields: Any) -> Path:
        path = self.folder / SETTINGS_FILE_NAME
        path.write_text(json.dumps(fields), encoding="utf-8")
        return path

    def run(
        self, script: str, *, with_file: bool = False, code_file_name: str = NO_FILE_NAME
    ) -> None:
        """Run an action the way REAPER is reported to: the file read as ASCII and executed
        as `__main__` without `__file__` (unless `with_file`), compiled under
        `code_file_name` (`"path"`: the script's own path), with the API and REAPER's
        `RPR_defer`/`RPR_atexit` in its globals (see `FakeReaper.script_globals`) and
        sys.argv as embedded Python >= 3.8 has it when the host sets none ([""]: PyConfig)."""
        path = self.folder / script
        self.namespace.update(self.reaper.script_globals())
        self.namespace["__name__"] = "__main__"
        self.namespace.pop("__file__", None)
        if with_file:
            self.namespace["__file__"] = str(path)
        file_name = str(path) if code_file_name == "path" else code_file_name
        exec(compile(path.read_bytes().decode("ascii"), file_name, "exec"), self.namespace)

    def tick(self, max_ticks: int, until: Callable[[], bool] | None = None) -> int:
        """Run the defer loop until nothing is deferred (or `until()`); ticks taken."""
        for n in range(1, max_ticks + 1):
            self.reaper.run_deferred(self.namespace)
            if not self.reaper.deferred or (until is not None and until()):
                return n
            time.sleep(DEFER_SECONDS)
        raise AssertionError(f"still running after {max_ticks} defer ticks: {self.reaper.console}")

    def said(self, text: str) -> bool:
        return any(text in line for line in self.reaper.console)


@pytest.fixture
def responder() -> Iterator[Responder]:
    r = Responder()
    yield r
    r.close()


@pytest.fixture
def project(tmp_path: Path) -> FakeReaper:
    """100 bpm 4/4; a 4.8 s item at 12 s plays the file from 1.5 s; it is selected."""
    reaper = FakeReaper(bpm=100.0)
    source = write_wav(tmp_path / "prompt.wav", 10.0)
    item = reaper.add_item(TRACK, position=12.0, length=4.8, source=str(source), offset=1.5)
    reaper.selected.append(item)
    return reaper


def close_unfinished(namespace: dict[str, Any]) -> None:
    """Close the sockets of actions a test left running (their steps hold the link)."""
    for name, step in list(namespace.items()):
        if name.startswith("_musicgen_step_"):
            for cell in step.__closure__ or ():
                if isinstance(cell.cell_contents, SidecarLink):
                    cell.cell_contents.close()


class ReaperPythonModule(types.ModuleType):
    """The `reaper_python` module a script imports: the API only (REAPER's generated
    reaper_python.py defines the RPR_ functions and no RPR_defer, RPR_atexit or RPR_runloop)."""

    def __init__(self, reaper: FakeReaper) -> None:
        super().__init__("reaper_python")
        self._reaper = reaper

    def __getattr__(self, name: str) -> Any:
        if name.startswith("RPR_") and name not in ("RPR_defer", "RPR_atexit", "RPR_runloop"):
            return getattr(self._reaper, name)
        raise AttributeError(f"module 'reaper_python' has no attribute {name!r}")


@pytest.fixture
def make_rig(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[FakeReaper], Rig]]:
    """Copy the scripts into a checkout in REAPER's Scripts folder
    (<resource>/Scripts/musicgen-sidecar/plugin_host/reaper/) and let `import reaper_python`
    find the fake."""
    monkeypatch.setattr(sys, "path", list(sys.path))  # the scripts add their root folder
    monkeypatch.setattr(sys, "argv", [""])
    rigs: list[Rig] = []

    def make(reaper: FakeReaper, folder: Path | None = None) -> Rig:
        resource = tmp_path / "REAPER"
        reaper.resource_path = str(resource)
        if folder is None:
            folder = resource / "Scripts" / "musicgen-sidecar" / "plugin_host" / "reaper"
        folder.mkdir(parents=True, exist_ok=True)
        for name in ACTION_SCRIPTS:
            shutil.copy(SCRIPTS / name, folder / name)
        monkeypatch.setitem(sys.modules, "reaper_python", ReaperPythonModule(reaper))
        rigs.append(Rig(reaper, folder))
        return rigs[-1]

    yield make
    for rig in rigs:
        close_unfinished(rig.namespace)
