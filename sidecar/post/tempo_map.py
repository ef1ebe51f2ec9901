"""⑤ The tempo map beside each stem: a MIDI file with tempo, time signature and bar markers."""

from __future__ import annotations

import math

import mido

__all__ = ["TICKS_PER_BEAT", "build_tempo_map"]

TICKS_PER_BEAT = 960


def build_tempo_map(bpm: float, bars: int, beats_per_bar: int = 4) -> mido.MidiFile:
    """A type-0 MIDI file exactly `bars` bars long at `bpm`, in `beats_per_bar`/4.

    It holds one `set_tempo` (microseconds per beat, rounded to the microsecond: mido can hold
    no finer), one `time_signature`, a `marker` "Bar n" on every bar line and `end_of_track`
    on the last bar line. Nothing is written: delivery saves it with `MidiFile.save`.
    """
    if not math.isfinite(bpm) or bpm <= 0:
        raise ValueError(f"bpm must be a positive number; got {bpm}")
    if bars < 1 or beats_per_bar < 1:
        raise ValueError(
            f"bars and beats_per_bar must be >= 1; got bars={bars}, beats_per_bar={beats_per_bar}"
        )
    midi = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_BEAT)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    track.append(mido.MetaMessage("track_name", name=f"sidecar {bpm:g} BPM", time=0))
    track.append(
        mido.MetaMessage(
            "time_signature", numerator=beats_per_bar, denominator=4, clocks_per_click=24, time=0
        )
    )
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    ticks_per_bar = beats_per_bar * TICKS_PER_BEAT
    for bar in range(bars):
        track.append(
            mido.MetaMessage("marker", text=f"Bar {bar + 1}", time=0 if bar == 0 else ticks_per_bar)
        )
    track.append(mido.MetaMessage("end_of_track", time=ticks_per_bar))
    return midi
