"""Older Lives' stubs, made from the installed ableton-live-stubs 12.3.6 by removing members.

PyPI has ableton-live-stubs for 12.3.6 only (`pip index versions ableton-live-stubs`:
12.3.6.post7 and .post8). Which members the script uses that older Lives lack is known from
stubs generated inside each Live (PhotonicVelocity/LiveAPI, stubs/<version>/Live) and from
Live's release notes; `MISSING` lists them, and `derived_stubs` writes a `Live` stub package
without them, for mypy to check the script against as that Live.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

__all__ = ["CHECKED_VERSIONS", "MISSING", "derived_stubs", "missing_in"]

Version = tuple[int, int, int]

_NO_CREATE_AUDIO_CLIP: tuple[tuple[Version, Version], ...] = (
    ((0, 0, 0), (11, 3, 25)),
    ((12, 0, 0), (12, 0, 5)),
)

#: (module, class, member) -> the Lives that lack it, as (from, before) ranges.
MISSING: dict[tuple[str, str, str], tuple[tuple[Version, Version], ...]] = {
    # create_audio_clip: from 11.3.25, absent from 12.0.0, back in 12.0.5.
    ("ClipSlot", "ClipSlot", "create_audio_clip"): (
        ((0, 0, 0), (11, 3, 25)),
        ((12, 0, 0), (12, 0, 5)),
    ),
    ("Track", "Track", "create_audio_clip"): (((0, 0, 0), (11, 3, 25)), ((12, 0, 0), (12, 0, 5))),
    # Song.scale_mode: 12.0.5 (root_note and scale_name are older).
    ("Song", "Song", "scale_mode"): (((0, 0, 0), (12, 0, 5)),),
    # Take lanes in the API: 12.2.
    ("Track", "Track", "take_lanes"): (((0, 0, 0), (12, 2, 0)),),
    ("Clip", "Clip", "is_take_lane_clip"): (((0, 0, 0), (12, 2, 0)),),
    ("TakeLane", "TakeLane", "create_audio_clip"): (((0, 0, 0), (12, 2, 0)),),
}

#: Lives the script is type-checked as, besides the installed 12.3.6: the first with
#: create_audio_clip (11.3.25, Python 3.7), the 12.0.0 gap, and 12.1 (before take lanes).
CHECKED_VERSIONS: tuple[Version, ...] = ((11, 3, 25), (12, 0, 0), (12, 1, 0))


def missing_in(version: Version) -> list[tuple[str, str, str]]:
    return [
        member
        for member, ranges in MISSING.items()
        if any(low <= version < high for low, high in ranges)
    ]


def _drop_members(source: str, class_name: str, member: str) -> str:
    """The stub source without `class_name.member` (its property, setter and methods)."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    spans: list[tuple[int, int]] = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == member:
                    first = min([item.lineno] + [d.lineno for d in item.decorator_list])
                    assert item.end_lineno is not None
                    spans.append((first, item.end_lineno))
    if not spans:
        raise ValueError(f"{class_name}.{member} is not in the stubs")
    for first, last in sorted(spans, reverse=True):
        del lines[first - 1 : last]
    return "".join(lines)


def derived_stubs(installed: Path, version: Version, folder: Path) -> Path:
    """Write `folder/Live`, the installed stubs less what `version` lacks; returns folder."""
    package = folder / "Live"
    shutil.copytree(installed, package)
    (package / "py.typed").unlink(missing_ok=True)
    for module, class_name, member in missing_in(version):
        stub = package / f"{module}.pyi"
        stub.write_text(_drop_members(stub.read_text(), class_name, member))
    return folder
