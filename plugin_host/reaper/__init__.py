"""REAPER ReaScripts (Python) that drive the MusicGen sidecar."""

from __future__ import annotations
