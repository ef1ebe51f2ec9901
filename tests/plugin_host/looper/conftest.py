"""Fixtures for the looper tests: a private JACK dummy server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.plugin_host.looper.jack import JackServer, jack_available, jack_dummy


@pytest.fixture(scope="module")
def jack_server() -> Iterator[JackServer]:
    if not jack_available():
        pytest.skip("jackd is not installed (apt-get install jackd2)")
    with jack_dummy(48000, 256) as server:
        yield server
