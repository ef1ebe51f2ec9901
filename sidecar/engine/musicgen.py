"""③ MusicGen through Hugging Face transformers: load once, warm, generate in batches."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import (
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
)

from sidecar.engine.base import Engine, EngineInfo, GenerationSpec, ProgressCallback
from sidecar.engine.precision import decoder_dtype, place_model
from sidecar.engine.sampling import guide
from sidecar.errors import ModelError, ModelLoadError, OutOfMemoryError, RequestError

__all__ = ["WINDOW_SECONDS", "MusicgenEngine", "pick_device"]

log = logging.getLogger(__name__)

#: MusicGen was trained on 30 s; prompt + continuation must fit in it.
WINDOW_SECONDS = 30.0
#: The delay pattern adds (num_codebooks - 1) steps; transformers adds the start token.
_EXTRA_STEPS = 3


def pick_device(requested: str | None = None) -> str:
    """`requested` if given (and usable here), else (or for "auto") the best available:
    cuda > mps > cpu.

    Raises `ModelLoadError` naming `--device` for a device this machine or this torch build
    does not have.
    """
    if requested and requested != "auto":
        kind = requested.split(":", 1)[0]
        mps_backend = getattr(torch.backends, "mps", None)
        usable = {
            "cpu": True,
            "cuda": torch.cuda.is_available(),
            "mps": mps_backend is not None and mps_backend.is_available(),
        }
        if not usable.get(kind, False):
            have = ", ".join(name for name, ok in usable.items() if ok)
            raise ModelLoadError(
                f"--device: {requested!r} is not available here (this torch "
                f"{torch.__version__} can use: {have}); use --device auto or one of those"
            )
        return requested
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


class _FirstLogits(Exception):
    """Ends `generate` at its first step, once `_LogitsTrap` holds that step's logits."""


class _LogitsTrap(LogitsProcessor):
    """Keeps the first step's logits (every row, guidance's null half too), then stops."""

    def __init__(self) -> None:
        self.logits: torch.Tensor | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> Any:
        self.logits = scores.detach().float().clone()
        raise _FirstLogits


class _StepHook(StoppingCriteria):
    """Counts decoding steps and calls the progress callback; the callback may raise to cancel."""

    def __init__(self, total_steps: int, progress: ProgressCallback | None) -> None:
        self.total_steps = total_steps
        self.steps = 0
        self.progress = progress

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any
    ) -> Any:
        self.steps += 1
        if self.progress is not None:
            self.progress(min(self.steps, self.total_steps), self.total_steps)
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


