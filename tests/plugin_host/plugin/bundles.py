"""Where the built plugin bundles and the test host are, and skip-or-fail when they are not."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

__all__ = [
    "REPO_ROOT",
    "lv2_bundle",
    "need",
    "plugin_build_dir",
    "require_hosts",
    "testhost_binary",
    "tool",
    "vst3_bundle",
]

REPO_ROOT = Path(__file__).resolve().parents[3]


def require_hosts() -> bool:
    """CI sets SIDECAR_REQUIRE_PLUGIN_HOSTS=1: then a missing host or bundle fails, never skips."""
    return os.environ.get("SIDECAR_REQUIRE_PLUGIN_HOSTS", "") == "1"


def need(ok: bool, reason: str) -> None:
    """Skip (locally) or fail (in CI) when something a test needs is missing."""
    if ok:
        return
    if require_hosts():
        pytest.fail(f"{reason} (SIDECAR_REQUIRE_PLUGIN_HOSTS=1: CI must provide it)")
    pytest.skip(reason)


def plugin_build_dir() -> Path:
    """The plugin's CMake build folder (INTERFACE.md: build/plugin; SIDECAR_PLUGIN_BUILD_DIR)."""
    return Path(os.environ.get("SIDECAR_PLUGIN_BUILD_DIR", REPO_ROOT / "build" / "plugin"))


def _artefact(kind: str, name: str) -> Path:
    path = plugin_build_dir() / "MusicGenSidecar_artefacts" / "Release" / kind / name
    need(
        path.exists(),
        f"plugin not built: {path} is missing (cmake -S plugin_host/plugin -B build/plugin "
        "-DCMAKE_BUILD_TYPE=Release && cmake --build build/plugin -j2)",
    )
    return path


def vst3_bundle() -> Path:
    bundle = _artefact("VST3", "MusicGenSidecar.vst3")
    binary = bundle / "Contents" / "x86_64-linux" / "MusicGenSidecar.so"
    need(binary.exists(), f"VST3 bundle has no binary yet: {binary}")
    return bundle


def lv2_bundle() -> Path:
    bundle = _artefact("LV2", "MusicGenSidecar.lv2")
    need((bundle / "manifest.ttl").exists(), f"LV2 bundle has no manifest.ttl yet: {bundle}")
    return bundle


def testhost_binary() -> Path:
    """The test host (plugin_host/plugin/testhost; SIDECAR_TESTHOST_BUILD_DIR, build/testhost)."""
    build = Path(os.environ.get("SIDECAR_TESTHOST_BUILD_DIR", REPO_ROOT / "build" / "testhost"))
    path = build / "sidecar_testhost_artefacts" / "Release" / "sidecar_testhost"
    need(
        path.exists(),
        f"test host not built: {path} is missing (cmake -S plugin_host/plugin/testhost "
        "-B build/testhost -DCMAKE_BUILD_TYPE=Release && cmake --build build/testhost -j2)",
    )
    return path


def tool(name: str, package: str) -> str:
    found = shutil.which(name)
    need(found is not None, f"{name} is not installed (apt-get install {package})")
    assert found is not None
    return found
