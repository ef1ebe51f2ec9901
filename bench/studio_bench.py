"""The studio page's numbers, side by side in one run against one `sidecar serve --model tiny`:

- page load, warm, on loopback (navigation to the page's load event, and to its first data);
- how long a progress event takes from the worker's report to the page (the event's `sent_at`,
  stamped when the worker hands the reply to the replier, against the page's clock on receipt);
- drawing the waveform and grid of an 8-bar stereo stem: the server's peaks (HTTP round trip)
  and the canvas drawing in the browser;
- decoding with the page open (events streaming, status polled) and closed, interleaved.

    python bench/studio_bench.py [--runs 4] [--seconds 10] [--out bench/results/x.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from playwright.sync_api import Page  # noqa: E402

from sidecar.osc import addresses as A  # noqa: E402
from sidecar.osc.client import SidecarClient  # noqa: E402
from tests.support.server import SidecarProcess, running_sidecar  # noqa: E402
from tests.web.browser import chromium  # noqa: E402


def _stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {
        "n": len(values),
        "median": round(statistics.median(values), 2),
        "p95": round(p95, 2),
        "max": round(max(values), 2),
    }


def page_load(page: Page, url: str, loads: int) -> dict[str, Any]:
    page.goto(url)  # cold: the first load fills the browser's cache and the server's
    page.wait_for_selector("body[data-ready='1']")
    load_ms, ready_ms = [], []
    for _ in range(loads):
        started = time.perf_counter()
        page.reload()
        page.wait_for_selector("body[data-ready='1']")
        ready_ms.append((time.perf_counter() - started) * 1000)
        nav = page.evaluate("performance.getEntriesByType('navigation')[0].toJSON()")
        load_ms.append(nav["loadEventEnd"] - nav["startTime"])
    return {"load_event_ms": _stats(load_ms), "ready_with_data_ms": _stats(ready_ms)}


def _decode(client: SidecarClient, rid: str, seconds: float) -> dict[str, float]:
    started = time.perf_counter()
    client.send(A.GENERATE, rid, "prompt", "drums", "seconds", seconds, "seed", 7)
    replies = client.until_terminal(rid, 600)
    wall = time.perf_counter() - started
    if replies[-1][0] != A.DONE:
        raise RuntimeError(f"{rid}: {replies[-1]}")
    stem = next(args for address, args in replies if address == A.STEM)
    timings = json.loads(Path(stem[2]).with_suffix(".json").read_text())["timings"]
    return {"decode_seconds": float(timings["decode_seconds"]), "wall_seconds": wall}


def progress_and_decodes(
    server: SidecarProcess, page: Page, runs: int, seconds: float
) -> dict[str, Any]:
    """Decodes with the page closed and open, interleaved; progress latency of the open ones."""
    closed: list[dict[str, float]] = []
    opened: list[dict[str, float]] = []
    with SidecarClient(server.host, server.port) as client:
        _decode(client, "warm", seconds)
        for i in range(runs):
            page.goto("about:blank")  # closed: no page holds the event stream
            closed.append(_decode(client, f"closed-{i}", seconds))
            page.goto(server.url)
            page.wait_for_selector("body[data-ready='1']")
            page.locator("#tab-queue").click()
            opened.append(_decode(client, f"open-{i}", seconds))
            page.wait_for_function(
                f"document.querySelector('#job-open-{i}')?.dataset.state === 'done'"
            )
            latencies = page.evaluate("window.studio.progressLatencyMs")
            opened[-1]["progress_latency_ms"] = latencies
    latencies_ms = [x for run in opened for x in run.pop("progress_latency_ms")]  # type: ignore[attr-defined]
    decode_closed = [r["decode_seconds"] for r in closed]
    decode_open = [r["decode_seconds"] for r in opened]
    return {
        "progress_event_latency_ms": _stats(latencies_ms),
        "decode_seconds_page_closed": [round(x, 3) for x in decode_closed],
        "decode_seconds_page_open": [round(x, 3) for x in decode_open],
        "decode_median_ratio_open_over_closed": round(
            statistics.median(decode_open) / statistics.median(decode_closed), 3
        ),
        # The fastest of each: least disturbed by other work on a shared machine.
        "decode_min_ratio_open_over_closed": round(min(decode_open) / min(decode_closed), 3),
        "wall_median_ratio_open_over_closed": round(
            statistics.median(r["wall_seconds"] for r in opened)
            / statistics.median(r["wall_seconds"] for r in closed),
            3,
        ),
    }


def drawing(server: SidecarProcess, page: Page, repeats: int) -> dict[str, Any]:
    """Peaks and canvas drawing of an 8-bar stereo stem at 120 BPM (16 s, 48 kHz)."""
    with SidecarClient(server.host, server.port) as client:
        client.send(A.GENERATE, "eight-bars", "bars", 8, "bpm", 120.0, "channels", 2)
        replies = client.until_terminal("eight-bars", 600)
    stem = next(args for address, args in replies if address == A.STEM)[2]
    peaks_ms = []
    with httpx.Client(base_url=server.url) as http:
        for _ in range(repeats):
            started = time.perf_counter()
            body = http.get("/api/peaks", params={"path": stem, "buckets": 1200}).json()
            peaks_ms.append((time.perf_counter() - started) * 1000)
    assert len(body["peaks"]["channels"]) == 2 and body["report"]["bars"] == 8
    page.goto(server.url)
    page.wait_for_selector("body[data-ready='1']")
    draw_ms = page.evaluate(
        """([peaks, n]) => {
            const canvas = document.createElement("canvas");
            canvas.width = 1200; canvas.height = 140;
            document.body.append(canvas);
            const grid = {bpm: 120, beats_per_bar: 4, start_seconds: 0};
            return Array.from({length: n}, () => Draw.wave(canvas, peaks, grid, null));
        }""",
        [body["peaks"], repeats],
    )
    return {
        "stem": {
            "bars": 8,
            "bpm": 120,
            "channels": 2,
            "seconds": body["peaks"]["duration_seconds"],
        },
        "server_peaks_http_ms": _stats(peaks_ms),
        "browser_draw_ms": _stats(draw_ms),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=4, help="decodes each, page open and closed")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each decode")
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="studio-bench-"))
    with (
        running_sidecar(work / "server", "--no-warm-up", http=True) as server,
        chromium(work / "profile") as browser,
    ):
        page = browser.new_page()
        result = {
            "measured": time.strftime("%Y-%m-%d"),
            "model": "tiny",
            "page_load": page_load(page, server.url, args.loads),
            "drawing_8_bar_stereo": drawing(server, page, 20),
            **progress_and_decodes(server, page, args.runs, args.seconds),
        }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    return result


if __name__ == "__main__":
    main()
