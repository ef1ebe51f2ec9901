"""③ Takes past the model's window: the plan of bar-aligned windows, and the tempo slack."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sidecar.errors import RequestError

__all__ = [
    "CODEC_ALLOWANCE",
    "CONTEXT_SECONDS",
    "MIN_PROMPT_SECONDS",
    "POST_ALLOWANCE",
    "SLACK_RATIO",
    "SLACK_SECONDS",
    "WindowWork",
    "context_seconds",
    "generated_seconds",
    "plan_windows",
    "progress_shares",
    "window_works",
    "with_slack",
]

#: Extra audio asked of the model beyond the grid length, so tempo correction has material.
SLACK_RATIO = 0.10
SLACK_SECONDS = 0.5
#: Shortest prompt worth continuing, seconds.
MIN_PROMPT_SECONDS = 0.5
#: Past one window, each window is re-prompted with this much of the last one (whole bars).
CONTEXT_SECONDS = 10.0
#: Progress allowances beside a window's decoding steps, in seconds of steps per second of
#: audio. The codec encodes a window's prompt before its first step and decodes the whole
#: window (prompt included) after its last one, and a window before the last is put through
#: the tempo contract before the next one starts: no step reports during any of them. With the
#: tiny model on a CPU the codec measured 0.1 (encoding) to 0.2 (decoding) and a window's
#: contract about 0.1; on a GPU the steps weigh more, and the bar is then a little ahead.
CODEC_ALLOWANCE = 0.2
POST_ALLOWANCE = 0.1


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


def context_seconds(bpm: float | None, beats_per_bar: int) -> float:
    """How much of the take so far re-prompts the next window: whole bars, ≈ CONTEXT_SECONDS."""
    if bpm is None:
        return CONTEXT_SECONDS
    bar = beats_per_bar * 60.0 / bpm
    return max(1, math.floor(CONTEXT_SECONDS / bar)) * bar


def generated_seconds(
    seconds: float, bpm: float | None, max_seconds: float, prompt_seconds: float
) -> float:
    """What a window of `seconds` asks of the model: its slack, as far as the prompt leaves room."""
    return max(seconds, min(with_slack(seconds, bpm), max_seconds - prompt_seconds))


@dataclass(frozen=True)
class WindowWork:
    """A window's decoding work in seconds of steps, in the order it is done."""

    #: Encoding its prompt, before the first step.
    prompt: float
    #: Its steps: the seconds it generates, slack included.
    steps: float
    #: Decoding its codes to audio (prompt included), after the last step.
    codec: float
    #: Its tempo contract (a window before the last), before the next window starts.
    post: float

    @property
    def total(self) -> float:
        return self.prompt + self.steps + self.codec + self.post


def window_works(
    plan: list[tuple[float, int | None]],
    bpm: float | None,
    beats_per_bar: int,
    max_seconds: float,
    prompt_seconds: float,
) -> list[WindowWork]:
    """Each window's work; `prompt_seconds` prompts the first, the take so far the others."""
    works = []
    done = 0.0
    for w, (seconds, _) in enumerate(plan):
        prompt = prompt_seconds if w == 0 else min(context_seconds(bpm, beats_per_bar), done)
        steps = generated_seconds(seconds, bpm, max_seconds, prompt)
        works.append(
            WindowWork(
                prompt=CODEC_ALLOWANCE * prompt,
                steps=steps,
                codec=CODEC_ALLOWANCE * (prompt + steps),
                post=POST_ALLOWANCE * seconds if w + 1 < len(plan) else 0.0,
            )
        )
        done += seconds
    return works


def progress_shares(works: list[WindowWork]) -> list[tuple[float, float]]:
    """Each window's (start, width) of the decoding progress, in proportion to its work, so
    that the fraction tracks the time spent (equal shares left a short last window a quarter
    of the bar, and the ETA jumped up at every window boundary)."""
    total = sum(work.total for work in works)
    shares = []
    start = 0.0
    for work in works:
        width = work.total / total
        shares.append((start, width))
        start += width
    return shares
