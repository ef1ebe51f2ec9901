"""Presets: shipped files, prompt templates, validation errors, effect chains, VST3 hosting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pedalboard
import pytest

from sidecar.errors import RequestError
from sidecar.musical.effects import EFFECTS, EffectSpec, apply_chain, build_chain
from sidecar.musical.presets import (
    GENERATION_PARAMS,
    Preset,
    PresetError,
    PresetLibrary,
    default_presets_dir,
)
from sidecar.musical.stemsets import PART_FRAGMENTS
from sidecar.osc.fields import FIELDS

SAMPLE_RATE = 48000
SHIPPED = (
    "drum-loop",
    "bassline",
    "pads",
    "lofi-keys",
    "ambient-texture",
    "techno-groove",
    "cinematic-swell",
    "breakbeat",
)

MINIMAL = 'description = "d"\nprompt = "drum loop, {genre}, {bpm} bpm"\n'


@pytest.fixture(scope="module")
def library() -> PresetLibrary:
    return PresetLibrary.load(default_presets_dir())


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _music(seconds: float = 1.0, channels: int = 2) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    rng = np.random.default_rng(0)
    tone = 0.3 * np.sin(2 * np.pi * 110 * t) + 0.2 * np.sin(2 * np.pi * 440 * t)
    hits = (np.mod(t, 0.25) < 0.01) * rng.standard_normal(t.size) * 0.3
    mono = (tone + hits).astype(np.float32)
    return np.stack([mono * (1 - 0.1 * c) for c in range(channels)])


# ----------------------------------------------------------------------------- shipped presets


def test_default_presets_dir_is_the_repository_folder() -> None:
    assert default_presets_dir() == Path(__file__).resolve().parents[2] / "presets"


def test_shipped_presets_load_and_are_sensible(library: PresetLibrary) -> None:
    assert set(SHIPPED) <= set(library.names())
    assert len(library) >= 8
    for name in library.names():
        preset = library.get(name)
        assert preset.name == name
        assert preset.source == default_presets_dir() / f"{name}.toml"
        assert 20 <= len(preset.description) <= 120
        assert "{bpm}" in preset.prompt_template
        assert set(preset.params) <= set(GENERATION_PARAMS)
        assert 2.5 <= preset.params["guidance"] <= 5.0
        assert 0.8 <= preset.params["temperature"] <= 1.2
        assert preset.bars in (4, 8)
        assert preset.loudness_lufs is not None and -24 <= preset.loudness_lufs <= -8
        assert preset.effects, name
        assert preset.effects[0].name == "highpass"  # every chain cleans up the low end first
        assert preset.effects[-1].name == "limiter"  # ... and catches peaks last
        assert preset.vst3_path is None


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_chains_keep_shape_and_do_not_touch_the_input(
    library: PresetLibrary, name: str
) -> None:
    audio = _music()
    original = audio.copy()
    out = library.get(name).apply_effects(audio, SAMPLE_RATE, bpm=120.0)
    assert out.shape == audio.shape
    assert out.dtype == np.float32
    assert np.all(np.isfinite(out))
    assert 0.01 < np.abs(out).max() <= 1.2
    np.testing.assert_array_equal(audio, original)


def test_shipped_stem_defaults(library: PresetLibrary) -> None:
    techno = library.get("techno-groove")
    assert techno.stems == ("drums", "bass", "synth")
    prompts = techno.render_stem_prompts(bpm=130, key="Am", genre="berlin")
    assert len(prompts) == 3
    assert prompts[0].startswith("techno, berlin, 130 bpm, in A minor, ")
    assert prompts[0].endswith("drums only: " + techno.stem_prompts["drums"])
    assert "rolling bassline" not in prompts[0]  # the stems base, not the full-groove prompt
    custom = techno.render_stem_prompts(("drums", "keys"), bpm=130)
    assert custom[1].endswith("keys only: " + PART_FRAGMENTS["keys"])
    with pytest.raises(PresetError) as info:
        library.get("drum-loop").render_stem_prompts(bpm=120)
    assert info.value.field == "stems"


# ----------------------------------------------------------------------------- prompts


def _preset(prompt: str, **kw: object) -> Preset:
    return Preset.from_dict("p", {"description": "d", "prompt": prompt, **kw})


def test_render_prompt_fills_and_drops_clauses() -> None:
    preset = _preset("drum loop, {genre}, {bpm} bpm, in {key}, punchy")
    assert preset.render_prompt(bpm=120.0, key="f#m", genre="house") == (
        "drum loop, house, 120 bpm, in F# minor, punchy"
    )
    assert preset.render_prompt(bpm=92.5) == "drum loop, 92.5 bpm, punchy"
    assert preset.render_prompt(bpm=128.00001) == "drum loop, 128 bpm, punchy"
    assert preset.render_prompt() == "drum loop, punchy"
    assert preset.render_prompt(genre="  ", key="") == "drum loop, punchy"
    assert preset.render_prompt(extra="with cowbell") == "drum loop, punchy, with cowbell"


def test_render_prompt_names_values_the_template_lacks() -> None:
    preset = _preset("warm pads")
    assert preset.render_prompt(bpm=100, key="Eb minor", genre="ambient", extra="slow") == (
        "ambient, warm pads, in Eb minor, 100 bpm, slow"
    )


def test_render_prompt_rejects_a_bad_key() -> None:
    with pytest.raises(RequestError) as info:
        _preset("pads, in {key}").render_prompt(key="H dorian")
    assert info.value.field == "key"


def test_render_prompt_keeps_literal_braces() -> None:
    assert _preset("{{weird}} pads, {bpm} bpm").render_prompt(bpm=90) == "{weird} pads, 90 bpm"


# ----------------------------------------------------------------------------- validation

BAD = [
    ('description = "d"\n', "prompt", "must be a non-empty string"),
    ('prompt = "x"\n', "description", "must be a non-empty string"),
    (MINIMAL + "tempo = 120\n", "tempo", "unknown key"),
    ('description = "d"\nprompt = "loop, {mood}"\n', "prompt", "{mood} is not allowed"),
    ('description = "d"\nprompt = "loop, {bpm:.0f}"\n', "prompt", "{bpm:.0f} is not allowed"),
    ('description = "d"\nprompt = "loop, {bpm"\n', "prompt", "not a valid template"),
    ('description = "d"\nprompt = "{genre}, {bpm} bpm"\n', "prompt", "empty without"),
    (MINIMAL + "[params]\nguidance = 25\n", "params.guidance", "out of range"),
    (MINIMAL + "[params]\ntemperature = true\n", "params.temperature", "is a bool"),
    (MINIMAL + "[params]\ntop_k = 2.5\n", "params.top_k", "not whole"),
    (MINIMAL + "[params]\nseed = 3\n", "params.seed", "allowed: guidance"),
    (MINIMAL + "bars = 0\n", "bars", "out of range"),
    (MINIMAL + "loudness_lufs = 3.0\n", "loudness_lufs", "out of range"),
    (MINIMAL + "model = 5\n", "model", "must be a non-empty string"),
    (MINIMAL + 'effects = "reverb"\n', "effects", "array of tables"),
    (MINIMAL + '[[effects]]\ntype = "flanger"\n', "effects[0].type", "allowed: highpass"),
    (MINIMAL + '[[effects]]\ntype = "reverb"\nsize = 1\n', "effects[0].size", "room_size"),
    (
        MINIMAL + '[[effects]]\ntype = "gain"\n[[effects]]\ntype = "reverb"\nroom_size = 2\n',
        "effects[1].room_size",
        "out of range",
    ),
    (
        MINIMAL + '[[effects]]\ntype = "delay"\ndelay_seconds = 0.5\ndelay_beats = 1\n',
        "effects[0].delay_beats",
        "not both",
    ),
    (
        MINIMAL + '[[effects]]\ntype = "ladderfilter"\nmode = "LPF36"\n',
        "effects[0].mode",
        "one of LPF12",
    ),
    (MINIMAL + '[stems]\nparts = "drums,drums"\n', "stems.parts", "appears twice"),
    (MINIMAL + '[stems]\nmix = "x"\n', "stems.mix", "unknown key"),
    (MINIMAL + '[stems.prompts]\n"kick/snare" = "x"\n', "stems.prompts.kick/snare", "not allowed"),
    (MINIMAL + '[stems]\nbase = "x, {tempo}"\n', "stems.base", "not allowed"),
    (MINIMAL + '[vst3]\nfile = "x.vst3"\n', "vst3.file", "allowed: path, parameters"),
    (MINIMAL + "[vst3]\npath = 3\n", "path", "must be a non-empty string"),
    (MINIMAL + "prompt = 'again'\n", "toml", "not valid TOML"),
]


@pytest.mark.parametrize(("text", "field", "why"), BAD)
def test_invalid_preset_names_file_and_field(
    tmp_path: Path, text: str, field: str, why: str
) -> None:
    path = _write(tmp_path, "bad", text)
    with pytest.raises(PresetError) as info:
        Preset.from_toml(path)
    error = info.value
    assert error.code == "bad_request"
    assert isinstance(error, RequestError)
    assert error.path == path
    assert error.field == field
    assert str(path) in str(error)
    assert why in str(error)
    if field != "toml":
        assert f"{path}: {field}: " in str(error)


def test_invalid_file_name(tmp_path: Path) -> None:
    path = _write(tmp_path, "Drum Loop", MINIMAL)
    with pytest.raises(PresetError) as info:
        Preset.from_toml(path)
    assert info.value.field == "name"


def test_valid_preset_with_everything(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "full",
        MINIMAL
        + 'model = "facebook/musicgen-small"\nbars = 8\nloudness_lufs = -14\n'
        + "[params]\nguidance = 3\ntemperature = 1\ntop_k = 250.0\ntop_p = 0.9\n"
        + '[stems]\nparts = ["Drum", "bass"]\n[stems.prompts]\nperc = "shakers"\n'
        + '[[effects]]\ntype = "ladderfilter"\nmode = "HPF24"\ncutoff_hz = 300\n'
        + '[[effects]]\ntype = "delay"\ndelay_beats = 0.5\nfeedback = 0.5\n',
    )
    preset = Preset.from_toml(path)
    assert preset.name == "full"
    assert preset.model_hint == "facebook/musicgen-small"
    assert preset.params == {"guidance": 3.0, "temperature": 1.0, "top_k": 250, "top_p": 0.9}
    assert isinstance(preset.params["top_k"], int)
    assert (preset.bars, preset.loudness_lufs) == (8, -14.0)
    assert preset.stems == ("drums", "bass")
    assert dict(preset.stem_prompts) == {"percussion": "shakers"}
    assert [e.name for e in preset.effects] == ["ladderfilter", "delay"]
    board = preset.build_board(bpm=120)
    assert isinstance(board[0], pedalboard.LadderFilter)
    assert board[0].mode == pedalboard.LadderFilter.Mode.HPF24
    delay, slower = board[1], preset.build_board(bpm=60)[1]
    assert isinstance(delay, pedalboard.Delay) and isinstance(slower, pedalboard.Delay)
    assert delay.delay_seconds == pytest.approx(0.25)  # half a beat at 120 bpm
    assert slower.delay_seconds == pytest.approx(0.5)


def test_stems_shorthand(tmp_path: Path) -> None:
    preset = Preset.from_toml(_write(tmp_path, "s", MINIMAL + 'stems = "keys,pads"\n'))
    assert preset.stems == ("keys", "pads")


# ----------------------------------------------------------------------------- library


def test_library_collects_every_bad_file(tmp_path: Path) -> None:
    _write(tmp_path, "good", MINIMAL)
    bad_a = _write(tmp_path, "bad-a", MINIMAL + "[params]\nguidance = -1\n")
    bad_b = _write(tmp_path, "bad-b", 'description = "d"\n')
    (tmp_path / "notes.txt").write_text("not a preset")
    with pytest.raises(PresetError) as info:
        PresetLibrary.load(tmp_path)
    message = str(info.value)
    assert "2 invalid preset file(s)" in message
    assert f"{bad_a}: params.guidance" in message
    assert f"{bad_b}: prompt" in message
    assert [e.path for e in info.value.errors] == [bad_a, bad_b]

    lenient = PresetLibrary.load(tmp_path, strict=False)
    assert lenient.names() == ("good",)
    assert [e.field for e in lenient.errors] == ["params.guidance", "prompt"]


def test_library_get_lists_available_names(tmp_path: Path) -> None:
    _write(tmp_path, "b-side", MINIMAL)
    _write(tmp_path, "a-side", MINIMAL)
    library = PresetLibrary.load(tmp_path)
    assert library.names() == ("a-side", "b-side")
    assert "a-side" in library
    with pytest.raises(PresetError) as info:
        library.get("c-side")
    assert info.value.field == "preset"
    assert "'c-side' does not exist; available: a-side, b-side" in str(info.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PresetError, match="available: none"):
        PresetLibrary.load(empty).get("x")


def test_library_needs_a_folder(tmp_path: Path) -> None:
    with pytest.raises(PresetError, match="is not a folder"):
        PresetLibrary.load(tmp_path / "missing")


# ----------------------------------------------------------------------------- effects


@pytest.mark.parametrize("name", sorted(EFFECTS))
def test_effect_table_matches_the_pedalboard_classes(name: str) -> None:
    effect_type = EFFECTS[name]
    plugin = EffectSpec(name).build()
    assert type(plugin).__name__ == effect_type.class_name
    for spec in effect_type.params:
        if spec.name != "delay_beats":
            assert hasattr(plugin, spec.name), f"{effect_type.class_name} has no {spec.name}"


def test_effect_ranges_are_accepted_by_pedalboard() -> None:
    for name, effect_type in EFFECTS.items():
        for spec in effect_type.params:
            values = spec.choices or (spec.minimum, spec.maximum)
            for value in values:
                EffectSpec.from_dict({"type": name, spec.name: value})


def test_reverb_tail_is_cut_or_wrapped_for_loops() -> None:
    preset = _preset("pads", effects=[{"type": "reverb", "room_size": 0.9, "wet_level": 0.8}])
    audio = np.zeros((2, SAMPLE_RATE), dtype=np.float32)
    audio[:, -2400:] = 0.5 * np.sin(np.arange(2400) * 0.1)  # a burst in the last 50 ms
    cut = preset.apply_effects(audio, SAMPLE_RATE)
    looped = preset.apply_effects(audio, SAMPLE_RATE, loop=True)
    assert cut.shape == looped.shape == audio.shape
    start = slice(0, SAMPLE_RATE // 4)
    assert np.abs(cut[:, start]).max() == 0.0
    assert np.abs(looped[:, start]).max() > 1e-3  # the end's tail rings into the start


def test_tempo_synced_delay_echoes_on_the_beat() -> None:
    preset = _preset(
        "keys", effects=[{"type": "delay", "delay_beats": 1.0, "feedback": 0.0, "mix": 0.5}]
    )
    audio = np.zeros((1, SAMPLE_RATE * 2), dtype=np.float32)
    audio[0, 0] = 1.0
    out = preset.apply_effects(audio, SAMPLE_RATE, bpm=100.0)
    echo = int(np.argmax(np.abs(out[0, 1000:]))) + 1000
    assert echo == pytest.approx(0.6 * SAMPLE_RATE, abs=2)  # one beat at 100 bpm
    assert preset.tail_seconds(bpm=100.0) == pytest.approx(1.2)


def test_apply_effects_with_no_effects_is_a_copy() -> None:
    audio = _music(channels=1)
    out = _preset("x").apply_effects(audio, SAMPLE_RATE)
    assert out is not audio
    np.testing.assert_array_equal(out, audio)


def test_apply_chain_checks_its_inputs() -> None:
    board = build_chain([EffectSpec("gain", {"gain_db": -6.0})])
    with pytest.raises(ValueError, match="sample_rate"):
        apply_chain(board, _music(), 0)
    out = apply_chain(board, _music()[0], SAMPLE_RATE)  # 1-D is mono
    assert out.shape == (1, SAMPLE_RATE)
    assert FIELDS["guidance"].maximum == 20.0  # presets reuse the request ranges


# ----------------------------------------------------------------------------- VST3


def test_vst3_is_checked_only_when_the_board_is_built(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "hosted",
        MINIMAL + '[vst3]\npath = "plugins/Missing.vst3"\n[vst3.parameters]\nmix = 0.5\n',
    )
    preset = Preset.from_toml(path)  # loading does not need the plugin
    assert preset.vst3_path == tmp_path / "plugins" / "Missing.vst3"
    assert dict(preset.vst3_parameters) == {"mix": 0.5}
    with pytest.raises(PresetError) as info:
        preset.build_board()
    assert info.value.field == "vst3.path"
    assert str(path) in str(info.value)
    assert "does not exist" in str(info.value)
    with pytest.raises(PresetError):
        preset.apply_effects(_music(), SAMPLE_RATE)


def test_vst3_that_is_not_a_plugin_fails_clearly(tmp_path: Path) -> None:
    fake = tmp_path / "Fake.vst3"
    fake.write_bytes(b"not a plugin")
    preset = Preset.from_toml(_write(tmp_path, "fake", MINIMAL + f'[vst3]\npath = "{fake}"\n'))
    with pytest.raises(PresetError) as info:
        preset.build_board()
    assert info.value.field == "vst3.path"
    assert "failed to load" in str(info.value)


@pytest.mark.parametrize(
    ("extra", "parts"),
    [
        ([], ("drums", "bass", "synth")),  # the preset's default parts
        (["stems", "drums,bass"], ("drums", "bass")),  # the request's own
        (["stems", "none"], ()),  # the whole mix
    ],
)
def test_a_presets_default_stems_apply_unless_the_request_says(extra, parts) -> None:
    from sidecar.musical.presets import default_presets_dir
    from sidecar.osc import addresses as A
    from sidecar.osc.resolve import apply_preset
    from sidecar.osc.schema import GenerateRequest

    library = PresetLibrary.load(default_presets_dir())
    request = GenerateRequest.from_osc(A.GENERATE, ["r", "preset", "techno-groove", *extra])
    resolved, _ = apply_preset(request, library)
    assert resolved.parts == parts
