"""End to end over real UDP on loopback: a `sidecar serve --model tiny` subprocess."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pedalboard.io import AudioFile

from sidecar.osc import addresses as A
from sidecar.osc.client import Reply, SidecarClient
from sidecar.osc.replier import encode_message
from tests.support.server import SidecarProcess, running_sidecar


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SidecarProcess]:
    with running_sidecar(tmp_path_factory.mktemp("server"), "--queue-size", "24") as proc:
        yield proc


def addresses(replies: list[Reply]) -> list[str]:
    return [a for a, _ in replies]


def wav_info(path: str) -> tuple[int, int, int]:
    with AudioFile(path) as f:
        return int(f.samplerate), int(f.num_channels), int(f.frames)


def test_ping_reports_version_model_device_state(client: SidecarClient) -> None:
    pong = client.ping(5.0)
    assert pong is not None
    version, model, device, state = pong
    assert model == "tiny" and device == "cpu" and state == "ready" and version


def test_continue_round_trip_delivers_bar_exact_wav(client: SidecarClient, clip: Path) -> None:
    client.send(
        A.CONTINUE,
        "cont-1",
        "clip",
        str(clip),
        "bars",
        2,
        "bpm",
        120.0,
        "prompt",
        "drums",
        "seed",
        11,
    )
    replies = client.until_terminal("cont-1", 120)
    kinds = addresses(replies)
    assert kinds[0] == A.ACCEPTED
    assert kinds.count(A.STEM) == 1 and kinds[-1] == A.DONE
    fractions = [args[1] for a, args in replies if a == A.PROGRESS]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    steps = [b - a for a, b in zip([0.0, *fractions], fractions, strict=False)]
    # Decoding steps move the bar by at most 0.1; the codec's decode of the take is one call,
    # reported when it is done: one larger step, its share of the work (sidecar/takes/windows.py).
    assert sum(step > 0.1 + 1e-6 for step in steps) <= 1 and max(steps) <= 0.25
    stem_args = next(args for a, args in replies if a == A.STEM)
    assert stem_args[:2] == ("cont-1", 0)
    # The tempo contract's report rides on the stem reply.
    report = dict(zip(stem_args[3::2], stem_args[4::2], strict=True))
    assert report["bars"] == 2 and report["bpm"] == 120.0 and report["seed"] == 11
    for key in ("source_bpm", "tempo_confidence", "stretch_ratio", "decision"):
        assert key in report, key
    # delivered_bpm is left out when no tempo is measured confidently on the stem (the tiny
    # model makes noise): an unknown field is left out of the reply, not sent as a guess.
    assert 0.0 <= report["tempo_confidence"] <= 1.0
    path = stem_args[2]
    rate, channels, frames = wav_info(path)
    # 2 bars of 4/4 at 120 bpm = 4 s at the default 48 kHz, to the sample.
    assert (rate, frames) == (48000, 192000) and channels == 1
    assert Path(path).read_bytes()[:4] == b"RIFF"
    meta = json.loads(Path(path).with_suffix(".json").read_text())
    assert meta["seed"] == 11 and meta["model"] == "tiny" and meta["random_weights"] is True
    assert meta["prompt_clip"]["path"] == str(clip)
    assert meta["request"]["bars"] == 2 and "make_seconds" in meta["timings"]
    assert Path(path).with_suffix(".mid").exists()
    assert replies[-1][1] == ("cont-1", 1)


def test_text_to_music_in_seconds(client: SidecarClient) -> None:
    client.send(
        A.GENERATE,
        "t2m",
        "prompt",
        "ambient pad",
        "seconds",
        1.5,
        "sample_rate",
        32000,
        "format",
        "float32",
    )
    replies = client.until_terminal("t2m", 60)
    assert addresses(replies)[-1] == A.DONE
    stem = next(args for a, args in replies if a == A.STEM)
    assert wav_info(stem[2]) == (32000, 1, 48000)


def test_variations_are_one_batch_of_distinct_takes(client: SidecarClient) -> None:
    client.send(A.GENERATE, "vars", "prompt", "bass", "seconds", 1.0, "variations", 3, "seed", 5)
    replies = client.until_terminal("vars", 60)
    stems = [args for a, args in replies if a == A.STEM]
    assert [s[1] for s in stems] == [0, 1, 2] and replies[-1][1] == ("vars", 3)
    takes = []
    for s in stems:
        with AudioFile(s[2]) as f:
            takes.append(f.read(f.frames))
        meta = json.loads(Path(s[2]).with_suffix(".json").read_text())
        assert meta["batch_size"] == 3 and meta["seed"] == 5
    assert not np.array_equal(takes[0], takes[1]) and not np.array_equal(takes[1], takes[2])


def test_same_seed_gives_the_same_audio(client: SidecarClient) -> None:
    paths = []
    for rid in ("seed-a", "seed-b"):
        client.send(A.GENERATE, rid, "prompt", "jazz", "seconds", 1.0, "seed", 77)
        stem = next(args for a, args in client.until_terminal(rid, 60) if a == A.STEM)
        paths.append(stem[2])
    reads = []
    for p in paths:
        with AudioFile(p) as f:
            reads.append(f.read(f.frames))
    assert np.array_equal(reads[0], reads[1])


def test_cancel_running_and_queued(client: SidecarClient) -> None:
    client.send(A.GENERATE, "long", "prompt", "x", "seconds", 30.0)
    client.send(A.GENERATE, "queued", "prompt", "x", "seconds", 30.0)
    # Wait until the first one is decoding, then cancel both.
    while True:
        reply = client.receive(30)
        assert reply is not None
        if reply[0] == A.PROGRESS and reply[1][0] == "long" and reply[1][1] > 0.01:
            break
    client.send(A.CANCEL, "queued")
    client.send(A.CANCEL, "long")
    terminal: dict[str, str] = {}
    deadline = time.monotonic() + 30
    while len(terminal) < 2 and time.monotonic() < deadline:
        reply = client.receive(5)
        assert reply is not None
        if reply[0] in A.TERMINAL_REPLIES:
            assert reply[1][0] not in terminal
            terminal[reply[1][0]] = reply[0]
    assert terminal == {"long": A.CANCELLED, "queued": A.CANCELLED}
    # The worker is still usable, and the status of a cancelled job says so.
    client.send(A.GENERATE, "after-cancel", "seconds", 0.5)
    assert addresses(client.until_terminal("after-cancel", 60))[-1] == A.DONE
    client.send(A.STATUS, "long")
    reply = client.receive(5)
    assert reply == (A.STATUS_REPLY, ("long", "cancelled", -1, pytest.approx(reply[1][3])))


def test_status_of_server_and_unknown_request(client: SidecarClient) -> None:
    client.send(A.STATUS)
    reply = client.receive(5)
    assert reply is not None and reply[0] == A.STATUS_REPLY and reply[1][:2] == ("", "ready")
    client.send(A.STATUS, "never-sent")
    assert client.receive(5) == (A.STATUS_REPLY, ("never-sent", "unknown", -1, 0.0))
    client.send(A.CANCEL, "never-sent")
    assert client.receive(5) == (A.STATUS_REPLY, ("never-sent", "unknown", -1, 0.0))


def test_twenty_requests_from_two_clients_each_get_one_terminal(server: SidecarProcess) -> None:
    clients = [SidecarClient(server.host, server.port) for _ in range(2)]
    got: dict[int, list[Reply]] = {0: [], 1: []}

    def listen(i: int) -> None:
        for reply in clients[i].replies(timeout_seconds=20):
            got[i].append(reply)
            if sum(a in A.TERMINAL_REPLIES for a, _ in got[i]) == 10:
                return

    threads = [threading.Thread(target=listen, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for n in range(10):
        for i, c in enumerate(clients):
            c.send(A.GENERATE, f"c{i}-{n}", "seconds", 0.3, "seed", n)
    for t in threads:
        t.join(180)
    for c in clients:
        c.close()
    for i in range(2):
        terminals = [args[0] for a, args in got[i] if a in A.TERMINAL_REPLIES]
        assert sorted(terminals) == sorted(f"c{i}-{n}" for n in range(10))
        # Nothing for the other client's ids ever arrived here.
        assert all(args[0].startswith(f"c{i}-") for _, args in got[i]), [
            r for r in got[i] if not r[1][0].startswith(f"c{i}-")
        ]
        errors = [args for a, args in got[i] if a in A.TERMINAL_REPLIES and a != A.DONE]
        assert not errors, errors


def test_reply_port_redirects_replies(server: SidecarProcess) -> None:
    with (
        SidecarClient(server.host, server.port) as sender,
        SidecarClient(server.host, server.port) as listener,
    ):
        sender.send(A.GENERATE, "rp", "seconds", 0.3, "reply_port", listener.port)
        assert addresses(listener.until_terminal("rp", 60))[-1] == A.DONE
        assert sender.receive(0.3) is None


@pytest.mark.parametrize(
    ("send", "rid", "code", "fragment"),
    [
        ((A.GENERATE + "x", "r"), "r", "unknown_address", "no handler for /sidecar/generatex"),
        ((A.CONTINUE, "nc", "bars", 2, "bpm", 120.0), "nc", "bad_request", "clip: missing"),
        ((A.CONTINUE, "nf", "clip", "/no/such/file.wav"), "nf", "not_found", "does not exist"),
        ((A.GENERATE, "wt", "seconds", "long"), "wt", "bad_request", "seconds: 'long' is a str"),
        ((A.GENERATE, "uk", "tempo", 120), "uk", "bad_request", "tempo: unknown key"),
        ((A.CONTINUE, "dir", "clip", "/tmp"), "dir", "forbidden", "not a regular file"),
    ],
)
def test_bad_requests_get_one_error_and_server_keeps_serving(
    client: SidecarClient, send: tuple, rid: str, code: str, fragment: str
) -> None:
    client.send(*send)
    reply = client.receive(5)
    assert reply is not None and reply[0] == A.ERROR
    assert reply[1][0] == rid and reply[1][1] == code and fragment in reply[1][2]
    assert client.receive(0.3) is None  # exactly one reply
    assert client.ping(5) is not None


def test_malformed_datagram_and_bad_audio(client: SidecarClient, tmp_path: Path) -> None:
    client.send_raw(b"\x00garbage-not-osc")
    reply = client.receive(5)
    assert reply is not None and reply[0] == A.ERROR and reply[1][1] == "bad_request"
    fake = tmp_path / "not-audio.wav"
    fake.write_bytes(b"RIFF....WAVEfmt this is not audio")
    client.send(A.CONTINUE, "bad-audio", "clip", str(fake), "seconds", 1.0)
    replies = client.until_terminal("bad-audio", 30)
    assert replies[0][0] == A.ACCEPTED
    assert replies[-1][0] == A.ERROR and replies[-1][1][1] == "bad_audio"
    assert client.ping(5) is not None


def test_duplicate_request_id_is_rejected(client: SidecarClient) -> None:
    client.send(A.GENERATE, "dup", "seconds", 4.0)
    client.send(A.GENERATE, "dup", "seconds", 4.0)
    replies = client.until_terminal("dup", 60)
    errors = [args for a, args in replies if a == A.ERROR]
    # The second one is refused at once; the first runs to its own single terminal reply.
    assert errors and errors[0][1] == "duplicate_id"
    rest = client.until_terminal("dup", 60)
    assert rest[-1][0] == A.DONE
    assert sum(a == A.ACCEPTED for a, _ in replies + rest) == 1


def test_raw_osc_message_from_a_generic_tool(server: SidecarProcess, clip: Path) -> None:
    """What oscsend/TouchOSC would send: typed args, float bpm, int bars."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(60)
        sock.sendto(
            encode_message(A.CONTINUE, ["raw", "clip", str(clip), "bars", 1, "bpm", 120.0]),
            (server.host, server.port),
        )
        from pythonosc.osc_message import OscMessage

        while True:
            msg = OscMessage(sock.recvfrom(65536)[0])
            if msg.address in A.TERMINAL_REPLIES:
                break
            if msg.address == A.STEM:
                assert wav_info(msg.params[2])[2] == 96000  # 1 bar at 120 bpm, 48 kHz
    assert msg.address == A.DONE


