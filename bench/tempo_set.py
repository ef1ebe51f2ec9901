"""Build the real-music tempo evaluation set: loops and songs made by people, exact grids.

Three sources, all Debian packages (installed by .ci/run), none synthesized by our tests:

- `sonic-pi-samples`: Sonic Pi's recorded loops (amen break, breakbeat, tabla, ...). Each is a
  whole number of beats cut on its first downbeat, so its tempo is beats x 60 / duration and
  its bar lines are the loop's starts; it is tiled to 40 s (`_LOOPS` gives the beat counts).
- `openttd-openmsx`: OpenMSX, the open music set of OpenTTD: 24 constant-tempo MIDI songs
  (ragtime, blues, boogie, swing, rock, funk) by several composers, rendered through
  FluidSynth with the FluidR3 General MIDI soundfont (`fluid-soundfont-gm`); the grid is the
  MIDI file's own (tempo map and time signatures, via pretty_midi).
- `mma`: Musical MIDI Accompaniment's groove library (Bob van der Poel and contributors):
  16 bars of a chord progression in each of 12 grooves (swing, bossa nova, funk, ska, salsa,
  trance, shuffle, jazz waltz, ...), rendered the same way.

    python bench/tempo_set.py [--out build/tempo_set]

writes one FLAC (32 kHz stereo, MusicGen's rate) and one entry of `index.json` per track:
name, source, genre, beats_per_bar, bpm, beats and downbeats (seconds). About 35 s of CPU
(1.7 min on the loaded 2-core development machine), 150 MB.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

__all__ = ["DEFAULT_DIR", "build", "load_index"]

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "build" / "tempo_set"
SAMPLE_RATE = 32000
TRACK_SECONDS = 40.0
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
_FLUIDSYNTH = ("fluidsynth", "-ni", "-q", "-r", str(SAMPLE_RATE), "-g", "0.6")
SONIC_PI = Path("/usr/share/sonic-pi/samples")
OPENMSX = Path("/usr/share/games/openttd/baseset/openmsx")

#: Sonic Pi loops with a pulse: (file stem, beats in the loop, beats per bar, genre). The
#: drone (loop_drone_g_97) has no beat and is left out.
_LOOPS = (
    ("loop_amen", 4, 4, "breakbeat"),
    ("loop_amen_full", 16, 4, "breakbeat"),
    ("loop_breakbeat", 4, 4, "breakbeat"),
    ("loop_compus", 16, 4, "electronic"),
    ("loop_electric", 4, 4, "electronic"),
    ("loop_garzul", 16, 4, "electronic"),
    ("loop_industrial", 2, 2, "industrial"),
    ("loop_mehackit1", 4, 4, "electronic"),
    ("loop_mehackit2", 4, 4, "electronic"),
    ("loop_mika", 16, 4, "electronic"),
    ("loop_perc1", 4, 4, "percussion"),
    ("loop_perc2", 4, 4, "percussion"),
    ("loop_safari", 16, 4, "percussion"),
    ("loop_tabla", 16, 4, "world"),
    ("loop_3d_printer", 16, 4, "electronic"),
    ("loop_weirdo", 8, 4, "electronic"),
)

#: OpenMSX songs at one tempo throughout (those with tempo ramps are left out), and a genre.
_SONGS = (
    ("boogi_marabi_redfarn", "boogie"),
    ("busy_schedule", "rock"),
    ("careless_perc_redfarn", "funk"),
    ("chemistry_lab", "electronic"),
    ("city_blues_redfarn", "blues"),
    ("coconut_run2", "latin"),
    ("flying_scotsman", "swing"),
    ("harp_harmony", "pop"),
    ("keep_on_rolling", "rock"),
    ("linns_basket", "jazz"),
    ("mighty_giant_run", "rock"),
    ("modern_motion", "electronic"),
    ("moo_redfarn", "funk"),
    ("mosey_along_redfarn", "country"),
    ("no_work_song_redfarn", "blues"),
    ("relax_song", "pop"),
    ("run_for_your_life", "rock"),
    ("say_what_redfarn", "funk"),
    ("slow_neasy_redfarn", "blues"),
    ("the_fast_route", "electronic"),
    ("the_hobo_redfarn", "ragtime"),
    ("train_filled_with_cash", "ragtime"),
    ("ultimate_run", "rock"),
    ("wood_whistles", "pop"),
)

#: MMA grooves: (groove, tempo, genre).
_GROOVES = (
    ("Swing", 132, "swing"),
    ("EasySwing", 96, "swing"),
    ("BossaNova", 124, "bossa nova"),
    ("BVFunk", 104, "funk"),
    ("Ska", 150, "ska"),
    ("Salsa", 180, "salsa"),
    ("Trance", 138, "electronic"),
    ("ShuffleBoggie", 118, "shuffle"),
    ("JazzWaltz", 150, "jazz waltz"),
    ("50sRock", 160, "rock"),
    ("SlowBlues", 66, "blues"),
    ("R&B", 92, "r&b"),
)
_PROGRESSION = ("C", "Am", "F", "G7") * 4


def build(out: Path) -> list[dict[str, object]]:
    """Render every track into `out` (skipping those already there) and write the index."""
    for tool in ("fluidsynth", "mma"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (apt-get install fluidsynth mma ...: see .ci/run)")
    out.mkdir(parents=True, exist_ok=True)
    latency = _render_latency()
    jobs = [lambda a=a: _loop_track(out, *a) for a in _LOOPS]
    jobs += [lambda a=a: _song_track(out, *a, latency) for a in _SONGS]
    jobs += [lambda a=a: _groove_track(out, *a, latency) for a in _GROOVES]
    with ThreadPoolExecutor(max_workers=4) as pool:
        entries = list(pool.map(lambda job: job(), jobs))
    (out / "index.json").write_text(json.dumps(entries, indent=1))
    return entries


def load_index(directory: Path = DEFAULT_DIR) -> list[dict[str, object]]:
    """The set's index, or SystemExit saying how to build it."""
    index = directory / "index.json"
    if not index.exists():
        sys.exit(f"no tempo set in {directory}: run python bench/tempo_set.py first")
    entries: list[dict[str, object]] = json.loads(index.read_text())
    return entries


