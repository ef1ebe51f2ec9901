"""⑤ Prompt preparation: cut the clip by seconds or beats, fit channels and rate, check it."""

from __future__ import annotations

import math

import numpy as np

from sidecar.errors import AudioError, RequestError
from sidecar.post.channels import as_audio, to_channels
from sidecar.post.resample import resample
from sidecar.post.stretch import time_stretch

__all__ = ["RANGE_OVERSHOOT_SECONDS", "SILENCE_DBFS", "past_the_end", "prepare_prompt"]

#: How far a range may run past the clip's end and be taken as rounding (a DAW's marker in
#: beats, turned into seconds): the rest is silence nobody asked for. Beyond it the range is
#: refused: the prompt would stop short of the bar line the continuation is cut from.
RANGE_OVERSHOOT_SECONDS = 0.01


def past_the_end(field: str, end_seconds: float, clip_seconds: float) -> str:
    """The refusal for a range ending `end_seconds` into a clip of `clip_seconds`."""
    return (
        f"{field}: {end_seconds:.3f} s is past the clip's end ({clip_seconds:.3f} s); "
        "select a range inside the clip"
    )


#: A prompt whose peak stays below this is refused as silent.
SILENCE_DBFS = -60.0


def _check_number(value: float | None, field: str, *, positive: bool = False) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RequestError(f"{field}: expected a finite number; got {value!r}", field=field)
    if positive and value <= 0:
        raise RequestError(f"{field}: must be greater than 0; got {value}", field=field)
    if not positive and value < 0:
        raise RequestError(f"{field}: must be 0 or more; got {value}", field=field)


def _range_seconds(
    start_seconds: float | None,
    end_seconds: float | None,
    start_beats: float | None,
    end_beats: float | None,
    beat_bpm: float | None,
) -> tuple[float, float | None]:
    for seconds, beats, name in (
        (start_seconds, start_beats, "start"),
        (end_seconds, end_beats, "end"),
    ):
        if seconds is not None and beats is not None:
            raise RequestError(
                f"clip_{name}_beats: give the clip {name} in seconds or in beats, not both "
                f"(got clip_{name}_seconds={seconds} and clip_{name}_beats={beats})",
                field=f"clip_{name}_beats",
            )
    if (start_beats is not None or end_beats is not None) and beat_bpm is None:
        raise RequestError(
            "bpm: a clip range in beats needs the session bpm (or clip_bpm); got none",
            field="bpm",
        )
    beat = 60.0 / beat_bpm if beat_bpm is not None else 0.0
    start = start_seconds if start_seconds is not None else (start_beats or 0.0) * beat
    end = (
        end_seconds
        if end_seconds is not None
        else (None if end_beats is None else end_beats * beat)
    )
    if end is not None and end <= start:
        field = "clip_end_beats" if end_beats is not None else "clip_end_seconds"
        raise RequestError(
            f"{field}: the clip range ends at {end:.3f} s, at or before its start ({start:.3f} s); "
            "the end must come after the start",
            field=field,
        )
    return float(start), None if end is None else float(end)


def prepare_prompt(
    audio: np.ndarray,
    sample_rate: int,
    target_sample_rate: int,
    target_channels: int,
    *,
    start_seconds: float | None = None,
    end_seconds: float | None = None,
    start_beats: float | None = None,
    end_beats: float | None = None,
    bpm: float | None = None,
    clip_bpm: float | None = None,
    min_seconds: float = 0.5,
    max_seconds: float = 30.0,
) -> np.ndarray:
    """Turn a DAW clip into the model's prompt: float32 `(target_channels, samples)`.

    The range is [start, end) of the clip, each end given in seconds or in beats (not both).
    Beats count at `clip_bpm` when given (a warped clip whose file plays at its own tempo),
    else at the session `bpm`. With both tempos given and different, the cut is time-stretched
    by `bpm / clip_bpm` so the prompt plays at the session tempo. Channels are averaged to
    mono or duplicated to stereo, then the rate is converted with pedalboard's resampler.

    Raises `RequestError` (with `field`) for a malformed range, `AudioError` for a range past
    the clip's end, or a prompt that is silent (peak below -60 dBFS), shorter than
    `min_seconds` or longer than `max_seconds` (measured after any stretch).
    """
    _check_number(start_seconds, "clip_start_seconds")
    _check_number(end_seconds, "clip_end_seconds")
    _check_number(start_beats, "clip_start_beats")
    _check_number(end_beats, "clip_end_beats")
    _check_number(bpm, "bpm", positive=True)
    _check_number(clip_bpm, "clip_bpm", positive=True)
    if target_channels not in (1, 2):
        raise RequestError(
            f"channels: the model takes 1 or 2 channels; got {target_channels}", field="channels"
        )
    if target_sample_rate < 1 or sample_rate < 1:
        raise RequestError(
            f"sample_rate: must be a positive integer; got {sample_rate} -> {target_sample_rate}",
            field="sample_rate",
        )
    clip = as_audio(audio, "clip")
    beat_bpm = clip_bpm if clip_bpm is not None else bpm
    start, end = _range_seconds(start_seconds, end_seconds, start_beats, end_beats, beat_bpm)
    clip_seconds = clip.shape[1] / sample_rate
    first = round(start * sample_rate)
    if end is not None and end > clip_seconds + RANGE_OVERSHOOT_SECONDS:
        raise AudioError(past_the_end("clip_end", end, clip_seconds))
    last = clip.shape[1] if end is None else min(clip.shape[1], round(end * sample_rate))
    if first >= clip.shape[1] or last <= first:
        raise AudioError(
            f"clip range: [{start:.3f}, {'end' if end is None else f'{end:.3f}'}) s selects no "
            f"audio; the clip is {clip_seconds:.3f} s long"
        )
    cut = clip[:, first:last]
    ratio = 1.0 if clip_bpm is None or bpm is None else bpm / clip_bpm
    seconds = cut.shape[1] / sample_rate / ratio
    if seconds < min_seconds:
        raise AudioError(
            f"clip: the prompt is {seconds:.3f} s; need at least {min_seconds:g} s "
            "(select a longer range)"
        )
    if seconds > max_seconds:
        raise AudioError(
            f"clip: the prompt is {seconds:.1f} s; at most {max_seconds:g} s is used "
            "(select a shorter range)"
        )
    peak = float(np.max(np.abs(cut)))
    if peak < 10.0 ** (SILENCE_DBFS / 20.0):
        level = f"{20 * math.log10(peak):.1f} dBFS" if peak > 0 else "-inf dBFS"
        raise AudioError(
            f"clip: the selected range is silent (peak {level}; "
            f"need at least {SILENCE_DBFS:g} dBFS)"
        )
    cut = to_channels(cut, target_channels)
    if ratio == 1.0:
        out = resample(cut, sample_rate, target_sample_rate, engine="pedalboard")
    elif target_sample_rate <= sample_rate:  # stretch at the lower of the two rates: cheaper
        out, _ = time_stretch(
            resample(cut, sample_rate, target_sample_rate), target_sample_rate, ratio
        )
    else:
        out = resample(time_stretch(cut, sample_rate, ratio)[0], sample_rate, target_sample_rate)
    return np.ascontiguousarray(out, dtype=np.float32)
