"""Read the selected audio clip and the song's tempo, metre and key from Live's object model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from Live.Clip import Clip
    from Live.ClipSlot import ClipSlot
    from Live.Song import Song
    from Live.TakeLane import TakeLane
    from Live.Track import Track

__all__ = [
    "NOTE_NAMES",
    "ClipRegion",
    "SelectionError",
    "SongContext",
    "Target",
    "read_clip_region",
    "read_song_context",
    "read_target",
    "song_key",
]

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

#: Live scale names the sidecar's `key` can express ("<root> major" / "<root> minor").
_SCALE_QUALITIES = {"Major": "major", "Ionian": "major", "Minor": "minor", "Aeolian": "minor"}


class SelectionError(ValueError):
    """Nothing usable is selected: no clip, a MIDI clip, or a clip without a file."""


@dataclass(frozen=True)
class SongContext:
    """Tempo, metre and key of the set.

    `bpm` is Live's tempo, in quarter notes (Live's beat unit). The sidecar counts a bar in
    `beats_per_bar` beats of `beat_quarters` quarter notes each: quarter notes where the bar
    is a whole number of them (6/8 is 3 beats), else the signature's own note (7/8 is 7
    eighth-note beats at twice the quarter-note tempo).
    """

    bpm: float
    beats_per_bar: int
    key: str | None
    beat_quarters: float = 1.0

    @property
    def beat_bpm(self) -> float:
        """The tempo of the counted beat: what the sidecar is sent as `bpm`."""
        return self.bpm / self.beat_quarters

    @property
    def bar_quarters(self) -> float:
        """One bar in Live beats (quarter notes)."""
        return self.beats_per_bar * self.beat_quarters


@dataclass(frozen=True)
class ClipRegion:
    """The part of the clip's file that plays: loop_start to loop_end, which are the loop
    brace when looping and the clip's own start and end when not (Cycling '74 LOM, Clip).

    Seconds are positions in the source file; beats are clip beats (at `clip_bpm` when the
    clip is warped, at the song tempo otherwise).
    """

    file_path: str
    start_beats: float
    end_beats: float
    start_seconds: float | None
    end_seconds: float | None
    clip_bpm: float | None
    warping: bool
    looping: bool

    @property
    def length_beats(self) -> float:
        return self.end_beats - self.start_beats


@dataclass(frozen=True)
class Target:
    """Where results go: below the source slot (Session) or after the clip (Arrangement),
    on the clip's take lane when it is on one (Live 12.2+)."""

    track: Track
    source_slot: ClipSlot | None
    arrangement_end_beats: float | None
    clip_name: str
    lane: TakeLane | None = None

    @property
    def is_arrangement(self) -> bool:
        return self.source_slot is None


def song_key(song: Song) -> str | None:
    """`"F# minor"` from Live 12's root_note/scale_name, when Scale Mode is on; else None."""
    try:
        # Song.scale_mode arrived in 12.0.5 (stubs generated inside 12.0.0 and 12.0.5).
        if not getattr(song, "scale_mode", False):
            return None
        root_note = int(song.root_note)
        scale_name = str(song.scale_name)
    except AttributeError:
        return None  # Live 11 has no song key.
    quality = _SCALE_QUALITIES.get(scale_name)
    if quality is None or not 0 <= root_note < len(NOTE_NAMES):
        return None
    return f"{NOTE_NAMES[root_note]} {quality}"


def read_song_context(song: Song, key_setting: str) -> SongContext:
    """Tempo and metre from the song; the key from the setting ('auto', 'off' or a key)."""
    numerator = int(song.signature_numerator)
    denominator = int(song.signature_denominator)
    quarter_beats = numerator * 4.0 / denominator
    if quarter_beats.is_integer():
        beats_per_bar, beat_quarters = int(quarter_beats), 1.0
    else:
        beats_per_bar, beat_quarters = numerator, 4.0 / denominator
    if key_setting == "auto":
        key = song_key(song)
    elif key_setting == "off":
        key = None
    else:
        key = key_setting
    return SongContext(
        bpm=float(song.tempo),
        beats_per_bar=max(1, beats_per_bar),
        key=key,
        beat_quarters=beat_quarters,
    )


def _selected_clip(song: Song) -> Clip:
    clip = song.view.detail_clip
    if clip is None:
        raise SelectionError("select an audio clip first (click it so it shows in Clip View)")
    if not clip.is_audio_clip:
        raise SelectionError(f"'{clip.name}' is a MIDI clip; select an audio clip")
    if not clip.file_path:
        raise SelectionError(f"'{clip.name}' has no audio file on disk")
    # Live is still writing a clip that records (or is armed to): its file is incomplete.
    if clip.is_recording:
        raise SelectionError(
            f"'{clip.name}' is still recording: stop the recording, then press generate"
        )
    if int(clip.sample_length) <= 0:  # the stubs: -1 "if there is no sample available"
        raise SelectionError(f"Live has no sample for '{clip.name}' yet: try again in a moment")
    return clip


