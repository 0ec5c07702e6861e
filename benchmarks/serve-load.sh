#!/usr/bin/env bash
# Load benchmark of `digits serve`: wrk POSTs a real MNIST digit to /api/predict for a fixed time
# and reports requests/s, latency percentiles and errors. See benchmarks/README.md.
#
#   benchmarks/serve-load.sh [--canvas | --json] [--duration 20] [--threads 2] [--connections 32]
#                            [--model FILE] [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

duration=20 threads=2 connections=32 body=png model=.build/bench/mlp.safetensors build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --canvas) body=canvas ;;
        --json) body=json ;;
        --duration) duration="$2"; shift ;;
        --threads) threads="$2"; shift ;;
        --connections) connections="$2"; shift ;;
        --model) model="$2"; shift ;;
        --no-build) build=0 ;;
        *) echo "serve-load: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

# wrk drives the load; netpbm's pnmtopng and pamscale make the PNG bodies.
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v pnmtopng >/dev/null || need+=(netpbm)
if [ ${#need[@]} -gt 0 ]; then
    echo "serve-load: installing ${need[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null \
        || { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null; }
fi

[ "$build" = 0 ] || DIGITS_FAST="${DIGITS_FAST:-1}" swift build -c release --product digits
digits=.build/release/digits
mkdir -p .build/bench
if [ ! -f "$model" ]; then
    echo "serve-load: training $model (mlp, 1 epoch)"
    "$digits" train --model mlp --epochs 1 --quiet --output "$model"
fi

# The request body: MNIST test image 0 (a 7) as a 28x28 PNG (the default), as a 280x280 PNG the size
# of the draw page's canvas (--canvas: each pixel enlarged 10x, white ink on black as the page
# draws), or as JSON {"pixels": [784 values in 0...1]} (--json).
data="${DIGITS_DATA:-../shared/datasets/mnist}"
python3 - "$data" .build/bench <<'PY'
import gzip, json, os, sys
folder, out = sys.argv[1:3]
path = os.path.join(folder, "t10k-images-idx3-ubyte")
raw = gzip.open(path + ".gz").read() if os.path.exists(path + ".gz") else open(path, "rb").read()
assert raw[:4] == b"\x00\x00\x08\x03", "not an IDX images file: " + path
pixels = raw[16:16 + 784]
with open(os.path.join(out, "digit.pgm"), "wb") as f:
    f.write(b"P5\n28 28\n255\n" + pixels)
with open(os.path.join(out, "digit.json"), "w") as f:
    json.dump({"pixels": [p / 255 for p in pixels]}, f)
PY
pnmtopng .build/bench/digit.pgm > .build/bench/digit.png
pamscale 10 .build/bench/digit.pgm | pnmtopng > .build/bench/canvas.png

case "$body" in
    json) export BODY_FILE=.build/bench/digit.json BODY_TYPE=application/json ;;
    canvas) export BODY_FILE=.build/bench/canvas.png BODY_TYPE=image/png ;;
    *) export BODY_FILE=.build/bench/digit.png BODY_TYPE=image/png ;;
esac

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$digits" serve "$model" --host 127.0.0.1 --port "$port" > .build/bench/serve.log 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
    sleep 0.1
done
url="http://127.0.0.1:$port/api/predict"
echo "serve-load: one request first: $(curl -sS -X POST -H "Content-Type: $BODY_TYPE" --data-binary "@$BODY_FILE" "$url" \
    | python3 -c 'import json, sys; a = json.load(sys.stdin); print("digit", a["digit"], "probability", round(a["probability"], 4))')"
echo "serve-load: wrk -t$threads -c$connections -d${duration}s, $BODY_TYPE body of $(wc -c < "$BODY_FILE") bytes, $(nproc) cores"
wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -s benchmarks/serve-load.lua "$url"
curl -s "http://127.0.0.1:$port/metrics" | grep '^digits_http_requests_total{route="/api/predict"' || true
