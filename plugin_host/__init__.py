"""The DAW side: Ableton Live Remote Script, REAPER script and the live looper."""
