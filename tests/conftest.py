"""Fixtures shared by the server-level tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sidecar.cli.examples import write_example_clip
from sidecar.osc.client import SidecarClient
from tests.support.server import SidecarProcess


@pytest.fixture()
def client(server: SidecarProcess) -> Iterator[SidecarClient]:
    """A client of the test module's `server` fixture (a running `sidecar serve --model tiny`)."""
    with SidecarClient(server.host, server.port) as c:
        yield c


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-bar drum loop at 120 BPM, 48 kHz, written by the project itself."""
    return write_example_clip(tmp_path_factory.mktemp("clips") / "drums.wav", bpm=120.0, bars=2)
