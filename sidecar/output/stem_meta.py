"""⑥ What is said about a delivered stem: the JSON beside it and its `/sidecar/stem` fields."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sidecar import __version__
from sidecar.engine.base import EngineInfo
from sidecar.files.audiofile import SampleFormat
from sidecar.osc.schema import GenerateRequest, OscArg
from sidecar.takes.finish import MadeTake

if TYPE_CHECKING:
    from sidecar.musical.presets import Preset

__all__ = [
    "STEM_REPLY_FIELDS",
    "number_or_none",
    "sample_format",
    "stem_metadata",
    "stem_reply_fields",
]

#: Report fields carried on `/sidecar/stem` (in this order), after `seed` and `bpm`.
STEM_REPLY_FIELDS = (
    "bars",
    "source_bpm",
    "tempo_confidence",
    "stretch_ratio",
    "delivered_bpm",
    "decision",
    "downbeat_source",
    "downbeat_confidence",
    "loudness_lufs",
    "true_peak_dbtp",
    "key",
    "key_confidence",
    "key_shift_semitones",
    "windows",
    "sample_rate",
    "channels",
    "separator",
)


def stem_reply_fields(req: GenerateRequest, seed: int, take: MadeTake) -> dict[str, OscArg]:
    """The report fields a DAW acts on; the full report is in the JSON beside the file."""
    info: dict[str, OscArg] = {"seed": seed, "variation": take.variation}
    if take.part is not None:
        info["part"] = take.part
    if req.bpm is not None:
        info["bpm"] = req.bpm
    for key in STEM_REPLY_FIELDS:
        value = take.report.get(key)
        if value is not None and isinstance(value, str | int | float):
            info[key] = value
    return info


def stem_metadata(
    req: GenerateRequest,
    preset: Preset | None,
    model: EngineInfo,
    seed: int,
    prompt_seconds: float,
    timings: dict[str, float],
    index: int,
    take: MadeTake,
) -> dict[str, Any]:
    """The JSON written beside stem `index`: request, model, seed, prompt clip, report, timings."""
    return {
        "index": index,
        "variation": take.variation,
        "part": take.part,
        "request": req.to_dict(),
        "preset": None if preset is None else preset.name,
        "model": model.name,
        "random_weights": model.is_random,
        "device": model.device,
        "dtype": model.dtype,
        "seed": seed,
        "batch_size": req.variations * max(1, len(req.parts)),
        "sidecar_version": __version__,
        "prompt_clip": None
        if req.clip is None
        else {
            "path": req.clip,
            "start_seconds": req.clip_start,
            "end_seconds": req.clip_end,
            "start_beats": req.clip_start_beats,
            "end_beats": req.clip_end_beats,
            "clip_bpm": req.clip_bpm,
            "seconds_used": round(prompt_seconds, 4),
            "as_melody": req.melody,
        },
        "report": take.report,
        "windows": take.windows if len(take.windows) > 1 else [],
        "timings": {k: round(v, 4) for k, v in timings.items()},
    }


def number_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def sample_format(name: str) -> SampleFormat:
    """The delivery sample format for a request's `format` name."""
    return "float32" if name == "float32" else "pcm16" if name == "pcm16" else "pcm24"
