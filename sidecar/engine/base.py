"""③ The engine interface: what the worker asks of a model, whatever runs underneath."""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from sidecar.errors import ModelError

__all__ = ["ConditioningCheck", "Engine", "EngineInfo", "GenerationSpec", "ProgressCallback"]

#: Called with (steps_done, steps_total) after every decoding step; may raise to cancel.
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class GenerationSpec:
    """One generation request as the engine sees it: everything already validated."""

    duration_seconds: float
    prompt: str | None = None
    #: Audio prompt to continue, float32 `(channels, samples)` at the engine's sample rate.
    audio_prompt: np.ndarray | None = field(default=None, compare=False, repr=False)
    #: Melody to condition on (melody models), float32 `(channels, samples)` at the engine's
    #: rate, or one per row `(batch, channels, samples)`.
    melody: np.ndarray | None = field(default=None, compare=False, repr=False)
    #: One text prompt per batch row (stem sets); overrides `prompt` when given.
    prompts: tuple[str, ...] | None = None
    variations: int = 1
    guidance_scale: float = 3.0
    temperature: float = 1.0
    top_k: int = 250
    top_p: float = 0.0
    seed: int = 0
    #: Rows from several requests decoded as one batch: `(seed, rows)` per request, in row
    #: order; each request's rows sample from their own generator, so a request's take is the
    #: one it gets alone (engines with `supports_row_groups`; `seed` is then unused).
    row_groups: tuple[tuple[int, int], ...] | None = None

    @property
    def rows(self) -> int:
        """Batch rows: one per text prompt (stem sets), else one per variation."""
        return len(self.prompts) if self.prompts is not None else self.variations


@dataclass(frozen=True)
class EngineInfo:
    name: str
    device: str
    dtype: str
    sample_rate: int
    channels: int
    frame_rate: int
    max_seconds: float
    supports_melody: bool
    is_random: bool
    #: The decode path: `stock` (transformers' generate) or a `FastMusicgenEngine` mode.
    decoder: str = "stock"


@dataclass(frozen=True)
class ConditioningCheck:
    """What the start-up self-check (`sidecar.engine.selfcheck`) measured on one engine."""

    model: str
    decoder: str
    transformers_version: str
    #: Relative change of the first step's logits when only the text changes.
    text_change: float
    #: The same for the melody (chroma); None for a model without melody conditioning.
    melody_change: float | None
    #: The conditions that did not change the logits: "text", "melody".
    ignored: tuple[str, ...]
    #: One line naming the model, the transformers version and the fix ('' when none ignored).
    message: str

    @property
    def ok(self) -> bool:
        return not self.ignored

    def summary(self) -> str:
        """The numbers, for logs and `sidecar doctor`."""
        melody = "" if self.melody_change is None else f", melody {self.melody_change:.3g}"
        return f"logits change with the text {self.text_change:.3g}{melody}"


class Engine(abc.ABC):
    """A loaded model. `generate` returns only the new audio, never the re-synthesized prompt."""

    #: What the start-up self-check found (`sidecar.engine.selfcheck`); None until it ran.
    conditioning: ConditioningCheck | None = None

    @property
    @abc.abstractmethod
    def info(self) -> EngineInfo: ...

    @abc.abstractmethod
    def generate(
        self, spec: GenerationSpec, progress: ProgressCallback | None = None
    ) -> np.ndarray:
        """Return float32 `(batch, channels, samples)`, `samples == round(duration * rate)`.

        `progress` is called after each decoding step; an exception it raises (a cancel)
        propagates out of `generate` and leaves the engine usable.
        """

    def first_step_logits(self, spec: GenerationSpec) -> np.ndarray:
        """The scores the first new token of `spec` is chosen from (guidance applied), float32
        `(batch, codebooks, vocab)`: one forward pass, no decoding. For the self-check; an
        engine that cannot tell raises NotImplementedError."""
        raise NotImplementedError(f"{type(self).__name__} does not report its logits")

    def refuse_ignored_conditions(self, spec: GenerationSpec) -> None:
        """Raise `ModelError` (the self-check's message) if `spec` uses a condition that the
        self-check found this model ignores: never a silently unconditioned take."""
        check = self.conditioning
        if check is None or not check.ignored:
            return
        used = {"text": bool(spec.prompt or spec.prompts), "melody": spec.melody is not None}
        if any(used.get(name, False) for name in check.ignored):
            raise ModelError(check.message)

    def warm_up(self) -> None:
        """Run one short generation of every mode so the first request pays no start-up cost."""
        self.generate(GenerationSpec(duration_seconds=0.2, prompt="warm up", seed=0))
        rate = self.info.sample_rate
        prompt = np.zeros((self.info.channels, rate // 2), dtype=np.float32)
        prompt[:, :: rate // 8] = 0.5
        if self.info.supports_melody:  # a melody model takes a clip as its melody
            self.generate(GenerationSpec(duration_seconds=0.2, melody=prompt, seed=0))
        else:
            self.generate(GenerationSpec(duration_seconds=0.2, audio_prompt=prompt, seed=0))

    @property
    def sample_rate(self) -> int:
        return self.info.sample_rate

    @property
    def supports_row_groups(self) -> bool:
        """Whether `GenerationSpec.row_groups` is honoured (requests batched across callers)."""
        return False
