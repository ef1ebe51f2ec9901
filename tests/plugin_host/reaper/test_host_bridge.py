"""The scripts through REAPER's Python bridge as reaper_python.py has it: entry without
`__file__`, RPR_defer in the script's globals, pointers NULL outside the tab in front, the
ValidatePtr2 quirk, sources in no project, section sources, recording, ASCII entry scripts."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from plugin_host.ableton import addresses
from plugin_host.ableton.link import SidecarLink
from plugin_host.reaper.host import item_chunk
from plugin_host.reaper.settings import Settings
from plugin_host.reaper.sidecar_reaper import (
    ReaperSession,
    SelectionError,
    request_from_selection,
)
from sidecar.osc.schema import GenerateRequest
from tests.plugin_host.ableton.conftest import Responder, write_wav
from tests.plugin_host.reaper.conftest import ACTION_SCRIPTS, SCRIPTS, TRACK, Rig
from tests.plugin_host.reaper.fake_reaper import NULL_SOURCE, PROJECT, RECORDING, FakeReaper

#: The files REAPER itself reads (the action scripts); the modules they import Python reads.
ENTRY_SCRIPTS = [SCRIPTS / name for name in ACTION_SCRIPTS]


def run_steps(session: ReaperSession, max_steps: int = 200) -> None:
    for _ in range(max_steps):
        if not session.step():
            return
        time.sleep(0.005)
    raise AssertionError("still running")


def quiet(responder: Responder) -> bool:
    """Whether nothing reaches the stand-in sidecar within 0.2 s."""
    responder.sock.settimeout(0.2)
    try:
        responder.receive()
    except TimeoutError:
        return True
    return False


# ---- the fake's bridge, as reaper_python.py's rpr_packp --------------------------------------


def test_the_bridge_passes_null_for_what_validateptr_refuses(
    project: FakeReaper, tmp_path: Path
) -> None:
    assert project.RPR_GetMediaTrackInfo_Value(TRACK, "IP_TRACKNUMBER") == 1.0
    # ValidatePtr2 packs its pointer as void*, which ValidatePtr never accepts.
    assert project.RPR_ValidatePtr2(0, TRACK, "MediaTrack*") is False
    # A source that no project holds is NULL to every later call.
    created = project.RPR_PCM_Source_CreateFromFile(str(write_wav(tmp_path / "a.wav", 2.0)))
    assert created != NULL_SOURCE
    assert project.RPR_GetMediaSourceLength(created, False)[0] == 0.0
    take = project.RPR_AddTakeToMediaItem(project.RPR_AddMediaItemToTrack(TRACK))
    assert project.RPR_SetMediaItemTake_Source(take, created) is False
    project.RPR_PCM_Source_Destroy(created)
    assert project.open_sources == [created]  # Destroy got NULL: the source leaks
    # A lower-case or short pointer is not what rpr_unpackp writes.
    lower_case = "(MediaTrack*)0x00000000000000ab"
    assert project.RPR_GetMediaTrackInfo_Value(lower_case, "IP_TRACKNUMBER") == 0.0
    with pytest.raises(ValueError):
        project.RPR_GetMediaTrackInfo_Value("(MediaTrack*)0x01", "IP_TRACKNUMBER")
    # Another tab in front: every object of this project is NULL.
    project.switch_tab()
    assert project.RPR_GetMediaTrackInfo_Value(TRACK, "IP_TRACKNUMBER") == 0.0
    assert project.RPR_CountSelectedMediaItems(0) == 0


def test_an_item_chunk_makes_a_take_whose_source_is_in_the_project(
    project: FakeReaper, tmp_path: Path
) -> None:
    path = str(write_wav(tmp_path / 'it\'s "quoted".wav', 1.5))
    item = project.RPR_AddMediaItemToTrack(TRACK)
    assert project.RPR_SetItemStateChunk(item, item_chunk(path, 3.0, 1.0), False)
    source = project.RPR_GetMediaItemTake_Source(project.RPR_GetActiveTake(item))
    assert project.RPR_GetMediaSourceLength(source, False)[0] == pytest.approx(1.5)
    assert project.RPR_GetMediaSourceFileName(source, "", 4096)[1] == path
    assert project.items[item].position_seconds == 3.0


# ---- entry: no __file__, no get_action_context --------------------------------------------


@pytest.mark.parametrize("path", ENTRY_SCRIPTS, ids=lambda p: p.name)
def test_entry_scripts_are_ascii(path: Path) -> None:
    path.read_bytes().decode("ascii")


@pytest.mark.parametrize("code_file_name", ["<reascript>", "path"])
def test_continue_starts_without___file___in_reapers_scripts_folder(
    make_rig: Callable[[FakeReaper], Rig],
    project: FakeReaper,
    responder: Responder,
    code_file_name: str,
) -> None:
    """Neither __file__ nor get_action_context: the script finds its folder by the name its
    code was compiled under, or in <resource>/Scripts/<checkout>/plugin_host/reaper."""
    rig = make_rig(project)
    rig.write_settings(sidecar_port=responder.port, bars=3)
    rig.run("sidecar_continue.py", code_file_name=code_file_name)
    assert GenerateRequest.from_osc(*responder.receive()).bars == 3  # the settings beside it


def test_outside_the_scripts_folder_the_code_file_name_finds_it(
    make_rig: Callable[..., Rig], project: FakeReaper, responder: Responder, tmp_path: Path
) -> None:
    rig = make_rig(project, tmp_path / "elsewhere" / "plugin_host" / "reaper")
    rig.write_settings(sidecar_port=responder.port, bars=5)
    rig.run("sidecar_continue.py", code_file_name="path")
    assert GenerateRequest.from_osc(*responder.receive()).bars == 5


@pytest.mark.parametrize("script", ["sidecar_continue.py", "sidecar_reroll.py"])
def test_a_folder_reaper_names_nowhere_is_said_and_nothing_is_sent(
    make_rig: Callable[..., Rig],
    project: FakeReaper,
    responder: Responder,
    tmp_path: Path,
    script: str,
) -> None:
    rig = make_rig(project, tmp_path / "elsewhere" / "plugin_host" / "reaper")
    rig.write_settings(sidecar_port=responder.port)
    rig.run(script)
    (line,) = project.console
    assert f"cannot tell where {script} is" in line and "Scripts folder" in line
    assert quiet(responder)


def test_without_rpr_defer_in_the_script_globals_nothing_is_sent(
    make_rig: Callable[[FakeReaper], Rig], project: FakeReaper, responder: Responder
) -> None:
    """REAPER gives RPR_defer to the script's globals only: a script run another way (here:
    the globals without it) says so before it sends anything."""
    rig = make_rig(project)
    rig.write_settings(sidecar_port=responder.port)
    original = project.script_globals

    def without_defer() -> dict:
        found = original()
        del found["RPR_defer"]
        return found

    project.script_globals = without_defer  # type: ignore[method-assign]
    rig.run("sidecar_continue.py")
    assert "RPR_defer is not in this script's globals" in project.console[-1]
    assert quiet(responder)


# ---- the project tab, the track, the take's file ------------------------------------------


def test_a_stem_arriving_while_another_tab_is_in_front_is_refused_clearly(
    project: FakeReaper, responder: Responder, tmp_path: Path
) -> None:
    link = SidecarLink("127.0.0.1", responder.port)
    session = ReaperSession(project, link)
    session.start(request_from_selection(project, Settings(variations=2)))
    request_id = responder.receive()[1][0]
    first, second = (write_wav(tmp_path / f"take-{n}.wav", 2.4) for n in (1, 2))
    project.switch_tab()
    responder.reply(addresses.STEM, request_id, 0, str(first), "seed", 3)
    session.step()
    time.sleep(0.05)
    session.step()
    project.switch_tab(PROJECT)  # back in front before the second
    responder.reply(addresses.STEM, request_id, 1, str(second), "seed", 3)
    responder.reply(addresses.DONE, request_id, 2)
    run_steps(session)
    link.close()
    refused = next(line for line in project.console if "not in front" in line)
    assert str(first) in refused and "not inserted" in refused
    inserted = [i.takes[0].source for i in project.items_on(TRACK)[1:]]
    assert inserted == [str(second)]
    assert "done: 1 item(s) inserted" in project.console[-1]


def test_the_track_check_works_where_validateptr2_is_always_false(
    project: FakeReaper, responder: Responder, tmp_path: Path
) -> None:
    link = SidecarLink("127.0.0.1", responder.port)
    session = ReaperSession(project, link)
    session.start(request_from_selection(project, Settings()))
    request_id = responder.receive()[1][0]
    responder.reply(addresses.STEM, request_id, 0, str(write_wav(tmp_path / "t.wav", 2.4)))
    responder.reply(addresses.DONE, request_id, 1)
    run_steps(session)
    link.close()
    (new,) = project.items_on(TRACK)[1:]
    assert new.length_seconds == pytest.approx(2.4) and new.position_seconds == pytest.approx(16.8)
    assert project.open_sources == []


@pytest.mark.parametrize(
    ("offset", "length", "start", "end"),
    [(1.0, 3.0, 2.5, 4.0), (2.0, 2.0, 3.5, 4.0)],
)
def test_a_section_take_sends_the_part_of_its_file_it_plays(
    tmp_path: Path, offset: float, length: float, start: float, end: float
) -> None:
    """Item properties' "Section": the take's source is a section of the file; its file name
    comes from GetMediaSourceParent, its range starts the section's offset into the file."""
    reaper = FakeReaper(bpm=120.0)
    path = str(write_wav(tmp_path / "long.wav", 6.0))
    kwargs = {"section_offset_seconds": offset, "section_length_seconds": length}
    reaper.selected.append(reaper.add_item(TRACK, 4.0, 1.5, path, offset=1.5, **kwargs))
    request = request_from_selection(reaper, Settings())
    assert request.file_path == path
    assert (request.source_start_seconds, request.source_end_seconds) == pytest.approx((start, end))