def test_streaming_preview_publishes_audio_before_the_end(client: SidecarClient) -> None:
    client.send(A.GENERATE, "prev", "prompt", "x", "seconds", 3.0, "preview", 1.0)
    replies: list[Reply] = []
    first: tuple[int, int] | None = None
    while not replies or replies[-1][0] not in A.TERMINAL_REPLIES:
        reply = client.receive(120)
        assert reply is not None, replies
        if reply[1][0] != "prev":
            continue
        replies.append(reply)
        if reply[0] == A.PREVIEW and first is None:  # the decoding goes on: the file is there
            rate, _, frames = wav_info(reply[1][1])
            first = (rate, frames)
    assert replies[-1][0] == A.DONE
    previews = [args for a, args in replies if a == A.PREVIEW]
    ready = [p[2] for p in previews]
    assert len(previews) >= 2 and ready == sorted(ready) and ready[0] < 3.0
    assert ready[-1] == pytest.approx(3.0)
    # Every preview came before the stem; the file held at least what was ready.
    kinds = addresses(replies)
    assert max(i for i, a in enumerate(kinds) if a == A.PREVIEW) < kinds.index(A.STEM)
    assert first is not None and first[0] == 32000 and first[1] >= ready[0] * 32000 - 1
    # Once the stems are delivered, the preview is removed (before /sidecar/done).
    assert not Path(previews[0][1]).exists()


