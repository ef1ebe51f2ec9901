"""③ EnCodec codes of audio prompts: each distinct prompt row encoded once, kept for re-rolls."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable

import torch

__all__ = ["PromptCodes"]

#: Distinct prompt rows whose codes are kept: a few clips being re-rolled, beside the per-row
#: tails that long (multi-window) takes re-prompt with. Codes are small (6.4 KB per 4 s row).
MAX_ENTRIES = 32

#: Audio `(rows, 1, samples)` → codes `(1, rows, codebooks, frames)`, as `EncodecModel.encode`.
Encoder = Callable[[torch.Tensor], torch.Tensor]


class PromptCodes:
    """Encodes prompt rows with `encode`, once per distinct row.

    Variations of one clip share one prompt: the batch used to be encoded row by row (on a CPU,
    1.6 s per row for 4 s of prompt with the released codec), and a re-roll of the same clip
    encoded it again. Rows are told apart by a hash of their samples, so only identical audio
    shares codes; EnCodec's codes for a row do not depend on the rows beside it (checked for
    batches of 2-4 on the released-size and the tiny codec), so the result is what encoding
    the whole batch gives, and the fast engine's `exact` mode stays token-identical to stock.
    """

    def __init__(self, encode: Encoder, max_entries: int = MAX_ENTRIES) -> None:
        self._encode = encode
        self._max_entries = max_entries
        self._codes: OrderedDict[bytes, torch.Tensor] = OrderedDict()
        #: Rows encoded and rows answered from the cache so far (for tests and logs).
        self.encoded = 0
        self.reused = 0

    def __call__(self, values: torch.Tensor) -> torch.Tensor:
        """Codes `(1, rows, codebooks, frames)` for `values` `(rows, 1, samples)`."""
        keys = [self._key(row) for row in values]
        missing: dict[bytes, int] = {}
        for index, key in enumerate(keys):
            if key not in self._codes and key not in missing:
                missing[key] = index
        if missing:
            rows = values[list(missing.values())]
            fresh = self._encode(rows)
            for position, key in enumerate(missing):
                self._codes[key] = fresh[:, position : position + 1].clone()
            self.encoded += len(missing)
        self.reused += len(keys) - len(missing)
        out = torch.cat([self._codes[key] for key in keys], dim=1)
        for key in keys:
            self._codes.move_to_end(key)
        while len(self._codes) > self._max_entries:
            self._codes.popitem(last=False)
        return out

    def clear(self) -> None:
        self._codes.clear()

    @staticmethod
    def _key(row: torch.Tensor) -> bytes:
        data = row.detach().contiguous().cpu()
        digest = hashlib.blake2b(data.view(torch.uint8).numpy().tobytes(), digest_size=16)
        digest.update(f"{tuple(data.shape)}{data.dtype}".encode())
        return digest.digest()
