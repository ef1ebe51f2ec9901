"""Path policy: only regular files inside the allowed roots, symlinks followed before the check."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sidecar.errors import ForbiddenError, NotFoundError
from sidecar.files.paths import PathPolicy


@pytest.fixture()
def layout(tmp_path: Path) -> tuple[PathPolicy, Path, Path]:
    inside = tmp_path / "allowed"
    outside = tmp_path / "secret"
    inside.mkdir()
    outside.mkdir()
    (inside / "loop.wav").write_bytes(b"RIFF")
    (outside / "keys.wav").write_bytes(b"RIFF")
    return PathPolicy.of([inside]), inside, outside


def test_a_file_inside_is_resolved(layout: tuple[PathPolicy, Path, Path]) -> None:
    policy, inside, _ = layout
    assert policy.check_clip(str(inside / "loop.wav")) == (inside / "loop.wav").resolve()


def test_dotdot_escape_is_refused(layout: tuple[PathPolicy, Path, Path]) -> None:
    policy, inside, _ = layout
    with pytest.raises(ForbiddenError, match="outside the allowed folders"):
        policy.check_clip(str(inside / ".." / "secret" / "keys.wav"))


def test_symlink_out_of_the_roots_is_refused(layout: tuple[PathPolicy, Path, Path]) -> None:
    policy, inside, outside = layout
    link = inside / "innocent.wav"
    link.symlink_to(outside / "keys.wav")
    with pytest.raises(ForbiddenError, match=r"secret/keys\.wav"):
        policy.check_clip(str(link))


def test_devices_fifos_and_directories_are_refused(
    layout: tuple[PathPolicy, Path, Path], tmp_path: Path
) -> None:
    policy, inside, _ = layout
    fifo = inside / "pipe.wav"
    os.mkfifo(fifo)
    with pytest.raises(ForbiddenError, match="not a regular file"):
        policy.check_clip(str(fifo))
    with pytest.raises(ForbiddenError, match="not a regular file"):
        policy.check_clip(str(inside))
    with pytest.raises(ForbiddenError, match="outside the allowed folders"):
        policy.check_clip("/dev/zero")
    dev_policy = PathPolicy.of([Path("/dev")])
    with pytest.raises(ForbiddenError, match="not a regular file"):
        dev_policy.check_clip("/dev/zero")


def test_relative_and_missing_paths(layout: tuple[PathPolicy, Path, Path]) -> None:
    policy, inside, _ = layout
    with pytest.raises(ForbiddenError, match="not an absolute path"):
        policy.check_clip("loop.wav")
    with pytest.raises(NotFoundError, match="does not exist"):
        policy.check_clip(str(inside / "nope.wav"))
