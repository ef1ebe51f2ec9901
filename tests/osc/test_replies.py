"""Where replies go and what they carry, over real UDP on loopback (`sidecar serve --model tiny`):
reply_port sent as a float, int request ids in refusals, refusals too big for a datagram, the
take history's order and timestamps, and reroll/recall ids and ports."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pythonosc.osc_message import OscMessage

from plugin_host.ableton.osc_codec import decode_packet
from sidecar.osc import addresses as A
from sidecar.osc.client import Reply, SidecarClient
from sidecar.osc.replier import MAX_ERROR_TEXT, encode_message, fit_error
from sidecar.osc.schema import OscDouble
from sidecar.output.history import TakeHistory
from tests.support.server import SidecarProcess, running_sidecar


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SidecarProcess]:
    with running_sidecar(tmp_path_factory.mktemp("replies"), "--no-warm-up") as proc:
        yield proc


def collect(client: SidecarClient, seconds: float) -> list[Reply]:
    """Every reply that arrives within `seconds` (no progress replies)."""
    out: list[Reply] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        reply = client.receive(left)
        if reply is None:
            break
        if reply[0] != A.PROGRESS:
            out.append(reply)
    return out


def history_of(client: SidecarClient, clip: Path, *limit: int | float) -> list[tuple]:
    """The `/sidecar/history/take` arguments for `clip`, in the order they came."""
    client.send(A.HISTORY, str(clip), *limit)
    takes: list[tuple] = []
    for address, args in client.replies(5):
        if address == A.HISTORY_TAKE:
            takes.append(args)
        elif address == A.HISTORY_END:
            assert args[1] == len(takes)
            return takes
    raise AssertionError(f"no {A.HISTORY_END}; got {takes}")


@pytest.fixture(scope="module")
def takes(server: SidecarProcess, clip: Path) -> list[str]:
    """Three continuations of `clip`, one after the other (request ids, oldest first)."""
    ids = ["take-0", "take-1", "take-2"]
    with SidecarClient(server.host, server.port) as client:
        for rid in ids:
            client.send(A.CONTINUE, rid, "clip", str(clip), "seconds", 0.5)
            assert client.until_terminal(rid, 60)[-1][0] == A.DONE
    return ids


# ----------------------------------------------------------------------------- reply ports


def test_reply_port_sent_as_a_whole_float_gets_refusals_too(server: SidecarProcess) -> None:
    with (
        SidecarClient(server.host, server.port) as sender,
        SidecarClient(server.host, server.port) as listener,
    ):
        port = float(listener.port)  # what TouchOSC-style clients send
        sender.send(A.GENERATE, "fp-ok", "seconds", 0.3, "reply_port", port)
        assert listener.until_terminal("fp-ok", 60)[-1][0] == A.DONE
        sender.send(A.GENERATE, "fp-bad", "temperature", 99.0, "reply_port", port)
        reply = listener.receive(5)
        assert reply is not None and reply[0] == A.ERROR
        assert reply[1][:2] == ("fp-bad", "bad_request") and "temperature" in reply[1][2]
        assert sender.receive(0.3) is None  # nothing went to the sender's port
        # A reply_port that is not a valid port (fractional) leaves refusals with the sender.
        sender.send(A.GENERATE, "fp-frac", "reply_port", port + 0.5)
        reply = sender.receive(5)
        assert reply is not None and reply[1][:2] == ("fp-frac", "bad_request")
        assert "reply_port" in reply[1][2]


def test_refusal_of_an_int_request_id_carries_the_id(server: SidecarProcess) -> None:
    with SidecarClient(server.host, server.port) as client:
        client.send(A.GENERATE, 42, "temperature", 99.0)
        reply = client.receive(5)
        assert reply is not None and reply[0] == A.ERROR
        assert reply[1][:2] == ("42", "bad_request")
        client.send(A.RECALL, 43, "not-a-take-id")
        reply = client.receive(5)
        assert reply is not None and reply[1][:2] == ("43", "bad_request")
        assert "take_id: 'not-a-take-id' is a str" in reply[1][2]


# ----------------------------------------------------------------------------- big refusals


def test_a_65000_character_key_is_refused_with_a_short_message(server: SidecarProcess) -> None:
    with SidecarClient(server.host, server.port) as client:
        client.send(A.GENERATE, "huge-key", "k" * 65_000, 1)
        reply = client.receive(5)
        assert reply is not None and reply[0] == A.ERROR, reply
        rid, code, message = reply[1]
        assert (rid, code) == ("huge-key", "bad_request")
        assert "unknown key" in message and "65000 characters" in message
        assert len(message) <= MAX_ERROR_TEXT


def test_a_huge_request_id_and_value_are_refused_in_one_datagram(server: SidecarProcess) -> None:
    with SidecarClient(server.host, server.port) as client:
        client.send(A.GENERATE, "r" * 65_000)
        reply = client.receive(5)
        assert reply is not None and reply[0] == A.ERROR, reply
        rid, code, message = reply[1]
        assert code == "bad_request" and message.startswith("request_id: 'rrrr")
        assert rid.startswith("rrrr") and len(rid) <= MAX_ERROR_TEXT
        client.send(A.GENERATE, "big-format", "format", "x" * 60_000)
        reply = client.receive(5)
        assert reply is not None and reply[1][:2] == ("big-format", "bad_request")
        assert "format" in reply[1][2] and "60000 characters" in reply[1][2]
        assert client.ping(5) is not None


def test_error_replies_fit_a_datagram_whatever_their_text() -> None:
    """The worst case: 4-byte UTF-8 characters in both the id and the message."""
    args = fit_error(["😀" * 70_000, "bad_request", "😀" * 70_000])
    assert len(args[0]) <= MAX_ERROR_TEXT and len(args[2]) <= MAX_ERROR_TEXT  # type: ignore[arg-type]
    assert str(args[2]).endswith("characters cut)")
    assert len(encode_message(A.ERROR, args)) <= 9216  # macOS's default UDP limit
    short = ["id", "bad_request", "seconds: 'long' is a str"]
    assert fit_error(list(short)) == short  # unchanged when it fits


# ----------------------------------------------------------------------------- take history


def test_history_lists_newest_first_and_limit_keeps_the_newest(
    server: SidecarProcess, clip: Path, takes: list[str]
) -> None:
    with SidecarClient(server.host, server.port) as client:
        listed = history_of(client, clip)
        assert [t[2] for t in listed] == takes[::-1]
        ids = [t[1] for t in listed]
        assert ids == sorted(ids, reverse=True)
        assert [t[2] for t in history_of(client, clip, 2)] == takes[:0:-1]
        assert [t[2] for t in history_of(client, clip, 2.0)] == takes[:0:-1]  # a whole float
        client.send(A.HISTORY, str(clip), 2.5)
        reply = client.receive(5)
        assert reply is not None and reply[1][1] == "bad_request"
        assert "limit: 2.5 is not whole" in reply[1][2]


def test_history_created_keeps_sub_second_precision(
    server: SidecarProcess, clip: Path, takes: list[str]
) -> None:
    with SidecarClient(server.host, server.port) as client:
        listed = history_of(client, clip)
    with TakeHistory.open(server.output_dir / "history.sqlite") as history:
        for take in listed:
            stored = history.get(take[1])
            assert stored is not None
            assert isinstance(take[4], float)
            assert take[4] == pytest.approx(stored.created, abs=1e-3)
    assert abs(listed[0][4] - time.time()) < 600


def test_created_goes_out_as_an_osc_double() -> None:
    """python-osc and the DAW scripts' own codec both decode it to the same float."""
    data = encode_message(A.HISTORY_TAKE, ["/a.wav", 1, "r", 0, OscDouble(1.7e9 + 0.25)])
    assert b",sisid\x00" in data
    assert OscMessage(data).params[4] == 1.7e9 + 0.25
    assert decode_packet(data)[0].arguments[4] == 1.7e9 + 0.25


