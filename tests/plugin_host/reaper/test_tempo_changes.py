"""Tempo changes: a take is made for the tempo where it goes, and plays at the tempo it lands on."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import pytest

from plugin_host.ableton import addresses
from plugin_host.ableton.link import SidecarLink
from plugin_host.reaper.request import SidecarRequest, load_last_request
from plugin_host.reaper.settings import Settings
from plugin_host.reaper.sidecar_reaper import (
    ReaperSession,
    bar_line_at_or_after,
    request_from_selection,
)
from sidecar.osc import addresses as server_addresses
from sidecar.osc.schema import GenerateRequest
from sidecar.post.prompt import prepare_prompt
from tests.plugin_host.ableton.conftest import Responder, write_wav
from tests.plugin_host.reaper.conftest import TRACK
from tests.plugin_host.reaper.fake_reaper import FakeReaper

RATE = 8000


def project_with_item(
    tmp_path: Path, position: float, length: float, markers: list[tuple[float, float]]
) -> FakeReaper:
    """4/4 at 120 from the start (2-s bars), `markers` after; an item selected."""
    reaper = FakeReaper(bpm=120.0, tempo_markers=markers)
    source = write_wav(tmp_path / "prompt.wav", 20.0, sample_rate=RATE)
    reaper.selected.append(reaper.add_item(TRACK, position, length, str(source)))
    return reaper


def run_request(
    reaper: FakeReaper,
    responder: Responder,
    tmp_path: Path,
    stems: list[tuple[float, float]],
    settings: Settings | None = None,
    before_replies: list[tuple[float, float]] | None = None,
) -> list[str]:
    """Send the selected item's request; the responder returns stems of (seconds, bpm). With
    `before_replies`, those tempo markers are put in the project before the stems arrive."""
    link = SidecarLink("127.0.0.1", responder.port)
    session = ReaperSession(reaper, link)
    assert session.start(request_from_selection(reaper, settings or Settings()))
    arguments = responder.receive()[1]
    if before_replies is not None:
        reaper.tempo_markers = before_replies
    for index, (seconds, bpm) in enumerate(stems):
        stem = write_wav(tmp_path / f"take{index}.wav", seconds, sample_rate=RATE)
        responder.reply(addresses.STEM, arguments[0], index, str(stem), "seed", 7, "bpm", bpm)
    responder.reply(addresses.DONE, arguments[0], len(stems))
    for _ in range(200):
        if not session.step():
            break
        time.sleep(0.005)
    link.close()
    return arguments


# ---- the fake's time map across tempo markers ------------------------------------------------


def test_the_fake_time_map_counts_across_a_tempo_marker() -> None:
    reaper = FakeReaper(bpm=120.0, tempo_markers=[(16.0, 128.0)])  # bar 9 on
    assert reaper.RPR_TimeMap2_timeToQN(0, 16.0) == pytest.approx(32.0)
    assert reaper.RPR_TimeMap2_timeToQN(0, 23.5) == pytest.approx(48.0)  # 16 beats at 128
    assert reaper.RPR_TimeMap2_QNToTime(0, 48.0) == pytest.approx(23.5)
    since, _, _, measure, _, full, _ = reaper.RPR_TimeMap2_timeToBeats(0, 17.0, 0, 0, 0.0, 0)
    assert (measure, since, full) == (8, pytest.approx(128 / 60), pytest.approx(32 + 128 / 60))
    assert reaper.RPR_TimeMap2_beatsToTime(0, 0.0, 10)[0] == pytest.approx(19.75)
    assert reaper.RPR_TimeMap_GetTimeSigAtTime(0, 15.99, 0, 0, 0.0)[4] == 120.0
    assert reaper.RPR_TimeMap_GetTimeSigAtTime(0, 16.0, 0, 0, 0.0)[4] == 128.0
    assert bar_line_at_or_after(reaper, 16.1) == pytest.approx(17.875)


# ---- the request: the tempo where the take goes ------------------------------------------


def test_the_request_has_the_tempo_at_the_bar_where_the_take_goes(
    tmp_path: Path, responder: Responder
) -> None:
    """Bars 5-8 at 120; 128 from bar 9, where the take goes: 4 bars at 128, placed as made."""
    reaper = project_with_item(tmp_path, 8.0, 8.0, [(16.0, 128.0)])
    arguments = run_request(reaper, responder, tmp_path, [(7.5, 128.0)])
    sent = GenerateRequest.from_osc(server_addresses.CONTINUE, arguments)
    assert (sent.bpm, sent.bars, sent.beats_per_bar) == (128.0, 4, 4)
    new = reaper.items_on(TRACK)[-1]
    assert new.position_seconds == pytest.approx(16.0)
    assert new.length_seconds == pytest.approx(7.5)  # 4 bars at 128, its own speed
    assert new.takes[-1].playrate == 1.0 and new.takes[-1].name == "default s7 128bpm"


def test_an_item_across_a_tempo_change_counts_its_bars_on_the_time_map(tmp_path: Path) -> None:
    """8 s from 12 s: 2 bars at 120, then 4 s at 60 = 1 bar: 3 bars, not 4 (8 s at 120)."""
    reaper = project_with_item(tmp_path, 12.0, 8.0, [(16.0, 60.0)])
    request = request_from_selection(reaper, Settings())
    assert (request.bars, request.bpm) == (3, 60.0)


def test_the_cap_of_one_window_counts_at_the_tempo_where_the_take_goes(tmp_path: Path) -> None:
    """12 bars at 120 (24 s) fit a window; at 60 from the item's end only 7 do (28 s)."""
    reaper = project_with_item(tmp_path, 0.0, 24.0, [(24.0, 60.0)])
    request = request_from_selection(reaper, Settings())
    assert (request.bars, request.bpm) == (7, 60.0)


