"""mypy checks the Remote Script against ableton-live-stubs; the fakes match the stubs' shapes."""

from __future__ import annotations

import ast
import inspect
import sys
from pathlib import Path

import pytest

from tests.plugin_host.ableton import fake_live
from tests.plugin_host.ableton.live_stub_versions import CHECKED_VERSIONS, derived_stubs

ROOT = Path(__file__).parents[3]


def stubs_dir() -> Path | None:
    for entry in sys.path:
        candidate = Path(entry) / "Live-stubs"
        if (candidate / "Song.pyi").is_file():
            return candidate
    return None


STUBS = stubs_dir()
needs_stubs = pytest.mark.skipif(STUBS is None, reason="pip install ableton-live-stubs")


@needs_stubs
def test_script_type_checks_against_the_live_stubs() -> None:
    from mypy import api

    out, err, status = api.run(["--strict", "--no-incremental", str(ROOT / "plugin_host/ableton")])
    assert status == 0, out + err


@needs_stubs
def test_a_wrong_live_attribute_is_caught(tmp_path: Path) -> None:
    from mypy import api

    probe = tmp_path / "probe.py"
    probe.write_text(
        "from Live.Song import Song\ndef f(song: Song) -> None:\n    song.view.detail_clipp\n"
    )
    out, _, status = api.run(["--strict", "--no-incremental", str(probe)])
    assert status == 1 and "detail_clipp" in out


def mypy_as(version: tuple[int, int, int], tmp_path: Path, *targets: str) -> tuple[str, int]:
    """mypy --strict over `targets` against the stubs of Live `version` (live_stub_versions)."""
    import os

    from mypy import api

    assert STUBS is not None
    folder = derived_stubs(STUBS, version, tmp_path / "stubs")
    # Found on MYPYPATH, the stubs count as checked code: their own style is not ours.
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\nstrict = True\n\n[mypy-Live.*]\nignore_errors = True\n")
    saved = os.environ.get("MYPYPATH")
    os.environ["MYPYPATH"] = str(folder)
    try:
        out, err, status = api.run(
            [
                "--config-file",
                str(config),
                "--no-incremental",
                "--cache-dir",
                str(tmp_path / "cache"),
                *targets,
            ]
        )
    finally:
        if saved is None:
            os.environ.pop("MYPYPATH", None)
        else:
            os.environ["MYPYPATH"] = saved
    return out + err, status


@needs_stubs
@pytest.mark.parametrize("version", CHECKED_VERSIONS, ids=lambda v: ".".join(map(str, v)))
def test_script_type_checks_against_older_lives(
    version: tuple[int, int, int], tmp_path: Path
) -> None:
    """Members an older Live lacks are reached only through a guarded look-up."""
    out, status = mypy_as(version, tmp_path, str(ROOT / "plugin_host/ableton"))
    assert status == 0, out


@needs_stubs
def test_an_unguarded_newer_member_is_caught_against_an_older_live(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from Live.Track import Track\n"
        "def f(track: Track) -> object:\n"
        "    return track.take_lanes\n"
    )
    out, status = mypy_as((12, 1, 0), tmp_path, str(probe))
    assert status == 1 and "take_lanes" in out
    out, status = mypy_as((12, 3, 6), tmp_path / "new", str(probe))
    assert status == 0, out


def stub_members(module: str, qualname: str) -> dict[str, int | None]:
    """Member name → positional parameter count (None for properties) of a stub class."""
    assert STUBS is not None
    tree = ast.parse((STUBS / f"{module}.pyi").read_text())
    body: list[ast.stmt] = tree.body
    for part in qualname.split("."):
        node = next(n for n in body if isinstance(n, ast.ClassDef) and n.name == part)
        body = node.body
    members: dict[str, int | None] = {}
    for item in body:
        if isinstance(item, ast.FunctionDef):
            decorators = {getattr(d, "id", getattr(d, "attr", "")) for d in item.decorator_list}
            if "property" in decorators or "setter" in decorators:
                members[item.name] = None
            elif item.name not in members:
                members[item.name] = len(item.args.posonlyargs) + len(item.args.args) - 1
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            members[item.target.id] = None
    members.update({"canonical_parent": None})
    return members


def instance_attributes(class_name: str) -> set[str]:
    """Names a fake assigns as `self.<name> = ...` (its public instance attributes)."""
    source = inspect.getsourcefile(getattr(fake_live, class_name))
    assert source is not None
    tree = ast.parse(Path(source).read_text())
    node = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name)
    return {
        target.attr
        for item in ast.walk(node)
        if isinstance(item, ast.Assign)
        for target in item.targets
        if isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Name)
        and target.value.id == "self"
    }


@needs_stubs
@pytest.mark.parametrize("fake_name", sorted(fake_live.STUB_CLASSES))
def test_fakes_only_have_members_the_stubs_have(fake_name: str) -> None:
    module, qualname = fake_live.STUB_CLASSES[fake_name]
    stub = stub_members(module, qualname)
    fake = getattr(fake_live, fake_name)
    helpers = {
        "put",
        "add_slot",
        "place_arrangement_clip",
        "mark_deleted",
        "song",
        "version",
        "apply_live_guess",
        "apply_long_sample_reading",
        "apply_auto_warp",
        "analyse_later",
        "advance",
        "set_recording",
        "add_take_lane",
        "all_clips",
        "auto_warp_long_samples",
        "analysis_ticks",
        "analysed_files",
    }
    names = set(vars(fake)) | instance_attributes(fake_name)
    for name in sorted(n for n in names if not n.startswith("_") and n not in helpers):
        assert name in stub, f"{fake_name}.{name} is not in the stubs' {qualname}"
        member = getattr(fake, name, None)
        if stub[name] is not None and inspect.isfunction(member):
            params = list(inspect.signature(member).parameters)[1:]
            assert len(params) == stub[name], f"{fake_name}.{name} takes {params}"
