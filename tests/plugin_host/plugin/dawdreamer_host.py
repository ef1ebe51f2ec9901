"""A JSON-lines host process around DawDreamer (the protocol of the C++ test host, in part).

Run as `python -m tests.plugin_host.plugin.dawdreamer_host`. DawDreamer 0.9 (PyPI) is a JUCE
plugin host with a transport: tempo, ppq advancing, playing; always 4/4, no bar start; every
`render()` restarts the transport at 0 while the plugin keeps its state (its README and
reference/plugin.md). It runs in its own process so a plugin that hangs or crashes cannot
take the test runner with it.

Commands: load (plugin, sample_rate, block_size, bpm), input (wav | silence), param (name,
value 0..1, held for the following renders), automate (name, points [[seconds, value], ...]
for the next render only), render (seconds), save (path), quit.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import numpy as np
import soundfile as sf


class DawDreamerHost:
    def __init__(self) -> None:
        self.engine: Any = None
        self.plugin: Any = None
        self.sample_rate = 48000
        self.input: np.ndarray | None = None  # (channels, frames), looped to each render
        self.values: dict[int, float] = {}
        self.automation: dict[int, list[tuple[float, float]]] = {}
        self.output: list[np.ndarray] = []
        self.names: dict[str, int] = {}

    def load(self, plugin: str, sample_rate: int = 48000, block_size: int = 512,
             bpm: float = 120.0) -> dict[str, Any]:
        import dawdreamer as daw

        self.sample_rate = sample_rate
        self.engine = daw.RenderEngine(sample_rate, block_size)
        self.engine.set_bpm(float(bpm))
        self.plugin = self.engine.make_plugin_processor("plugin", plugin)
        params = []
        for index in range(self.plugin.get_plugin_parameter_size()):
            name = self.plugin.get_parameter_name(index)
            self.names[name.lower()] = index
            params.append({"index": index, "name": name, "value": self.plugin.get_parameter(index)})
        return {"name": self.plugin.get_name(), "parameters": params,
                "latency_samples": self.plugin.get_latency_samples()}

    def index(self, name: str) -> int:
        if name.lower() not in self.names:
            raise ValueError(f"no parameter named {name}; have {sorted(self.names)}")
        return self.names[name.lower()]

    def set_input(self, wav: str | None = None) -> dict[str, Any]:
        if wav is None:
            self.input = None
            return {}
        data, rate = sf.read(wav, dtype="float32", always_2d=True)
        if rate != self.sample_rate:
            raise ValueError(f"input rate {rate} differs from the host rate {self.sample_rate}")
        self.input = data.T.copy()
        return {"frames": int(data.shape[0])}

    def render(self, seconds: float) -> dict[str, Any]:
        frames = int(round(seconds * self.sample_rate))
        if self.input is None:
            source = np.zeros((2, frames), dtype=np.float32)
        else:
            reps = -(-frames // self.input.shape[1])
            source = np.tile(self.input, (1, reps))[:, :frames]
            if source.shape[0] == 1:
                source = np.repeat(source, 2, axis=0)
        playback = self.engine.make_playback_processor("input", source)
        for index in set(self.values) | set(self.automation):
            curve = np.full(frames, self.values.get(index, 0.0), dtype=np.float32)
            for at_seconds, point in self.automation.get(index, []):
                curve[int(round(at_seconds * self.sample_rate)):] = point
            self.plugin.set_automation(index, curve)
        self.engine.load_graph([(playback, []), (self.plugin, ["input"])])
        started = time.perf_counter()
        if not self.engine.render(float(seconds)):
            raise RuntimeError("DawDreamer render() returned false")
        wall = time.perf_counter() - started
        audio = np.asarray(self.engine.get_audio(), dtype=np.float32)[:, :frames]
        first = sum(o.shape[1] for o in self.output)
        self.output.append(audio)
        self.automation = {}  # one render only; held values stay
        return {"first_sample": first, "frames": int(audio.shape[1]), "wall_seconds": wall}

    def handle(self, command: dict[str, Any]) -> dict[str, Any]:
        cmd = command.pop("cmd")
        if cmd == "load":
            return self.load(**command)
        if self.plugin is None:
            raise ValueError(f"load a plugin first (cmd {cmd})")
        if cmd == "input":
            return self.set_input(command.get("wav"))
        if cmd == "param":
            self.values[self.index(command["name"])] = float(command["value"])
            return {}
        if cmd == "automate":
            points = [(float(t), float(v)) for t, v in command["points"]]
            self.automation[self.index(command["name"])] = points
            return {}
        if cmd == "render":
            return self.render(float(command["seconds"]))
        if cmd == "save":
            audio = np.concatenate(self.output, axis=1) if self.output else np.zeros((2, 0))
            sf.write(command["path"], audio.T, self.sample_rate, subtype="FLOAT")
            return {"frames": int(audio.shape[1])}
        raise ValueError(f"unknown cmd '{cmd}'")


def main() -> int:
    host = DawDreamerHost()
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        if command.get("cmd") == "quit":
            print(json.dumps({"ok": True}), flush=True)
            break
        try:
            reply = {"ok": True, **host.handle(command)}
        except Exception as error:  # reported to the test as this command's failure
            reply = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        print(json.dumps(reply), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
