"""③ Demucs models: released names and their parts, and ones built in code (no torch at load)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

__all__ = [
    "RANDOM_PREFIX",
    "SEPARATOR_MODELS",
    "TINY_DEMUCS_6S_NAME",
    "TINY_DEMUCS_NAME",
    "build_random_demucs",
    "build_tiny_demucs",
    "built_in_separators",
    "separator_names",
    "separator_parts",
]

#: The released Hybrid Transformer Demucs models and the parts each separates, in its order.
#: `htdemucs_ft` is a bag of four fine-tuned htdemucs, one per part (four times the work).
SEPARATOR_MODELS: dict[str, tuple[str, ...]] = {
    "htdemucs": ("drums", "bass", "other", "vocals"),
    "htdemucs_ft": ("drums", "bass", "other", "vocals"),
    "htdemucs_6s": ("drums", "bass", "other", "vocals", "guitar", "piano"),
}

#: Small random-weight models built from Demucs's own classes (tests; no download).
TINY_DEMUCS_NAME = "tiny-demucs"
TINY_DEMUCS_6S_NAME = "tiny-demucs-6s"
#: `random-htdemucs` (and `random-htdemucs_6s`, `random-htdemucs_ft`): a released size with
#: random weights, same cost as the real one (benchmarks).
RANDOM_PREFIX = "random-"

#: What the released htdemucs was trained with (Demucs's `conf/variant` for htdemucs): the
#: class's defaults plus the 3-layer DConv, a 512-wide bottom before the transformer and the
#: 7.8 s training segment, which the transformer needs at inference too.
_HTDEMUCS_ARGS: dict[str, Any] = {
    "dconv_mode": 3,
    "bottom_channels": 512,
    "segment": Fraction(39, 5),
}


def built_in_separators() -> tuple[str, ...]:
    """The separator names built here (random weights, no download)."""
    return (
        TINY_DEMUCS_NAME,
        TINY_DEMUCS_6S_NAME,
        *(f"{RANDOM_PREFIX}{name}" for name in SEPARATOR_MODELS),
    )


def separator_names() -> tuple[str, ...]:
    """Every name `--separator` and the `separator` request field take."""
    return (*SEPARATOR_MODELS, *built_in_separators())


def separator_parts(name: str) -> tuple[str, ...] | None:
    """The parts `name` separates, in its order; None for a name this module does not know."""
    if name in SEPARATOR_MODELS:
        return SEPARATOR_MODELS[name]
    if name == TINY_DEMUCS_NAME:
        return SEPARATOR_MODELS["htdemucs"]
    if name == TINY_DEMUCS_6S_NAME:
        return SEPARATOR_MODELS["htdemucs_6s"]
    if name.startswith(RANDOM_PREFIX):
        return SEPARATOR_MODELS.get(name[len(RANDOM_PREFIX) :])
    return None


def _seeded(build: Any, seed: int) -> Any:
    import torch

    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return build()
    finally:
        torch.random.set_rng_state(state)


def build_tiny_demucs(sources: tuple[str, ...], seed: int = 0) -> Any:
    """A tiny HTDemucs (4 channels, depth 4, one transformer layer, 2048-point STFT, 2 s
    segments; 84 k weights) with random weights: Demucs's real model class, small enough for
    a test."""
    from demucs.htdemucs import HTDemucs

    def build() -> Any:
        return HTDemucs(
            list(sources),
            audio_channels=2,
            channels=4,
            growth=2,
            nfft=2048,
            depth=4,
            t_layers=1,
            t_heads=2,
            t_hidden_scale=1.0,
            norm_starts=4,
            dconv_comp=4,
            segment=Fraction(2, 1),
        )

    return _seeded(build, seed).eval()


def build_random_demucs(name: str, seed: int = 0) -> Any:
    """A released Demucs (`htdemucs`, `htdemucs_ft`, `htdemucs_6s`) of its real architecture
    and size with random weights; `htdemucs_ft` is a bag of four."""
    from demucs.apply import BagOfModels
    from demucs.htdemucs import HTDemucs

    if name not in SEPARATOR_MODELS:
        raise ValueError(f"name: {name!r}; allowed: {', '.join(SEPARATOR_MODELS)}")
    sources = list(SEPARATOR_MODELS[name])
    count = 4 if name == "htdemucs_ft" else 1
    models = [
        _seeded(lambda: HTDemucs(sources, **_HTDEMUCS_ARGS), seed + i).eval() for i in range(count)
    ]
    if count == 1:
        return models[0]
    weights = [[1.0 if j == i else 0.0 for j in range(len(sources))] for i in range(count)]
    return BagOfModels(models, weights).eval()
