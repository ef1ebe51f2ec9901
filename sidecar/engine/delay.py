"""③ MusicGen's delay interleaving pattern, one column at a time, and its inverse."""

from __future__ import annotations

import torch

__all__ = ["delay_of", "place_column", "undelay"]


def delay_of(row: int, stereo: bool) -> int:
    """Positions codebook row `row` lags behind the first (stereo: two rows per codebook)."""
    return row // 2 if stereo else row


def place_column(
    sequence: torch.Tensor, pattern: torch.Tensor, position: int, chosen: torch.Tensor
) -> None:
    """Write the chosen tokens at `position` where the pattern leaves it free (-1), in place."""
    column = pattern[:, position]
    sequence[:, position] = torch.where(column == -1, chosen, column)


def undelay(
    sequence: torch.Tensor, frames: int, batch: int, num_codebooks: int, stereo: bool
) -> torch.Tensor:
    """`(batch * codebooks, positions)` delayed rows → codes `(batch, codebooks, frames)`.

    Row r holds its frames at positions d(r)+1 .. d(r)+frames (position 0 is the start token).
    """
    rows = sequence.view(batch, num_codebooks, -1)
    parts = []
    for r in range(num_codebooks):
        d = delay_of(r, stereo)
        parts.append(rows[:, r, d + 1 : d + 1 + frames])
    return torch.stack(parts, dim=1)
