"""Take history: record/list/get, reopening, schema versions, threads and a SIGKILL crash test."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from sidecar.output.history import SCHEMA_VERSION, HistoryError, Take, TakeHistory, clip_key


def _take(request_id: str = "r1", clip: str | None = "/music/loop.wav", **kw: object) -> Take:
    fields: dict[str, object] = {
        "request_id": request_id,
        "clip": clip,
        "model": "facebook/musicgen-small",
        "seed": 42,
        "params": {"prompt": "funk", "bpm": 120.0, "bars": 4, "loop": True},
        "files": ("/out/r1_0.wav", "/out/r1_1.wav"),
        "tempo_bpm": 119.98,
        "key": "F# minor",
        "created": 1_700_000_000.5,
    }
    fields.update(kw)
    return Take(**fields)  # type: ignore[arg-type]


@pytest.fixture
def history(tmp_path: Path):
    with TakeHistory.open(tmp_path / "history" / "takes.db") as h:
        yield h


def test_record_and_get(history: TakeHistory) -> None:
    take = _take()
    take_id = history.record(take)
    assert take_id == 1
    got = history.get(take_id)
    assert got is not None
    assert got.take_id == take_id
    assert got.request_id == "r1"
    assert got.clip == clip_key("/music/loop.wav")
    assert got.params == {"prompt": "funk", "bpm": 120.0, "bars": 4, "loop": True}
    assert got.files == ("/out/r1_0.wav", "/out/r1_1.wav")
    assert (got.seed, got.tempo_bpm, got.key, got.model) == (
        42,
        119.98,
        "F# minor",
        "facebook/musicgen-small",
    )
    assert got.created == 1_700_000_000.5
    assert history.get(999) is None


def test_optional_fields_round_trip_as_none(history: TakeHistory) -> None:
    take_id = history.record(
        Take(request_id="t", model="m", clip=None, seed=None, tempo_bpm=None, key=None)
    )
    got = history.get(take_id)
    assert got is not None
    assert (got.clip, got.seed, got.tempo_bpm, got.key, got.files, dict(got.params)) == (
        None,
        None,
        None,
        None,
        (),
        {},
    )
    assert abs(got.created - time.time()) < 60


def test_list_for_clip_newest_first_and_by_resolved_path(
    history: TakeHistory, tmp_path: Path
) -> None:
    clip = tmp_path / "clips" / "a.wav"
    clip.parent.mkdir()
    clip.write_bytes(b"")
    link = tmp_path / "link.wav"
    link.symlink_to(clip)
    ids = [history.record(_take(f"r{i}", clip=str(clip))) for i in range(3)]
    history.record(_take("other", clip="/music/other.wav"))
    history.record(_take("text", clip=None))
    newest_first = ids[::-1]
    assert [t.take_id for t in history.list_for_clip(clip)] == newest_first
    assert [t.take_id for t in history.list_for_clip(str(link))] == newest_first  # same file
    # The limit keeps the newest takes, still newest first.
    assert [t.take_id for t in history.list_for_clip(clip, limit=2)] == newest_first[:2]
    assert [t.request_id for t in history.list_for_clip(None)] == ["text"]
    assert history.list_for_clip("/nowhere.wav") == []
    with pytest.raises(ValueError, match="limit"):
        history.list_for_clip(clip, limit=0)


def test_get_by_request_returns_the_latest(history: TakeHistory) -> None:
    history.record(_take("again", seed=1))
    latest = history.record(_take("again", seed=2))
    got = history.get_by_request("again")
    assert got is not None and (got.take_id, got.seed) == (latest, 2)
    assert history.get_by_request("missing") is None


def test_files_may_be_paths(history: TakeHistory) -> None:
    take_id = history.record(_take(files=(Path("/out/a.wav"), "/out/b.wav")))
    got = history.get(take_id)
    assert got is not None and got.files == ("/out/a.wav", "/out/b.wav")


def test_record_rejects_bad_takes(history: TakeHistory) -> None:
    with pytest.raises(ValueError, match="already recorded"):
        history.record(_take(take_id=3))
    with pytest.raises(ValueError, match="JSON"):
        history.record(_take(params={"x": object()}))
    with pytest.raises(ValueError, match="JSON"):
        history.record(_take(params={"x": float("nan")}))
    with pytest.raises(ValueError, match="tempo_bpm"):
        history.record(_take(tempo_bpm=float("inf")))
    assert history.list_for_clip("/music/loop.wav") == []


def test_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "takes.db"
    with TakeHistory.open(path) as h:
        first = h.record(_take("a"))
    with TakeHistory.open(path) as h:
        second = h.record(_take("b"))
        assert [t.take_id for t in h.list_for_clip("/music/loop.wav")] == [second, first]
        assert second > first


def test_pragmas_and_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "takes.db"
    TakeHistory.open(path).close()
    connection = sqlite3.connect(path)
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        connection.close()


def test_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "takes.db"
    TakeHistory.open(path).close()
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()
    with pytest.raises(HistoryError, match="newer than this sidecar"):
        TakeHistory.open(path)


def test_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "takes.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(HistoryError, match="not a usable database"):
        TakeHistory.open(path)


def test_closed_history_raises(tmp_path: Path) -> None:
    h = TakeHistory.open(tmp_path / "takes.db")
    h.close()
    h.close()
    with pytest.raises(HistoryError, match="closed"):
        h.get(1)
    with pytest.raises(HistoryError, match="closed"):
        h.record(_take())


def test_writer_thread_and_reader_thread(history: TakeHistory) -> None:
    errors: list[BaseException] = []
    done = threading.Event()

    def write() -> None:
        try:
            for i in range(100):
                history.record(_take(f"w{i}"))
        except BaseException as e:  # reported below
            errors.append(e)
        finally:
            done.set()

    writer = threading.Thread(target=write)
    writer.start()
    seen = 0
    while not done.is_set():
        takes = history.list_for_clip("/music/loop.wav")
        ids = [t.take_id or 0 for t in takes]
        assert ids == sorted(ids, reverse=True)
        seen = max(seen, len(takes))
    writer.join()
    assert not errors
    assert seen <= 100
    assert len(history.list_for_clip("/music/loop.wav")) == 100


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from sidecar.output.history import Take, TakeHistory

    history = TakeHistory.open(Path(sys.argv[1]))
    i = 0
    while True:
        files = tuple(f"/out/take{i}_{j}.wav" for j in range(i % 5))
        take_id = history.record(Take(
            request_id=f"req{i}", clip="/music/crash.wav", model="m", seed=i,
            params={"prompt": "x" * (i % 300), "i": i}, files=files, tempo_bpm=100 + i / 7,
            key="C major", created=float(i),
        ))
        print(take_id, i, flush=True)
        i += 1
    """
)


