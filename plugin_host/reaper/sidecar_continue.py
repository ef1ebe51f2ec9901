"""REAPER action: continue the selected media item with the MusicGen sidecar (ReaScript, Python)."""

# Load with Actions > Show action list > New action > Load ReaScript. It imports plugin_host
# from two folders up, and reads sidecar_settings.json beside it (defaults when missing).
# This file stays ASCII: REAPER may read it under an ASCII locale.
from __future__ import annotations

import glob
import os
import sys
from typing import Any

_NAME = "sidecar_continue.py"


def _script_folder(api: Any) -> tuple[str, str]:
    """(this script's folder, how it was found); ("", "") when not found.

    REAPER runs a Python script without __file__, and get_action_context exists in EEL2 and
    Lua only (ReaScript help), so each of these is tried: __file__, sys.argv[0] and the file
    name the code was compiled under, then the checkout in REAPER's Scripts folder
    (GetResourcePath()/Scripts/<checkout>/plugin_host/reaper).
    """
    named = [
        ("__file__", globals().get("__file__")),
        ("sys.argv", (getattr(sys, "argv", None) or [""])[0]),
        ("code file name", sys._getframe().f_code.co_filename),
    ]
    for how, path in named:
        if path and os.path.basename(str(path)) == _NAME and os.path.isfile(str(path)):
            return os.path.dirname(os.path.abspath(str(path))), how
    scripts = os.path.join(str(api.RPR_GetResourcePath()), "Scripts")
    for pattern in ("plugin_host", os.path.join("*", "plugin_host")):
        found = sorted(glob.glob(os.path.join(scripts, pattern, "reaper", _NAME)))
        if found:
            return os.path.dirname(found[0]), "REAPER's Scripts folder"
    return "", ""


def main() -> None:
    import reaper_python

    folder, _how = _script_folder(reaper_python)
    if not folder:
        reaper_python.RPR_ShowConsoleMsg(
            "MusicGen: cannot tell where " + _NAME + " is (REAPER gave no file name): put the "
            "musicgen-sidecar checkout in REAPER's Scripts folder (Options > Show REAPER "
            "resource path) and load the action from there\n"
        )
        return
    root = os.path.dirname(os.path.dirname(folder))
    if root not in sys.path:
        sys.path.insert(0, root)
    from plugin_host.reaper.action import run_action

    run_action(reaper_python, "continue", folder, globals())


main()
