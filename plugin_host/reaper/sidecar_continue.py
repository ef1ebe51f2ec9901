"""REAPER action: continue the selected media item with the MusicGen sidecar (ReaScript, Python)."""

# Load with Actions → Show action list → New action → Load ReaScript, from the repository
# checkout (the script imports the OSC codec from plugin_host/ableton next to it).
from __future__ import annotations

import os
import sys
from typing import Any

SIDECAR_HOST = "127.0.0.1"
SIDECAR_PORT = 9310
VARIATIONS = 1
PROMPT = ""
STEP_LIMIT = 3000  # defer steps (~30 ms each) without a reply before giving up


def _repository_root() -> str:
    try:
        here = os.path.dirname(os.path.abspath(__file__))
    except NameError:  # REAPER may run the file without __file__
        import reaper_python

        here = os.path.dirname(str(reaper_python.RPR_get_action_context()[2]))
    return os.path.dirname(os.path.dirname(here))


def main() -> None:
    sys.path.insert(0, _repository_root())
    import reaper_python

    from plugin_host.ableton.link import SidecarLink
    from plugin_host.reaper.sidecar_reaper import ReaperSession

    api: Any = reaper_python
    link = SidecarLink(SIDECAR_HOST, SIDECAR_PORT)
    session = ReaperSession(
        api, link, variations=VARIATIONS, prompt=PROMPT, timeout_steps=STEP_LIMIT
    )
    if not session.start():
        link.close()
        return

    def step() -> None:
        try:
            running = session.step()
        except Exception:
            link.close()
            raise
        if running:
            api.RPR_defer("_musicgen_step()")
        else:
            link.close()

    # RPR_defer evaluates its text in this script's globals.
    globals()["_musicgen_step"] = step
    api.RPR_defer("_musicgen_step()")


main()
