"""The VST3 plugin's audio callback cost, audio-thread allocations and trigger-to-take latency.

    PYTHONPATH=. python3 -m bench.plugin_bench [--seconds 10] [--json out.json]

Needs the plugin and the test host built (build/plugin, build/testhost; see
plugin_host/plugin/INTERFACE.md) and DawDreamer (pip). Starts one real
`sidecar serve --model tiny`. Printed side by side, in one run:

- callback cost per block at 64 and 512 frames, passing through and playing a take: the test
  host times each processBlock (mean, p99) against the block's duration (target < 2 %);
  DawDreamer's number is its whole render (its graph, the input player and the plugin) per
  block;
- heap calls on the audio thread after prepareToPlay (the test host counts them, and says
  which had the plugin's code on the stack and which were JUCE's hosting wrapper);
- trigger to first take heard, tiny model, from the plugin's event log: capture write, OSC
  (sent to accepted), sidecar (accepted to the stem reply), load (stem reply to loaded), wait
  for the bar (loaded to the first frame out). In DawDreamer every render() restarts the
  transport at bar 0, so its wait is its next render call; the test host, paced at real time,
  waits for the next bar line as a DAW does.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.plugin_host.plugin.audio_checks import HOST_RATE, tile_loop, write_amen_bar
from tests.plugin_host.plugin.bundles import REPO_ROOT, lv2_bundle, testhost_binary, vst3_bundle
from tests.plugin_host.plugin.hostproc import HostProcess
from tests.plugin_host.plugin.observe import PluginWatch
from tests.support.server import running_sidecar

BPM = 120.0  # replaced in main() by the drum loop's own tempo
BAR_SECONDS = 2.0


def drum_input(folder: Path) -> tuple[Path, float]:
    """Eight bars of a recorded drum loop (the amen break, sonic-pi-samples) at 48 kHz, and
    its tempo."""
    bar, bpm = write_amen_bar(folder)
    return tile_loop(bar, 8, folder / "drums.wav"), bpm


def stages(watch: PluginWatch) -> dict[str, float]:
    """Seconds between the event-log entries of the last request (INTERFACE.md)."""
    events = watch.events()

    def last(name: str, **match: str) -> float:
        times = [e["time"] for e in events if e["event"] == name
                 and all(e.get(k) == v for k, v in match.items())]
        return float(times[-1]) if times else float("nan")

    trigger, capture = last("trigger"), last("capture")
    sent = last("sent", address="/sidecar/continue")
    accepted = last("reply", address="/sidecar/accepted")
    stem = last("reply", address="/sidecar/stem")
    loaded, started = last("stem_loaded"), last("started")
    return {
        "capture write": capture - trigger,
        "OSC (sent to accepted)": accepted - sent,
        "sidecar (accepted to stem)": stem - accepted,
        "load (stem to loaded)": loaded - stem,
        "wait for the bar (loaded to heard)": started - loaded,
        "trigger to first take heard": started - trigger,
    }


def set_up(host: HostProcess, drums: Path, params: dict[str, float], load: dict[str, Any]) -> None:
    host.call("load", **load)
    host.call("input", wav=str(drums))
    for name, value in params.items():
        host.call("param", name=name, value=value)


PARAMS = {"Mix": 0.5, "Capture bars": 1 / 31, "Take bars": 1 / 31, "Capture quantize": 0.0}


def testhost_run(watch: PluginWatch, drums: Path, seconds: float) -> dict[str, Any]:
    host = HostProcess([str(testhost_binary())], watch.folder / "testhost.log", watch.env())
    out: dict[str, Any] = {}
    try:
        set_up(host, drums, PARAMS, {"plugin": str(vst3_bundle()), "sample_rate": HOST_RATE,
                                     "max_block": 2048})
        host.call("transport", bpm=BPM, numerator=4, denominator=4, playing=True, ppq=0.0)
        host.call("render", frames=512, block_size=512)  # warm-up block
        for frames in (64, 512):
            out[f"through {frames}"] = host.call("render", seconds=seconds, block_size=frames)
        # Real-time paced: press, keep playing until the take is heard.
        host.call("render", seconds=2 * BAR_SECONDS, block_size=512, realtime=True)
        host.call("param", name="Generate", value=1.0)
        deadline = time.monotonic() + 180
        while not watch.events("started"):
            host.call("render", seconds=0.25, block_size=512, realtime=True)
            host.call("param", name="Generate", value=0.0)
            if time.monotonic() > deadline:
                raise RuntimeError(f"no take heard in 180 s: {watch.status()}")
        out["stages"] = stages(watch)
        for frames in (64, 512):
            out[f"take {frames}"] = host.call("render", seconds=seconds, block_size=frames)
    finally:
        host.close()
    return out


def lv2_through(watch: PluginWatch, drums: Path, seconds: float) -> dict[str, Any]:
    """The LV2 build passing through in the test host (JUCE's LV2 wrapper, no per-block copy)."""
    host = HostProcess([str(testhost_binary())], watch.folder / "testhost-lv2.log", watch.env())
    try:
        # JUCE 7.0.5's LV2 hosting lists none of its patch-property parameters: defaults.
        set_up(host, drums, {}, {"plugin": str(lv2_bundle()), "sample_rate": HOST_RATE,
                                 "max_block": 2048})
        host.call("transport", bpm=BPM, numerator=4, denominator=4, playing=True, ppq=0.0)
        host.call("render", frames=512, block_size=512)
        return {f"LV2 through {f}": host.call("render", seconds=seconds, block_size=f)
                for f in (64, 512)}
    finally:
        host.close()


def dawdreamer_run(watch: PluginWatch, drums: Path, seconds: float) -> dict[str, Any]:
    import os

    argv = [sys.executable, "-m", "tests.plugin_host.plugin.dawdreamer_host"]
    env = watch.env(PYTHONPATH=os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    out: dict[str, Any] = {}

    def cost(block: int) -> float:
        host = HostProcess(argv, watch.folder / f"dd-{block}.log", env)
        try:
            set_up(host, drums, PARAMS, {"plugin": str(vst3_bundle()), "sample_rate": HOST_RATE,
                                         "block_size": block, "bpm": BPM})
            return float(host.call("render", seconds=seconds)["wall_seconds"])
        finally:
            host.close()

    host = HostProcess(argv, watch.folder / "dd-take.log", env)
    try:
        set_up(host, drums, PARAMS, {"plugin": str(vst3_bundle()), "sample_rate": HOST_RATE,
                                     "block_size": 512, "bpm": BPM})
        host.call("render", seconds=0.1)
        host.call("automate", name="Generate", points=[[0, 0.0], [1.5 * BAR_SECONDS, 1.0]])
        host.call("render", seconds=2 * BAR_SECONDS)
        while not any(t.get("loaded") for t in watch.status().get("takes", [])):
            time.sleep(0.01)
        host.call("param", name="Generate", value=0.0)
        host.call("render", seconds=BAR_SECONDS)
        deadline = time.monotonic() + 10  # the worker logs "started" within 50 ms or so
        while not watch.events("started") and time.monotonic() < deadline:
            time.sleep(0.02)
        out["stages"] = stages(watch)
    finally:
        host.close()
    out["through"] = {b: cost(b) for b in (64, 512)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="audio per cost run")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, running_sidecar(Path(tmp) / "sidecar") as server:
        folder = Path(tmp)
        global BPM, BAR_SECONDS
        drums, BPM = drum_input(folder)
        BAR_SECONDS = 4 * 60.0 / BPM
        (folder / "th").mkdir()
        (folder / "dd").mkdir()
        th = testhost_run(PluginWatch(folder / "th", server.port), drums, args.seconds)
        th.update(lv2_through(PluginWatch(folder / "th", server.port), drums, args.seconds))
        dd = dawdreamer_run(PluginWatch(folder / "dd", server.port), drums, args.seconds)

    print(f"plugin bench, {time.strftime('%Y-%m-%d')}, {args.seconds:g} s of audio a run, "
          f"48 kHz stereo, the amen break at {BPM:.2f} BPM 4/4")
    print("\ncallback cost per block (test host, processBlock timed alone; VST3 unless marked)")
    print(f"{'case':<22}{'median us':>10}{'mean us':>10}{'p99 us':>10}{'block us':>10}"
          f"{'median %':>9}{'plugin allocs':>15}{'host allocs':>13}")
    for case in ("through 64", "through 512", "take 64", "take 512",
                 "LV2 through 64", "LV2 through 512"):
        r = th[case]
        frames = int(case.split()[-1])
        block_us = frames / HOST_RATE * 1e6
        host_allocs = r["allocations"] - r["plugin_allocations"]
        print(f"{case:<22}{r['median_block_us']:>10.2f}{r['mean_block_us']:>10.2f}"
              f"{r['p99_block_us']:>10.2f}{block_us:>10.0f}"
              f"{100 * r['median_block_us'] / block_us:>8.2f}%{r['plugin_allocations']:>15}"
              f"{host_allocs:>13}")
    print("\nDawDreamer render wall time per block, whole graph with the plugin (passing through)")
    for block, wall in dd["through"].items():
        blocks = args.seconds * HOST_RATE / block
        per_block_us = wall / blocks * 1e6
        print(f"  {block:>4} frames: {per_block_us:8.2f} us a block "
              f"({100 * per_block_us / (block / HOST_RATE * 1e6):.2f} % of the block)")
    print("(VST3 plugin allocs: JUCE 7.0.5's VST3 wrapper copies a channel mapping each block)")
    print("\ntrigger to first take heard, tiny model (seconds)")
    print(f"{'stage':<38}{'DawDreamer':>12}{'test host (real time)':>24}")
    for stage in th["stages"]:
        print(f"{stage:<38}{dd['stages'][stage]:>12.3f}{th['stages'][stage]:>24.3f}")
    if args.json:
        args.json.write_text(json.dumps({"testhost": th, "dawdreamer": dd}, default=str,
                                        indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
