#!/usr/bin/env bash
# Creates benchmarks/.venv with CPU-only PyTorch and NumPy for the anchor scripts.
#
# Where torch comes from, first that works:
#   1. $TORCH_SPEC, if set (anything pip accepts: a version pin, a wheel path or URL).
#   2. The PyTorch CPU index (download.pytorch.org/whl/cpu), if that host answers.
#   3. A CPU wheel (torch-*+cpu-<python tag>-*.whl) in a pip find-links folder
#      ($PIP_FIND_LINKS, or /opt/wheels).
#   4. Plain PyPI `pip install torch`, which on Linux x86_64 is the CUDA build
#      (a ~540 MB wheel plus several GB of nvidia-* wheels); it still runs on CPU.
#
# Idempotent: does nothing if the venv already imports torch and numpy.
# Usage: bash benchmarks/setup-anchors.sh   (from anywhere)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
python="${PYTHON:-python3}"
cpu_index="https://download.pytorch.org/whl/cpu"

if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c 'import torch, numpy' 2>/dev/null; then
    "$venv/bin/python" -c 'import torch, numpy; print(f"anchors venv ready: torch {torch.__version__}, numpy {numpy.__version__}")'
    exit 0
fi

start=$(date +%s)
if [[ ! -x "$venv/bin/python" ]]; then
    echo "creating $venv"
    "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install --disable-pip-version-check)

reachable() {
    "$venv/bin/python" - "$1" <<'EOF' >/dev/null 2>&1
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=5)
EOF
}

find_cpu_wheel() {
    local tag dirs d w
    tag="$("$venv/bin/python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
    dirs="${PIP_FIND_LINKS:-} /opt/wheels"
    for d in $dirs; do
        [[ -d "$d" ]] || continue
        # Newest version first.
        w="$(ls -1 "$d"/torch-*+cpu-"$tag"-"$tag"-*linux*_x86_64.whl 2>/dev/null | sort -V | tail -n 1 || true)"
        if [[ -n "$w" ]]; then echo "$w"; return 0; fi
    done
    return 1
}

if [[ -n "${TORCH_SPEC:-}" ]]; then
    echo "torch: installing \$TORCH_SPEC = $TORCH_SPEC"
    "${pip[@]}" "$TORCH_SPEC"
elif reachable "$cpu_index/torch/"; then
    echo "torch: installing from the PyTorch CPU index"
    "${pip[@]}" torch --index-url "$cpu_index"
elif wheel="$(find_cpu_wheel)"; then
    echo "torch: $cpu_index not reachable; installing the local CPU wheel $wheel"
    "${pip[@]}" "$wheel"
else
    echo "torch: no CPU build found; installing plain PyPI torch (CUDA build, several GB)" >&2
    "${pip[@]}" torch
fi
"${pip[@]}" numpy

end=$(date +%s)
"$venv/bin/python" -c 'import torch, numpy; print(f"installed torch {torch.__version__}, numpy {numpy.__version__}")'
echo "install took $((end - start)) s; venv size $(du -sh "$venv" | cut -f1)"
