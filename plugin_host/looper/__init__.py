"""Live looper: bar-quantized MusicGen continuations from live input, in sync with the band."""

from __future__ import annotations

from plugin_host.looper.app import Looper, LooperStatus
from plugin_host.looper.cli import main, register
from plugin_host.looper.config import LooperConfig, load_config

__all__ = ["Looper", "LooperConfig", "LooperStatus", "load_config", "main", "register"]
