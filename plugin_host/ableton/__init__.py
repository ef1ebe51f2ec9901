"""MusicGen sidecar Remote Script for Ableton Live: one button continues the selected clip."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .surface import SidecarSurface

if TYPE_CHECKING:
    from .surface import CInstance

__all__ = ["SidecarSurface", "create_instance"]


def create_instance(c_instance: CInstance) -> SidecarSurface:
    """Live's entry point: called once when the script is chosen as a Control Surface."""
    return SidecarSurface(c_instance)
