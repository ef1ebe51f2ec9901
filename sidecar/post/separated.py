"""⑤ A separated set (a take's mix and its parts) through the tempo contract as one, on one grid."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from sidecar.post.channels import to_channels
from sidecar.post.fmt import to_sample_format
from sidecar.post.loudness import level_stem, reference_loudness, true_peak_dbtp
from sidecar.post.pipeline import PostSpec, measure_tempo, process

__all__ = ["SetLevels", "SetTakes", "contract_set", "level_set", "residual_db"]

#: "set": one gain for the whole set (the mix's), so the parts keep their levels in it;
#: "each": every part levelled to the target on its own.
SetLevels = Literal["set", "each"]


@dataclass(frozen=True)
class SetTakes:
    """A set after the contract, before its level: the mix first, then each part."""

    #: float32 `(channels, samples)` per member, all of the same shape.
    members: list[np.ndarray]
    #: The contract's report per member (mix first), as `StemReport.to_dict` gives it.
    reports: list[dict[str, Any]]


def residual_db(mix: np.ndarray, parts: np.ndarray | list[np.ndarray]) -> float | None:
    """The mix minus the sum of its parts, in dB against the mix; None for a silent mix."""
    total = np.sum(np.asarray(parts, dtype=np.float64), axis=0)
    mix64 = np.asarray(mix, dtype=np.float64)
    energy = float(np.sum(mix64 * mix64))
    if energy <= 0.0:
        return None
    rest = float(np.sum((mix64 - total) ** 2))
    return round(10.0 * math.log10(max(rest, 1e-30) / energy), 2)


def contract_set(
    mix: np.ndarray,
    parts: np.ndarray | list[np.ndarray],
    sample_rate: int,
    spec: PostSpec,
    reference: np.ndarray | None = None,
    reference_sample_rate: int | None = None,
    reference_lufs: float | None = None,
) -> SetTakes:
    """The mix and its parts through the tempo contract together, unlevelled (`level_set`).

    One tempo measurement (on the mix), one stretch ratio, one start sample, one length and
    one loop seam: the members are stacked as the channels of one audio and go through
    `process` as one (its attack search and seam read their sum), so they line up to the
    sample. Each report is the set's, with the member's own channels and `tempo_source`
    ("own" for the mix, "mix" for the parts), and `separation_residual_db` (the residual as
    separated, at the model's rate).
    """
    members = [np.asarray(mix, dtype=np.float32), *(np.asarray(p, np.float32) for p in parts)]
    residual = residual_db(members[0], members[1:])
    tempo = measure_tempo(members[0], sample_rate, spec)
    wanted = spec.channels
    if wanted is not None:
        members = [to_channels(m, wanted) if m.shape[0] > wanted else m for m in members]
    width = members[0].shape[0]
    together = replace(spec, channels=None, level=False)
    work, report = process(
        np.concatenate(members, axis=0),
        sample_rate,
        together,
        reference,
        reference_sample_rate,
        reference_lufs,
        tempo=tempo,
        members=len(members),
    )
    out = [work[i * width : (i + 1) * width] for i in range(len(members))]
    if wanted is not None and wanted > width:
        out = [to_channels(m, wanted) for m in out]
    base = report.to_dict()
    reports = []
    for i, member in enumerate(out):
        reports.append(
            {
                **base,
                "channels": int(member.shape[0]),
                "tempo_source": "own" if i == 0 else "mix",
                "separation_residual_db": residual,
            }
        )
    return SetTakes(members=out, reports=reports)


def level_set(
    members: list[np.ndarray],
    reports: list[dict[str, Any]],
    sample_rate: int,
    ceiling_dbtp: float,
    levels: SetLevels = "set",
    loop: bool = False,
) -> list[np.ndarray]:
    """The set at its loudness target and under the true-peak ceiling, in its sample format.

    "set": one plain gain for every member, the one that brings the mix to the target, or
    less where a member's true peak would pass the ceiling (no limiter: the parts keep their
    levels and still add up to the mix; the set is then quieter than the target, as its
    `loudness_lufs` says). "each": every member levelled on its own, as any stem (gain, and a
    limiter where its peaks need one). The reports get each member's loudness, true peak and
    gain, and `set_residual_db`: the delivered mix minus the sum of the parts.
    """
    target = float(reports[0].get("loudness_target_lufs") or -14.0)
    leveled: list[np.ndarray] = []
    if levels == "each":
        for member, report in zip(members, reports, strict=True):
            out, level = level_stem(member, sample_rate, target, ceiling_dbtp, loop)
            report["limiter_reduction_db"] = level.limiter_reduction_db
            _note(report, level.loudness_lufs, level.true_peak_dbtp, level.gain_db)
            leveled.append(out)
    else:
        loudness = reference_loudness(members[0], sample_rate)
        peaks = [true_peak_dbtp(m, sample_rate) for m in members]
        gain_db = 0.0 if loudness is None else target - loudness
        loudest = max((p for p in peaks if p is not None), default=None)
        if loudest is not None:
            gain_db = min(gain_db, ceiling_dbtp - loudest)
        gain = np.float32(10.0 ** (gain_db / 20.0))
        leveled = [(m * gain).astype(np.float32) for m in members]
        for i, (report, peak) in enumerate(zip(reports, peaks, strict=True)):
            own = loudness if i == 0 else reference_loudness(members[i], sample_rate)
            report["limiter_reduction_db"] = 0.0
            _note(
                report,
                None if own is None else round(own + gain_db, 3),
                None if peak is None else round(peak + gain_db, 3),
                gain_db,
            )
    residual = residual_db(leveled[0], leveled[1:])
    fmt = str(reports[0].get("sample_format", "float32"))
    for report in reports:
        report["set_residual_db"] = residual
        report["separate_levels"] = levels
    return [to_sample_format(m, fmt) for m in leveled]


def _note(
    report: dict[str, Any], loudness: float | None, peak: float | None, gain_db: float
) -> None:
    report["loudness_lufs"] = loudness
    report["true_peak_dbtp"] = peak
    report["gain_db"] = round(gain_db, 3)
