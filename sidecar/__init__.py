"""MusicGen sidecar: a warm MusicGen server that DAWs drive over OSC."""

__version__ = "0.1.0"

__all__ = ["__version__"]
