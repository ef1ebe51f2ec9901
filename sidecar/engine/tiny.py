"""③ A tiny randomly-initialized MusicGen built from configs in code: real classes, no download."""

from __future__ import annotations

from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import (
    EncodecConfig,
    GenerationConfig,
    MusicgenConfig,
    MusicgenDecoderConfig,
    MusicgenForConditionalGeneration,
    MusicgenMelodyConfig,
    MusicgenMelodyDecoderConfig,
    MusicgenMelodyForConditionalGeneration,
    PreTrainedTokenizerFast,
    T5Config,
)

__all__ = [
    "REAL_SIZES",
    "TINY_MELODY_NAME",
    "TINY_NAME",
    "build_random_model",
    "build_tiny_model",
    "build_tiny_tokenizer",
    "built_in_models",
    "musicgen_config",
]

TINY_NAME = "tiny"
TINY_MELODY_NAME = "tiny-melody"

#: Decoder (hidden, layers, heads, ffn) of the released checkpoints; `random-<size>` builds one
#: with random weights (same cost as the real one, no download) for benchmarks.
REAL_SIZES: dict[str, tuple[int, int, int, int]] = {
    "small": (1024, 24, 16, 4096),
    "medium": (1536, 48, 24, 6144),
    "large": (2048, 48, 32, 8192),
}

#: The real MusicGen codec: 32 kHz, hop 640 (8·5·4·4) → 50 frames/s, 4 codebooks of 2048.
_SAMPLE_RATE = 32000
_UPSAMPLING = [8, 5, 4, 4]
_CODEBOOK_SIZE = 2048