# ----------------------------------------------------------------------------- reroll, recall


def test_reroll_answers_its_own_sender_not_the_takes_reply_port(
    server: SidecarProcess,
) -> None:
    with (
        SidecarClient(server.host, server.port) as original,
        SidecarClient(server.host, server.port) as listener,
    ):
        original.send(A.GENERATE, "rr-src", "seconds", 0.3, "reply_port", listener.port)
        assert listener.until_terminal("rr-src", 60)[-1][0] == A.DONE
        with SidecarClient(server.host, server.port) as other:
            other.send(A.REROLL, "rr-new", "rr-src")
            replies = other.until_terminal("rr-new", 60)
            assert replies[0][0] == A.ACCEPTED and replies[-1][0] == A.DONE
        assert [r for r in collect(listener, 0.5) if r[1][0] == "rr-new"] == []


def test_reroll_and_recall_take_ids_as_whole_floats(
    server: SidecarProcess, clip: Path, takes: list[str]
) -> None:
    with SidecarClient(server.host, server.port) as client:
        take_id = history_of(client, clip)[-1][1]  # the oldest: take-0
        client.send(A.RECALL, "rc-float", float(take_id))
        replies = client.until_terminal("rc-float", 10)
        assert replies[-1] == (A.DONE, ("rc-float", 1))
        assert replies[0][0] == A.STEM and replies[0][1][3:5] == ("take_id", take_id)
        client.send(A.REROLL, "rr-float", float(take_id))
        replies = client.until_terminal("rr-float", 60)
        assert replies[0][0] == A.ACCEPTED and replies[-1][0] == A.DONE
        client.send(A.REROLL, "rr-frac", take_id + 0.5)
        reply = client.receive(5)
        assert reply is not None and reply[1][:2] == ("rr-frac", "bad_request")
        assert "take:" in reply[1][2] and "not whole" in reply[1][2]


def test_recall_refuses_the_id_of_a_running_request(
    server: SidecarProcess, clip: Path, takes: list[str]
) -> None:
    with SidecarClient(server.host, server.port) as client:
        take_id, take_path = (lambda t: (t[1], t[7]))(history_of(client, clip)[0])
        client.send(A.GENERATE, "rc-busy", "seconds", 30.0)
        client.send(A.GENERATE, "rc-queued", "seconds", 30.0)
        client.send(A.RECALL, "rc-busy", take_id)
        client.send(A.RECALL, "rc-queued", take_id)
        got = collect(client, 2.0)
        client.send(A.CANCEL, "rc-busy")
        client.send(A.CANCEL, "rc-queued")
        got += collect(client, 10.0)
        for rid in ("rc-busy", "rc-queued"):
            mine = [(a, args) for a, args in got if args and args[0] == rid]
            refusals = [args for a, args in mine if a == A.ERROR]
            assert [args[1] for args in refusals] == ["duplicate_id"], mine
            assert f"'{rid}' is already" in refusals[0][2]
            assert not [args for a, args in mine if a == A.STEM and args[2] == take_path]
            # The request itself still ends with exactly one terminal reply (its cancel).
            terminal = [a for a, _ in mine if a in A.TERMINAL_REPLIES]
            assert terminal[0] == A.ERROR and len(terminal) == 2, mine
        # Once finished, the id may be used again for a recall.
        client.send(A.RECALL, "rc-busy", take_id)
        assert client.until_terminal("rc-busy", 10)[-1] == (A.DONE, ("rc-busy", 1))
