"""The "MusicGen: self-test" action: probe in REAPER what the scripts assume of it, print a
report to paste into a bug report."""

from __future__ import annotations

import os
import platform
import shutil
import struct
import sys
import tempfile
import wave
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .action import script_builtins
from .host import current_project, delete_item, item_chunk, take_file, track_exists
from .timemap import is_null_pointer

if TYPE_CHECKING:
    from .api import ReaperApi

__all__ = ["PROBE_SECONDS", "run_self_test", "section_chunk"]

#: The length of the file the probes insert, and the section of it the section probe plays.
PROBE_SECONDS = 1.0
_SECTION = (0.25, 0.5)  # offset, length in seconds
_SAMPLE_RATE = 44100


def section_chunk(path: str, offset_seconds: float, length_seconds: float) -> str:
    """An item whose take plays a reversed section of `path` (RPPXML: a SECTION source with
    MODE 2 around the file's source, as REAPER writes a reversed take)."""
    inner = item_chunk(path, 0.0, length_seconds).splitlines()[4:-1]  # <SOURCE ... >
    return "\n".join(
        [
            "<ITEM",
            "POSITION 0.0",
            f"LENGTH {length_seconds!r}",
            "<SOURCE SECTION",
            f"LENGTH {length_seconds!r}",
            f"STARTPOS {offset_seconds!r}",
            "MODE 2",
            *inner,
            ">",
            ">",
            "",
        ]
    )