def _entry(
    name: str, source: str, genre: str, beats_per_bar: int, beats: np.ndarray
) -> dict[str, object]:
    beats = beats[beats < TRACK_SECONDS]
    bpm = 60.0 / float(np.median(np.diff(beats)))
    return {
        "name": name,
        "file": f"{name}.flac",
        "source": source,
        "genre": genre,
        "beats_per_bar": beats_per_bar,
        "bpm": bpm,
        "beats": [round(float(b), 6) for b in beats],
        "downbeats": [round(float(b), 6) for b in beats[::beats_per_bar]],
    }


def _loop_track(
    out: Path, stem: str, beats: int, beats_per_bar: int, genre: str
) -> dict[str, object]:
    audio, rate = sf.read(SONIC_PI / f"{stem}.flac", dtype="float32", always_2d=True)
    loop = _to_rate(audio.T, rate)
    repeats = int(np.ceil(TRACK_SECONDS * SAMPLE_RATE / loop.shape[1]))
    tiled = np.tile(loop, (1, repeats))[:, : int(TRACK_SECONDS * SAMPLE_RATE)]
    beat_seconds = loop.shape[1] / SAMPLE_RATE / beats
    grid = np.arange(0.0, TRACK_SECONDS, beat_seconds)
    _write(out / f"{stem}.flac", tiled)
    return _entry(stem, "sonic-pi-samples", genre, beats_per_bar, grid)


def _song_track(out: Path, stem: str, genre: str, latency: float) -> dict[str, object]:
    return _midi_track(out, OPENMSX / f"{stem}.mid", stem, "openttd-openmsx", genre, latency)


