#!/usr/bin/env bash
# Every speed target of issue #9 in one sitting: digits and the anchors (PyTorch, NumPy, onnxruntime) one
# after the other, medians, ratios and the CPU model. About 10 minutes on 2 cores once set up.
#
#   benchmarks/run-all.sh [--no-build] [--runs 3] [--runs-slow 3]
#
# Sets up what a fresh machine lacks: the system libraries (scripts/setup), benchmarks/.venv with torch,
# numpy and onnxruntime (benchmarks/setup-anchors.sh), and the release build of digits and digits-bench.
# Run it on an otherwise idle machine: with 2 cores anything else running skews every figure.
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
args=()
for a in "$@"; do
    if [ "$a" = "--no-build" ]; then build=0; else args+=("$a"); fi
done
scripts/setup
bash benchmarks/setup-anchors.sh
benchmarks/.venv/bin/python -c 'import onnxruntime' 2>/dev/null || benchmarks/.venv/bin/pip install -q onnxruntime onnx
# The speed settings of the numeric kernels (Package.swift); DIGITS_FAST=0 measures the portable build.
export DIGITS_FAST="${DIGITS_FAST:-1}"
if [ "$build" = 1 ]; then
    swift build -c release --product digits
    swift build -c release --product digits-bench
fi
exec timeout 1800 python3 benchmarks/run_all.py "${args[@]}"
