"""REAPER action: cancel the running MusicGen sidecar request (tells the generate action)."""

from __future__ import annotations

import reaper_python

reaper_python.RPR_SetExtState("musicgen_sidecar", "cancel", "1", False)
