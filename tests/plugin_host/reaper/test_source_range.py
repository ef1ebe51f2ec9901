"""The part of its file the selected item sends: looped items, the file's end, stretch markers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from plugin_host.reaper.settings import Settings
from plugin_host.reaper.sidecar_reaper import (
    SelectionError,
    played_source_range,
    request_from_selection,
)
from sidecar.files.audiofile import read_audio
from sidecar.osc import addresses as server_addresses
from sidecar.osc.schema import GenerateRequest
from tests.plugin_host.ableton.conftest import write_wav
from tests.plugin_host.reaper.conftest import TRACK, Rig
from tests.plugin_host.reaper.fake_reaper import FakeReaper

RATE = 8000


def selected(
    tmp_path: Path,
    file_seconds: float,
    length: float,
    *,
    offset: float = 0.0,
    loop: bool = False,
    playrate: float = 1.0,
) -> FakeReaper:
    """120 bpm 4/4 (2-s bars): an item at 8 s playing a `file_seconds` file, selected."""
    reaper = FakeReaper(bpm=120.0)
    source = write_wav(tmp_path / "loop.wav", file_seconds, sample_rate=RATE)
    item = reaper.add_item(TRACK, 8.0, length, str(source), offset=offset, loop=loop)
    reaper.items[item].takes[0].playrate = playrate
    reaper.selected.append(item)
    return reaper


def sent_range(reaper: FakeReaper) -> tuple[float, float]:
    arguments = request_from_selection(reaper, Settings()).to_osc_arguments("r1")
    parsed = GenerateRequest.from_osc(server_addresses.CONTINUE, arguments)
    assert parsed.clip_start is not None and parsed.clip_end is not None
    return parsed.clip_start, parsed.clip_end


def test_a_loop_drawn_past_its_file_sends_the_file_once_and_the_sidecar_reads_it(
    tmp_path: Path,
) -> None:
    reaper = selected(tmp_path, 2.0, 8.0, loop=True)  # a 1-bar loop drawn out to 4 bars
    request = request_from_selection(reaper, Settings())
    assert (request.source_start_seconds, request.source_end_seconds) == (0.0, 2.0)
    assert request.bars == 4  # the take is as long as the item, not as the file
    audio, rate = read_audio(request.file_path, 0.0, 2.0)  # what the worker reads first
    assert audio.shape[1] == 2 * rate


def test_a_loop_that_ends_inside_a_pass_sends_that_pass_up_to_where_it_ends(
    tmp_path: Path,
) -> None:
    """A 2-bar loop drawn to 3 bars ends after the loop's first bar: the continuation follows
    that bar, so the prompt ends there."""
    reaper = selected(tmp_path, 4.0, 6.0, loop=True)
    assert sent_range(reaper) == (0.0, pytest.approx(2.0))


def test_a_loop_that_ends_just_into_a_pass_sends_the_whole_file(tmp_path: Path) -> None:
    reaper = selected(tmp_path, 2.0, 8.5, loop=True)  # 0.5 s into the fifth pass
    assert sent_range(reaper) == (0.0, pytest.approx(2.0))


def test_a_loop_that_stays_inside_its_file_sends_its_range(tmp_path: Path) -> None:
    reaper = selected(tmp_path, 4.0, 2.0, offset=1.0, loop=True)
    assert sent_range(reaper) == (pytest.approx(1.0), pytest.approx(3.0))


def test_a_loops_offset_counts_from_the_files_start_again(tmp_path: Path) -> None:
    """REAPER keeps an offset past the file's end on a looped item (its start trimmed right):
    it plays from the offset's place in the file."""
    reaper = selected(tmp_path, 4.0, 2.0, offset=5.0, loop=True)
    assert sent_range(reaper) == (pytest.approx(1.0), pytest.approx(3.0))


def test_a_faster_loop_wraps_by_the_file_it_plays(tmp_path: Path) -> None:
    reaper = selected(tmp_path, 2.0, 2.0, loop=True, playrate=2.0)  # plays 4 s of the file
    assert sent_range(reaper) == (0.0, pytest.approx(2.0))


def test_an_item_that_does_not_loop_stops_at_its_files_end(tmp_path: Path) -> None:
    reaper = selected(tmp_path, 2.0, 8.0)  # silent after 2 s
    assert sent_range(reaper) == (0.0, pytest.approx(2.0))


def test_an_item_that_plays_none_of_its_file_is_refused(tmp_path: Path) -> None:
    reaper = selected(tmp_path, 2.0, 4.0, offset=3.0)
    with pytest.raises(SelectionError, match="plays none of its file"):
        request_from_selection(reaper, Settings())


@pytest.mark.parametrize(
    ("offset", "played", "loops", "expected"),
    [
        (1.5, 4.8, False, (1.5, 6.3)),  # inside the file: as it is
        (0.0, 20.0, True, (0.0, 10.0)),  # ends with a whole pass
        (0.0, 12.0, True, (0.0, 2.0)),  # ends 2 s into a pass
        (-1.0, 3.0, False, (0.0, 2.0)),  # a start before the file: silence, then the file
        (0.0, 10.0 + 5e-5, True, (0.0, 10.0)),  # a hair past the end: the same pass
    ],
)
def test_played_source_range(
    offset: float, played: float, loops: bool, expected: tuple[float, float]
) -> None:
    assert played_source_range(offset, played, 10.0, loops) == pytest.approx(expected)


# ---- stretch markers ----------------------------------------------------------------------


def test_an_item_with_stretch_markers_is_refused_with_what_to_do(tmp_path: Path) -> None:
    reaper = selected(tmp_path, 10.0, 4.0)
    take = reaper.items[reaper.selected[0]].takes[0]
    take.stretch_markers = [(0.0, 0.0), (2.0, 2.5), (4.0, 4.0)]  # the middle beat moved
    pointer = reaper.take_pointer(take)
    assert reaper.RPR_GetTakeStretchMarker(pointer, 1, 0.0, 0.0) == (1, pointer, 1, 2.0, 2.5)
    assert reaper.RPR_GetTakeStretchMarker(pointer, 3, 0.0, 0.0)[0] == -1
    with pytest.raises(SelectionError, match=r"stretch markers; glue it first \(Item → Glue"):
        request_from_selection(reaper, Settings())


def test_the_action_says_so_and_sends_nothing(
    make_rig: Callable[[FakeReaper], Rig], tmp_path: Path
) -> None:
    reaper = selected(tmp_path, 10.0, 4.0)
    reaper.items[reaper.selected[0]].takes[0].stretch_markers = [(1.0, 1.2)]
    rig = make_rig(reaper)
    rig.run("sidecar_continue.py")
    (line,) = reaper.console
    assert line.startswith("MusicGen: the selected item has stretch markers")
    assert reaper.deferred == []
