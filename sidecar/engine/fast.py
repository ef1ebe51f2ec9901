"""③ A fast MusicGen decode loop behind the engine interface: static cache, cross K/V once."""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import deque
from typing import Any

import numpy as np
import torch

from sidecar.engine.base import GenerationSpec, ProgressCallback
from sidecar.engine.buffers import SOURCE_BUCKET, DecodeBuffers
from sidecar.engine.codec import Codec
from sidecar.engine.conditions import build_conditions
from sidecar.engine.decode_modes import DECODE_MODES, DecodeMode, DecodeSettings
from sidecar.engine.decode_request import (
    DecodeRequest,
    GeneratedCodes,
    Prefill,
    cross_mask,
    padded_cross_mask,
    sampling_plan,
)
from sidecar.engine.delay import place_column, undelay
from sidecar.engine.fast_decoder import DecoderWeights, pack_decoder
from sidecar.engine.kv_cache import StaticKVCache
from sidecar.engine.memory import release_replaced, tensor_bytes, tensors_in
from sidecar.engine.musicgen import WINDOW_SECONDS, MusicgenEngine
from sidecar.engine.sampling import (
    Generators,
    SamplingPlan,
    choose_tokens,
    guide,
    seeded_generators,
)
from sidecar.engine.static_step import StaticStepper, StepKey
from sidecar.engine.stream import AudioCallback, WindowedAudio
from sidecar.errors import OutOfMemoryError, RequestError

__all__ = ["DECODE_MODES", "DecodeMode", "DecodeSettings", "FastMusicgenEngine", "GeneratedCodes"]

log = logging.getLogger(__name__)

#: On GPU the host may queue at most this many steps ahead of the device, so that progress
#: reports track the device and a cancel takes effect within a few steps.
_RUNAHEAD_STEPS = 8