def _source_seconds(clip: Clip, beat_time: float) -> float | None:
    """Position in the source file (seconds) for a clip beat, through its warp markers.

    Clip.beat_to_sample_time answers in samples, not seconds: Live's own MxDCore divides it
    by the clip's sample_rate to make a WarpMarker (_MxDCore/MxDCore.py), and Push 2 maps
    sample_length, a frame count, through sample_to_beat_time (Push2/clip_decoration.py).
    """
    try:
        samples = float(clip.beat_to_sample_time(beat_time))
        sample_rate = float(clip.sample_rate)
    except (AttributeError, RuntimeError):
        return None
    if sample_rate <= 0:
        return None
    return max(0.0, samples / sample_rate)


def read_clip_region(song: Song, context: SongContext) -> ClipRegion:
    """The selected clip's playing region; raises SelectionError when nothing fits."""
    clip = _selected_clip(song)
    looping = bool(clip.looping)
    # loop_start/loop_end are the loop when looping and the clip's start and end when not;
    # an unlooped clip's start_marker/end_marker are not what plays (LOM; Push 2's script).
    start = float(clip.loop_start)
    end = float(clip.loop_end)
    if end <= start:
        raise SelectionError(f"'{clip.name}' has an empty region ({start:g} to {end:g})")
    warping = bool(clip.warping)
    if not warping:
        # Unwarped clips keep their markers in seconds of the file.
        beats_per_second = context.bpm / 60.0
        return ClipRegion(
            file_path=str(clip.file_path),
            start_beats=start * beats_per_second,
            end_beats=end * beats_per_second,
            start_seconds=start,
            end_seconds=end,
            clip_bpm=None,
            warping=False,
            looping=looping,
        )
    start_seconds = _source_seconds(clip, start)
    end_seconds = _source_seconds(clip, end)
    clip_bpm: float | None = None
    if start_seconds is not None and end_seconds is not None and end_seconds > start_seconds:
        clip_bpm = (end - start) * 60.0 / (end_seconds - start_seconds)
    else:
        start_seconds = end_seconds = None
    return ClipRegion(
        file_path=str(clip.file_path),
        start_beats=start,
        end_beats=end,
        start_seconds=start_seconds,
        end_seconds=end_seconds,
        clip_bpm=clip_bpm,
        warping=True,
        looping=looping,
    )


def _arrangement_track(song: Song, clip: Clip) -> Track:
    # The stubs' Vector resolves to Any under mypy; annotate elements so their use is checked.
    tracks: list[Track] = list(song.tracks)
    for track in tracks:
        clips: list[Clip] = list(track.arrangement_clips)
        if any(candidate == clip for candidate in clips):
            return track
    return song.view.selected_track


def _take_lane(song: Song, clip: Clip) -> tuple[Track, TakeLane] | None:
    """The track and take lane of a take-lane clip (Live 12.2+: Clip.is_take_lane_clip,
    Track.take_lanes; a take-lane clip is not in its track's arrangement_clips)."""
    if not getattr(clip, "is_take_lane_clip", False):
        return None
    tracks: list[Track] = list(song.tracks)
    for track in tracks:
        lanes: list[TakeLane] = list(getattr(track, "take_lanes", ()))
        for lane in lanes:
            clips: list[Clip] = list(lane.arrangement_clips)
            if any(candidate == clip for candidate in clips):
                return track, lane
    return None


def _recording_into(song: Song, track: Track) -> bool:
    """Whether Live is recording into `track` in the Arrangement now (Arrangement Record on,
    the transport running, the track armed): its clips may still be being written."""
    try:
        return (
            bool(song.record_mode)
            and bool(song.is_playing)
            and bool(track.can_be_armed)
            and bool(track.arm)
        )
    except (AttributeError, RuntimeError):  # a group or return track, or a deleted one
        return False


def read_target(song: Song) -> Target:
    """Where the selected clip's results belong; raises SelectionError while Live records
    into the selected Arrangement clip's track."""
    clip = _selected_clip(song)
    if clip.is_arrangement_clip:
        on_lane = _take_lane(song, clip)
        track = on_lane[0] if on_lane else _arrangement_track(song, clip)
        if _recording_into(song, track):
            raise SelectionError(
                f"Live is recording on '{track.name}': stop the recording, then press generate"
            )
        return Target(
            track=track,
            source_slot=None,
            arrangement_end_beats=float(clip.end_time),
            clip_name=str(clip.name),
            lane=on_lane[1] if on_lane else None,
        )
    slot = clip.canonical_parent
    return Target(
        track=slot.canonical_parent,
        source_slot=slot,
        arrangement_end_beats=None,
        clip_name=str(clip.name),
    )