class MusicgenEngine(Engine):
    """A loaded `MusicgenForConditionalGeneration` (or Melody) and its tokenizer."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        name: str,
        device: str,
        is_random: bool = False,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.device = torch.device(device)
        self._dtype = decoder_dtype(model)
        self._codec_dtype = next(model.audio_encoder.parameters()).dtype
        codec = model.config.audio_encoder
        decoder = model.config.decoder
        self._frame_rate = int(codec.frame_rate)
        self._hop = int(codec.sampling_rate) // self._frame_rate
        self._info = EngineInfo(
            name=name,
            device=str(self.device),
            dtype=str(self._dtype).removeprefix("torch."),
            sample_rate=int(codec.sampling_rate),
            channels=int(getattr(decoder, "audio_channels", 1)),
            frame_rate=self._frame_rate,
            max_seconds=WINDOW_SECONDS,
            supports_melody=model.config.model_type == "musicgen_melody",
            is_random=is_random,
        )

    @property
    def info(self) -> EngineInfo:
        return self._info

    # ---------------------------------------------------------------- loading

    @classmethod
    def load(cls, model_name: str, device: str | None = None) -> MusicgenEngine:
        """Load `model_name` (hub id, local `save_pretrained` directory, or "tiny")."""
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        target = pick_device(device)
        random_size = (
            model_name.removeprefix("random-") if model_name.startswith("random-") else None
        )
        if model_name in ("tiny", "tiny-melody") or random_size is not None:
            from sidecar.engine.tiny import build_random_model, build_tiny_model

            if random_size is not None:
                model, tokenizer = build_random_model(random_size)
            else:
                model, tokenizer = build_tiny_model(melody=model_name == "tiny-melody")
            model = place_model(model, target)
            engine = cls(model, tokenizer, model_name, target, is_random=True)
            log.warning(
                "loaded %s, a RANDOM-WEIGHT MusicGen on %s: it makes noise, for tests, "
                "benchmarks and the offline demo only",
                model_name,
                target,
            )
            return engine
        return cls(*_load_pretrained(model_name, target), model_name, target)

    # ---------------------------------------------------------------- generation

    def _encode_text(self, prompts: list[str]) -> dict[str, torch.Tensor]:
        enc = self.tokenizer(prompts, padding=True, return_tensors="pt")
        return {
            "input_ids": enc["input_ids"].to(self.device),
            "attention_mask": enc["attention_mask"].to(self.device),
        }

    def _prompt_tensor(self, audio: np.ndarray, batch: int) -> torch.Tensor:
        """Prompt as (batch, channels, samples), trimmed at the head to whole codec frames.

        `audio` is one prompt `(channels, samples)` shared by every row, or one per row
        `(batch, channels, samples)` (stem sets and long continuations re-prompt each row
        with its own tail).
        """
        channels = self._info.channels
        rows = audio if audio.ndim == 3 else audio[None]
        if rows.ndim != 3 or rows.shape[1] not in (1, channels) or rows.shape[0] not in (1, batch):
            raise RequestError(
                f"audio_prompt: shape {audio.shape} is not (channels, samples) or "
                f"({batch}, channels, samples) with channels 1 or {channels}"
            )
        if rows.shape[1] != channels:
            rows = np.repeat(rows, channels, axis=1)
        usable = (rows.shape[2] // self._hop) * self._hop
        if usable == 0:
            raise RequestError(f"audio_prompt: shorter than one codec frame ({self._hop} samples)")
        tensor = torch.from_numpy(np.ascontiguousarray(rows[:, :, rows.shape[2] - usable :]))
        return tensor.expand(batch, -1, -1).to(self.device, self._codec_dtype)

    def build_inputs(self, spec: GenerationSpec) -> tuple[dict[str, Any], int]:
        """The keyword inputs for `generate` and the number of prompt frames to cut afterwards."""
        batch = spec.variations if spec.prompts is None else len(spec.prompts)
        texts: list[str] | None
        if spec.prompts is not None:
            texts = list(spec.prompts)
        elif spec.prompt:
            texts = [spec.prompt] * batch
        else:
            texts = None
        inputs: dict[str, Any]
        if texts is None and self._info.supports_melody:
            # MusicgenMelody has no unconditional inputs: the empty text stands in (T5 sees
            # only its end token), so the melody (or nothing) conditions the take.
            texts = [""] * batch
        if texts is not None:
            inputs = self._encode_text(texts)
        else:
            inputs = dict(self.model.get_unconditional_inputs(num_samples=batch))
            inputs.pop("guidance_scale", None)
        prompt_frames = 0
        if spec.audio_prompt is not None and self._info.supports_melody:
            raise RequestError(
                f"clip: the melody model '{self._info.name}' cannot continue audio; it takes "
                "the clip as a melody (its chroma) instead",
                "clip",
            )
        if spec.audio_prompt is not None:
            values = self._prompt_tensor(spec.audio_prompt, batch)
            prompt_frames = values.shape[-1] // self._hop
            inputs["input_values"] = values
            inputs["padding_mask"] = torch.ones(
                values.shape[0], values.shape[-1], dtype=torch.long, device=self.device
            )
        if spec.melody is not None:
            if not self._info.supports_melody:
                raise RequestError(
                    f"melody: the loaded model '{self._info.name}' is not a melody model; "
                    "load facebook/musicgen-melody"
                )
            from sidecar.engine.chroma import melody_features

            inputs["input_features"] = melody_features(
                spec.melody, self._info.sample_rate, batch
            ).to(self.device, self._dtype)
        return inputs, prompt_frames

    def sampling_kwargs(self, spec: GenerationSpec) -> dict[str, Any]:
        greedy = spec.temperature == 0.0
        # Guidance contrasts the text condition with none: without text there is nothing to
        # guide towards (and transformers' null inputs are not doubled for it).
        has_text = bool(spec.prompts) or bool(spec.prompt)
        guided = has_text and spec.guidance_scale > 1.0
        kwargs: dict[str, Any] = {
            "do_sample": not greedy,
            "guidance_scale": spec.guidance_scale if guided else None,
        }
        if not greedy:
            kwargs["temperature"] = spec.temperature
            kwargs["top_k"] = spec.top_k if spec.top_k > 0 else None
            kwargs["top_p"] = spec.top_p if 0.0 < spec.top_p < 1.0 else None
        return kwargs

    def frames_for(self, duration_seconds: float) -> int:
        """Codec frames for `duration_seconds` (whole frames, rounding up; a float error such
        as 9.3 × 50 = 465.00000000000006 is not a frame more)."""
        return max(1, math.ceil(round(duration_seconds * self._frame_rate, 6)))

    def generate(
        self, spec: GenerationSpec, progress: ProgressCallback | None = None
    ) -> np.ndarray:
        self.refuse_ignored_conditions(spec)
        steps = self.frames_for(spec.duration_seconds) + _EXTRA_STEPS
        audio, prompt_frames = self._generate(spec, _StepHook(steps, progress))
        return self.cut(audio, prompt_frames, spec.duration_seconds)

    def first_step_logits(self, spec: GenerationSpec) -> np.ndarray:
        trap = _LogitsTrap()
        try:
            self._generate(spec, _StepHook(1, None), trap)
        except _FirstLogits:
            pass
        if trap.logits is None:
            raise ModelError("generate returned before its first step")
        scores = guide(trap.logits, self.sampling_kwargs(spec)["guidance_scale"])
        k = int(self.model.decoder.num_codebooks)
        return scores.reshape(-1, k, scores.shape[-1]).cpu().numpy()

    def _generate(
        self,
        spec: GenerationSpec,
        hook: StoppingCriteria,
        trap: LogitsProcessor | None = None,
    ) -> tuple[torch.Tensor, int]:
        """transformers' generate for `spec` (the audio, the prompt's frames): `hook` sees
        every step, `trap` (a logits processor) the raw logits of each."""
        inputs, prompt_frames = self.build_inputs(spec)
        new_frames = self.frames_for(spec.duration_seconds)
        max_frames = int(WINDOW_SECONDS * self._frame_rate)
        if prompt_frames + new_frames > max_frames:
            raise RequestError(
                f"seconds: prompt ({prompt_frames / self._frame_rate:.2f} s) + continuation "
                f"({spec.duration_seconds:.2f} s) exceed the model's {WINDOW_SECONDS:.0f} s window"
            )
        torch.manual_seed(spec.seed)
        try:
            with torch.inference_mode():
                audio = self.model.generate(
                    **inputs,
                    max_new_tokens=new_frames + _EXTRA_STEPS,
                    stopping_criteria=StoppingCriteriaList([hook]),
                    logits_processor=LogitsProcessorList([trap] if trap is not None else []),
                    **self.sampling_kwargs(spec),
                )
        except torch.OutOfMemoryError as e:
            _release_memory()
            raise OutOfMemoryError(
                f"out of memory on {self.device} generating {spec.duration_seconds:.1f} s "
                f"for a batch of {spec.variations if spec.prompts is None else len(spec.prompts)}"
            ) from e
        return audio, prompt_frames

    def cut(self, audio: torch.Tensor, prompt_frames: int, duration_seconds: float) -> np.ndarray:
        """Drop the re-synthesized prompt and return exactly `duration_seconds` of new audio."""
        start = prompt_frames * self._hop
        wanted = int(round(duration_seconds * self._info.sample_rate))
        out = audio[:, :, start : start + wanted].float().cpu().numpy()
        if out.shape[-1] < wanted:
            raise ModelError(
                f"the model returned {out.shape[-1]} samples after the prompt; expected {wanted}"
            )
        return np.ascontiguousarray(out, dtype=np.float32)


def _release_memory() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or Path(name).expanduser().exists()


def _load_pretrained(model_name: str, device: str) -> tuple[Any, Any]:
    """Load weights and tokenizer; every failure becomes one `ModelLoadError` that says the fix."""
    from transformers import AutoConfig, AutoTokenizer

    source: str = model_name
    if _looks_like_path(model_name):
        path = Path(model_name).expanduser()
        if not path.is_dir():
            raise ModelLoadError(
                f"cannot load model '{model_name}': no directory at {path}. Pass a directory "
                "saved with save_pretrained, a hub id such as facebook/musicgen-small, or "
                "--model tiny for the offline test model."
            )
        source = str(path)
        where = f"the local directory {path}"
    else:
        from huggingface_hub.constants import HF_HUB_CACHE

        where = f"the Hugging Face cache ({HF_HUB_CACHE}) and the hub"
    try:
        config = AutoConfig.from_pretrained(source)
        if config.model_type == "musicgen_melody":
            from transformers import MusicgenMelodyForConditionalGeneration as model_cls
        elif config.model_type == "musicgen":
            from transformers import MusicgenForConditionalGeneration as model_cls  # type: ignore[assignment]
        else:
            raise ModelLoadError(
                f"cannot load model '{model_name}': its config is a '{config.model_type}', "
                "not a MusicGen model"
            )
        # in fp32: `place_model` halves only the decoder (T5 and EnCodec stay fp32)
        model = model_cls.from_pretrained(source, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(source)
    except ModelLoadError:
        raise
    except Exception as e:
        raise ModelLoadError(
            f"cannot load model '{model_name}' (looked in {where}): {type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}\n"
            f"  Fix: pre-download it while online with `hf download {model_name}`"
            " (or `huggingface-cli download`),\n"
            "       or pass a local directory saved with save_pretrained: --model /path/to/dir,\n"
            "       or run offline with the random test model: --model tiny"
        ) from e
    return place_model(model, device), tokenizer
