"""The studio page's HTTP API against a real `sidecar serve --model tiny`, with httpx and a
real WebSocket: the same checks and messages as OSC, one queue, guards, paths and uploads."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile
from websockets.exceptions import InvalidStatus

from sidecar.osc import addresses as A
from sidecar.osc.client import SidecarClient
from sidecar.osc.fields import FIELDS
from sidecar.web.api import field_table
from tests.support.server import SidecarProcess, running_sidecar
from tests.web.events import events_until, open_events

UPLOAD_LIMIT_MB = 16


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SidecarProcess]:
    folder = tmp_path_factory.mktemp("studio-api")
    with running_sidecar(
        folder, "--no-warm-up", "--max-upload-mb", str(UPLOAD_LIMIT_MB), http=True
    ) as proc:
        yield proc


@pytest.fixture()
def http(server: SidecarProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def _wav(seconds: float = 1.0, rate: int = 8000, fill: float | None = None) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    audio = 0.3 * np.sin(2 * np.pi * 220 * t) if fill is None else np.full(t.size, fill)
    out = io.BytesIO()
    soundfile.write(out, audio.astype(np.float32), rate, format="WAV", subtype="FLOAT")
    return out.getvalue()


def _osc_refusal(server: SidecarProcess, *args: object) -> tuple[str, str]:
    with SidecarClient(server.host, server.port) as c:
        c.send(A.GENERATE, "osc-refused", *args)  # type: ignore[arg-type]
        replies = c.until_terminal("osc-refused", 10)
    _, (_, code, message) = replies[-1]
    return code, message


# ---------------------------------------------------------------------------- one source of fields


def test_the_form_fields_are_the_protocol_fields(http: httpx.Client) -> None:
    rows = {r["name"]: r for r in http.get("/api/fields").json()["fields"]}
    assert set(rows) == set(FIELDS) - {"reply_port"}
    for name, row in rows.items():
        spec = FIELDS[name]
        assert (row["kind"], row["minimum"], row["maximum"]) == (
            spec.kind,
            spec.minimum,
            spec.maximum,
        )
        assert row["help"] == spec.help and row["allowed"] == spec.allowed()
    assert rows["guidance"]["default"] == 3.0 and rows["format"]["choices"] == [
        "pcm24",
        "float32",
        "pcm16",
    ]


def test_a_new_protocol_field_appears_in_the_form(monkeypatch: pytest.MonkeyPatch) -> None:
    from sidecar.osc.fields import FieldSpec

    before = {r["name"] for r in field_table()}
    monkeypatch.setitem(FIELDS, "swing", FieldSpec("swing", "float", 0.0, 1.0, help="swing amount"))
    after = {r["name"]: r for r in field_table()}
    assert set(after) - before == {"swing"}
    assert after["swing"]["allowed"] == "a number in [0, 1]" and after["swing"]["group"] == "more"


@pytest.mark.parametrize(
    "fields",
    [
        {"bpm": 500},
        {"bars": 4},  # needs bpm
        {"tempo": 120},  # unknown key
        {"bpm": "fast"},
        {"variations": 2.5},
        {"format": "mp3"},
        {"seconds": 10, "bars": 2, "bpm": 120},
    ],
)
def test_a_refused_field_gets_the_osc_message(
    server: SidecarProcess, http: httpx.Client, fields: dict[str, object]
) -> None:
    response = http.post("/api/generate", json={"fields": fields})
    assert response.status_code == 400
    body = response.json()
    osc_args = [x for kv in fields.items() for x in kv]
    code, message = _osc_refusal(server, *osc_args)
    assert (body["code"], body["message"]) == (code, message) == ("bad_request", message)
    assert body["field"] == message.split(":")[0]


def test_page_only_refusals(http: httpx.Client) -> None:
    r = http.post("/api/generate", json={"fields": {"reply_port": 9000}})
    assert r.status_code == 400 and r.json()["field"] == "reply_port"
    r = http.post(
        "/api/generate", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["message"].startswith("body: not JSON")
    r = http.post("/api/generate", json={"mode": "remix", "fields": {}})
    assert r.status_code == 400 and r.json()["field"] == "mode"
    r = http.post("/api/generate", json={"mode": "continue", "fields": {"bpm": 120}})
    assert r.json()["message"] == "clip: missing; /sidecar/continue needs clip <path>"


# ---------------------------------------------------------------------------- one queue, events


def test_page_and_osc_jobs_share_one_queue_and_stream(
    server: SidecarProcess, http: httpx.Client
) -> None:
    with open_events(server.url) as ws, SidecarClient(server.host, server.port) as osc:
        first = json.loads(ws.recv(timeout=10))
        assert first["type"] == "jobs"
        osc.send(A.GENERATE, "daw-1", "prompt", "drums", "seconds", 6.0)
        page = http.post(
            "/api/generate", json={"fields": {"prompt": "bass", "bpm": 120, "bars": 2}}
        )
        assert page.status_code == 202
        rid = page.json()["request_id"]
        # The page's job waits behind the DAW's (or runs next if that one already started).
        assert page.json()["queue_position"] >= 1
        events = events_until(ws, lambda e: e["type"] == "done" and e["request_id"] == rid)
        osc_replies = osc.until_terminal("daw-1", 60)
        daw_source = f"osc 127.0.0.1:{osc.port}"
    kinds = {(e["type"], e.get("request_id")) for e in events}
    for kind in ("accepted", "progress", "stem", "done"):
        assert (kind, rid) in kinds and (kind, "daw-1") in kinds
    daw = [e for e in events if e.get("request_id") == "daw-1"]
    assert {e["source"] for e in daw if "source" in e} == {daw_source}
    # The DAW still got its own replies over OSC; the page's job sent none there.
    assert osc_replies[-1][0] == A.DONE
    progress = [e for e in events if e["type"] == "progress" and e["request_id"] == rid]
    assert progress[-1]["fraction"] == 1.0 and all(
        e["eta_seconds"] >= 0 or e["eta_seconds"] == -1 for e in progress
    )
    stem = next(e for e in events if e["type"] == "stem" and e["request_id"] == rid)
    assert Path(stem["path"]).is_relative_to(server.output_dir) and stem["info"]["bpm"] == 120.0
    snapshot = http.get("/api/jobs").json()["jobs"]
    states = {j["request_id"]: (j["state"], j["source"]) for j in snapshot}
    assert states[rid] == ("done", "page") and states["daw-1"][0] == "done"
    peaks = http.get("/api/peaks", params={"path": stem["path"], "buckets": 400}).json()
    assert peaks["report"]["bars"] == 2 and peaks["report"]["target_bpm"] == 120.0
    assert len(peaks["peaks"]["channels"][0]) == 400
    assert abs(peaks["peaks"]["duration_seconds"] - 4.0) < 1e-3


def test_cancel_from_the_page(server: SidecarProcess, http: httpx.Client) -> None:
    with open_events(server.url) as ws:
        long = http.post("/api/generate", json={"fields": {"seconds": 60}}).json()["request_id"]
        queued = http.post("/api/generate", json={"fields": {"seconds": 1}}).json()["request_id"]
        assert http.post("/api/cancel", json={"request_id": queued}).status_code == 200
        events_until(ws, lambda e: e["type"] == "progress" and e["request_id"] == long)
        assert http.post("/api/cancel", json={"request_id": long}).status_code == 200
        events = events_until(ws, lambda e: e["type"] == "cancelled" and e["request_id"] == long)
    assert ("cancelled", queued) in {(e["type"], e.get("request_id")) for e in events}
    r = http.post("/api/cancel", json={"request_id": "no-such-job"})
    assert r.status_code == 400 and r.json()["message"] == "request_id: no job 'no-such-job'"


# ---------------------------------------------------------------------------- guards


def test_dns_rebinding_and_cross_site_requests_are_refused(server: SidecarProcess) -> None:
    with httpx.Client(base_url=server.url) as c:
        r = c.get("/api/status", headers={"host": f"attacker.example:{server.http_port}"})
        assert r.status_code == 403 and "DNS-rebinding" in r.json()["message"]
        r = c.get("/api/status", headers={"host": f"127.0.0.1:{server.http_port + 1}"})
        assert r.status_code == 403
        r = c.post("/api/generate", json={}, headers={"origin": "http://attacker.example"})
        assert r.status_code == 403 and r.json()["message"].startswith("Origin:")
        r = c.get("/api/history", headers={"sec-fetch-site": "cross-site"})
        assert r.status_code == 403
        # The page itself may be opened from a link on another site; its data may not be read.
        assert c.get("/", headers={"sec-fetch-site": "cross-site"}).status_code == 200
        same = c.get("/api/status", headers={"origin": server.url})
        assert same.status_code == 200 and same.json()["state"] == "ready"
        assert (
            c.get("/api/status", headers={"host": f"localhost:{server.http_port}"}).status_code
            == 200
        )
    with pytest.raises(InvalidStatus):
        open_events(server.url, Origin="http://attacker.example")


@pytest.mark.parametrize(
    "path, status",
    [
        ("/etc/passwd", 403),
        ("relative/stem.wav", 403),
        ("{output}/../outside.wav", 403),  # a real file beside the output folder
        ("{output}", 403),  # a folder
        ("{output}/missing.wav", 404),
        ("{home}", 403),  # an allowed clip root, but not the output folder
    ],
)
def test_no_page_path_leaves_the_output_folder(
    server: SidecarProcess, http: httpx.Client, path: str, status: int
) -> None:
    (server.output_dir.parent / "outside.wav").write_bytes(_wav())
    raw = path.format(output=server.output_dir, home=Path.home())
    for route in ("/api/file", "/api/peaks"):
        r = http.get(route, params={"path": raw})
        assert r.status_code == status, (route, r.text)
        assert r.json()["field"] == "path" and r.json()["message"].startswith("path: ")


def test_a_token_server_needs_the_token_on_the_page(tmp_path: Path) -> None:
    token = "page-token-123"
    with running_sidecar(tmp_path, "--no-warm-up", token=token, http=True) as server:
        with httpx.Client(base_url=server.url) as c:
            assert c.get("/").status_code == 200  # the page, to log in on
            r = c.get("/api/status")
            assert r.status_code == 401 and r.json()["code"] == "unauthorized"
            assert (
                c.get("/api/status", headers={"authorization": "Bearer wrong"}).status_code == 401
            )
            ok = c.get("/api/status", headers={"authorization": f"Bearer {token}"})
            assert ok.json()["token_required"] is True
            assert c.post("/api/login", json={"token": "nope"}).status_code == 401
            login = c.post("/api/login", json={"token": token})
            assert "httponly" in login.headers["set-cookie"].lower()
            assert "samesite=strict" in login.headers["set-cookie"].lower()
            assert c.get("/api/status").status_code == 200  # the cookie now
        with pytest.raises(InvalidStatus):
            open_events(server.url)
        with open_events(server.url, Authorization=f"Bearer {token}") as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "jobs"


# ---------------------------------------------------------------------------- uploads


def _bad_uploads(limit_bytes: int) -> list[tuple[str, str, bytes, str]]:
    good = _wav()
    rate = 8000
    long = io.BytesIO()
    soundfile.write(
        long, np.zeros(int(601 * rate), np.int16) + 100, rate, format="WAV", subtype="PCM_16"
    )
    nan = io.BytesIO()
    soundfile.write(nan, np.full(800, np.nan, np.float32), rate, format="WAV", subtype="FLOAT")
    empty_wav = io.BytesIO()
    soundfile.write(empty_wav, np.zeros(0, np.float32), rate, format="WAV", subtype="FLOAT")
    return [
        ("empty body", "clip.wav", b"", "is empty (0 bytes)"),
        (
            "over the size limit",
            "big.wav",
            b"\0" * (limit_bytes + 1),
            f"is over {limit_bytes / 1e6:.0f} MB",
        ),
        ("not an audio name", "notes.txt", good, "is not an audio file name"),
        ("no name", "", good, "a name of 0 characters"),
        ("a NUL in the name", "a\0b.wav", good, "a name of 7 characters"),
        ("a name too long", "x" * 300 + ".wav", good, "a name of 304 characters"),
        ("random bytes", "noise.wav", np.random.default_rng(7).bytes(20000), "cannot decode"),
        (
            "a broken RIFF header",
            "riff.wav",
            b"RIFF\x10\0\0\0WAVEjunk" + bytes(100),
            "cannot decode",
        ),
        ("a truncated header", "cut.wav", good[:30], "cannot decode"),
        ("text named mp3", "song.mp3", b"hello " * 200, "cannot decode"),
        ("NaN samples", "nan.wav", nan.getvalue(), "holds NaN or Inf samples"),
        ("no frames", "none.wav", empty_wav.getvalue(), "clip"),
        ("longer than 600 s", "long.wav", long.getvalue(), "at most 600 s is read"),
        ("silence", "quiet.wav", _wav(fill=0.0), "is silent"),
    ]


def test_bad_uploads_get_clear_errors_and_the_server_keeps_serving(
    server: SidecarProcess, http: httpx.Client
) -> None:
    cases = _bad_uploads(UPLOAD_LIMIT_MB * 1024**2)
    assert len(cases) >= 10
    for what, name, data, expected in cases:
        r = http.post("/api/upload", params={"name": name}, content=data)
        assert r.status_code == 400, (what, r.status_code, r.text)
        body = r.json()
        assert body["code"] == "bad_audio" and expected in body["message"], (what, body)
        assert http.get("/api/status").json()["state"] == "ready", what
    assert http.get("/api/upload").status_code == 405
    assert not [p for p in (server.output_dir / "uploads").glob("*") if p.is_file()]
    with SidecarClient(server.host, server.port) as c:
        assert c.ping(5) is not None


def test_a_good_upload_is_kept_under_the_output_and_continued(
    server: SidecarProcess, http: httpx.Client, clip: Path
) -> None:
    # A path in the name never matters: the file is stored by its content.
    r = http.post(
        "/api/upload", params={"name": "../../../etc/drums.WAV"}, content=clip.read_bytes()
    )
    assert r.status_code == 201, r.text
    stored = Path(r.json()["path"])
    assert stored.parent == server.output_dir.resolve() / "uploads" and stored.suffix == ".wav"
    assert r.json()["channels"] == 1 and abs(r.json()["duration_seconds"] - 4.0) < 1e-3
    again = http.post("/api/upload", params={"name": "same.wav"}, content=clip.read_bytes())
    assert again.json()["path"] == str(stored)  # the same bytes, stored once
    with open_events(server.url) as ws:
        body = {
            "clip": str(stored),
            "bpm": 120,
            "bars": 1,
            "clip_start_beats": 4,
            "clip_end_beats": 8,
        }
        job = http.post("/api/generate", json={"mode": "continue", "fields": body})
        assert job.status_code == 202, job.text
        rid = job.json()["request_id"]
        events = events_until(
            ws, lambda e: e.get("request_id") == rid and e["type"] in ("done", "error")
        )
    assert events[-1]["type"] == "done", events[-1]
    outside = http.post(
        "/api/generate", json={"mode": "continue", "fields": {"clip": "/etc/hostname"}}
    )
    assert outside.status_code == 403 and outside.json()["field"] == "clip"


def test_a_taken_page_port_is_a_clear_start_up_error(tmp_path: Path) -> None:
    import socket
    import subprocess

    from tests.support.server import free_udp_port, serve_command

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cmd = serve_command(free_udp_port(), tmp_path / "out", "--http-port", str(port))
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert f"cannot serve the page on http://127.0.0.1:{port}" in done.stderr
    assert "--no-http" in done.stderr


def test_history_search_recall_and_model_switch(server: SidecarProcess, http: httpx.Client) -> None:
    with open_events(server.url) as ws:
        fields = {"prompt": "needle in a haystack", "bpm": 100, "bars": 1}
        rid = http.post("/api/generate", json={"fields": fields}).json()["request_id"]
        events_until(ws, lambda e: e["type"] == "done" and e["request_id"] == rid)
        found = http.get("/api/history", params={"prompt": "NEEDLE"}).json()["takes"]
        assert [t["request_id"] for t in found] == [rid] and found[0]["bpm"] == 100.0
        assert (
            http.get("/api/history", params={"prompt": "needle", "bpm": 140}).json()["takes"] == []
        )
        assert (
            len(http.get("/api/history", params={"prompt": "needle", "bpm": 101}).json()["takes"])
            == 1
        )
        bad = http.get("/api/history", params={"bpm": 500})
        assert bad.status_code == 400 and bad.json()["message"].startswith("bpm: 500")
        assert http.get("/api/history", params={"key": "H major"}).json()["field"] == "key"
        recall = http.post("/api/recall", json={"take_id": found[0]["take_id"]}).json()[
            "request_id"
        ]
        stems = events_until(ws, lambda e: e["type"] == "done" and e["request_id"] == recall)
        assert [e["path"] for e in stems if e["type"] == "stem"] == [found[0]["files"][0]]
        switch = http.post("/api/models/load", json={"name": "tiny"})
        assert switch.status_code == 202
        switched = switch.json()["request_id"]
        events_until(ws, lambda e: e["type"] == "done" and e["request_id"] == switched)
    models = http.get("/api/models").json()["models"]
    assert [(m["name"], m["state"]) for m in models] == [("tiny", "current")]
    r = http.post("/api/models/load", json={})
    assert r.status_code == 400
    assert r.json()["message"] == "name: None; allowed: a hub id, a local directory or tiny"
