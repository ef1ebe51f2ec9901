#!/usr/bin/env bash
# Everything issue #6 measures on a GPU, in one device call; results land in $OUT.
#
#   bash bench/gpu_session.sh            # on the device: python3 there has torch + transformers
#
# Runs the `gpu`-marked correctness tests (no conftest: the device image lacks the audio/OSC
# packages, which those tests do not need), then the decode benchmark for small and medium
# (stock vs ours, side by side, time to first streamed audio with 0.25 s chunks). With the
# wheels of `bash bench/wheelhouse.sh` carried over (carry ["bench/wheelhouse"]), it installs
# them beside the image's packages and also times warm requests through a real server on the
# device (bench/overhead_bench.py, exact and fast decoders, 8 bars), after `sidecar doctor`
# there, and back-to-back requests with and without the worker pipeline (bench/pipeline_bench.py).
# Knobs for a CPU smoke run: BENCH_DEVICE, BENCH_SIZES, BENCH_SECONDS, BENCH_ROUNDS,
# BENCH_OVERHEAD_BARS, BENCH_PIPELINE_REQUESTS.
#
# Parts (BENCH_PARTS, default all, in this order): env tests decode codec server pipeline.
# A device call may run 10 minutes at most, so a first GPU session should use two calls:
#   BENCH_PARTS="env tests decode codec" bash bench/gpu_session.sh
#   BENCH_PARTS="env server pipeline" bash bench/gpu_session.sh      (carry bench/wheelhouse)
# Every part writes its output under $OUT as it goes, so a call cut short keeps what it did.
set -uo pipefail
parts=" ${BENCH_PARTS:-env tests decode codec server pipeline} "
want() { [[ "$parts" == *" $1 "* ]]; }
out="${OUT:-bench/results}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1
py="${PYTHON:-python3}"
device="${BENCH_DEVICE:-cuda}"
seconds="${BENCH_SECONDS:-10}"
rounds="${BENCH_ROUNDS:-3}"
day="$(date +%F)"
status=0

want env && {
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || true
    "$py" - <<'PY'
import platform, torch, transformers
print("python", platform.python_version(), "torch", torch.__version__,
      "transformers", transformers.__version__)
if torch.cuda.is_available():
    print("device", torch.cuda.get_device_name(0))
print("CUDAGraph.register_generator_state:",
      hasattr(torch.cuda.CUDAGraph, "register_generator_state"))
PY
} > "$out/gpu-env.txt" 2>&1 && cat "$out/gpu-env.txt"

if want tests; then
    "$py" -m pytest -q --noconftest -p no:cacheprovider -m gpu tests/engine/test_fast.py \
        tests/engine/test_precision.py \
        2>&1 | tee "$out/gpu-tests.txt" || status=1
fi

if [ -d bench/wheelhouse ]; then
    deps="$(mktemp -d)"
    "$py" -m pip install --quiet --no-index --no-deps --target "$deps" bench/wheelhouse/*.whl \
        && export PYTHONPATH="$deps:$PWD${PYTHONPATH:+:$PYTHONPATH}" \
        || { echo "wheelhouse install failed"; status=1; }
fi

want decode && for size in ${BENCH_SIZES:-small medium}; do
    "$py" -m bench.decode_bench --device "$device" --size "$size" --seconds "$seconds" \
        --rounds "$rounds" --stream-every 0.25 --json "$out/$device-$size-$day.json" \
        2>&1 | tee "$out/$device-$size.txt" || status=1
done
if want codec; then
    "$py" -m bench.codec_bench --device "$device" 2>&1 | tee "$out/codec-$device.txt" || status=1
fi
if [ -d bench/wheelhouse ] && want server; then
    "$py" -m sidecar doctor --model random-small --device "$device" --port 9399 \
        --output-dir "$(mktemp -d)" 2>&1 | tee "$out/doctor-$device.txt"
    for decoder in exact fast; do
        "$py" bench/overhead_bench.py --model random-small --device "$device" \
            --decoder "$decoder" --bars "${BENCH_OVERHEAD_BARS:-8}" --runs 3 \
            --json "$out/overhead-$device-small-$decoder-$day.json" \
            2>&1 | tee "$out/overhead-$device-$decoder.txt" || status=1
    done
fi
if [ -d bench/wheelhouse ] && want pipeline; then
    "$py" -m bench.pipeline_bench --model random-small --device "$device" \
        --requests "${BENCH_PIPELINE_REQUESTS:-6}" --bars "${BENCH_OVERHEAD_BARS:-8}" \
        --json "$out/pipeline-$device-small-$day.json" \
        2>&1 | tee "$out/pipeline-$device.txt" || status=1
fi
exit "$status"
