"""Fixtures for the plugin's host tests: a real tiny sidecar, a recorded drum loop, watchers."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.plugin_host.plugin.audio_checks import AMEN, write_amen_bar
from tests.plugin_host.plugin.bundles import REPO_ROOT, need, testhost_binary
from tests.plugin_host.plugin.hostproc import HostProcess
from tests.plugin_host.plugin.observe import PluginWatch
from tests.support.server import SidecarProcess, free_udp_port, running_sidecar


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SidecarProcess]:
    """A real `python -m sidecar serve --model tiny` for the test module."""
    with running_sidecar(tmp_path_factory.mktemp("sidecar")) as server:
        yield server


@pytest.fixture(scope="session")
def amen_bar(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """One bar of a recorded drum loop (the amen break), at 48 kHz, and its tempo in BPM.

    Resampled from 44.1 kHz to the host rate; the tempo is the one that makes it one 4/4 bar.
    """
    need(AMEN.exists(), f"{AMEN} is missing (apt-get install sonic-pi-samples)")
    return write_amen_bar(tmp_path_factory.mktemp("loops"))


@pytest.fixture()
def watch_for(tmp_path: Path) -> Callable[[int], PluginWatch]:
    """A PluginWatch in this test's folder, pointed at a sidecar port."""

    def make(port: int) -> PluginWatch:
        folder = tmp_path / f"plugin-{port}"
        folder.mkdir(exist_ok=True)
        return PluginWatch(folder, port)

    return make


@pytest.fixture()
def unused_port() -> int:
    return free_udp_port()


@pytest.fixture()
def testhost(tmp_path: Path) -> Iterator[Callable[[PluginWatch], HostProcess]]:
    """Start the C++ test host with a plugin watch's environment (closed after the test)."""
    started: list[HostProcess] = []
    binary = testhost_binary()

    def start(watch: PluginWatch, **env: str) -> HostProcess:
        host = HostProcess([str(binary)], tmp_path / f"testhost-{len(started)}.log",
                           watch.env(**env))
        started.append(host)
        return host

    yield start
    for host in started:
        if host.process.poll() is None:
            host.close()


@pytest.fixture()
def dawdreamer(tmp_path: Path) -> Iterator[Callable[[PluginWatch], HostProcess]]:
    """Start a DawDreamer host process with a plugin watch's environment."""
    try:
        import dawdreamer  # noqa: F401
    except ImportError:
        need(False, "dawdreamer is not installed (pip install dawdreamer)")
    started: list[HostProcess] = []

    def start(watch: PluginWatch, **env: str) -> HostProcess:
        argv = [sys.executable, "-m", "tests.plugin_host.plugin.dawdreamer_host"]
        pythonpath = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
        env = watch.env(PYTHONPATH=pythonpath, **env)
        host = HostProcess(argv, tmp_path / f"dawdreamer-{len(started)}.log", env)
        started.append(host)
        return host

    yield start
    for host in started:
        if host.process.poll() is None:
            host.close()
