"""⑤ Separated stems: each take split by the warm Demucs separator; mix and parts on one grid."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sidecar.engine.separator import SeparatorSlot
from sidecar.post.separated import contract_set, level_set
from sidecar.takes.finish import TRUE_PEAK_DBTP, DecodedTakes, MadeTake, finish_take, key_of
from sidecar.takes.parallel import TakePool

__all__ = ["MIX_PART", "Separation", "finish_separated"]

#: The part name of a separated set's mix (its parts are named by the separator).
MIX_PART = "mix"


@dataclass(frozen=True)
class Separation:
    """How a request's takes are separated: which separator, where, and how levelled."""

    slot: SeparatorSlot
    #: None: the server's default model.
    name: str | None
    #: The device of the model that made the takes.
    device: str
    levels: str = "set"

    def finish(
        self,
        decoded: DecodedTakes,
        pool: TakePool,
        check_cancel: Callable[[], None],
        on_fraction: Callable[[float], None] | None = None,
    ) -> list[MadeTake]:
        return finish_separated(decoded, self, pool, check_cancel, on_fraction)


def finish_separated(
    decoded: DecodedTakes,
    separation: Separation,
    pool: TakePool,
    check_cancel: Callable[[], None],
    on_fraction: Callable[[float], None] | None = None,
) -> list[MadeTake]:
    """Every take separated (one batch), then each set through the contract as one.

    Per take, in order: its mix (part "mix"), then each part in the separator's order. The
    mix is the take as made (a one-shot preset's effects included: they are heard in the
    parts too); its key is estimated once and every member gets the same key fix; the set is
    levelled last (`level_set`). `on_fraction` gets 0..1 over the separation's segments; a
    cancel between them stops it, and no part of the set is returned.
    """
    req, post = decoded.request, decoded.post
    rate = decoded.window_post.model_sample_rate
    started = time.perf_counter()
    separator = separation.slot.get(separation.name, separation.device)
    decoded.timings["separator_load_seconds"] = time.perf_counter() - started
    mixes = decoded.window_post.effects(decoded.raws)
    keys = [pool.start(key_of, mix, rate) for mix in mixes]
    decoded.started.extend(keys)

    def progress(done: int, total: int) -> None:
        check_cancel()
        if on_fraction is not None:
            on_fraction(done / total)

    started = time.perf_counter()
    parts = separator.separate(np.stack(mixes), rate, progress)
    decoded.timings["separate_seconds"] = time.perf_counter() - started
    check_cancel()

    started = time.perf_counter()
    reference = decoded.window_post.reference
    lufs = decoded.window_post.reference_lufs
    reference_lufs = None if lufs is None else lufs.result()
    sets = pool.map(
        lambda v: contract_set(
            mixes[v],
            parts[v],
            rate,
            post,
            reference,
            decoded.window_post.reference_sample_rate,
            reference_lufs,
        ),
        range(len(mixes)),
        check_cancel,
    )
    decoded.timings["post_seconds"] = time.perf_counter() - started
    started = time.perf_counter()
    clip_key = None if decoded.clip_key is None else decoded.clip_key.result()
    names = (MIX_PART, *separator.info.parts)
    about: dict[str, Any] = {
        "separator": separator.info.name,
        "separator_parts": ",".join(separator.info.parts),
        "separator_is_random": separator.info.is_random,
    }
    takes: list[MadeTake] = []
    for v, done in enumerate(sets):
        mix_key = keys[v].result()
        members: list[MadeTake] = []
        for audio, report, name in zip(done.members, done.reports, names, strict=True):
            # The set is levelled as one below: finish_take only names the key and fixes it
            # (the same shift for every member, from the mix's key), without a level of its own.
            target = report.pop("loudness_target_lufs", None)
            member = finish_take(req, audio, [report], v, name, clip_key, mix_key)
            member.report["loudness_target_lufs"] = target
            member.report.update(about)
            members.append(member)
        leveled = level_set(
            [m.audio for m in members],
            [m.report for m in members],
            req.sample_rate,
            TRUE_PEAK_DBTP,
            "each" if separation.levels == "each" else "set",
            req.loop,
        )
        for member, audio in zip(members, leveled, strict=True):
            member.audio = audio
            member.report["num_samples"] = int(audio.shape[-1])
        takes.extend(members)
    decoded.timings["key_seconds"] = time.perf_counter() - started
    return takes
