"""Fixtures: a fake Live set, the fake `Live` module, a UDP responder, a surface factory."""

from __future__ import annotations

import json
import math
import socket
import struct
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from plugin_host.ableton.surface import SidecarSurface
from tests.plugin_host.ableton.fake_live import (
    FakeCInstance,
    FakeClip,
    FakeLiveModule,
    FakeSong,
    fake_live_module,
)

GENERATE_NOTE = (0x9F, 60, 100)
CANCEL_NOTE = (0x9F, 61, 100)
REROLL_NOTE = (0x9F, 62, 100)


def write_wav(path: Path, seconds: float, sample_rate: int = 32000, hz: float = 220.0) -> Path:
    frames = int(seconds * sample_rate)
    data = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * hz * i / sample_rate)))
        for i in range(frames)
    )
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(sample_rate)
        handle.writeframes(data)
    return path


class Responder:
    """A stand-in sidecar: a UDP socket the test reads from and replies with (python-osc)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(2.0)
        self.client: tuple[str, int] | None = None

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def receive(self) -> tuple[str, list[Any]]:
        data, self.client = self.sock.recvfrom(65536)
        message = OscPacket(data).messages[0].message
        return message.address, list(message.params)

    def receive_address(self, address: str) -> list[Any]:
        """Skip messages until one for `address` (e.g. past the startup ping)."""
        for _ in range(10):
            got, arguments = self.receive()
            if got == address:
                return arguments
        raise AssertionError(f"no {address} received")

    def reply(self, address: str, *arguments: Any) -> None:
        assert self.client is not None, "nothing received yet, no one to reply to"
        builder = OscMessageBuilder(address)
        for value in arguments:
            builder.add_arg(value)
        self.sock.sendto(builder.build().dgram, self.client)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def live() -> Iterator[FakeLiveModule]:
    with fake_live_module() as state:
        yield state


@pytest.fixture
def song() -> FakeSong:
    return FakeSong(tempo=120.0)


@pytest.fixture
def prompt_wav(tmp_path: Path) -> Path:
    return write_wav(tmp_path / "prompt.wav", 4.0)


@pytest.fixture
def session_clip(song: FakeSong, prompt_wav: Path) -> FakeClip:
    """A warped, looping 4-bar clip in track 1, slot 1, shown in Clip View."""
    clip = FakeClip(
        str(prompt_wav), name="Beat", file_seconds=4.0, file_bpm=120.0, loop_start=0.0, loop_end=8.0
    )
    song.tracks[0].clip_slots[0].put(clip)
    song.view.detail_clip = clip
    return clip


@pytest.fixture
def responder() -> Iterator[Responder]:
    r = Responder()
    yield r
    r.close()


def run_live_between_ticks(surface: SidecarSurface, song: FakeSong) -> None:
    """Live runs its main loop (deferred writes, analysis) before each update_display."""
    script_tick = surface.update_display

    def tick() -> None:
        song.advance()
        script_tick()

    surface.update_display = tick  # type: ignore[method-assign]


SurfaceFactory = Callable[..., tuple[SidecarSurface, FakeCInstance]]


@pytest.fixture
def make_surface(tmp_path: Path, song: FakeSong, live: FakeLiveModule) -> Iterator[SurfaceFactory]:
    surfaces: list[SidecarSurface] = []

    def make(port: int, **overrides: Any) -> tuple[SidecarSurface, FakeCInstance]:
        source = Path(__file__).parents[3] / "plugin_host" / "ableton" / "settings.json"
        settings = json.loads(source.read_text())
        settings.update({"sidecar_port": port, "connect_timeout_seconds": 1.0})
        settings.update(overrides)
        folder = tmp_path / f"settings-{len(surfaces)}"
        folder.mkdir()
        (folder / "settings.json").write_text(json.dumps(settings))
        c_instance = FakeCInstance(song)
        surface = SidecarSurface(cast(Any, c_instance), settings_directory=str(folder))
        run_live_between_ticks(surface, song)
        surfaces.append(surface)
        return surface, c_instance

    yield make
    for surface in surfaces:
        surface.disconnect()
