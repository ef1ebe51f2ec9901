"""③ The start-up self-check: one forward pass shows that the text and melody reach the logits.

A model can load, warm up and make audio while ignoring its conditions: transformers 5.1.0 to
5.17.x drop MusicGen-Melody's whole condition (chroma and text) at the first step of `generate`
(huggingface/transformers#45647, fixed by #48679 in 5.18.0; measured here on the tiny model
with every release from 5.0.0 to 5.25.0 named in the README), and a damaged checkpoint (a
zeroed projection) does the same in any decoder. Takes then sound plausible and follow nothing. The
check asks the engine for the first token's logits of a few rows that differ in one condition
each (text; chroma for melody models) and compares them. The server runs it after the warm-up
and `sidecar doctor` runs it too; an engine whose check found an ignored condition refuses
requests that use it (`Engine.refuse_ignored_conditions`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import transformers

from sidecar.engine.base import ConditioningCheck, Engine, GenerationSpec

__all__ = [
    "MIN_RELATIVE_CHANGE",
    "ConditioningCheck",
    "check_conditioning",
    "probe_spec",
    "stock_drops_melody_conditions",
]

log = logging.getLogger(__name__)

#: Below this relative change of the logits (rms of the difference over their spread), a
#: condition counts as ignored. A condition that is dropped changes them by exactly 0; one
#: that reaches them changes a trained model's by tens of percent (the tiny models': ~20 %).
MIN_RELATIVE_CHANGE = 1e-5

#: Two texts and two melodies (pure tones, A4 and E♭4: chroma bins 9 and 3) for the probe.
_TEXTS = ("bright piano chords", "distorted drums and bass")
_TONES_HZ = (440.0, 311.13)

#: transformers releases whose `generate` drops MusicGen-Melody's conditions: [first, fixed).
_BROKEN_RELEASES = ((5, 1), (5, 18))
_FIXED_TRANSFORMERS = "5.18.0"


def stock_drops_melody_conditions(version: str) -> bool:
    """Whether transformers `version`'s own generate ignores MusicGen-Melody's chroma and text
    (the sidecar's own decode loop does not depend on it)."""
    try:
        major, minor = (int(part) for part in version.split(".")[:2])
    except ValueError:
        return False
    return _BROKEN_RELEASES[0] <= (major, minor) < _BROKEN_RELEASES[1]


def probe_spec(sample_rate: int, frame_rate: int, melody: bool) -> GenerationSpec:
    """Rows: (text A), (text B) and, for melody models, every row on tone A except the last,
    (text A, tone B). Greedy, no guidance, one frame: only the first step's logits matter."""
    texts = (*_TEXTS, _TEXTS[0]) if melody else _TEXTS
    tones = None
    if melody:
        t = np.arange(sample_rate, dtype=np.float64) / sample_rate
        a, b = (0.5 * np.sin(2 * np.pi * hz * t) for hz in _TONES_HZ)
        tones = np.stack([a, a, b])[:, None, :].astype(np.float32)
    return GenerationSpec(
        duration_seconds=1.0 / frame_rate,
        prompts=texts,
        melody=tones,
        guidance_scale=1.0,
        temperature=0.0,
    )


def _relative_change(a: np.ndarray, b: np.ndarray) -> float:
    spread = float(np.std(a))
    return float(np.sqrt(np.mean((a - b) ** 2)) / spread) if spread > 0 else 0.0


def _fix(
    model: str, decoder: str, melody_model: bool, ignored: tuple[str, ...], version: str
) -> str:
    if decoder == "stock" and melody_model and stock_drops_melody_conditions(version):
        return (
            "transformers' own generate (--decoder stock) drops MusicGen-Melody's conditions in "
            f"5.1.0 to 5.17.x (huggingface/transformers#45647, fixed in {_FIXED_TRANSFORMERS}; "
            f"this is {version}): serve with --decoder auto (the sidecar's own decode loop, "
            "which conditions with any transformers 5.x) or upgrade: "
            f"pip install -U 'transformers>={_FIXED_TRANSFORMERS},<6'"
        )
    parts = []
    if "text" in ignored:
        parts.append("the text encoder or enc_to_dec_proj")
    if "melody" in ignored:
        parts.append("audio_enc_to_dec_proj (the chroma projection)")
    ran = f"transformers {version}'s generate" if decoder == "stock" else f"the sidecar's {decoder}"
    local = model.startswith((".", "/", "~")) or Path(model).expanduser().is_dir()
    again = (
        "save the checkpoint this folder came from again (save_pretrained)"
        if local
        else f"download it again (hf download {model} --force-download)"
    )
    return (
        f"{ran} decoder conditions correctly, so the weights are at fault: "
        f"{' and '.join(parts)} {'map' if len(parts) > 1 else 'maps'} different inputs to the "
        f"same states; {again}, or load a trained MusicGen model"
    )


def check_conditioning(engine: Engine, record: bool = True) -> ConditioningCheck | None:
    """Measure whether the text and (melody models) the chroma change the first logits.

    With `record`, the engine keeps the result (`engine.conditioning`) and refuses requests
    that use an ignored condition. None for an engine that cannot report its logits.
    """
    info = engine.info
    spec = probe_spec(info.sample_rate, info.frame_rate, info.supports_melody)
    try:
        logits = engine.first_step_logits(spec)
    except NotImplementedError:
        return None
    text_change = _relative_change(logits[0], logits[1])
    melody_change = _relative_change(logits[0], logits[2]) if info.supports_melody else None
    ignored: list[str] = []
    if text_change < MIN_RELATIVE_CHANGE:
        ignored.append("text")
    if melody_change is not None and melody_change < MIN_RELATIVE_CHANGE:
        ignored.append("melody")
    version = transformers.__version__
    message = ""
    if ignored:
        fix = _fix(info.name, info.decoder, info.supports_melody, tuple(ignored), version)
        what = " and the ".join(ignored)
        message = (
            f"model '{info.name}' ignores the {what}: the first step's logits do not change "
            f"with {'it' if len(ignored) == 1 else 'them'} (decoder {info.decoder}, "
            f"transformers {version}); requests that use {'it' if len(ignored) == 1 else 'them'}"
            f" are refused. Fix: {fix}"
        )
    check = ConditioningCheck(
        info.name, info.decoder, version, text_change, melody_change, tuple(ignored), message
    )
    log.debug("self-check of %s: %s", info.name, check.summary())
    if record:
        engine.conditioning = check
    return check
