"""DSP warm-up: after it, every lazily loaded piece a first request would wait for is loaded."""

from __future__ import annotations

import json
import subprocess
import sys

#: librosa loads these on first use: onset strength and filters (tempo), audio (resampling),
#: constant-Q, spectral chroma and pitch (key estimate and its tuning).
LAZY = (
    "librosa.onset",
    "librosa.filters",
    "librosa.core.audio",
    "librosa.core.constantq",
    "librosa.feature.spectral",
    "librosa.core.pitch",
)

_PROBE = r"""
import json, sys
from sidecar.post.warm import warm_up

lazy = json.loads(sys.argv[1])
before = [name for name in lazy if name in sys.modules]
warm_up()
after = [name for name in lazy if name in sys.modules]
constantq = sys.modules["librosa.core.constantq"]
compiled = len(getattr(constantq, "__num_two_factors").signatures)  # the CQT's numba kernel
print(json.dumps({"before": before, "after": after, "cqt_kernels": compiled}))
"""


def test_warm_up_loads_and_runs_what_a_first_request_would_wait_for() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(LAZY)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state["before"] == []  # importing the server's modules leaves them cold...
    assert state["after"] == list(LAZY)  # ...warm-up loads every one
    assert state["cqt_kernels"] >= 1  # and the key estimate's transform has run
