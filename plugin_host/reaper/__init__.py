"""REAPER ReaScripts (Python) that drive the MusicGen sidecar."""
