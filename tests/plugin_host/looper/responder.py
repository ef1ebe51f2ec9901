"""A stand-in sidecar for tests: answers /sidecar/continue with DC WAVs, a level per variation."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import numpy as np
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from sidecar.files.audiofile import write_audio_atomic
from sidecar.osc.addresses import ACCEPTED, CONTINUE, DONE, PROGRESS, STEM


def _send(sock, addr, address, *args):
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    sock.sendto(b.build().dgram, addr)


class Responder:
    """Writes `variations` stems of `level × (index + 1)`, `extra_frames` longer than the grid."""

    def __init__(self, out_dir: Path, level: float = 0.1, extra_frames: int = 123):
        self.out_dir = out_dir
        self.level = level
        self.extra_frames = extra_frames
        self.requests: list[dict] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()

    def _run(self):
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65536)
            except (TimeoutError, OSError):
                continue
            for m in OscPacket(data).messages:
                msg = m.message
                if msg.address != CONTINUE:
                    continue
                rid, rest = msg.params[0], msg.params[1:]
                fields = dict(zip(rest[::2], rest[1::2], strict=True))
                self.requests.append(fields)
                _send(self.sock, addr, ACCEPTED, rid, 0)
                _send(self.sock, addr, PROGRESS, rid, 0.5, 0.1)
                sr = int(fields["sample_rate"])
                n = round(fields["bars"] * fields["beats_per_bar"] * 60 / fields["bpm"] * sr)
                for i in range(int(fields["variations"])):
                    audio = np.full((2, n + self.extra_frames), self.level * (i + 1), np.float32)
                    path = write_audio_atomic(self.out_dir / f"{rid}-{i}.wav", audio, sr, "float32")
                    _send(self.sock, addr, STEM, rid, i, str(path))
                _send(self.sock, addr, DONE, rid, int(fields["variations"]))