def musicgen_config(
    hidden_size: int,
    num_layers: int,
    num_heads: int,
    ffn_dim: int,
    text_d_model: int = 32,
    text_layers: int = 1,
    text_heads: int = 2,
    text_ff: int = 64,
    codec_filters: int = 4,
    codec_hidden: int = 16,
    audio_channels: int = 1,
) -> MusicgenConfig:
    """A MusicGen config of the given decoder size; the codec keeps the real frame layout.

    The real sizes are small (1024, 24, 16, 4096), medium (1536, 48, 24, 6144) and large
    (2048, 48, 32, 8192), with a T5-base text encoder (768, 12, 12, 3072) and an EnCodec of
    64 filters; the benchmark builds those with random weights.
    """
    num_codebooks = 4 * audio_channels
    text = T5Config(
        vocab_size=32128 if text_d_model >= 512 else 300,
        d_model=text_d_model,
        d_kv=max(text_d_model // text_heads, 4),
        d_ff=text_ff,
        num_layers=text_layers,
        num_heads=text_heads,
    )
    codec = EncodecConfig(
        sampling_rate=_SAMPLE_RATE,
        audio_channels=1,
        num_filters=codec_filters,
        codebook_size=_CODEBOOK_SIZE,
        codebook_dim=codec_hidden,
        hidden_size=codec_hidden,
        upsampling_ratios=_UPSAMPLING,
        target_bandwidths=[2.2],
        num_lstm_layers=2 if codec_filters >= 32 else 1,
        normalize=False,
        use_causal_conv=False,
    )
    decoder = MusicgenDecoderConfig(
        vocab_size=_CODEBOOK_SIZE,
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        ffn_dim=ffn_dim,
        num_codebooks=num_codebooks,
        audio_channels=audio_channels,
        max_position_embeddings=2048,
        pad_token_id=_CODEBOOK_SIZE,
        bos_token_id=_CODEBOOK_SIZE,
        decoder_start_token_id=_CODEBOOK_SIZE,  # type: ignore[call-arg]
    )
    return MusicgenConfig(
        text_encoder=text.to_dict(), audio_encoder=codec.to_dict(), decoder=decoder.to_dict()
    )


def _generation_config() -> GenerationConfig:
    """The generation defaults that the released checkpoints ship."""
    return GenerationConfig(
        bos_token_id=_CODEBOOK_SIZE,
        pad_token_id=_CODEBOOK_SIZE,
        decoder_start_token_id=_CODEBOOK_SIZE,
        do_sample=True,
        guidance_scale=3.0,
        max_length=1500,
    )


def build_tiny_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level tokenizer (256 byte tokens + pad, eos, unk) that needs no vocabulary file."""
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    vocab.update({ch: i + 3 for i, ch in enumerate(sorted(alphabet))})
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", 1)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )


def _melody_config(config: Any) -> MusicgenMelodyConfig:
    """The same sizes as a MusicGen-Melody config: chroma (12 bins × 235 frames) as prefix."""
    allowed = MusicgenMelodyDecoderConfig().to_dict()
    decoder = MusicgenMelodyDecoderConfig(
        **{k: v for k, v in config.decoder.to_dict().items() if k in allowed}
    )
    return MusicgenMelodyConfig(
        text_encoder=config.text_encoder.to_dict(),
        audio_encoder=config.audio_encoder.to_dict(),
        decoder=decoder.to_dict(),
        num_chroma=12,
        chroma_length=235,
    )


def built_in_models() -> tuple[str, ...]:
    """The `--model` names built here with random weights (no download): tiny ones and sizes."""
    return (TINY_NAME, TINY_MELODY_NAME, *(f"random-{size}" for size in REAL_SIZES))


def build_random_model(size: str, seed: int = 0) -> tuple[Any, PreTrainedTokenizerFast]:
    """A released-size MusicGen (`small`, `medium`, `large`) with random weights.

    T5-base text encoder (768 × 12) and a 32 kHz EnCodec of 64 filters, as released.
    """
    if size not in REAL_SIZES:
        raise ValueError(f"size: {size!r}; allowed: {', '.join(REAL_SIZES)}")
    hidden, layers, heads, ffn = REAL_SIZES[size]
    config = musicgen_config(
        hidden,
        layers,
        heads,
        ffn,
        text_d_model=768,
        text_layers=12,
        text_heads=12,
        text_ff=3072,
        codec_filters=64,
        codec_hidden=128,
    )
    return _build(config, seed, melody=False)


def build_tiny_model(
    seed: int = 0, audio_channels: int = 1, melody: bool = False, text_width: int = 32
) -> tuple[Any, PreTrainedTokenizerFast]:
    """The tiny MusicGen (decoder 32 wide × 2 layers; Melody with `melody`) and its tokenizer.

    With `text_width` other than 32 the text states go through `enc_to_dec_proj`, as in the
    released models (T5-base is 768 wide, their decoders 1024 and more).
    """
    config = musicgen_config(
        hidden_size=32,
        num_layers=2,
        num_heads=2,
        ffn_dim=64,
        text_d_model=text_width,
        audio_channels=audio_channels,
    )
    model, tokenizer = _build(config, seed, melody)
    _widen_init(model, seed)
    return model, tokenizer


def _widen_init(model: Any, seed: int) -> None:
    """Give the tiny model weights through which every condition reaches the logits.

    transformers initializes MusicGen's linears with std 0.02: on a 32-wide decoder the text
    (cross-attention) and the chroma prefix then move the logits by ~1e-3 of their spread, so
    greedy takes ignore them. Here the decoder's and the projections' linears get std
    1/sqrt(fan_in) and the code embeddings std 1 (random, still seeded), as a trained model's
    conditions matter: a different text, melody or prompt changes the first token's logits by
    a fair share of their spread (tests/engine/test_conditioning.py checks it).
    """
    state = torch.random.get_rng_state()
    torch.manual_seed(seed + 1)
    try:
        with torch.no_grad():
            linears = [m for m in model.decoder.modules() if isinstance(m, torch.nn.Linear)]
            for name in ("enc_to_dec_proj", "audio_enc_to_dec_proj"):
                if isinstance(getattr(model, name, None), torch.nn.Linear):
                    linears.append(getattr(model, name))
            for linear in linears:
                linear.weight.normal_(0.0, linear.in_features**-0.5)
                if linear.bias is not None:
                    linear.bias.normal_(0.0, 0.1)
            for embedding in model.decoder.model.decoder.embed_tokens:
                embedding.weight.normal_(0.0, 1.0)
            _codec_encoder_hears_its_input(model.audio_encoder)
    finally:
        torch.random.set_rng_state(state)


def _codec_encoder_hears_its_input(codec: Any) -> None:
    """Make the random EnCodec's encoder map different audio to different codes.

    At transformers' init its output is mostly its biases (the input moves it by ~1 % of its
    spread), so every prompt quantizes to nearly the same codes (all the same with 5.0.0's
    init) and a continuation's clip cannot matter. Without the biases and scaled to the
    codebooks' spread (std 1), the codes follow the audio. The decoder is left as it is.
    """
    for module in codec.encoder.modules():
        bias = getattr(module, "bias", None)
        if isinstance(bias, torch.Tensor):
            bias.zero_()
    probe = torch.randn(2, 1, 32000, generator=torch.Generator().manual_seed(0)) * 0.2
    out = codec.encoder(probe)
    last = [m for m in codec.encoder.modules() if isinstance(m, torch.nn.Conv1d)][-1]
    scale = 1.0 / float(out.std())
    parametrized = getattr(last, "parametrizations", None)
    if parametrized is not None and hasattr(parametrized, "weight"):  # weight norm: g · v/|v|
        parametrized.weight.original0.mul_(scale)
    else:
        last.weight.mul_(scale)
    if last.bias is not None:
        last.bias.zero_()


def _build(config: Any, seed: int, melody: bool) -> tuple[Any, PreTrainedTokenizerFast]:
    """Instantiate (Melody)ForConditionalGeneration from `config` under a fixed seed."""
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model: Any = (
            MusicgenMelodyForConditionalGeneration(_melody_config(config))
            if melody
            else MusicgenForConditionalGeneration(config)
        )
        # EnCodec starts its codebooks at zero (they are learned by k-means); give them random
        # vectors so that different codes decode to different audio, as in a trained codec.
        with torch.no_grad():
            for layer in model.audio_encoder.quantizer.layers:
                layer.codebook.embed.normal_()
                layer.codebook.embed_avg.copy_(layer.codebook.embed)
    finally:
        torch.random.set_rng_state(state)
    model.generation_config = _generation_config()
    return model.eval(), build_tiny_tokenizer()
