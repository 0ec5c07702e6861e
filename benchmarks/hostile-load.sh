#!/usr/bin/env bash
# Hostile load on `digits serve` (issue #7): 64 connections for 60 s mixing good requests with malformed
# JSON, truncated and oversized pictures, wrong content types and slow senders; prints what each got,
# the server's RSS before and after, and ends with SIGTERM while a request is in flight.
#
#   benchmarks/hostile-load.sh [--duration 60] [--connections 64] [--model FILE] [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

duration=60 connections=64 model=.build/bench/mlp.safetensors build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) duration="$2"; shift ;;
        --connections) connections="$2"; shift ;;
        --model) model="$2"; shift ;;
        --no-build) build=0 ;;
        *) echo "hostile-load: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

[ "$build" = 0 ] || DIGITS_FAST="${DIGITS_FAST:-1}" swift build -c release --product digits
digits=.build/release/digits
mkdir -p .build/bench
if [ ! -f "$model" ]; then
    echo "hostile-load: training $model (mlp, 1 epoch)"
    "$digits" train --model mlp --epochs 1 --quiet --output "$model"
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Slow senders are cut off after 3-5 s here (the defaults are 5 and 10 s) so that each worker meets several.
"$digits" serve "$model" --port "$port" --idle-timeout 5 --body-timeout 3 > .build/bench/hostile-serve.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
timeout $((duration + 120)) python3 benchmarks/hostile_load.py --port "$port" --pid "$pid" \
    --connections "$connections" --duration "$duration" --slow-wait 15 --sigterm
status=$?
wait $pid; served=$?
echo "server exit status after SIGTERM: $served"
[ "$status" -eq 0 ] && [ "$served" -eq 0 ]
