"""Headless Chromium for the page's tests: Debian's system browser, driven by Playwright."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import BrowserContext, sync_playwright

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "chromium"]

#: The distribution's browser (`apt-get install chromium`); Playwright's own is never fetched.
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: Nothing outside loopback is reached: no sync, updates, field trials or QUIC probes.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


@contextmanager
def chromium(profile: Path) -> Iterator[BrowserContext]:
    """A fresh browser profile in `profile` (its --user-data-dir), closed afterwards."""
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()