def test_a_reversed_take_is_refused_with_what_to_do(tmp_path: Path) -> None:
    reaper = FakeReaper(bpm=120.0)
    path = str(write_wav(tmp_path / "long.wav", 4.0))
    section = {"section_length_seconds": 4.0, "reversed": True}
    reaper.selected.append(reaper.add_item(TRACK, 4.0, 2.0, path, **section))
    with pytest.raises(SelectionError, match="is reversed; glue it first"):
        request_from_selection(reaper, Settings())


def test_nothing_is_sent_while_reaper_records(
    make_rig: Callable[[FakeReaper], Rig], project: FakeReaper, responder: Responder
) -> None:
    """A clip being recorded is a file still being written (GetPlayState & 4)."""
    project.play_state = RECORDING | 1
    rig = make_rig(project)
    rig.write_settings(sidecar_port=responder.port)
    rig.run("sidecar_continue.py")
    assert "REAPER is recording" in project.console[-1]
    assert quiet(responder)
    project.play_state = 1  # playing, not recording: sent
    rig.run("sidecar_continue.py")
    assert responder.receive()[0] == addresses.CONTINUE


# ---- time signature markers ---------------------------------------------------------------


def test_a_time_signature_marker_where_the_take_goes_sets_its_bars(tmp_path: Path) -> None:
    """4/4 at 120 bpm, then 3/4 from bar 5 (8 s): the take after an item ending at 8 s is made
    in 3/4, and the fake counts measures across the marker."""
    reaper = FakeReaper(bpm=120.0, tempo_markers=[(8.0, 120.0, 3, 4)])
    assert reaper.RPR_TimeMap2_timeToBeats(0, 9.5, 0, 0, 0.0, 0)[3] == 5  # 8 s + one 1.5-s bar
    assert reaper.RPR_TimeMap2_beatsToTime(0, 0.0, 6)[0] == pytest.approx(11.0)
    assert reaper.RPR_TimeMap_GetTimeSigAtTime(0, 8.0, 0, 0, 0.0)[2:4] == (3, 4)
    path = str(write_wav(tmp_path / "clip.wav", 4.0))
    reaper.selected.append(reaper.add_item(TRACK, 4.0, 4.0, path))
    request = request_from_selection(reaper, Settings())
    assert request.beats_per_bar == 3
    assert request.insert_at_seconds == pytest.approx(8.0)
