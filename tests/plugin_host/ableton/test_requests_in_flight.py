"""What the script sends, and what becomes of requests in flight: the clip's own tempo, odd
metres past the sidecar's tempo range, a re-roll aimed at a deleted track, scenes added
during a job, a host name looked up once, and cancels for requests the script gives up on."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from plugin_host.ableton import addresses
from plugin_host.ableton.link import LinkResolveError, SidecarLink
from plugin_host.ableton.request import MAX_BPM, MIN_BPM, build_request
from plugin_host.ableton.selection import read_clip_region, read_song_context
from plugin_host.ableton.surface import SidecarSurface
from sidecar.osc import addresses as server_addresses
from sidecar.osc.fields import FIELDS
from sidecar.osc.schema import GenerateRequest
from tests.plugin_host.ableton.conftest import (
    GENERATE_NOTE,
    REROLL_NOTE,
    Responder,
    SurfaceFactory,
    write_wav,
)
from tests.plugin_host.ableton.fake_live import FakeClip, FakeClipSlot, FakeSong


def pairs(arguments: list[Any]) -> dict[Any, Any]:
    return dict(zip(arguments[1::2], arguments[2::2], strict=True))


def tick_until(surface: SidecarSurface, condition: Callable[[], bool], max_ticks: int = 50) -> None:
    for _ in range(max_ticks):
        surface.update_display()
        if condition():
            return
        time.sleep(0.005)
    raise AssertionError(f"condition not met within {max_ticks} ticks")


def drain(responder: Responder, seconds: float = 0.3) -> list[tuple[str, list[Any]]]:
    """Every message the responder gets until `seconds` pass without one."""
    responder.sock.settimeout(seconds)
    got = []
    try:
        while True:
            got.append(responder.receive())
    except OSError:
        pass
    return got


def request_for(song: Any) -> dict[Any, Any]:
    context = read_song_context(song, "off")
    request = build_request(read_clip_region(song, context), context, "default", (), 1)
    arguments = request.to_osc_arguments()
    GenerateRequest.from_osc(server_addresses.CONTINUE, arguments)  # the sidecar takes it
    return pairs(arguments)


def selected(song: Any, clip: FakeClip) -> FakeClip:
    song.tracks[0].clip_slots[0].put(clip)
    song.view.detail_clip = clip
    return clip


# ---- clip_bpm ------------------------------------------------------------------------------


def test_the_sidecar_limits_are_copied_right() -> None:
    for name in ("bpm", "clip_bpm"):
        assert (FIELDS[name].minimum, FIELDS[name].maximum) == (MIN_BPM, MAX_BPM)


@pytest.mark.parametrize(
    ("numerator", "denominator", "file_bpm", "clip_bpm"),
    [
        (4, 4, 100.0, 100.0),  # a 100-bpm loop warped into a 120 set
        (4, 4, 120.0, 120.0),
        (7, 8, 100.0, 200.0),  # in the metre's own beat: eighth notes
        (7, 8, 160.0, 300.0),  # 320 eighth notes, clamped to the sidecar's range
        (4, 4, 15.0, 20.0),
    ],
)
def test_a_warped_clip_sends_its_own_tempo(
    numerator: int, denominator: int, file_bpm: float, clip_bpm: float
) -> None:
    song: Any = FakeSong(tempo=120.0, numerator=numerator, denominator=denominator)
    selected(song, FakeClip("/a.wav", file_bpm=file_bpm, file_seconds=600.0, loop_end=7.0))
    sent = request_for(song)
    assert sent["clip_bpm"] == pytest.approx(clip_bpm)
    assert "clip_start" in sent and "clip_start_beats" not in sent


def test_an_unwarped_clip_has_no_tempo_to_send() -> None:
    song: Any = FakeSong(tempo=120.0)
    selected(song, FakeClip("/a.wav", warping=False, looping=False, loop_end=4.0))
    assert "clip_bpm" not in request_for(song)


def test_a_range_in_beats_is_sent_in_the_metres_beats() -> None:
    """7/8 at 120: the sidecar reads beats at bpm 240, so 7 quarter notes are 14 eighths."""
    song: Any = FakeSong(tempo=120.0, numerator=7, denominator=8)
    clip = selected(song, FakeClip("/a.wav", loop_end=7.0))

    def refuse(beat_time: float) -> float:
        raise RuntimeError("Live refused the conversion")

    clip.beat_to_sample_time = refuse  # type: ignore[method-assign]
    sent = request_for(song)
    assert (sent["clip_start_beats"], sent["clip_end_beats"], sent["bpm"]) == (0.0, 14.0, 240.0)


# ---- odd metres past the sidecar's tempo ---------------------------------------------------


@pytest.mark.parametrize(
    ("tempo", "numerator", "denominator", "text"),
    [
        (160.0, 7, 8, "7/8 at 160 bpm counts 320 eighth notes a minute"),
        (80.0, 7, 16, "7/16 at 80 bpm counts 320 sixteenth notes a minute"),
        (310.0, 4, 4, "4/4 at 310 bpm"),
    ],
)
def test_a_tempo_the_sidecar_refuses_is_refused_here_and_nothing_is_sent(
    make_surface: SurfaceFactory,
    responder: Responder,
    song: FakeSong,
    session_clip: FakeClip,
    tempo: float,
    numerator: int,
    denominator: int,
    text: str,
) -> None:
    song.tempo, song.signature_numerator, song.signature_denominator = tempo, numerator, denominator
    surface, c_instance = make_surface(responder.port)
    surface.receive_midi(GENERATE_NOTE)
    assert text in c_instance.messages[-1]
    assert "300" in c_instance.messages[-1] and "nothing was sent" in c_instance.messages[-1]
    surface.update_display()  # the startup ping
    assert [address for address, _ in drain(responder)] == [addresses.PING]


# ---- re-roll aimed at a deleted track ------------------------------------------------------


def test_reroll_after_the_track_was_deleted_sends_nothing(
    make_surface: SurfaceFactory, responder: Responder, song: FakeSong, session_clip: FakeClip
) -> None:
    surface, c_instance = make_surface(responder.port)
    surface.receive_midi(GENERATE_NOTE)
    first = responder.receive_address(addresses.CONTINUE)[0]
    responder.reply(addresses.DONE, first, 0)
    tick_until(surface, lambda: surface.controller is not None and not surface.controller.jobs)
    song.tracks[0].mark_deleted()
    surface.receive_midi(REROLL_NOTE)
    assert c_instance.messages[-1] == (
        "MusicGen: the track of 'Beat' was deleted: select a clip and press generate"
    )
    assert not any("error while" in m for m in c_instance.messages)
    assert addresses.CONTINUE not in [address for address, _ in drain(responder)]
    surface.receive_midi(REROLL_NOTE)
    assert "nothing to re-roll" in c_instance.messages[-1]


# ---- scenes added during a job -------------------------------------------------------------


def insert_scenes_at_top(song: FakeSong, count: int) -> None:
    """Like the producer inserting scenes above (the fake's create_scene only appends)."""
    for track in song.tracks:
        for _ in range(count):
            track._slots.insert(0, FakeClipSlot(track))


def test_scenes_inserted_above_during_a_job_move_where_its_stems_go(
    make_surface: SurfaceFactory,
    responder: Responder,
    song: FakeSong,
    session_clip: FakeClip,
    tmp_path: Path,
) -> None:
    surface, _ = make_surface(responder.port, variations=2)
    surface.receive_midi(GENERATE_NOTE)
    request_id = responder.receive_address(addresses.CONTINUE)[0]
    insert_scenes_at_top(song, 2)  # the source is now in slot 2
    responder.reply(addresses.STEM, request_id, 0, str(write_wav(tmp_path / "a.wav", 4.0)))
    tick_until(surface, lambda: song.tracks[0].clip_slots[3].has_clip)
    insert_scenes_at_top(song, 1)  # source in slot 3, the first take in slot 4
    responder.reply(addresses.STEM, request_id, 1, str(write_wav(tmp_path / "b.wav", 4.0)))
    responder.reply(addresses.DONE, request_id, 2)
    tick_until(surface, lambda: surface.controller is not None and not surface.controller.jobs)
    slots = song.tracks[0].clip_slots
    assert [i for i, slot in enumerate(slots) if slot.has_clip] == [3, 4, 5]
    assert slots[3].clip is session_clip
    assert [slots[i].clip.file_path for i in (4, 5)] == [
        str(tmp_path / "a.wav"),
        str(tmp_path / "b.wav"),
    ]


# ---- the sidecar's host looked up once -----------------------------------------------------


def counting_lookup(monkeypatch: pytest.MonkeyPatch, names: dict[str, str | None]) -> list[str]:
    """socket.getaddrinfo, counted; `names` maps a host to an address, or None: no such host."""
    real = socket.getaddrinfo
    calls: list[str] = []

    def lookup(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        calls.append(host)
        if host in names:
            numeric = names[host]
            if numeric is None:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return real(numeric, port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    return calls


def wait_for_lookup(link: SidecarLink, seconds: float = 5.0) -> None:
    """Let the lookup thread finish (polling, as the tick does)."""
    deadline = time.monotonic() + seconds
    while link.looking_up and time.monotonic() < deadline:
        time.sleep(0.005)
    assert not link.looking_up


def test_a_host_name_is_looked_up_once_not_on_every_send(
    monkeypatch: pytest.MonkeyPatch, responder: Responder
) -> None:
    calls = counting_lookup(monkeypatch, {"sidecar.test": "127.0.0.1"})
    link = SidecarLink("sidecar.test", responder.port)
    try:
        for _ in range(5):
            link.send(addresses.PING)  # kept while the name is looked up, then sent
        wait_for_lookup(link)
        link.send(addresses.PING)
        assert [responder.receive()[0] for _ in range(6)] == [addresses.PING] * 6
        assert calls == ["sidecar.test"]
        assert link.address == ("sidecar.test", responder.port)
        assert link.resolved_address == ("127.0.0.1", responder.port)
    finally:
        link.close()


def test_a_host_that_cannot_be_found_is_one_clear_message(
    monkeypatch: pytest.MonkeyPatch,
    make_surface: SurfaceFactory,
    session_clip: FakeClip,
) -> None:
    calls = counting_lookup(monkeypatch, {"nowhere.invalid": None})
    surface, c_instance = make_surface(9, sidecar_host="nowhere.invalid")
    assert surface._link is not None
    wait_for_lookup(surface._link)
    surface.update_display()  # the startup ping
    surface.receive_midi(GENERATE_NOTE)
    wait_for_lookup(surface._link)
    for _ in range(15):
        surface.update_display()
    expected = (
        "MusicGen: cannot find the sidecar host 'nowhere.invalid': [Errno -2] Name or service "
        "not known: check sidecar_host in settings.json"
    )
    assert c_instance.messages == [expected, expected]
    assert calls == ["nowhere.invalid", "nowhere.invalid"]  # at start, and on the press
    assert surface.controller is not None and not surface.controller.jobs


def test_a_link_without_an_address_raises_a_resolve_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counting_lookup(monkeypatch, {"nowhere.invalid": None})
    link = SidecarLink("nowhere.invalid", 9)
    try:
        wait_for_lookup(link)
        assert link.resolved_address is None
        with pytest.raises(LinkResolveError, match="cannot find the sidecar host"):
            link.send(addresses.PING)
    finally:
        link.close()


def test_a_slow_name_server_never_holds_up_live(
    monkeypatch: pytest.MonkeyPatch,
    make_surface: SurfaceFactory,
    responder: Responder,
    session_clip: FakeClip,
) -> None:
    """The lookup runs off Live's main thread: loading the script and pressing generate
    return at once while the name server takes its time; the request goes once it answers."""
    answer = threading.Event()
    real = socket.getaddrinfo

    def slow_lookup(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        answer.wait(5.0)
        return real("127.0.0.1", port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow_lookup)
    started = time.monotonic()
    surface, _ = make_surface(responder.port, sidecar_host="sidecar.test")
    surface.update_display()
    surface.receive_midi(GENERATE_NOTE)
    surface.update_display()
    assert time.monotonic() - started < 1.0
    answer.set()
    tick_until(surface, lambda: surface._link is not None and not surface._link.looking_up)
    assert responder.receive_address(addresses.CONTINUE)[1:3] == ["clip", session_clip.file_path]


# ---- requests given up on are cancelled ----------------------------------------------------


def test_a_stalled_request_is_cancelled_on_the_sidecar(
    make_surface: SurfaceFactory, responder: Responder, song: FakeSong, session_clip: FakeClip
) -> None:
    surface, c_instance = make_surface(responder.port, stall_timeout_seconds=1.0)
    surface.receive_midi(GENERATE_NOTE)
    request_id = responder.receive_address(addresses.CONTINUE)[0]
    responder.reply(addresses.ACCEPTED, request_id, 0)
    tick_until(surface, lambda: surface.controller is not None and bool(surface.controller.jobs))
    tick_until(surface, lambda: any("gave up" in m for m in c_instance.messages), 30)
    assert (addresses.CANCEL, [request_id]) in drain(responder)


def test_disconnect_cancels_the_requests_in_flight(
    make_surface: SurfaceFactory, responder: Responder, song: FakeSong, session_clip: FakeClip
) -> None:
    surface, _ = make_surface(responder.port)
    surface.receive_midi(GENERATE_NOTE)
    first = responder.receive_address(addresses.CONTINUE)[0]
    surface.receive_midi(GENERATE_NOTE)
    second = responder.receive_address(addresses.CONTINUE)[0]
    surface.disconnect()
    cancels = [arguments for address, arguments in drain(responder) if address == addresses.CANCEL]
    assert sorted(cancels) == sorted([[first], [second]])