def test_sigkill_mid_write_leaves_a_consistent_database(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    process = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    committed: dict[int, int] = {}
    assert process.stdout is not None
    try:
        for line in process.stdout:
            take_id, i = map(int, line.split())
            committed[take_id] = i
            if len(committed) >= 150:
                break
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        process.stdout.close()
    assert process.returncode == -signal.SIGKILL
    assert len(committed) >= 150

    connection = sqlite3.connect(path)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        connection.close()
    with TakeHistory.open(path) as h:
        takes = {t.take_id or 0: t for t in h.list_for_clip("/music/crash.wav")}
        # Every take reported as committed is there and intact; the writer may have committed
        # a few more after its last report reached us, never fewer.
        assert set(committed) <= set(takes)
        for take_id, take in takes.items():
            i = int(take.request_id.removeprefix("req"))
            assert committed.get(take_id, i) == i
            assert take.seed == i
            assert take.params == {"prompt": "x" * (i % 300), "i": i}
            assert take.files == tuple(f"/out/take{i}_{j}.wav" for j in range(i % 5))
            assert take.tempo_bpm == pytest.approx(100 + i / 7)
        assert sorted(takes) == list(range(1, len(takes) + 1))
        h.record(_take("after-crash"))  # still writable


def test_search_by_prompt_preset_key_and_tempo(history: TakeHistory) -> None:
    def take(
        rid: str, prompt: str, preset: str | None, key: str, measured: float | None, bpm: float
    ):
        params = {"prompt": prompt, "preset": preset, "bpm": bpm}
        return history.record(_take(rid, params=params, key=key, tempo_bpm=measured))

    a = take("a", "Dusty 100%_funk drums", "drum-loop", "A minor", 120.4, 120.0)
    b = take("b", "warm pads", "pads", "F# major", None, 90.0)
    c = take("c", "funk bass", None, "A minor", 140.1, 140.0)
    ids = lambda found: [t.take_id for t in found]  # noqa: E731
    assert ids(history.search()) == [c, b, a]
    assert ids(history.search(prompt="FUNK")) == [c, a]
    assert ids(history.search(prompt="100%_")) == [a]  # LIKE's wildcards are literal here
    assert ids(history.search(prompt="100%x")) == []
    assert ids(history.search(preset="Drum-Loop")) == [a]
    assert ids(history.search(key="a minor")) == [c, a]
    assert ids(history.search(key="a minor", prompt="bass")) == [c]
    # The measured tempo, or the session tempo asked for when none was measured.
    assert ids(history.search(bpm=91.5)) == [b]
    assert ids(history.search(bpm=119)) == [a]
    assert ids(history.search(bpm=117)) == []
    assert ids(history.search(limit=1)) == [c]
    with pytest.raises(ValueError):
        history.search(limit=0)