def _groove_track(
    out: Path, groove: str, bpm: int, genre: str, latency: float
) -> dict[str, object]:
    name = "mma_" + groove.lower().replace("&", "n")
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / f"{name}.mma"
        bars = "\n".join(f"{i + 1} {chord}" for i, chord in enumerate(_PROGRESSION * 2))
        script.write_text(f"Tempo {bpm}\nGroove {groove}\n{bars}\n")
        midi = Path(scratch) / f"{name}.mid"
        subprocess.run(["mma", "-f", str(midi), str(script)], check=True, capture_output=True)
        return _midi_track(out, midi, name, "mma", genre, latency)


def _midi_track(
    out: Path, midi: Path, name: str, source: str, genre: str, latency: float
) -> dict[str, object]:
    import pretty_midi

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        song = pretty_midi.PrettyMIDI(str(midi))
    signatures = song.time_signature_changes
    beats_per_bar = signatures[0].numerator if signatures else 4
    beats = np.asarray(song.get_beats(), dtype=np.float64) + latency
    target = out / f"{name}.flac"
    if not target.exists():
        with tempfile.TemporaryDirectory() as scratch:
            # Only what the track keeps is rendered (FluidSynth's time grows with the song).
            for instrument in song.instruments:
                instrument.notes = [n for n in instrument.notes if n.start < TRACK_SECONDS]
            short = Path(scratch) / "short.mid"
            song.write(str(short))
            wav = Path(scratch) / "render.wav"
            subprocess.run(
                [*_FLUIDSYNTH, "-F", str(wav), str(SOUNDFONT), str(short)],
                check=True,
                capture_output=True,
            )
            audio, _ = sf.read(wav, dtype="float32", always_2d=True)
        _write(target, audio.T[:, : int(TRACK_SECONDS * SAMPLE_RATE)])
    return _entry(name, source, genre, beats_per_bar, beats)


def _render_latency() -> float:
    """Seconds from a note-on to its sound in FluidSynth's file rendering (about 4.5 ms: a
    block of its mixer), measured on a kick drum at 1 s."""
    import pretty_midi

    song = pretty_midi.PrettyMIDI(initial_tempo=120)
    drums = pretty_midi.Instrument(0, is_drum=True)
    drums.notes.append(pretty_midi.Note(velocity=110, pitch=36, start=1.0, end=1.3))
    song.instruments.append(drums)
    with tempfile.TemporaryDirectory() as scratch:
        midi, wav = Path(scratch) / "kick.mid", Path(scratch) / "kick.wav"
        song.write(str(midi))
        subprocess.run(
            [*_FLUIDSYNTH, "-F", str(wav), str(SOUNDFONT), str(midi)],
            check=True,
            capture_output=True,
        )
        audio, rate = sf.read(wav, dtype="float32", always_2d=True)
    level = np.abs(audio).max(axis=1)
    return float(np.argmax(level > 0.05 * level.max())) / rate - 1.0


def _to_rate(audio: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLE_RATE:
        return audio
    import soxr

    return np.ascontiguousarray(soxr.resample(audio.T, rate, SAMPLE_RATE, quality="VHQ").T)


def _write(path: Path, audio: np.ndarray) -> None:
    if audio.shape[0] == 1:
        audio = np.repeat(audio, 2, axis=0)
    peak = float(np.max(np.abs(audio))) or 1.0
    partial = path.with_suffix(".part.flac")
    sf.write(partial, (audio / max(peak, 1.0)).T, SAMPLE_RATE, subtype="PCM_16")
    partial.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR)
    entries = build(parser.parse_args().out)
    genres = sorted({str(e["genre"]) for e in entries})
    print(f"{len(entries)} tracks, {len(genres)} genres: {', '.join(genres)}")


if __name__ == "__main__":
    main()
