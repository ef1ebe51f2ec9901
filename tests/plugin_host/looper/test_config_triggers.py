import mido
import numpy as np
import pytest

from plugin_host.looper.config import load_config
from plugin_host.looper.history import LoopEntry, LoopHistory
from plugin_host.looper.triggers import Action, Trigger, TriggerMap

EXAMPLE = "plugin_host/looper/looper.example.toml"


def test_example_config_loads():
    config = load_config(EXAMPLE)
    actions = {t.action for t in config.triggers}
    assert actions == set(Action)
    assert config.clock.source in ("fixed", "midi", "link")


def test_overrides_and_unknown_keys(tmp_path):
    config = load_config(None, clock__bpm=174.0, loop__bars=None)
    assert config.clock.bpm == 174.0 and config.loop.bars == 4
    bad = tmp_path / "bad.toml"
    bad.write_text("[audio]\nsample_rat = 48000\n")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['sample_rat'\]"):
        load_config(bad)
    bad.write_text("[clock]\nbpm = 400\n")
    with pytest.raises(ValueError, match=r"clock.bpm must be in \[20, 300\]; got 400"):
        load_config(bad)


def test_midi_note_and_cc_triggers():
    triggers = TriggerMap(
        [
            Trigger(Action.CAPTURE, bars=2, note=36, channel=10),
            Trigger(Action.UNDO, cc=20),
        ]
    )
    event = triggers.match_midi(mido.Message("note_on", note=36, velocity=100, channel=9))
    assert event is not None and event.action is Action.CAPTURE and event.bars == 2
    assert triggers.match_midi(mido.Message("note_on", note=36, velocity=100, channel=0)) is None
    assert triggers.match_midi(mido.Message("note_on", note=36, velocity=0, channel=9)) is None
    assert triggers.match_midi(mido.Message("control_change", control=20, value=127)).action is (
        Action.UNDO
    )
    # Held high: no retrigger until it falls below the threshold and rises again.
    assert triggers.match_midi(mido.Message("control_change", control=20, value=120)) is None
    assert triggers.match_midi(mido.Message("control_change", control=20, value=0)) is None
    assert triggers.match_midi(mido.Message("control_change", control=20, value=100)) is not None


def test_osc_trigger_takes_bars_argument():
    triggers = TriggerMap([Trigger(Action.CAPTURE, bars=4, osc="/pad/1")])
    assert triggers.match_osc("/pad/1", ()).bars == 4
    assert triggers.match_osc("/pad/1", (8,)).bars == 8
    assert triggers.match_osc("/pad/2", ()) is None


def test_trigger_validation():
    with pytest.raises(ValueError, match="not one of"):
        Trigger.from_dict({"action": "explode", "note": 1})
    with pytest.raises(ValueError, match="needs one of note, cc or osc"):
        Trigger.from_dict({"action": "undo"})
    with pytest.raises(ValueError, match=r"note must be an integer in \[0, 127\]"):
        Trigger.from_dict({"action": "undo", "note": 200})


def entry(i, variations=1):
    audio = tuple(np.full((10, 1), i + v / 10, np.float32) for v in range(variations))
    return LoopEntry(i, f"r{i}", 1, 120.0, audio)


def test_history_undo_and_variations():
    history = LoopHistory(max_entries=3)
    assert history.undo() is None and history.next_variation() is None
    for i in range(4):
        history.push(entry(i, variations=3))
    assert len(history) == 3 and history.current.loop_id == 3
    assert history.next_variation().selected == 1
    assert history.next_variation().selected == 2
    assert history.next_variation().selected == 0
    assert history.undo().loop_id == 2
    assert history.undo().loop_id == 1
    assert history.undo() is None


@pytest.mark.parametrize("name", ["output_latency_ms", "input_latency_ms"])
def test_latencies_are_host_reported_unless_given(tmp_path, name):
    assert getattr(load_config(None).audio, name) is None
    assert getattr(load_config(EXAMPLE).audio, name) is None  # "auto"
    path = tmp_path / "c.toml"
    path.write_text("[audio]\ninput_channels = 2\n")
    assert getattr(load_config(path).audio, name) is None
    path.write_text(f'[audio]\n{name} = "auto"\n')
    assert getattr(load_config(path).audio, name) is None
    path.write_text(f"[audio]\n{name} = 12.5\n")
    assert getattr(load_config(path).audio, name) == 12.5
    assert getattr(load_config(path, **{f"audio__{name}": "auto"}).audio, name) is None
    assert getattr(load_config(None, **{f"audio__{name}": 0.0}).audio, name) == 0.0
    path.write_text(f'[audio]\n{name} = "soon"\n')
    with pytest.raises(ValueError, match=f"{name} must be a number or \"auto\"; got 'soon'"):
        load_config(path)