def _write_probe_wav(path: str) -> None:
    frames = int(PROBE_SECONDS * _SAMPLE_RATE)
    with wave.open(path, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(_SAMPLE_RATE)
        handle.writeframes(struct.pack("<h", 0) * frames)


class _Report:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.unexpected = 0

    def fact(self, name: str, value: str) -> None:
        self.lines.append(f"     {name}: {value}")

    def check(self, name: str, value: str, ok: bool) -> None:
        self.unexpected += 0 if ok else 1
        self.lines.append(f"{'ok ' if ok else 'BAD'}  {name}: {value}")


def _where(name: str, namespace: dict[str, Any], api: Any) -> str:
    places = [
        place
        for place, present in (
            ("script globals", callable(namespace.get(name))),
            ("reaper_python module", callable(getattr(api, name, None))),
        )
        if present
    ]
    return " and ".join(places) or "nowhere"


def _probe_host(report: _Report, api: ReaperApi, namespace: dict[str, Any]) -> None:
    report.fact("reaper", f"{api.RPR_GetAppVersion()}, python {platform.python_version()}")
    report.fact("__file__", "set" if "__file__" in namespace else "absent")
    report.fact("sys.argv", repr(getattr(sys, "argv", "absent")))
    for name in ("RPR_defer", "RPR_atexit"):
        report.check(name, _where(name, namespace, api), script_builtins(namespace) is not None)
    recording = int(api.RPR_GetPlayState()) & 4
    report.fact("recording now", "yes" if recording else "no")


def _probe_sources(report: _Report, api: ReaperApi, track: str, path: str) -> None:
    created = str(api.RPR_PCM_Source_CreateFromFile(path))
    created_seconds = float(api.RPR_GetMediaSourceLength(created, False)[0])
    report.fact(
        "PCM_Source_CreateFromFile length",
        f"{created_seconds:.3f} s of {PROBE_SECONDS:.3f} s (the scripts do not use it)",
    )
    api.RPR_PCM_Source_Destroy(created)
    item = str(api.RPR_AddMediaItemToTrack(track))
    chunk_ok = bool(api.RPR_SetItemStateChunk(item, item_chunk(path, 0.0, PROBE_SECONDS), False))
    source = str(api.RPR_GetMediaItemTake_Source(str(api.RPR_GetActiveTake(item))))
    seconds = float(api.RPR_GetMediaSourceLength(source, False)[0])
    report.check(
        "item from a SOURCE chunk",
        f"set {chunk_ok}, {seconds:.3f} s read",
        chunk_ok and abs(seconds - PROBE_SECONDS) < 0.01,
    )
    delete_item(api, track, item)
    item = str(api.RPR_AddMediaItemToTrack(track))
    offset, length = _SECTION
    api.RPR_SetItemStateChunk(item, section_chunk(path, offset, length), False)
    source = str(api.RPR_GetMediaItemTake_Source(str(api.RPR_GetActiveTake(item))))
    own_name = str(api.RPR_GetMediaSourceFileName(source, "", 4096)[1])
    found = take_file(api, source)
    report.check(
        "reversed section source",
        f"own file name {own_name!r}; via GetMediaSourceParent {os.path.basename(found.path)!r}, "
        f"offset {found.offset_seconds:.3f} s, length {found.length_seconds:.3f} s, "
        f"reversed {found.reversed}",
        found.path == path
        and abs(found.offset_seconds - offset) < 1e-6
        and abs(found.length_seconds - length) < 1e-6
        and found.reversed,
    )
    delete_item(api, track, item)


def _probe_with_scratch_track(report: _Report, api: ReaperApi, folder: str) -> None:
    tracks_before = int(api.RPR_CountTracks(0))
    api.RPR_InsertTrackAtIndex(tracks_before, False)
    track = str(api.RPR_GetTrack(0, tracks_before))
    try:
        if is_null_pointer(track):
            report.check("scratch track", "not created", False)
            return
        report.fact(
            "ValidatePtr2 on a real track", str(bool(api.RPR_ValidatePtr2(0, track, "MediaTrack*")))
        )
        number = float(api.RPR_GetMediaTrackInfo_Value(track, "IP_TRACKNUMBER"))
        report.check("IP_TRACKNUMBER on it", f"{number:g}", number == tracks_before + 1)
        report.check(
            "track check the scripts use", str(track_exists(api, track)), track_exists(api, track)
        )
        path = os.path.join(folder, "musicgen-self-test.wav")
        _write_probe_wav(path)
        _probe_sources(report, api, track, path)
    finally:
        if not is_null_pointer(track):
            api.RPR_DeleteTrack(track)
    tracks_after = int(api.RPR_CountTracks(0))
    report.check(
        "scratch track removed",
        f"{tracks_after} track(s), as before",
        tracks_after == tracks_before,
    )


def run_self_test(
    api: ReaperApi,
    namespace: dict[str, Any],
    script_folder: str,
    found_by: str,
    make_folder: Callable[[], str] = tempfile.mkdtemp,
) -> list[str]:
    """Probe, undoably, on a scratch track that is removed again; print and give the report."""
    report = _Report()
    report.fact("script folder", f"{script_folder} (found by {found_by})")
    _probe_host(report, api, namespace)
    project = current_project(api)
    tabs = 0
    while not is_null_pointer(str(api.RPR_EnumProjects(tabs, "", 0)[0])):
        tabs += 1
    report.fact("project tab in front", f"{project} of {tabs} open")
    folder = make_folder()
    api.RPR_Undo_BeginBlock()
    try:
        _probe_with_scratch_track(report, api, folder)
    except Exception as error:  # a probe REAPER refuses is reported, and the rest still cleans up
        report.check("probe", f"stopped: {type(error).__name__}: {error}", False)
    finally:
        api.RPR_Undo_EndBlock("MusicGen: self-test (nothing kept)", -1)
        shutil.rmtree(folder, ignore_errors=True)
    report.fact("temporary files", "removed" if not os.path.exists(folder) else f"left in {folder}")
    report.check("tab check", "same tab in front after the probes", current_project(api) == project)
    lines = [
        "MusicGen self-test (paste this into a bug report):",
        *report.lines,
        f"MusicGen self-test: {report.unexpected} unexpected",
        "",
    ]
    api.RPR_ShowConsoleMsg("\n".join(lines))
    return lines
