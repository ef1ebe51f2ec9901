"""REAPER action: cancel the running MusicGen sidecar requests (tells the running actions)."""

# A running Continue or Re-roll action cancels when this value changes (ExtState section
# and key as in plugin_host/reaper/request.py); the action then asks the sidecar to stop.
from __future__ import annotations

import time

import reaper_python

reaper_python.RPR_SetExtState("musicgen_sidecar", "cancel", repr(time.time()), False)