def test_a_preview_never_announces_audio_past_the_take(client: SidecarClient, clip: Path) -> None:
    """4 bars at 120 BPM are 8 s: the model makes 9.3 s (tempo slack), previewed up to 8 s."""
    for rid, address, *clip_args in (
        ("pv-gen", A.GENERATE),
        ("pv-cont", A.CONTINUE, "clip", str(clip)),
    ):
        client.send(address, rid, *clip_args, "bars", 4, "bpm", 120.0, "preview", 3.0, "seed", 1)
        replies = client.until_terminal(rid, 120)
        assert replies[-1][0] == A.DONE, replies
        ready = [args[2] for a, args in replies if a == A.PREVIEW]
        assert ready and max(ready) <= 8.0 + 1e-3 and ready[-1] == pytest.approx(8.0), ready


def test_a_cancelled_requests_preview_is_removed(client: SidecarClient) -> None:
    client.send(A.GENERATE, "pv-cancel", "prompt", "x", "seconds", 30.0, "preview", 1.0)
    while True:
        reply = client.receive(60)
        assert reply is not None
        if reply[0] == A.PREVIEW and reply[1][0] == "pv-cancel":
            preview = Path(reply[1][1])
            break
    assert preview.exists()
    client.send(A.CANCEL, "pv-cancel")
    assert client.until_terminal("pv-cancel", 60)[-1] == (A.CANCELLED, ("pv-cancel",))
    assert not preview.exists()


