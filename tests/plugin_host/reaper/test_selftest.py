"""The "MusicGen: self-test" action on the fake: its report, and that it leaves nothing behind."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.plugin_host.reaper.conftest import TRACK, Rig
from tests.plugin_host.reaper.fake_reaper import FakeReaper


def report_of(reaper: FakeReaper) -> list[str]:
    (text,) = reaper.console
    return text.splitlines()


def line_for(report: list[str], name: str) -> str:
    return next(line for line in report if f" {name}: " in line)


def test_the_self_test_reports_what_the_host_does_and_removes_its_probes(
    make_rig: Callable[[FakeReaper], Rig], project: FakeReaper, tmp_path: Path
) -> None:
    tracks, items = list(project.tracks), dict(project.items)
    rig = make_rig(project)
    rig.run("sidecar_selftest.py")
    report = report_of(project)
    assert report[0] == "MusicGen self-test (paste this into a bug report):"
    assert report[-1] == "MusicGen self-test: 0 unexpected"
    assert "(found by REAPER's Scripts folder)" in line_for(report, "script folder")
    assert line_for(report, "__file__").endswith("absent")
    assert line_for(report, "RPR_defer") == "ok   RPR_defer: script globals"
    assert line_for(report, "ValidatePtr2 on a real track").endswith(": False")
    assert line_for(report, "IP_TRACKNUMBER on it") == "ok   IP_TRACKNUMBER on it: 2"
    assert "0.000 s of 1.000 s" in line_for(report, "PCM_Source_CreateFromFile length")
    assert line_for(report, "item from a SOURCE chunk") == (
        "ok   item from a SOURCE chunk: set True, 1.000 s read"
    )
    section = line_for(report, "reversed section source")
    assert section.startswith("ok") and "own file name ''" in section
    assert "offset 0.250 s, length 0.500 s, reversed True" in section
    assert line_for(report, "temporary files").endswith("removed")
    # Nothing kept: the scratch track and its items are gone, the project's own are there.
    assert list(project.tracks) == tracks and project.items == items
    assert project.undo_blocks == ["begin", "MusicGen: self-test (nothing kept)"]
    assert project.items_on(TRACK)[0].takes[0].source.endswith("prompt.wav")


def test_a_probe_reaper_refuses_is_reported_and_still_cleaned_up(
    make_rig: Callable[[FakeReaper], Rig],
    project: FakeReaper,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Were chunks refused (a REAPER that reads them otherwise), the report says so."""
    tracks = list(project.tracks)
    monkeypatch.setattr(project, "RPR_SetItemStateChunk", lambda item, chunk, undo: False)
    rig = make_rig(project)
    rig.run("sidecar_selftest.py")
    report = report_of(project)
    assert line_for(report, "item from a SOURCE chunk").startswith("BAD  ")
    assert line_for(report, "reversed section source").startswith("BAD  ")
    assert report[-1] == "MusicGen self-test: 2 unexpected"
    assert list(project.tracks) == tracks


def test_the_self_test_reports_a_missing_rpr_defer(
    make_rig: Callable[[FakeReaper], Rig], project: FakeReaper
) -> None:
    original = project.script_globals
    project.script_globals = lambda: {  # type: ignore[method-assign]
        k: v for k, v in original().items() if k not in ("RPR_defer", "RPR_atexit")
    }
    rig = make_rig(project)
    rig.run("sidecar_selftest.py", with_file=True)
    report = report_of(project)
    assert line_for(report, "RPR_defer") == "BAD  RPR_defer: nowhere"
    assert line_for(report, "__file__").endswith("set")
    assert "(found by __file__)" in line_for(report, "script folder")
    assert report[-1] == "MusicGen self-test: 2 unexpected"