# ---- insertion: the tempo the take lands on ---------------------------------------------------


def test_a_take_that_lands_on_another_tempo_plays_at_it_with_its_pitch_kept(
    tmp_path: Path, responder: Responder
) -> None:
    """Made for 120; the producer puts 128 at bar 9 before it arrives: it plays 128/120 faster,
    so that its 4 bars last 4 bars there, and is named with the tempo it plays at."""
    reaper = project_with_item(tmp_path, 8.0, 8.0, [])
    run_request(reaper, responder, tmp_path, [(8.0, 120.0)], before_replies=[(16.0, 128.0)])
    new = reaper.items_on(TRACK)[-1]
    assert new.position_seconds == pytest.approx(16.0)
    take = new.takes[-1]
    assert take.playrate == pytest.approx(128.0 / 120.0) and take.preserve_pitch
    assert new.length_seconds == pytest.approx(4 * 4 * 60.0 / 128.0)  # 7.5 s
    assert new.length_seconds * take.playrate == pytest.approx(8.0)  # the whole file plays
    assert take.name == "default s7 128bpm"
    assert reaper.undo_blocks[-1] == "MusicGen: insert default s7 128bpm"
    assert any("played at 1.067x" in line for line in reaper.console)


def test_variations_across_a_tempo_change_each_last_their_bars(
    tmp_path: Path, responder: Responder
) -> None:
    """Two 4-bar takes made for 120 after an item ending at 8 s; the tempo is 100 from 16 s."""
    reaper = project_with_item(tmp_path, 0.0, 8.0, [(16.0, 100.0)])
    run_request(reaper, responder, tmp_path, [(8.0, 120.0), (8.0, 120.0)], Settings(variations=2))
    first, second = reaper.items_on(TRACK)[1:]
    assert (first.position_seconds, first.length_seconds) == (8.0, 8.0)
    assert first.takes[-1].playrate == 1.0 and not first.takes[-1].preserve_pitch
    assert second.position_seconds == pytest.approx(16.0)
    assert second.length_seconds == pytest.approx(9.6)  # 4 bars at 100
    assert second.takes[-1].playrate == pytest.approx(100.0 / 120.0)
    assert [first.takes[-1].name, second.takes[-1].name] == [
        "default s7 v1/2 120bpm",
        "default s7 v2/2 100bpm",
    ]


def test_a_take_slowed_down_skips_an_item_it_would_now_cover(
    tmp_path: Path, responder: Responder
) -> None:
    """At 60 from 8 s a take made for 120 lasts 16 s, not 8: 8-24 s would cover the producer's
    item at 20 s, so it goes on the next free bar line (4-s bars there): 24 s."""
    reaper = project_with_item(tmp_path, 0.0, 8.0, [])
    reaper.add_item(TRACK, 20.0, 1.0, "producer.wav")
    run_request(reaper, responder, tmp_path, [(8.0, 120.0)], before_replies=[(8.0, 60.0)])
    new = reaper.items_on(TRACK)[-1]
    assert (new.position_seconds, new.length_seconds) == (pytest.approx(24.0), 16.0)
    assert new.takes[-1].playrate == pytest.approx(0.5)
    spans = [(i.position_seconds, i.end_seconds) for i in reaper.items_on(TRACK)]
    assert all(end <= start + 1e-9 for (_, end), (start, _) in itertools.pairwise(spans))


