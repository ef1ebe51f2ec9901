"""REAPER action: repeat the last MusicGen request with a new seed (ReaScript, Python)."""

# Load with Actions → Show action list → New action → Load ReaScript, from the repository
# checkout: the script imports plugin_host from two folders up. Settings are read from
# sidecar_settings.json beside this file (defaults when it is missing).
from __future__ import annotations

import os
import sys


def _script_folder() -> str:
    try:
        return os.path.dirname(os.path.abspath(__file__))
    except NameError:  # REAPER may run the file without __file__
        import reaper_python

        # is_new_value, filename, sectionID, cmdID, mode, resolution, val[, contextstr]
        return os.path.dirname(str(reaper_python.RPR_get_action_context()[1]))


def main() -> None:
    folder = _script_folder()
    root = os.path.dirname(os.path.dirname(folder))
    if root not in sys.path:
        sys.path.insert(0, root)
    import reaper_python

    from plugin_host.reaper.action import run_action

    run_action(reaper_python, "reroll", folder, globals())


main()
