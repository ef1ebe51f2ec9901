"""The delay pattern helpers against transformers' own `build_delay_pattern_mask`."""

import pytest
import torch

from sidecar.engine.delay import place_column, undelay
from sidecar.engine.tiny import build_tiny_model

START = 2048  # MusicGen's pad/start token id


@pytest.mark.parametrize("channels", [1, 2])
def test_undelay_inverts_the_models_delay_pattern(channels):
    model, _ = build_tiny_model(audio_channels=channels)
    lm = model.decoder
    k = int(lm.num_codebooks)
    batch, frames = 2, 7
    codes = torch.randint(0, 2048, (batch, k, frames))
    ids = torch.cat([torch.full((batch * k, 1), START), codes.reshape(batch * k, frames)], dim=-1)
    per_channel = k // channels
    total = 1 + frames + per_channel - 1
    delayed, pattern = lm.build_delay_pattern_mask(ids, pad_token_id=START, max_length=total)
    # As the engine lays it out: the known prefix, then the pattern's columns (all known here).
    sequence = lm.apply_delay_pattern_mask(delayed, pattern)
    sequence = torch.cat([sequence, pattern[:, sequence.shape[-1] :]], dim=-1)
    assert sequence.shape == (batch * k, total) and bool((sequence >= 0).all())
    assert torch.equal(undelay(sequence, frames, batch, k, stereo=channels == 2), codes)


def test_place_column_writes_only_the_free_slots():
    pattern = torch.tensor([[5, -1, 9], [5, 7, -1]])
    sequence = torch.zeros(2, 3, dtype=torch.long)
    place_column(sequence, pattern, 1, torch.tensor([11, 12]))
    place_column(sequence, pattern, 2, torch.tensor([13, 14]))
    # -1 is free: the chosen token goes there; anything else is the pattern's own token.
    assert sequence[:, 1].tolist() == [11, 7]
    assert sequence[:, 2].tolist() == [9, 14]