class FastMusicgenEngine(MusicgenEngine):
    """`MusicgenEngine` with its own decode loop; `mode` trades exactness for speed.

    - `exact`: the model's weights and kernels, a static KV cache, cross-attention keys/values
      computed once, the delay pattern applied per column: token-identical to stock `generate`.
    - `fp32`: full precision with fused projections; CPU: oneDNN-prepacked weights (rounding
      differs from stock in the last bits); CUDA: the model's dtype through CUDA graphs.
    - `fast`: CPU: bf16 weights prepacked for oneDNN, q/k/v and the four heads fused;
      CUDA: fp16, fused, every decode step replayed from a CUDA graph.
    - `int8`: CPU: weight-only int8 linears (bf16 activations); CUDA: same as `fast`.

    Melody models run in the same loop in every mode: their condition (chroma, then text) is
    a prefix of the sequence in the cache (`sidecar.engine.conditions`), not cross-attended.
    """

    #: `generate(..., on_audio=...)` publishes partial audio, melody models' too.
    streams_audio = True

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        name: str,
        device: str,
        is_random: bool = False,
        mode: DecodeMode = "fast",
    ) -> None:
        super().__init__(model, tokenizer, name, device, is_random)
        self.settings = DecodeSettings.choose(mode, self.device, self._dtype)
        self._info = dataclasses.replace(
            self._info,
            dtype=f"{str(self.settings.weight_dtype).removeprefix('torch.')}"
            f"/{self.settings.linear}/{mode}",
            decoder=self.settings.mode,
        )
        self._weights: DecoderWeights | None = None
        #: Caches per row count (batch × CFG) and captured steps, reused across requests.
        self._buffers = DecodeBuffers(self.device)
        rows_apart = self.device.type == "cpu" and self.settings.mode != "exact"
        self.codec = Codec(model.audio_encoder, self._info.channels, self.device, rows_apart)
        #: The codes of the last `generate` (prompt frames included), for comparisons.
        self.last_codes: torch.Tensor | None = None

    @classmethod
    def load(
        cls, model_name: str, device: str | None = None, mode: DecodeMode = "fast"
    ) -> FastMusicgenEngine:
        base = MusicgenEngine.load(model_name, device)
        return cls(
            base.model,
            base.tokenizer,
            base.info.name,
            str(base.device),
            base.info.is_random,
            mode=mode,
        )

    def extra_memory_bytes(self) -> int:
        """Bytes held beside the model's own tensors: packed weights (`exact` packs none) and
        the KV caches and captured steps kept for the next request."""
        own = [*self.model.parameters(), *self.model.buffers()]
        held = [*tensors_in(self._weights), *self._buffers.tensors()]
        return tensor_bytes(held, shared_with=own)

    def release_replaced_weights(self) -> int:
        """Pack the decoder now and free the model's weights that the packing copied (bytes).

        For an engine that owns its model (`load_engine`): on CPU, `fp32`, `fast` and `int8`
        decode from packed copies, and the originals (1.4 GB for small) only held memory.
        Packed here, each layer's originals go as soon as its copies exist.
        """
        before = tensor_bytes(self.model.decoder.parameters())
        if self._weights is None:
            self._weights = self._pack(free_originals=True)
        release_replaced(self.model.decoder, tensors_in(self._weights))
        freed = before - tensor_bytes(self.model.decoder.parameters())
        log.info("freed %.0f MB of decoder weights replaced by packed copies", freed / 1e6)
        return freed

    @property
    def mode(self) -> DecodeMode:
        return self.settings.mode

    @property
    def weights(self) -> DecoderWeights:
        """The packed decoder, built on first use (exact mode shares the model's tensors)."""
        if self._weights is None:
            self._weights = self._pack(free_originals=False)
        return self._weights

    def _pack(self, free_originals: bool) -> DecoderWeights:
        s = self.settings
        return pack_decoder(
            self.model.decoder, s.linear, s.weight_dtype, s.act_dtype, s.fuse, 2, free_originals
        )

    # ---------------------------------------------------------------- public API

    def generate(
        self,
        spec: GenerationSpec,
        progress: ProgressCallback | None = None,
        on_audio: AudioCallback | None = None,
        audio_every_seconds: float = 2.0,
    ) -> np.ndarray:
        """As `Engine.generate`; with `on_audio`, new audio also arrives in chunks while decoding.

        `on_audio(chunk, seconds_ready)` gets float32 `(batch, channels, samples)` of new audio
        (prompt excluded) about every `audio_every_seconds`, decoded by windows; the returned
        array is one full decode of the final codes (identical to stock in exact mode).
        """
        self.refuse_ignored_conditions(spec)
        try:
            with torch.inference_mode():
                result = self.generate_codes(spec, progress, on_audio, audio_every_seconds)
                self.last_codes = result.codes
                audio = self.decode_codes(result.codes)
        except torch.OutOfMemoryError as e:
            self._buffers.clear()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            raise OutOfMemoryError(
                f"out of memory on {self.device} generating {spec.duration_seconds:.1f} s"
            ) from e
        return self.cut(audio, result.prompt_frames, spec.duration_seconds)

    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """EnCodec `(batch, codebooks, frames)` → audio `(batch, channels, samples)`, as stock."""
        return self.codec.decode(codes)

    def generate_codes(
        self,
        spec: GenerationSpec,
        progress: ProgressCallback | None = None,
        on_audio: AudioCallback | None = None,
        audio_every_seconds: float = 2.0,
    ) -> GeneratedCodes:
        """Decode the codes for `spec` (prompt frames included); no audio synthesis at the end."""
        with torch.inference_mode():
            request = self._prepare(spec)
            return self._decode(request, spec, progress, on_audio, audio_every_seconds)

    # ---------------------------------------------------------------- request set-up

    def _prepare(self, spec: GenerationSpec) -> DecodeRequest:
        inputs, prompt_frames = self.build_inputs(spec)
        new_frames = self.frames_for(spec.duration_seconds)
        if prompt_frames + new_frames > int(WINDOW_SECONDS * self._frame_rate):
            raise RequestError(
                f"seconds: prompt ({prompt_frames / self._frame_rate:.2f} s) + continuation "
                f"({spec.duration_seconds:.2f} s) exceed the model's {WINDOW_SECONDS:.0f} s window"
            )
        has_text = "input_ids" in inputs
        plan = sampling_plan(self.sampling_kwargs(spec), has_text)
        guided = plan.guidance_scale is not None
        conditions = build_conditions(self.model, inputs, guided)
        rows = conditions.mask.shape[0]
        batch = rows // (2 if guided else 1)
        decoder_ids = self._decoder_ids(inputs, batch)
        steps = new_frames + (self._channel_codebooks - 1)
        positions = conditions.prefix_length + decoder_ids.shape[-1] + steps
        available = int(self.model.decoder.config.max_position_embeddings)
        if positions > available:
            raise RequestError(
                f"prompt: its {conditions.states.shape[1] - int(self.model.config.chroma_length)}"
                f" text tokens, the melody's {self.model.config.chroma_length} chroma frames and "
                f"{steps} decoding steps need {positions} positions; the decoder has {available}"
                ": shorten the prompt or the take",
                "prompt",
            )
        return DecodeRequest(
            batch=batch,
            rows=rows,
            plan=plan,
            encoder_states=conditions.states,
            encoder_mask=conditions.mask,
            decoder_ids=decoder_ids,
            prompt_frames=prompt_frames,
            steps=steps,
            prefix_length=conditions.prefix_length,
        )

    @property
    def _channel_codebooks(self) -> int:
        k = int(self.model.decoder.num_codebooks)
        return k // 2 if self._info.channels == 2 else k

    @property
    def _start_token(self) -> int:
        return int(self.model.generation_config.decoder_start_token_id)

    def _decoder_ids(self, inputs: dict[str, Any], batch: int) -> torch.Tensor:
        """`(batch * codebooks, 1 + prompt_frames)`: the start token, then the prompt's codes."""
        k = int(self.model.decoder.num_codebooks)
        start = torch.full((batch * k, 1), self._start_token, dtype=torch.long, device=self.device)
        values = inputs.get("input_values")
        if values is None:
            return start
        codes = self.codec.encode_prompt(values)
        return torch.cat([start, codes[0].reshape(batch * k, -1)], dim=-1)

    # ---------------------------------------------------------------- decoding

    def _decode(
        self,
        request: DecodeRequest,
        spec: GenerationSpec,
        progress: ProgressCallback | None,
        on_audio: AudioCallback | None,
        audio_every_seconds: float,
    ) -> GeneratedCodes:
        w = self.weights
        k = w.num_codebooks
        lm = self.model.decoder
        offset = request.prefix_length
        generator = seeded_generators(spec, self.device, self.weights.num_codebooks)
        start = self._prefill(request)
        sequence, pattern, first, cache = start.sequence, start.pattern, start.first, start.cache
        total_len = pattern.shape[-1]
        chosen = self._choose(start.hidden, request.plan, generator)
        place_column(sequence, pattern, first, chosen)

        stream = None
        if on_audio is not None:
            total = int(round(spec.duration_seconds * self._info.sample_rate))
            stream = WindowedAudio(
                self.decode_codes,
                self._hop,
                self._info.sample_rate,
                request.prompt_frames,
                total,
                on_audio,
            )
        every = max(1, round(audio_every_seconds * self._frame_rate))
        delivered_at = request.prompt_frames
        in_flight: deque[torch.cuda.Event] = deque()
        stepper = None
        if self.settings.static_steps and request.steps > 1 and spec.row_groups is None:
            stepper = self._stepper(request, cache)
            stepper.load(
                sequence[:, first].reshape(request.batch, k, 1),
                first,
                pattern,
                sequence,
                start.cross,
                padded_cross_mask(request, stepper.key.source_length)
                if w.cross_attends
                else stepper.cross_mask,
                seed=spec.seed + 1,
                offset=offset,
            )
        else:
            step_mask = (
                cross_mask(lm.config, request, 1, w.hidden_size, w.act_dtype)
                if w.cross_attends
                else None
            )
        for step in range(1, request.steps + 1):
            if progress is not None:
                progress(step, request.steps)
            position = first + step - 1  # holds the token chosen by this step
            if stream is not None:
                ready = position - (self._channel_codebooks - 1)
                if ready - delivered_at >= every:
                    self._push(
                        stream,
                        stepper.sequence if stepper else sequence,
                        pattern,
                        ready,
                        request,
                        final=False,
                    )
                    delivered_at = ready
            if step == request.steps:
                break
            if stepper is not None:
                stepper.step()
            else:
                tokens = sequence[:, position].reshape(request.batch, k, 1)
                at = offset + position  # in the cache, behind the prefix
                hidden = w.forward(self._embed(tokens, at, request), cache, at, step_mask)
                place_column(
                    sequence, pattern, position + 1, self._choose(hidden, request.plan, generator)
                )
            if self.device.type == "cuda":
                event = torch.cuda.Event()
                event.record()
                in_flight.append(event)
                if len(in_flight) > _RUNAHEAD_STEPS:
                    in_flight.popleft().synchronize()
        if stepper is not None:
            sequence = stepper.sequence[:, :total_len].clone()
        codes = self._undelay(sequence, total_len, request.batch)
        if stream is not None:
            stream.push(codes, codes.shape[-1], final=True)
        return GeneratedCodes(codes, request.prompt_frames, request.steps)

    def _prefill(self, request: DecodeRequest) -> Prefill:
        """Run every known position at once: the condition's prefix (Melody), the start token
        and the prompt's codes; the hidden states give the first new token."""
        w = self.weights
        k = w.num_codebooks
        lm = self.model.decoder
        total_len = request.decoder_ids.shape[-1] + request.steps
        ids, pattern = lm.build_delay_pattern_mask(
            request.decoder_ids, pad_token_id=self._start_token, max_length=total_len
        )
        first = ids.shape[-1]  # the first position to generate (1 + prompt frames)
        offset = request.prefix_length
        cache = self._buffers.cache(w, request.rows, offset + total_len)
        mask = None
        if w.cross_attends:
            keys, values = w.cross_kv(request.encoder_states.to(w.act_dtype))
            mask = cross_mask(lm.config, request, first, w.hidden_size, w.act_dtype)
        else:
            keys, values = [], []
        cache.set_cross(keys, values)
        sequence = lm.apply_delay_pattern_mask(ids, pattern)
        sequence = torch.cat([sequence, pattern[:, first:]], dim=-1)
        tokens = sequence[:, :first].reshape(request.batch, k, first)
        embeds = self._embed(tokens, offset, request)
        if offset:
            prefix = request.encoder_states.to(w.act_dtype) + w.positions[:offset]
            embeds = torch.cat([prefix, embeds], dim=1)
        hidden = w.forward(embeds, cache, 0, mask)
        return Prefill(hidden, sequence, pattern, first, cache, (keys, values))

    def first_step_logits(self, spec: GenerationSpec) -> np.ndarray:
        with torch.inference_mode():
            request = self._prepare(spec)
            hidden = self._prefill(request).hidden
            logits = self.weights.logits(hidden).reshape(-1, self.weights.vocab_size)
            guided = guide(logits, request.plan.guidance_scale)
        return guided.reshape(request.batch, self.weights.num_codebooks, -1).cpu().numpy()

    def _embed(self, tokens: torch.Tensor, start: int, request: DecodeRequest) -> torch.Tensor:
        n = tokens.shape[-1]
        embeds = self.weights.embed(tokens, self.weights.positions[start : start + n])
        return torch.cat([embeds, embeds], dim=0) if request.rows != request.batch else embeds

    def _choose(
        self, hidden: torch.Tensor, plan: SamplingPlan, generator: Generators
    ) -> torch.Tensor:
        logits = self.weights.logits(hidden).reshape(-1, self.weights.vocab_size)
        return choose_tokens(guide(logits, plan.guidance_scale), plan, generator)

    @property
    def supports_row_groups(self) -> bool:
        return True

    def _undelay(self, sequence: torch.Tensor, total_len: int, batch: int) -> torch.Tensor:
        frames = total_len - self._channel_codebooks
        stereo = self._info.channels == 2
        return undelay(sequence, frames, batch, self.weights.num_codebooks, stereo)

    def _stepper(self, request: DecodeRequest, cache: StaticKVCache) -> StaticStepper:
        source = 0  # a prefix (Melody) is in the cache: nothing to cross-attend
        if self.weights.cross_attends:
            source = SOURCE_BUCKET * math.ceil(request.encoder_states.shape[1] / SOURCE_BUCKET)
        key = StepKey(request.batch, request.rows, cache.shape.max_positions, source, request.plan)
        try:
            return self._buffers.stepper(self.weights, cache, key, self.settings.cuda_graphs)
        except torch.OutOfMemoryError:
            raise
        except RuntimeError as e:
            if not self.settings.cuda_graphs:
                raise
            failure = e
        # A driver or torch build that cannot capture this step: the same step, run eagerly
        # (slower, same tokens), for this and every later request; said once, and in `info`.
        log.error("CUDA graph capture failed, decoding without graphs from now on: %s", failure)
        self.settings = dataclasses.replace(self.settings, cuda_graphs=False)
        self._info = dataclasses.replace(self._info, dtype=f"{self._info.dtype}/no-graphs")
        return self._buffers.stepper(self.weights, cache, key, False)

    def _push(
        self,
        stream: WindowedAudio,
        sequence: torch.Tensor,
        pattern: torch.Tensor,
        ready: int,
        request: DecodeRequest,
        final: bool,
    ) -> None:
        total_len = pattern.shape[-1]
        codes = self._undelay(sequence[:, :total_len], total_len, request.batch)
        stream.push(codes, ready, final=final)
