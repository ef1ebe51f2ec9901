"""③ Takes past the model's window: the plan of bar-aligned windows, and the tempo slack."""

from __future__ import annotations

import math

from sidecar.errors import RequestError

__all__ = [
    "CONTEXT_SECONDS",
    "MIN_PROMPT_SECONDS",
    "SLACK_RATIO",
    "SLACK_SECONDS",
    "plan_windows",
    "with_slack",
]

#: Extra audio asked of the model beyond the grid length, so tempo correction has material.
SLACK_RATIO = 0.10
SLACK_SECONDS = 0.5
#: Shortest prompt worth continuing, seconds.
MIN_PROMPT_SECONDS = 0.5
#: Past one window, each window is re-prompted with this much of the last one (whole bars).
CONTEXT_SECONDS = 10.0


def plan_windows(
    total_seconds: float,
    bpm: float | None,
    beats_per_bar: int,
    window_seconds: float,
    has_prompt: bool,
    bars: int | None = None,
) -> list[tuple[float, int | None]]:
    """Split a request into windows of (seconds, bars); one window when it fits.

    One window fits when the length (plus tempo slack) leaves room for at least
    `MIN_PROMPT_SECONDS` of prompt; a longer prompt is then cut to its tail. Past that, each
    window after the first is prompted with `CONTEXT_SECONDS` (whole bars) of the one before,
    so a window adds at most `window − context` seconds, less the slack. Windows are whole
    bars when `bpm` is given; the last one takes what is left.
    """
    room = window_seconds - (MIN_PROMPT_SECONDS if has_prompt else 0.0)
    if with_slack(total_seconds, bpm) <= room or (total_seconds <= room and bpm is not None):
        return [(total_seconds, bars)]
    max_new = (window_seconds - CONTEXT_SECONDS - SLACK_SECONDS) / (1 + SLACK_RATIO)
    if bpm is None:
        step = math.floor(max_new)
        count = math.ceil(total_seconds / step)
        return [(min(step, total_seconds - i * step), None) for i in range(count)]
    bar_seconds = beats_per_bar * 60.0 / bpm
    bars_total = round(total_seconds / bar_seconds)
    bars_step = math.floor(max_new / bar_seconds)
    if bars_step < 1:
        raise RequestError(
            f"bars: one bar at {bpm:g} bpm is {bar_seconds:.1f} s; a continuation past the "
            f"model's window needs bars of at most {max_new:.1f} s",
            "bars",
        )
    plan: list[tuple[float, int | None]] = []
    done = 0
    while done < bars_total:
        n = min(bars_step, bars_total - done)
        plan.append((n * bar_seconds, n))
        done += n
    return plan


def with_slack(seconds: float, bpm: float | None) -> float:
    """What to ask of the model for `seconds` of grid: more when the tempo will be corrected."""
    return seconds * (1 + SLACK_RATIO) + SLACK_SECONDS if bpm is not None else seconds
