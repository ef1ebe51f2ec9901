"""Separated parts in REAPER: new tracks in a folder under the item's track, at the mix's place."""

from __future__ import annotations

from pathlib import Path

from plugin_host.ableton import addresses
from plugin_host.ableton.link import SidecarLink
from plugin_host.reaper.settings import Settings
from plugin_host.reaper.sidecar_reaper import ReaperSession, request_from_selection
from tests.plugin_host.ableton.conftest import Responder, write_wav
from tests.plugin_host.reaper.conftest import TRACK
from tests.plugin_host.reaper.fake_reaper import FakeReaper
from tests.plugin_host.reaper.test_placement import run_steps


def test_parts_go_on_new_tracks_in_a_folder_under_the_item_track(
    project: FakeReaper, responder: Responder, tmp_path: Path
) -> None:
    other = project.add_track()
    project.track_names[TRACK] = "Beat"
    project.track_values[TRACK] = {"I_FOLDERDEPTH": -1.0}  # the last track of a folder above
    session = ReaperSession(project, SidecarLink("127.0.0.1", responder.port))
    assert session.start(request_from_selection(project, Settings(variations=2)))
    request_id = responder.receive()[1][0]
    index = 0
    for take in range(2):
        for part in ("mix", "drums", "bass"):
            stem = write_wav(tmp_path / f"{part}{take}.wav", 4.8, sample_rate=8000)
            responder.reply(
                addresses.STEM, request_id, index, str(stem), "seed", 5, "variation", take,
                "part", part, "separator", "htdemucs",
            )  # fmt: skip
            index += 1
    responder.reply(addresses.DONE, request_id, index)
    run_steps(session)

    order = list(project.tracks)
    drums, bass = order[1:3]
    assert order == [TRACK, drums, bass, other]
    assert [project.track_names[t] for t in (drums, bass)] == ["Beat drums", "Beat bass"]
    assert project.folder_children(TRACK) == [drums, bass]
    # The folder closes where the item's track closed the folder above it: one level more.
    assert project.track_values[bass]["I_FOLDERDEPTH"] == -2.0
    mixes = project.items_on(TRACK)[1:]  # after the selected item
    assert len(mixes) == 2
    for track in (drums, bass):
        parts = project.items_on(track)
        assert [(p.position_seconds, p.length_seconds) for p in parts] == [
            (m.position_seconds, m.length_seconds) for m in mixes
        ]
    assert not project.items_on(other)
