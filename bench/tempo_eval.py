"""⑤ Benchmark: the tempo contract's grid on real music, old tracker and new side by side.

Run from the repository root:

    python -m bench.tempo_set && python -m bench.tempo_eval [--excerpts 2] [--json out.json]

Over the real-music set (bench/tempo_set.py: Sonic Pi's recorded loops, OpenMSX songs and MMA
grooves rendered through FluidSynth, each with its exact grid), excerpts are cut:

- `off-bar`: at a random point at least 40 ms from any bar line, 8 bars + 10 % + 0.5 s long
  (what the worker asks the model for; 4 bars where a track is too slow for 8), at the
  track's tempo;
- `drifted`: the same, re-tempoed by a random ±1-3 % (Rubber Band), like a model that drifted;
- `on-bar`: cut on a bar line, drifted or not, delivered with `downbeat_at_start` (what a
  continuation faces: sample 0 is the bar line).

Each goes through `sidecar.post.pipeline.process` with the track's tempo and metre, once with
the old tracker (`beat_tracker="heuristic"`: the onset heuristics alone, as before) and once
with the new (`"auto"`: learned downbeats where madmom is installed). Reported per kind:
mir_eval beat and downbeat F-measure (70 ms) of the delivered grid against the true one; the
share of grid starts within 20 ms of a true beat and of a true bar line; tempo error; the share
of drifted excerpts stretched back; for on-bar excerpts how far sample 0 was moved; and the
time per 8-bar stem (wall and CPU, the whole contract).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from bench.tempo_set import DEFAULT_DIR, load_index
from sidecar.post.pipeline import PostSpec, process
from sidecar.post.stretch import time_stretch
from sidecar.post.warm import warm_up

TOLERANCE_SECONDS = 0.020
TRACKERS = ("heuristic", "auto")


@dataclass
class Excerpt:
    track: str
    kind: str
    audio: np.ndarray
    sample_rate: int
    bpm: float
    beats_per_bar: int
    bars: int
    #: True beats and downbeats in the excerpt's own time (after any drift).
    beats: np.ndarray
    downbeats: np.ndarray
    drift: float


@dataclass
class Tally:
    beat_f: list[float] = field(default_factory=list)
    downbeat_f: list[float] = field(default_factory=list)
    on_beat: list[bool] = field(default_factory=list)
    on_bar: list[bool] = field(default_factory=list)
    tempo_error: list[float] = field(default_factory=list)
    stretched_back: list[bool] = field(default_factory=list)
    moved_ms: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)


def excerpts(directory: Path, per_track: int, seed: int) -> list[Excerpt]:
    rng = np.random.default_rng(seed)
    out: list[Excerpt] = []
    for entry in load_index(directory):
        audio, rate = sf.read(directory / str(entry["file"]), dtype="float32", always_2d=True)
        audio = audio.T
        beats = np.asarray(entry["beats"])
        bars_at = np.asarray(entry["downbeats"])
        bpm, per_bar = float(entry["bpm"]), int(entry["beats_per_bar"])  # type: ignore[arg-type]
        seconds = audio.shape[1] / rate
        bar = per_bar * 60.0 / bpm
        for bars in (8, 4, 2):
            length = bars * bar * 1.1 + 0.5
            if np.any((bars_at > 0.5) & (bars_at + length < seconds)):
                break
        else:
            continue
        for kind in ("off-bar", "drifted", "on-bar"):
            for _ in range(per_track):
                if kind == "on-bar":
                    choices = bars_at[(bars_at > 0.5) & (bars_at + length < seconds)]
                    start = float(rng.choice(choices))
                else:
                    while True:
                        start = float(rng.uniform(0.5, seconds - length - 0.1))
                        if np.min(np.abs(bars_at - start)) > 0.04:
                            break
                drift = 1.0
                if kind == "drifted" or (kind == "on-bar" and rng.random() < 0.5):
                    drift = float(rng.choice([-1, 1]) * rng.uniform(0.01, 0.03) + 1.0)
                first = round(start * rate)
                cut = audio[:, first : first + round(length * rate)]
                if drift != 1.0:
                    cut, _ = time_stretch(np.ascontiguousarray(cut), rate, drift)
                out.append(
                    Excerpt(
                        track=str(entry["name"]),
                        kind=kind,
                        audio=np.ascontiguousarray(cut),
                        sample_rate=rate,
                        bpm=bpm,
                        beats_per_bar=per_bar,
                        bars=bars,
                        beats=(beats - start) / drift,
                        downbeats=(bars_at - start) / drift,
                        drift=drift,
                    )
                )
    return out


def evaluate(excerpt: Excerpt, tracker: str, tally: Tally) -> None:
    import mir_eval

    spec = PostSpec(
        sample_rate=48000,
        channels=2,
        bpm=excerpt.bpm,
        bars=excerpt.bars,
        beats_per_bar=excerpt.beats_per_bar,
        downbeat_at_start=excerpt.kind == "on-bar",
        beat_tracker=tracker,
    )
    wall, cpu = time.perf_counter(), time.process_time()
    _, report = process(excerpt.audio, excerpt.sample_rate, spec)
    tally.wall.append(time.perf_counter() - wall)
    tally.cpu.append(time.process_time() - cpu)
    start = report.grid_start_seconds
    duration = excerpt.audio.shape[1] / excerpt.sample_rate
    true_bpm = excerpt.bpm * excerpt.drift
    source_bpm = report.source_bpm if report.source_bpm is not None else excerpt.bpm
    beat = 60.0 / source_bpm
    estimated = start + beat * np.arange(-64, 256)
    estimated = estimated[(estimated >= 0) & (estimated < duration)]
    bar_lines = start + beat * excerpt.beats_per_bar * np.arange(-16, 64)
    bar_lines = bar_lines[(bar_lines >= 0) & (bar_lines < duration)]
    inside = excerpt.beats[(excerpt.beats >= 0) & (excerpt.beats < duration)]
    bars_inside = excerpt.downbeats[(excerpt.downbeats >= 0) & (excerpt.downbeats < duration)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tally.beat_f.append(float(mir_eval.beat.f_measure(inside, estimated)))
        tally.downbeat_f.append(float(mir_eval.beat.f_measure(bars_inside, bar_lines)))
    on_beat = float(np.min(np.abs(excerpt.beats - start))) <= TOLERANCE_SECONDS
    on_bar = float(np.min(np.abs(excerpt.downbeats - start))) <= TOLERANCE_SECONDS
    tally.on_beat.append(on_beat)
    tally.on_bar.append(on_bar)
    if report.source_bpm is not None:
        tally.tempo_error.append(abs(report.source_bpm / true_bpm - 1.0) * 100)
    else:
        tally.tempo_error.append(float("inf"))
    if excerpt.drift != 1.0:
        tally.stretched_back.append(report.decision == "stretched")
    if excerpt.kind == "on-bar":
        tally.moved_ms.append(abs(start) * 1000)
    if not (on_bar and (excerpt.drift == 1.0 or report.decision == "stretched")):
        tally.misses.append(
            f"{excerpt.track} {excerpt.kind} drift {excerpt.drift:.3f}: start {start:.3f} s "
            f"({report.downbeat_source}, {report.decision}, bpm {report.source_bpm}, "
            f"conf {report.tempo_confidence})"
        )


def summary(tally: Tally) -> dict[str, float | int]:
    def share(values: list[bool]) -> float:
        return 100.0 * sum(values) / len(values) if values else float("nan")

    errors = [e for e in tally.tempo_error if np.isfinite(e)]
    return {
        "excerpts": len(tally.on_bar),
        "beat_f": statistics.mean(tally.beat_f),
        "downbeat_f": statistics.mean(tally.downbeat_f),
        "on_beat_pct": share(tally.on_beat),
        "on_bar_pct": share(tally.on_bar),
        "tempo_within_0.3pct": share([e <= 0.3 for e in tally.tempo_error]),
        "tempo_error_median_pct": statistics.median(errors) if errors else float("nan"),
        "tempo_error_max_pct": max(errors) if errors else float("nan"),
        "stretched_back_pct": share(tally.stretched_back),
        "moved_over_5ms_pct": share([m > 5.0 for m in tally.moved_ms]),
        "moved_max_ms": max(tally.moved_ms) if tally.moved_ms else float("nan"),
        "wall_median_s": statistics.median(tally.wall),
        "cpu_median_s": statistics.median(tally.cpu),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--excerpts", type=int, default=1, help="per track and kind")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--misses", action="store_true", help="list the excerpts missed")
    args = parser.parse_args()
    warm_up()
    cases = excerpts(args.set, args.excerpts, args.seed)
    results: dict[str, dict[str, dict[str, float | int]]] = {}
    misses: dict[str, list[str]] = {}
    for tracker in TRACKERS:
        tallies: dict[str, Tally] = {}
        for case in cases:
            evaluate(case, tracker, tallies.setdefault(case.kind, Tally()))
        results[tracker] = {kind: summary(t) for kind, t in tallies.items()}
        misses[tracker] = [m for t in tallies.values() for m in t.misses]
    tracks = len({c.track for c in cases})
    print(f"{len(cases)} excerpts of {tracks} tracks; old = heuristic, new = auto (learned)")
    keys = list(next(iter(results["auto"].values())).keys())
    for kind in results["auto"]:
        print(f"\n{kind}")
        print("| metric | old | new |\n| --- | --- | --- |")
        for key in keys:
            old, new = results["heuristic"][kind][key], results["auto"][kind][key]
            print(f"| {key} | {old:.4g} | {new:.4g} |")
    if args.misses:
        for tracker, lines in misses.items():
            print(f"\nmissed ({tracker}): {len(lines)}")
            print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps({"results": results, "misses": misses}, indent=1))


if __name__ == "__main__":
    main()
