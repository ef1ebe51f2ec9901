"""③ One decoding step with fixed shapes and device-side state, replayed as a CUDA graph."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from sidecar.engine.fast_decoder import DecoderWeights
from sidecar.engine.kv_cache import StaticKVCache
from sidecar.engine.sampling import SamplingPlan, choose_tokens, guide

__all__ = ["StaticStepper", "StepKey"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepKey:
    """Everything a captured step depends on; a new key means a new graph."""

    batch: int
    rows: int
    max_positions: int
    source_length: int
    plan: SamplingPlan


class StaticStepper:
    """Owns the static buffers of one `StepKey` and advances decoding by one position per call.

    State lives on the device: the current input tokens, the position, the delay-pattern table
    and the sequence being written. `step()` reads and writes only these buffers, so it can be
    captured once (`capture=True`, CUDA) and replayed with no host work and no host↔device sync.
    On CPU the same code runs eagerly, which is how its correctness is tested.
    """

    def __init__(
        self,
        weights: DecoderWeights,
        cache: StaticKVCache,
        key: StepKey,
        device: torch.device,
        capture: bool,
    ) -> None:
        self.weights = weights
        self.cache = cache
        self.key = key
        #: Owned by the step (a graph reads its state): reseed it per request with `load`.
        self.generator = torch.Generator(device=device)
        k = weights.num_codebooks
        self.tokens = torch.zeros((key.batch, k, 1), dtype=torch.long, device=device)
        #: The sequence position of `tokens` (the delay pattern's column).
        self.position = torch.zeros((1,), dtype=torch.long, device=device)
        #: Positions a conditioning prefix holds in front of the codes (Melody; 0 otherwise):
        #: the cache and the position embeddings are at `position + offset`.
        self.offset = torch.zeros((1,), dtype=torch.long, device=device)
        self.pattern = torch.zeros(
            (key.batch * k, key.max_positions), dtype=torch.long, device=device
        )
        self.sequence = torch.zeros_like(self.pattern)
        self.cross_mask = torch.ones(
            (key.rows, 1, 1, key.source_length), dtype=torch.bool, device=device
        )
        self._arange = torch.arange(key.max_positions, device=device)
        dims = (key.rows, weights.num_heads, key.source_length, weights.head_dim)
        cross_layers = len(weights.layers) if weights.cross_attends else 0
        self.cross_keys = [
            torch.zeros(dims, dtype=weights.act_dtype, device=device) for _ in range(cross_layers)
        ]
        self.cross_values = [torch.zeros_like(t) for t in self.cross_keys]
        cache.set_cross(self.cross_keys, self.cross_values)
        self._graph: torch.cuda.CUDAGraph | None = None
        if capture:
            self._capture()

    def load(
        self,
        tokens: torch.Tensor,
        position: int,
        pattern: torch.Tensor,
        sequence: torch.Tensor,
        cross: tuple[list[torch.Tensor], list[torch.Tensor]],
        cross_mask: torch.Tensor,
        seed: int,
        offset: int = 0,
    ) -> None:
        """Copy a request in: tokens at `position`, pattern, sequence, cross K/V (padded), and
        the length of the prefix already in the cache (`offset`)."""
        for dst, src in zip(self.cross_keys + self.cross_values, cross[0] + cross[1], strict=True):
            dst.zero_()
            dst[:, :, : src.shape[2]].copy_(src)
        self.cache.set_cross(self.cross_keys, self.cross_values)
        self.generator.manual_seed(seed)
        self.tokens.copy_(tokens.view_as(self.tokens))
        self.position.fill_(position)
        self.offset.fill_(offset)
        self.pattern.fill_(-1)
        self.pattern[:, : pattern.shape[1]].copy_(pattern)
        self.sequence.zero_()
        self.sequence[:, : sequence.shape[1]].copy_(sequence)
        self.cross_mask.copy_(cross_mask)

    def _body(self) -> None:
        w = self.weights
        pos = self.position
        at = pos + self.offset  # where this step sits in the cache and the positions
        embeds = w.embed(self.tokens, w.positions.index_select(0, at))
        if self.key.rows != self.key.batch:
            embeds = torch.cat([embeds, embeds], dim=0)
        self_mask = (self._arange <= at).view(1, 1, 1, -1)
        hidden = w.forward_static(embeds, self.cache, at, self_mask, self.cross_mask)
        logits = w.logits(hidden).reshape(-1, w.vocab_size)
        chosen = choose_tokens(
            guide(logits, self.key.plan.guidance_scale), self.key.plan, self.generator
        )
        nxt = pos + 1
        column = self.pattern.index_select(1, nxt)
        value = torch.where(column == -1, chosen.unsqueeze(1), column)
        self.sequence.index_copy_(1, nxt, value)
        self.tokens.copy_(value.view_as(self.tokens))
        self.position.add_(1)

    def _warm_up(self) -> None:
        """Run the step twice outside any graph (allocator, kernel selection).

        It writes K/V at its position, so it runs at the end of the cache, away from positions
        a prefill may already hold (every position is written before it is read).
        """
        self.position.fill_(self.key.max_positions - 4)
        self.offset.zero_()
        for _ in range(2):
            self._body()

    def _capture(self) -> None:
        graph = torch.cuda.CUDAGraph()
        if hasattr(graph, "register_generator_state"):
            graph.register_generator_state(self.generator)
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            self._warm_up()
        torch.cuda.current_stream().wait_stream(stream)
        with torch.cuda.graph(graph):
            self._body()
        self._graph = graph
        log.info("captured a decode-step graph for %s", self.key)

    def step(self) -> None:
        """Advance one position: the token for `position + 1` lands in `sequence`."""
        if self._graph is not None:
            self._graph.replay()
        else:
            self._body()
