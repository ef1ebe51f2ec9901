"""② Resolve a request against its preset: the preset fills what the request did not send."""

from __future__ import annotations

import dataclasses

from sidecar.musical.presets import Preset, PresetLibrary
from sidecar.osc.schema import GenerateRequest

__all__ = ["apply_preset"]

#: Preset generation parameters and the request keys they fill.
_PARAM_KEYS = ("guidance", "temperature", "top_k", "top_p")


def apply_preset(
    request: GenerateRequest, library: PresetLibrary | None
) -> tuple[GenerateRequest, Preset | None]:
    """The request with its preset's values under the request's own, and the preset.

    Request keys override preset values. The preset's `bars` apply only when the request
    gives a tempo and no length of its own; its loudness and its default stem parts only when
    the request sets none.
    """
    if request.preset is None:
        return request, None
    if library is None:
        from sidecar.musical.presets import PresetError

        raise PresetError("preset: no presets are loaded on this server", "preset")
    preset = library.get(request.preset)
    changes: dict[str, object] = {}
    for key in _PARAM_KEYS:
        if key not in request.sent and key in preset.params:
            changes[key] = preset.params[key]
    length_sent = "bars" in request.sent or "seconds" in request.sent
    if preset.bars is not None and request.bpm is not None and not length_sent:
        changes["bars"] = preset.bars
    if preset.loudness_lufs is not None and "loudness" not in request.sent:
        changes["loudness"] = preset.loudness_lufs
    if preset.stems and "stems" not in request.sent and not request.separating:
        changes["stems"] = ",".join(preset.stems)  # the preset's default parts
    resolved = dataclasses.replace(request, **changes)  # type: ignore[arg-type]
    resolved.check()
    return resolved, preset
