"""Separated stems end to end: a real `sidecar serve --model tiny` with a tiny Demucs, over UDP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pedalboard.io import AudioFile

from sidecar.osc import addresses as A
from sidecar.osc.client import SidecarClient
from tests.support.server import SidecarProcess, running_sidecar


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SidecarProcess]:
    with running_sidecar(
        tmp_path_factory.mktemp("separated"),
        "--separator",
        "tiny-demucs",
        "--load-separator",
        "--no-warm-up",
        ready_timeout_seconds=300,
    ) as proc:
        yield proc


def _fields(args: tuple[object, ...]) -> dict[str, object]:
    return dict(zip(args[3::2], args[4::2], strict=True))


def test_a_separated_continuation_is_the_mix_and_its_parts_on_one_grid(
    client: SidecarClient, clip: Path
) -> None:
    client.send(A.MODEL_LIST)
    address, listing = client.receive(10) or ("", ())
    assert address == A.MODEL_LIST_REPLY
    rows = [listing[1 + 4 * i : 5 + 4 * i] for i in range(int(listing[0]))]  # type: ignore[call-overload]
    separator = next(r for r in rows if r[3] == "separator")
    assert separator[0] == "tiny-demucs" and separator[1] == "cpu" and separator[2] > 0

    client.send(
        A.CONTINUE, "sep-1", "clip", str(clip), "bars", 2, "bpm", 120.0, "separate", 1,
        "seed", 5,
    )  # fmt: skip
    replies = client.until_terminal("sep-1", 900)
    assert replies[-1] == (A.DONE, ("sep-1", 5))
    fractions = [args[1] for a, args in replies if a == A.PROGRESS]
    assert fractions == sorted(fractions)
    assert any(0.6 < f < 0.9 for f in fractions)  # the separation's own progress
    stems = [args for a, args in replies if a == A.STEM]
    parts = [_fields(s)["part"] for s in stems]
    assert parts == ["mix", "drums", "bass", "other", "vocals"]
    reports = []
    for stem in stems:
        fields = _fields(stem)
        assert fields["separator"] == "tiny-demucs" and fields["variation"] == 0
        with AudioFile(str(stem[2])) as f:
            assert (int(f.samplerate), int(f.frames)) == (48000, 192000)  # 2 bars at 120
        meta = json.loads(Path(str(stem[2])).with_suffix(".json").read_text())
        assert meta["part"] == fields["part"]
        reports.append(meta["report"])
    # One grid: the same start in the take, ratio and length; the parts follow the mix.
    for key in ("grid_start_seconds", "stretch_ratio", "num_samples", "decision", "loop_seam"):
        assert len({r[key] for r in reports}) == 1, key
    assert [r["tempo_source"] for r in reports] == ["own"] + ["mix"] * 4
    assert len({r["gain_db"] for r in reports}) == 1  # one gain for the set
    assert all(isinstance(r["separation_residual_db"], float) for r in reports)
    assert "separate_seconds" in meta["timings"]


def test_cancel_mid_separation_delivers_no_part(
    client: SidecarClient, clip: Path, server: SidecarProcess
) -> None:
    client.send(
        A.CONTINUE, "sep-cancel", "clip", str(clip), "bars", 4, "bpm", 120.0, "separate", 1,
    )  # fmt: skip
    deadline = time.monotonic() + 900
    while True:
        reply = client.receive(max(1.0, deadline - time.monotonic()))
        assert reply is not None, "no progress"
        address, args = reply
        assert address != A.STEM and address not in A.TERMINAL_REPLIES, reply
        if address == A.PROGRESS and args[0] == "sep-cancel" and 0.6 < args[1] < 0.9:
            break  # separating now
    client.send(A.CANCEL, "sep-cancel")
    rest = client.until_terminal("sep-cancel", 300)
    assert [a for a, _ in rest if a in A.TERMINAL_REPLIES] == [A.CANCELLED]
    assert not any(a == A.STEM for a, _ in rest)
    folder = server.output_dir / "sep-cancel"
    assert not folder.exists() or not any(folder.glob("*.wav"))


def test_separate_with_stems_is_one_clear_error(client: SidecarClient) -> None:
    client.send(A.GENERATE, "sep-bad", "separate", 1, "stems", "drums,bass")
    replies = client.until_terminal("sep-bad", 30)
    assert replies[-1][0] == A.ERROR
    assert replies[-1][1][1] == "bad_request" and "not both" in str(replies[-1][1][2])
