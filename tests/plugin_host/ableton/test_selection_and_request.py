"""Reading the clip region and song context, and building requests the sidecar's schema accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from plugin_host.ableton.request import MAX_SECONDS, build_request, max_bars
from plugin_host.ableton.selection import (
    SelectionError,
    read_clip_region,
    read_song_context,
    read_target,
)
from plugin_host.ableton.settings import (
    DEFAULT_BUTTONS,
    MidiBinding,
    Settings,
    SettingsError,
    load_settings,
    parse_settings,
)
from sidecar.osc import addresses
from sidecar.osc.schema import GenerateRequest
from sidecar.takes.windows import plan_windows
from tests.plugin_host.ableton.fake_live import FakeClip, FakeSong

SCRIPT_DIR = Path(__file__).parents[3] / "plugin_host" / "ableton"
# Fakes have the stubs' shape (test_typecheck checks it) but are not subclasses of the stubs'
# nominal classes, so tests hand them to the script as Any.


def select(song: FakeSong, clip: FakeClip) -> FakeClip:
    song.tracks[0].clip_slots[0].put(clip)
    song.view.detail_clip = clip
    return clip


@pytest.mark.parametrize(
    ("file_bpm", "loop", "seconds"),
    [
        (120.0, (0.0, 8.0), (0.0, 4.0)),
        (90.0, (4.0, 12.0), (4.0 * 60 / 90, 12.0 * 60 / 90)),
    ],
)
def test_warped_loop_region_goes_through_the_warp_map(file_bpm, loop, seconds) -> None:
    song: Any = FakeSong(tempo=128.0)
    select(
        song,
        FakeClip(
            "/a.wav", file_bpm=file_bpm, file_seconds=60.0, loop_start=loop[0], loop_end=loop[1]
        ),
    )
    region = read_clip_region(song, read_song_context(song, "off"))
    assert (region.start_beats, region.end_beats) == loop
    assert region.start_seconds == pytest.approx(seconds[0])
    assert region.end_seconds == pytest.approx(seconds[1])
    assert region.clip_bpm == pytest.approx(file_bpm)


def test_unwarped_markers_are_seconds() -> None:
    song: Any = FakeSong(tempo=100.0)
    select(song, FakeClip("/a.wav", warping=False, looping=False, loop_start=1.0, loop_end=5.8))
    region = read_clip_region(song, read_song_context(song, "off"))
    assert (region.start_seconds, region.end_seconds) == (1.0, 5.8)
    assert region.end_beats - region.start_beats == pytest.approx(8.0)
    assert region.clip_bpm is None


@pytest.mark.parametrize(
    ("numerator", "denominator", "beats_per_bar"),
    [(4, 4, 4), (3, 4, 3), (6, 8, 3), (7, 8, 7), (2, 2, 4)],
)
def test_beats_per_bar_in_quarter_notes(numerator, denominator, beats_per_bar) -> None:
    song: Any = FakeSong(numerator=numerator, denominator=denominator)
    context = read_song_context(song, "off")
    assert context.beats_per_bar == beats_per_bar
    # Whatever the counted beat, a bar lasts the signature's length in quarter notes.
    assert context.bar_quarters == pytest.approx(numerator * 4 / denominator)
    bar_seconds = context.beats_per_bar * 60.0 / context.beat_bpm
    assert bar_seconds == pytest.approx(context.bar_quarters * 60.0 / song.tempo)


@pytest.mark.parametrize("beats_per_bar", [3, 4, 7])
@pytest.mark.parametrize("bpm", [60.0, 87.0, 120.0, 128.0, 150.0, 174.0, 200.0])
def test_the_longest_automatic_take_is_one_model_window(bpm: float, beats_per_bar: int) -> None:
    """So a `loop` preset works on any region: the sidecar refuses to loop a windowed take."""
    bars = max_bars(bpm, beats_per_bar)
    seconds = bars * beats_per_bar * 60.0 / bpm
    assert len(plan_windows(seconds, bpm, beats_per_bar, 30.0, True, bars)) == 1
    longer = (bars + 1) * beats_per_bar * 60.0 / bpm
    assert longer > MAX_SECONDS


@pytest.mark.parametrize(
    ("scale_mode", "root", "scale", "key"),
    [
        (True, 6, "Minor", "F# minor"),
        (True, 0, "Major", "C major"),
        (True, 2, "Dorian", None),
        (False, 6, "Minor", None),
    ],
)
def test_song_key_from_live_12(scale_mode, root, scale, key) -> None:
    song: Any = FakeSong()
    song.scale_mode, song.root_note, song.scale_name = scale_mode, root, scale
    assert read_song_context(song, "auto").key == key
    assert read_song_context(song, "off").key is None
    assert read_song_context(song, "A minor").key == "A minor"


def test_missing_selection_raises_selection_error() -> None:
    song: Any = FakeSong()
    with pytest.raises(SelectionError, match="select an audio clip"):
        read_target(song)


@pytest.mark.parametrize("warping", [True, False])
@pytest.mark.parametrize("tempo", [60.0, 120.0, 174.0])
def test_every_request_passes_the_sidecar_schema(warping: bool, tempo: float) -> None:
    song: Any = FakeSong(tempo=tempo)
    song.scale_mode, song.root_note, song.scale_name = True, 9, "Minor"
    select(
        song, FakeClip("/a.wav", warping=warping, file_seconds=60.0, loop_end=16.0, end_marker=16.0)
    )
    settings = load_settings(str(SCRIPT_DIR))
    context = read_song_context(song, settings.key)
    for preset in settings.presets:
        request = build_request(
            read_clip_region(song, context), context, preset.name, preset.values, 8
        )
        parsed = GenerateRequest.from_osc(addresses.CONTINUE, request.to_osc_arguments())
        assert parsed.clip == "/a.wav" and parsed.key == "A minor"
        region_beats = 16.0 if warping else 16.0 * tempo / 60.0
        assert parsed.bars == min(round(region_beats / 4), max_bars(tempo, 4))
        assert parsed.duration_seconds <= 30.0
        assert parsed.seed == request.seed


def test_beats_fallback_when_seconds_are_unknown() -> None:
    song: Any = FakeSong()
    clip = select(song, FakeClip("/a.wav"))

    def refuse(beat_time: float) -> float:
        raise RuntimeError("Live refused the conversion")

    clip.beat_to_sample_time = refuse  # type: ignore[method-assign]
    context = read_song_context(song, "off")
    region = read_clip_region(song, context)
    assert region.start_seconds is None
    request = build_request(region, context, "default", (), 1)
    parsed = GenerateRequest.from_osc(addresses.CONTINUE, request.to_osc_arguments())
    assert (parsed.clip_start_beats, parsed.clip_end_beats) == (0.0, 8.0)


def test_shipped_settings_parse() -> None:
    settings = load_settings(str(SCRIPT_DIR))
    assert {name for name, _ in settings.buttons} == {
        "generate",
        "cancel",
        "reroll",
        "variations",
        "selftest",
    }


def test_default_buttons_are_the_documented_map() -> None:
    """No `buttons` in the file, and the fallback after a bad file, keep the documented pads."""
    documented = {
        "generate": MidiBinding("note", 15, 60),
        "cancel": MidiBinding("note", 15, 61),
        "reroll": MidiBinding("note", 15, 62),
        "variations": MidiBinding("cc", 15, 20),
        "selftest": MidiBinding("note", 15, 63),
    }
    assert dict(parse_settings({}).buttons) == documented
    assert dict(Settings().buttons) == documented
    assert dict(load_settings(str(SCRIPT_DIR)).buttons) == documented
    assert Settings().binding_for("generate") is not None
    assert Settings().binding_for("generate").matches(0x9F, 60)  # note on, channel 16


def test_buttons_in_the_file_override_the_defaults_one_by_one() -> None:
    settings = parse_settings(
        {"buttons": {"generate": {"type": "note", "channel": 1, "number": 61}, "reroll": None}}
    )
    buttons = dict(settings.buttons)
    assert buttons["generate"] == MidiBinding("note", 0, 61)
    assert "reroll" not in buttons  # null unbinds
    assert buttons["cancel"] == dict(DEFAULT_BUTTONS)["cancel"]  # channel 16: no clash
    assert buttons["variations"] == dict(DEFAULT_BUTTONS)["variations"]
    # A default whose note the file gives to another action is left unbound.
    clash = parse_settings({"buttons": {"generate": {"type": "note", "channel": 16, "number": 61}}})
    assert dict(clash.buttons) == {
        "generate": MidiBinding("note", 15, 61),
        "reroll": MidiBinding("note", 15, 62),
        "variations": MidiBinding("cc", 15, 20),
        "selftest": MidiBinding("note", 15, 63),
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"buttons": {"explode": {"type": "note", "number": 1}}}, "buttons.explode is unknown"),
        ({"buttons": {"generate": {"type": "pitch", "number": 1}}}, "'note' or 'cc'"),
        ({"buttons": {"generate": {"type": "note", "number": 200}}}, "0–127"),
        ({"presets": {"x": {"tempo": 120}}}, "not a request key"),
        ({"sidecar_port": 0}, "sidecar_port"),
        ({"preset": "nope"}, "is not one of the presets"),
    ],
)
def test_settings_errors_say_what_is_wrong(raw: dict, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        parse_settings(raw)
