#!/usr/bin/env bash
# Fetches, here, the wheels the GPU device image lacks, for its Python, into bench/wheelhouse/.
#
#   bash bench/wheelhouse.sh            # then: run(carry=["bench/wheelhouse"], bash bench/gpu_session.sh)
#
# The image has torch, transformers, numpy, scipy, numba, scikit-learn, joblib, msgpack,
# lazy-loader, requests and packaging, but not the audio and OSC packages the server needs, and
# nothing can be fetched there. With these wheels carried over, gpu_session.sh also runs the
# whole warm request through a real server on the GPU (the overhead bench). Only wheels, no
# dependencies resolved (that would pull numpy and scipy again): the list below is what is
# missing. About 10 MB; git ignores the folder. WHEEL_PYTHON picks another Python version.
set -euo pipefail
dest="${1:-bench/wheelhouse}"
python_version="${WHEEL_PYTHON:-3.12}"
mkdir -p "$dest"
# The versions installed here (what CI tests), where installed; the newest otherwise.
mapfile -t wanted < <(python3 - <<'PY'
from importlib.metadata import PackageNotFoundError, version
names = ("python-osc pedalboard librosa pyloudnorm mido platformdirs soxr audioread decorator "
         "pooch soundfile cffi pycparser").split()
for name in names:
    try:
        print(f"{name}=={version(name)}")
    except PackageNotFoundError:
        print(name)
PY
)
python3 -m pip download --quiet --dest "$dest" --no-deps --only-binary=:all: \
    --python-version "$python_version" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform any \
    "${wanted[@]}"
ls -1 "$dest"
du -sh "$dest"