def test_in_7_8_the_rate_compares_quarter_note_tempos(tmp_path: Path, responder: Responder) -> None:
    """7/8 at 120 is sent as eighths at 240; 2 bars (3.5 s) land where it is 105: rate 7/8."""
    reaper = project_with_item(tmp_path, 0.0, 3.5, [])
    reaper.numerator, reaper.denominator = 7, 8
    arguments = run_request(
        reaper, responder, tmp_path, [(3.5, 240.0)], before_replies=[(3.5, 105.0)]
    )
    assert GenerateRequest.from_osc(server_addresses.CONTINUE, arguments).bpm == 240.0
    new = reaper.items_on(TRACK)[-1]
    assert new.takes[-1].playrate == pytest.approx(105.0 / 120.0)
    assert new.length_seconds == pytest.approx(4.0)
    assert new.takes[-1].name == "default s7 105bpm"


# ---- the file's own tempo (clip_bpm) -----------------------------------------------------


def faster_item(
    tmp_path: Path, playrate: float, numerator: int = 4, denominator: int = 4
) -> FakeReaper:
    """120 bpm; a 4-s item at 0 s whose take plays its file `playrate` times faster."""
    reaper = project_with_item(tmp_path, 0.0, 4.0, [])
    reaper.numerator, reaper.denominator = numerator, denominator
    reaper.items[reaper.selected[0]].takes[0].playrate = playrate
    return reaper


def test_an_item_played_faster_sends_its_files_tempo_and_the_prompt_is_stretched(
    tmp_path: Path,
) -> None:
    """At playrate 1.2 in a 120 project the file is at 100: the sidecar stretches the 4.8 s
    of it the item plays to the 4 s it lasts at 120."""
    reaper = faster_item(tmp_path, 1.2)
    arguments = request_from_selection(reaper, Settings()).to_osc_arguments("r1")
    sent = GenerateRequest.from_osc(server_addresses.CONTINUE, arguments)
    assert (sent.clip_start, sent.clip_end) == (0.0, pytest.approx(4.8))
    assert sent.bpm == 120.0 and sent.clip_bpm == pytest.approx(100.0)
    audio = (0.1 * np.sin(np.arange(int(4.8 * RATE)) * 0.05)).astype(np.float32)[None, :]
    prompt = prepare_prompt(
        audio, RATE, RATE, 1, start_seconds=0.0, end_seconds=4.8, bpm=120.0, clip_bpm=100.0
    )
    assert prompt.shape[1] / RATE == pytest.approx(4.0, abs=0.01)


def test_an_item_at_the_project_tempo_sends_no_clip_bpm(tmp_path: Path) -> None:
    arguments = request_from_selection(faster_item(tmp_path, 1.0), Settings()).to_osc_arguments("r")
    assert "clip_bpm" not in arguments


def test_in_7_8_the_files_tempo_is_in_eighths_like_the_bpm(tmp_path: Path) -> None:
    request = request_from_selection(faster_item(tmp_path, 1.2, 7, 8), Settings())
    assert (request.bpm, request.clip_bpm) == (240.0, pytest.approx(200.0))  # ratio 1.2


def test_a_tempo_change_at_the_items_end_sends_the_items_tempo_as_the_files(
    tmp_path: Path,
) -> None:
    reaper = project_with_item(tmp_path, 8.0, 8.0, [(16.0, 128.0)])
    request = request_from_selection(reaper, Settings())
    assert (request.bpm, request.clip_bpm) == (128.0, pytest.approx(120.0))


@pytest.mark.parametrize(("playrate", "clip_bpm"), [(0.25, 300.0), (8.0, 20.0)])
def test_a_files_tempo_out_of_the_sidecars_range_is_sent_as_its_nearest_end(
    tmp_path: Path, playrate: float, clip_bpm: float
) -> None:
    """480 and 15 bpm: the sidecar takes 20-300 and refuses the request otherwise."""
    request = request_from_selection(faster_item(tmp_path, playrate), Settings())
    sent = GenerateRequest.from_osc(server_addresses.CONTINUE, request.to_osc_arguments("r1"))
    assert sent.clip_bpm == clip_bpm


def test_reroll_keeps_the_files_tempo(tmp_path: Path, responder: Responder) -> None:
    reaper = faster_item(tmp_path, 1.2)
    link = SidecarLink("127.0.0.1", responder.port)
    assert ReaperSession(reaper, link).start(request_from_selection(reaper, Settings()))
    link.close()
    again = load_last_request(reaper).rerolled()
    assert again.clip_bpm == pytest.approx(100.0)
    assert SidecarRequest.from_json(again.to_json()) == again
    stored_before = SidecarRequest.from_json(again.to_json().replace('"clip_bpm"', '"x"'))
    assert stored_before.clip_bpm is None  # a request stored before clip_bpm was sent
