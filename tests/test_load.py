"""Load: 5 clients × 50 requests with random cancels; one terminal reply each, files complete."""

from __future__ import annotations

import random
import threading
from collections import Counter
from pathlib import Path

import pytest
from pedalboard.io import AudioFile

from sidecar.osc import addresses as A
from sidecar.osc.client import Reply, SidecarClient
from tests.support.server import running_sidecar

CLIENTS = 5
REQUESTS = 50


@pytest.mark.slow
def test_five_clients_fifty_requests_random_cancels(tmp_path: Path) -> None:
    with running_sidecar(tmp_path, "--queue-size", "64") as server:
        results: dict[int, list[Reply]] = {}
        cancelled_ids: dict[int, set[str]] = {}

        def client_run(i: int) -> None:
            rng = random.Random(i)
            got: list[Reply] = []
            cancels: set[str] = set()
            with SidecarClient(server.host, server.port) as client:
                for n in range(REQUESTS):
                    rid = f"k{i}-{n}"
                    client.send(A.GENERATE, rid, "seconds", 0.1, "seed", n, "sample_rate", 32000)
                    if rng.random() < 0.3:
                        client.send(A.CANCEL, rid)
                        cancels.add(rid)
                for reply in client.replies(timeout_seconds=60):
                    got.append(reply)
                    ends = sum(
                        a in A.TERMINAL_REPLIES and args[0].startswith(f"k{i}-") for a, args in got
                    )
                    if ends >= REQUESTS:
                        break
            results[i] = got
            cancelled_ids[i] = cancels

        threads = [threading.Thread(target=client_run, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
        outcome: Counter[str] = Counter()
        for i in range(CLIENTS):
            got = results[i]
            # Replies reach only the client that asked.
            assert all(
                args and str(args[0]).startswith(f"k{i}-") for a, args in got if a != A.STATUS_REPLY
            )
            terminals = Counter(args[0] for a, args in got if a in A.TERMINAL_REPLIES)
            assert set(terminals) == {f"k{i}-{n}" for n in range(REQUESTS)}
            assert set(terminals.values()) == {1}
            for a, args in got:
                if a in A.TERMINAL_REPLIES:
                    outcome[a if a != A.ERROR else f"error:{args[1]}"] += 1
                    if a == A.CANCELLED:
                        assert args[0] in cancelled_ids[i]
                if a == A.STEM:
                    with AudioFile(args[2]) as f:
                        assert f.frames == 3200 and f.samplerate == 32000
        print(f"\n{CLIENTS * REQUESTS} requests: {dict(outcome)}")
        assert outcome[A.DONE] > 0 and outcome[A.CANCELLED] > 0
        assert not list(server.output_dir.rglob("*.partial*"))