def test_progress_of_a_take_in_windows_never_goes_back_and_ends_at_delivery(
    client: SidecarClient,
) -> None:
    """16 bars at 80 BPM (48 s): windows of 5, 5, 5 and 1 bars, previewed up to the take's end."""
    client.send(
        A.GENERATE, "windows", "prompt", "x", "bars", 16, "bpm", 80.0, "seed", 2, "preview", 4.0
    )
    replies = client.until_terminal("windows", 300)
    assert replies[-1][0] == A.DONE, replies
    ready = [args[2] for a, args in replies if a == A.PREVIEW]
    assert ready == sorted(ready) and ready[-1] == pytest.approx(48.0), ready
    progress = [(i, args[1], args[2]) for i, (a, args) in enumerate(replies) if a == A.PROGRESS]
    fractions = [fraction for _, fraction, _ in progress]
    assert fractions == sorted(fractions) and len(fractions) >= 10
    # Below 1 until the stem is delivered; the ETA is a number of seconds once work is done.
    stem = addresses(replies).index(A.STEM)
    assert all(f < 1.0 for i, f, _ in progress if i < stem)
    assert fractions[-1] == 1.0
    assert all(eta >= 0.0 for _, f, eta in progress if f > 0.01)


def test_preview_needs_a_streaming_decoder(tmp_path: Path) -> None:
    with (
        running_sidecar(tmp_path, "--no-warm-up", "--decoder", "stock") as server,
        SidecarClient(server.host, server.port) as client,
    ):
        client.send(A.GENERATE, "p", "seconds", 1.0, "preview", 0.5)
        last = client.until_terminal("p", 60)[-1]
        assert last[0] == A.ERROR and "--decoder auto, exact, fp32 or fast" in last[1][2]


def test_back_to_back_requests_decode_while_the_one_before_is_delivered(
    client: SidecarClient, clip: Path
) -> None:
    """Pipelined: the model starts on the second request while the first (four takes through
    the tempo contract, their keys and files) is still being finished."""
    client.send(A.CONTINUE, "pipe-1", "clip", str(clip), "bars", 2, "bpm", 120.0, "variations", 4)
    client.send(A.CONTINUE, "pipe-2", "clip", str(clip), "bars", 1, "bpm", 120.0)
    log: list[tuple[str, str]] = []
    ended: set[str] = set()
    deadline = time.monotonic() + 180
    while len(ended) < 2 and time.monotonic() < deadline:
        reply = client.receive(deadline - time.monotonic())
        assert reply is not None, log
        address, args = reply
        if args and args[0] in ("pipe-1", "pipe-2"):
            log.append((address, str(args[0])))
            if address in A.TERMINAL_REPLIES:
                ended.add(str(args[0]))
    assert (A.DONE, "pipe-1") in log and (A.DONE, "pipe-2") in log, log
    assert log.count((A.STEM, "pipe-1")) == 4
    second_started = log.index((A.PROGRESS, "pipe-2"))
    assert second_started < log.index((A.DONE, "pipe-1")), log
