"""Fuzz the OSC entry point: 100,000 malformed datagrams, then the server still answers."""

from __future__ import annotations

import asyncio
import random
import struct
from collections.abc import Iterator
from pathlib import Path

from pythonosc.osc_message import OscMessage

from sidecar.files.paths import PathPolicy
from sidecar.jobs.queue import JobQueue
from sidecar.osc import addresses as A
from sidecar.osc.client import SidecarClient
from sidecar.osc.receiver import OscReceiver, ServerState
from sidecar.osc.replier import OscReplier, encode_message
from tests.support.server import running_sidecar

N_DATAGRAMS = 100_000

_SEEDS = [
    encode_message(A.CONTINUE, ["r", "clip", "/tmp/x.wav", "bars", 4, "bpm", 120.0]),
    encode_message(A.GENERATE, ["r", "prompt", "techno", "seconds", 2.0, "variations", 2]),
    encode_message(A.CANCEL, ["r"]),
    encode_message(A.STATUS, []),
    encode_message(A.PING, []),
    b"#bundle\x00" + b"\x00" * 8 + struct.pack(">i", 16) + encode_message(A.PING, []),
]


def malformed(rng: random.Random) -> bytes:
    """Mutations of valid messages (flips, cuts, splices, bad tags) and plain noise."""
    kind = rng.randrange(6)
    base = bytearray(rng.choice(_SEEDS))
    if kind == 0:
        return bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 96)))
    if kind == 1:
        for _ in range(rng.randrange(1, 6)):
            base[rng.randrange(len(base))] = rng.getrandbits(8)
        return bytes(base)
    if kind == 2:
        return bytes(base[: rng.randrange(len(base))])
    if kind == 3:
        other = rng.choice(_SEEDS)
        return bytes(base[: rng.randrange(len(base))] + other[rng.randrange(len(other)) :])
    if kind == 4:
        tag = base.find(b",")
        if tag >= 0:
            for i in range(tag + 1, min(len(base), tag + 8)):
                if base[i]:
                    base[i] = ord(rng.choice("ifsbhdtTFNIcrm[]X"))
        return bytes(base)
    return bytes(base) + bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 32)))


class _Sink(asyncio.DatagramTransport):
    """The socket edge: counts what would be sent instead of sending it."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[bytes, tuple[str, int]]] = []

    def sendto(self, data: bytes, addr: object = None) -> None:  # type: ignore[override]
        self.sent.append((data, addr))  # type: ignore[arg-type]

    def is_closing(self) -> bool:
        return False


def datagrams(seed: int, n: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    for _ in range(n):
        yield malformed(rng)


def test_receiver_survives_100k_malformed_datagrams(tmp_path: Path) -> None:
    async def run() -> _Sink:
        loop = asyncio.get_running_loop()
        replier = OscReplier(loop)
        receiver = OscReceiver(
            JobQueue(8), replier, ServerState("tiny", "cpu"), PathPolicy.of([tmp_path])
        )
        sink = _Sink()
        receiver.connection_made(sink)
        for i, data in enumerate(datagrams(1234, N_DATAGRAMS)):
            receiver.datagram_received(data, ("127.0.0.1", 40000 + i % 7))
            if i % 5000 == 0:
                await asyncio.sleep(0)
        await asyncio.sleep(0.05)
        # After the storm, a good ping still gets its pong.
        receiver.datagram_received(encode_message(A.PING, []), ("127.0.0.1", 1))
        await asyncio.sleep(0.01)
        return sink

    sink = asyncio.run(run())
    assert OscMessage(sink.sent[-1][0]).address == A.PONG
    # Every reply is well-formed OSC, addressed to the sender's port, with a known address.
    known = set(A.REPLIES)
    for data, addr in sink.sent[:: max(1, len(sink.sent) // 2000)]:
        assert OscMessage(data).address in known
        assert addr[0] == "127.0.0.1"
    assert len(sink.sent) >= N_DATAGRAMS // 2


def test_real_server_answers_ping_after_malformed_udp(tmp_path: Path) -> None:
    with running_sidecar(tmp_path, "--no-warm-up") as server:
        with SidecarClient(server.host, server.port) as noisy:
            for data in datagrams(99, 5000):
                noisy.send_raw(data)
        # The noisy client is gone (its replies bounce); a fresh one is answered.
        with SidecarClient(server.host, server.port) as client:
            pong = None
            for _ in range(10):
                pong = client.ping(2.0)
                if pong is not None:
                    break
        assert pong is not None and pong[3] == "ready"
        assert server.process.poll() is None
