"""③ MusicGen's decoder as plain tensor code over a static KV cache: weights, prefill, one step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F

from sidecar.engine.kv_cache import StaticKVCache
from sidecar.engine.memory import release_replaced, tensors_in

__all__ = ["DecoderWeights", "LinearKind", "PackedLinear", "pack_decoder"]

#: How a linear layer runs: `torch` is `F.linear` on the model's own tensor (bit-identical to
#: transformers); `mkldnn` is a oneDNN weight prepacked for small batches (CPU); `int8` is
#: weight-only int8 with per-output-channel scales and bf16 activations (CPU).
LinearKind = Literal["torch", "mkldnn", "int8"]


def _mkldnn_available() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


@dataclass(frozen=True)
class PackedLinear:
    """A bias-free linear layer `y = x Wᵀ` in one of the `LinearKind` layouts."""

    kind: LinearKind
    weight: torch.Tensor
    out_features: int
    scales: torch.Tensor | None = None
    #: `gelu` applies the exact (erf) GELU to the output, fused into the kernel where it can be.
    activation: Literal["none", "gelu"] = "none"

    @staticmethod
    def pack(
        weight: torch.Tensor,
        kind: LinearKind,
        dtype: torch.dtype,
        batch_rows: int,
        activation: Literal["none", "gelu"] = "none",
    ) -> PackedLinear:
        """`weight` `(out, in)` in the given layout (`torch` in the model's dtype: no copy)."""
        out_features = int(weight.shape[0])
        if kind == "int8":
            w = weight.detach().float()
            scales = (w.abs().amax(dim=1) / 127.0).clamp(min=1e-12)
            q = torch.round(w / scales[:, None]).clamp(-127, 127).to(torch.int8).contiguous()
            return PackedLinear("int8", q, out_features, scales.to(torch.bfloat16), activation)
        w = weight.detach().to(dtype).contiguous() if weight.dtype != dtype else weight.detach()
        if kind == "mkldnn":
            if not _mkldnn_available() or w.device.type != "cpu":
                return PackedLinear("torch", w, out_features, None, activation)
            packed = torch.ops.mkldnn._reorder_linear_weight(w, batch_size=batch_rows)
            return PackedLinear("mkldnn", packed, out_features, None, activation)
        return PackedLinear("torch", w, out_features, None, activation)

    @property
    def dtype(self) -> torch.dtype:
        return torch.bfloat16 if self.kind == "int8" else self.weight.dtype

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        act = x.dtype
        if x.dtype != self.dtype:
            x = x.to(self.dtype)
        if self.kind == "torch":
            y = F.linear(x, self.weight)
        elif self.kind == "mkldnn":
            flat = x.reshape(-1, x.shape[-1])
            y = torch.ops.mkldnn._linear_pointwise(
                flat,
                self.weight,
                None,
                self.activation,
                [],
                "none" if self.activation != "none" else "",
            )
            return _as(y.view(*x.shape[:-1], self.out_features), act)
        else:
            flat = x.reshape(-1, x.shape[-1])
            if self.scales is None:
                raise RuntimeError("int8 linear without scales")
            y = torch.ops.aten._weight_int8pack_mm(flat, self.weight, self.scales)
            y = y.view(*x.shape[:-1], self.out_features)
        y = _as(y, act)
        return F.gelu(y) if self.activation == "gelu" else y


def _as(y: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return y if y.dtype == dtype else y.to(dtype)


@dataclass(frozen=True)
class _LayerNorm:
    weight: torch.Tensor
    bias: torch.Tensor
    eps: float

    @staticmethod
    def of(module: Any, dtype: torch.dtype) -> _LayerNorm:
        return _LayerNorm(
            module.weight.detach().to(dtype), module.bias.detach().to(dtype), float(module.eps)
        )

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, (x.shape[-1],), self.weight, self.bias, self.eps)


@dataclass(frozen=True)
class _Cross:
    norm: _LayerNorm
    q: PackedLinear
    k: PackedLinear
    v: PackedLinear
    out: PackedLinear


@dataclass(frozen=True)
class _Layer:
    self_norm: _LayerNorm
    #: Either three projections q, k, v (exact) or one fused qkv projection.
    self_qkv: tuple[PackedLinear, ...]
    self_out: PackedLinear
    #: Cross-attention (MusicGen); None for MusicGen-Melody, which reads its condition as a
    #: prefix of the sequence instead.
    cross: _Cross | None
    ffn_norm: _LayerNorm
    fc1: PackedLinear
    fc2: PackedLinear


@dataclass(frozen=True)
class DecoderWeights:
    """The decoder's tensors, packed once per engine, and the constants of its shape."""

    layers: tuple[_Layer, ...]
    embed_tokens: tuple[torch.Tensor, ...]
    positions: torch.Tensor
    final_norm: _LayerNorm
    #: One head per codebook (exact) or one fused `(codebooks * vocab, hidden)` head.
    lm_heads: tuple[PackedLinear, ...]
    num_heads: int
    head_dim: int
    num_codebooks: int
    vocab_size: int
    act_dtype: torch.dtype

    @property
    def hidden_size(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def cross_attends(self) -> bool:
        """Whether the layers cross-attend to the condition (False: it is a prefix)."""
        return self.layers[0].cross is not None

    # ------------------------------------------------------------------ pieces

    def embed(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """`tokens` `(batch, codebooks, n)` + position rows `(n, hidden)` → `(batch, n, hidden)`."""
        summed: Any = 0
        for codebook in range(self.num_codebooks):
            summed = summed + F.embedding(tokens[:, codebook], self.embed_tokens[codebook])
        return summed + positions

    def cross_kv(
        self, encoder_states: torch.Tensor
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per-layer cross-attention keys/values `(rows, heads, source, head_dim)` (none for a
        decoder without cross-attention)."""
        rows, source = encoder_states.shape[:2]
        shape = (rows, source, self.num_heads, self.head_dim)
        keys, values = [], []
        for layer in self.layers:
            if layer.cross is None:
                continue
            keys.append(layer.cross.k(encoder_states).view(shape).transpose(1, 2))
            values.append(layer.cross.v(encoder_states).view(shape).transpose(1, 2))
        return keys, values

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Last-position logits `(rows, codebooks, vocab)` in float32."""
        last = hidden[:, -1]
        if len(self.lm_heads) == 1:
            out = self.lm_heads[0](last).view(last.shape[0], self.num_codebooks, self.vocab_size)
        else:
            out = torch.stack([head(hidden) for head in self.lm_heads], dim=1)[:, :, -1]
        return out.float()

    def _project_qkv(self, layer: _Layer, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        rows, n = x.shape[:2]
        shape = (rows, n, self.num_heads, self.head_dim)
        if len(layer.self_qkv) == 1:
            parts = layer.self_qkv[0](x).split(self.hidden_size, dim=-1)
        else:
            parts = tuple(proj(x) for proj in layer.self_qkv)
        return tuple(p.reshape(shape).transpose(1, 2) for p in parts)

    def _merge(self, attn: torch.Tensor) -> torch.Tensor:
        rows, _, n, _ = attn.shape
        return attn.transpose(1, 2).contiguous().reshape(rows, n, self.hidden_size).contiguous()

    # ------------------------------------------------------------------ forward

    def forward(
        self,
        hidden: torch.Tensor,
        cache: StaticKVCache,
        start: int,
        cross_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        """Run `hidden` `(rows, n, hidden)` at positions `start .. start + n` (eager, exact).

        With `start == 0` this is the prefill (causal attention over the new positions, as
        transformers does it); afterwards `n == 1` and attention reads the cache prefix.
        """
        n = hidden.shape[1]
        scale = self.head_dim**-0.5
        for index, layer in enumerate(self.layers):
            residual = hidden
            q, k, v = self._project_qkv(layer, layer.self_norm(hidden))
            cache.write(index, start, k, v)
            if start == 0:
                attn = F.scaled_dot_product_attention(q, k, v, scale=scale, is_causal=n > 1)
            else:
                keys, values = cache.prefix(index, start + n)
                attn = F.scaled_dot_product_attention(q, keys, values, scale=scale)
            hidden = residual + layer.self_out(self._merge(attn))
            hidden = self._cross_and_ffn(index, layer, hidden, cache, cross_mask)
        return self.final_norm(hidden)

    def forward_static(
        self,
        hidden: torch.Tensor,
        cache: StaticKVCache,
        position: torch.Tensor,
        self_mask: torch.Tensor,
        cross_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        """One position given as a device tensor, attending over the whole cache under a mask.

        Shapes never change between steps, so a CUDA graph can capture it. `self_mask` is a
        bool `(1, 1, 1, max_positions)` row: True up to and including `position`.
        """
        scale = self.head_dim**-0.5
        for index, layer in enumerate(self.layers):
            residual = hidden
            q, k, v = self._project_qkv(layer, layer.self_norm(hidden))
            cache.write_at(index, position, k, v)
            keys, values = cache.full(index)
            attn = F.scaled_dot_product_attention(q, keys, values, attn_mask=self_mask, scale=scale)
            hidden = residual + layer.self_out(self._merge(attn))
            hidden = self._cross_and_ffn(index, layer, hidden, cache, cross_mask)
        return self.final_norm(hidden)

    def _cross_and_ffn(
        self,
        index: int,
        layer: _Layer,
        hidden: torch.Tensor,
        cache: StaticKVCache,
        cross_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        cross = layer.cross
        if cross is not None:
            rows, n = hidden.shape[:2]
            residual = hidden
            q = cross.q(cross.norm(hidden))
            q = q.view(rows, n, self.num_heads, self.head_dim).transpose(1, 2)
            attn = F.scaled_dot_product_attention(
                q,
                cache.cross_keys[index],
                cache.cross_values[index],
                attn_mask=cross_mask,
                scale=self.head_dim**-0.5,
            )
            hidden = residual + cross.out(self._merge(attn))
        residual = hidden
        hidden = layer.fc2(layer.fc1(layer.ffn_norm(hidden)))
        return residual + hidden


def pack_decoder(
    causal_lm: Any,
    kind: LinearKind,
    weight_dtype: torch.dtype,
    act_dtype: torch.dtype,
    fuse: bool,
    batch_rows: int = 2,
    free_originals: bool = False,
) -> DecoderWeights:
    """Pack a transformers `MusicgenForCausalLM`'s (or Melody's) weights for `DecoderWeights`.

    `kind="torch"`, `fuse=False` and the model's own dtype reuse its tensors unchanged (no copy),
    which makes the arithmetic identical to transformers'. `fuse=True` concatenates q/k/v and the
    per-codebook heads into single matrices (fewer, larger kernels). `free_originals` frees
    each layer's weights that its packed copies replace as soon as they exist (`release_replaced`),
    so the model never holds both copies of more than one layer.
    """
    decoder = causal_lm.model.decoder
    config = causal_lm.config
    if config.activation_function != "gelu" or getattr(config, "scale_embedding", False):
        raise ValueError(
            f"decoder: activation '{config.activation_function}', scale_embedding "
            f"{getattr(config, 'scale_embedding', False)}; the fast engine implements MusicGen's "
            "gelu without embedding scale: use decoder='stock' for this model"
        )

    def lin(*weights: torch.Tensor, activation: Literal["none", "gelu"] = "none") -> PackedLinear:
        w = weights[0] if len(weights) == 1 else torch.cat([x.detach() for x in weights], dim=0)
        return PackedLinear.pack(w, kind, weight_dtype, batch_rows, activation)

    layers = []
    for layer in decoder.layers:
        sa, ca = layer.self_attn, getattr(layer, "encoder_attn", None)
        cross = None
        if ca is not None:
            cross = _Cross(
                norm=_LayerNorm.of(layer.encoder_attn_layer_norm, act_dtype),
                q=lin(ca.q_proj.weight),
                # cross k/v run once per request: keep them in the activation dtype, unpacked
                k=PackedLinear.pack(ca.k_proj.weight, "torch", act_dtype, batch_rows),
                v=PackedLinear.pack(ca.v_proj.weight, "torch", act_dtype, batch_rows),
                out=lin(ca.out_proj.weight),
            )
        if fuse:
            fused = lin(sa.q_proj.weight, sa.k_proj.weight, sa.v_proj.weight)
            qkv: tuple[PackedLinear, ...] = (fused,)
        else:
            qkv = (lin(sa.q_proj.weight), lin(sa.k_proj.weight), lin(sa.v_proj.weight))
        layers.append(
            _Layer(
                self_norm=_LayerNorm.of(layer.self_attn_layer_norm, act_dtype),
                self_qkv=qkv,
                self_out=lin(sa.out_proj.weight),
                cross=cross,
                ffn_norm=_LayerNorm.of(layer.final_layer_norm, act_dtype),
                fc1=lin(layer.fc1.weight, activation="gelu"),
                fc2=lin(layer.fc2.weight),
            )
        )
        if free_originals:
            release_replaced(layer, tensors_in(layers[-1]))
    heads = [h.weight for h in causal_lm.lm_heads]
    lm_heads = (lin(*heads),) if fuse else tuple(lin(h) for h in heads)
    del heads
    if free_originals:
        release_replaced(causal_lm.lm_heads, tensors_in(lm_heads))
    hidden = int(config.hidden_size)
    num_heads = int(config.num_attention_heads)
    return DecoderWeights(
        layers=tuple(layers),
        embed_tokens=tuple(e.weight.detach().to(act_dtype) for e in decoder.embed_tokens),
        positions=decoder.embed_positions.weights.detach().to(act_dtype),
        final_norm=_LayerNorm.of(decoder.layer_norm, act_dtype),
        lm_heads=lm_heads,
        num_heads=num_heads,
        head_dim=hidden // num_heads,
        num_codebooks=int(config.num_codebooks),
        vocab_size=int(config.vocab_size),
        act_dtype=act_dtype,
    )
