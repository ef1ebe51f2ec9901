"""`sidecar install-ableton`: copy the Remote Script into Live's User Library."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

__all__ = [
    "SCRIPT_FOLDER_NAME",
    "default_remote_scripts_dir",
    "install",
    "register",
    "script_source_dir",
]

#: The folder name Live shows in its Control Surface menu.
SCRIPT_FOLDER_NAME = "MusicGenSidecar"
_SETTINGS = "settings.json"
_COPIED_SUFFIXES = (".py", ".json")

_ENABLE_STEPS = """\
Installed the MusicGen sidecar Remote Script in {dest}

To enable it:
  1. Restart Live if it is running (Live reads Remote Scripts at start).
  2. Open Settings (Preferences) → Link, Tempo & MIDI.
  3. In an empty Control Surface row choose "{name}"; set Input to the controller whose
     pads you will press (Output can stay None).
  4. Start the sidecar (`sidecar serve`), select an audio clip and press the generate pad.
Buttons, presets and the sidecar's address are in {settings}.
"""


def script_source_dir() -> Path:
    """The Remote Script folder in this installation (plugin_host/ableton)."""
    return Path(__file__).resolve().parents[2] / "plugin_host" / "ableton"


def default_remote_scripts_dir(platform: str | None = None, home: Path | None = None) -> Path:
    """The User Library's Remote Scripts folder Live uses by default on macOS and Windows."""
    platform = platform if platform is not None else sys.platform
    home = home if home is not None else Path.home()
    if platform == "darwin":
        return home / "Music" / "Ableton" / "User Library" / "Remote Scripts"
    if platform.startswith("win"):
        return home / "Documents" / "Ableton" / "User Library" / "Remote Scripts"
    raise ValueError(
        f"Live runs on macOS and Windows; on {platform!r} there is no default User Library: "
        "pass --dest DIR (the 'Remote Scripts' folder of your User Library)"
    )


def install(dest_dir: Path, source_dir: Path | None = None, name: str = SCRIPT_FOLDER_NAME) -> Path:
    """Copy the script to `dest_dir/name`, keeping an existing settings.json; returns the folder."""
    source = source_dir if source_dir is not None else script_source_dir()
    files = sorted(p for p in source.iterdir() if p.is_file() and p.suffix in _COPIED_SUFFIXES)
    if not any(p.name == "__init__.py" for p in files):
        raise FileNotFoundError(f"no Remote Script in {source}: __init__.py is missing")
    target = dest_dir / name
    target.mkdir(parents=True, exist_ok=True)
    for path in files:
        destination = target / path.name
        if path.name == _SETTINGS and destination.exists():
            continue  # the producer's button map and presets survive a reinstall
        temporary = destination.with_name(destination.name + ".tmp")
        shutil.copyfile(path, temporary)
        os.replace(temporary, destination)
    stale_cache = target / "__pycache__"
    if stale_cache.is_dir():
        shutil.rmtree(stale_cache)
    return target


def _handle(args: argparse.Namespace) -> int:
    try:
        dest = Path(args.dest).expanduser() if args.dest else default_remote_scripts_dir()
        target = install(dest, name=args.name)
    except (ValueError, OSError) as error:
        print(f"install-ableton: {error}", file=sys.stderr)
        return 2
    print(_ENABLE_STEPS.format(dest=target, name=args.name, settings=target / _SETTINGS))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `install-ableton` subcommand."""
    parser = subparsers.add_parser(
        "install-ableton",
        help="copy the Live Remote Script into the User Library's Remote Scripts folder",
        description="Copy the MusicGen sidecar Remote Script into Live's User Library "
        "(macOS: ~/Music/Ableton/User Library/Remote Scripts, Windows: "
        "~/Documents/Ableton/User Library/Remote Scripts), keeping an existing settings.json.",
    )
    parser.add_argument("--dest", metavar="DIR", help="the Remote Scripts folder to install into")
    parser.add_argument(
        "--name", default=SCRIPT_FOLDER_NAME, help="folder name Live shows (default: %(default)s)"
    )
    parser.set_defaults(func=_handle)
