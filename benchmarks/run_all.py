#!/usr/bin/env python3
"""Runs every speed target of issue #9, digits and the anchors one after the other, and prints medians and ratios.

    benchmarks/run-all.sh [--runs 3]     (sets up the anchors' venv and the release build, then runs this)

Each figure is the median of --runs runs (of --runs-slow for NumPy's slow epoch and the cnn epochs; 3 by default).
Every command is printed before it runs; a table of the results, the ratios and the CPU model ends the output.
Standard library only; the anchors run under benchmarks/.venv/bin/python.
"""

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DIGITS = os.path.join(ROOT, ".build/release/digits")
BENCH = os.path.join(ROOT, ".build/release/digits-bench")
PY = os.path.join(HERE, ".venv/bin/python")
WORK = os.path.join(ROOT, ".build/bench")


def run(cmd, env=None):
    print("$ " + " ".join(cmd), flush=True)
    start = time.monotonic()
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    text = out.stdout + out.stderr
    if out.returncode != 0:
        sys.stdout.write(text)
        raise SystemExit(f"failed ({out.returncode}): {' '.join(cmd)}")
    # The figures each command printed, so that a run cut short still shows what it measured.
    keep = [l for l in text.splitlines() if l.startswith("RESULT") or "test accuracy" in l or "s training" in l
            or l.startswith("machine:") or l.startswith("warning:")]
    for line in keep[-3:]:
        print("  " + line)
    print(f"  ({time.monotonic() - start:.1f} s)", flush=True)
    return text


def grab(pattern, text, what):
    m = re.search(pattern, text)
    if not m:
        sys.stdout.write(text)
        raise SystemExit(f"could not find {what} in the output above")
    return float(m.group(1))


def result(text, key):
    return grab(r"RESULT .*?\b" + key + r"=([0-9.]+)", text, key)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--runs-slow", type=int, default=3, help="runs of the NumPy epoch and of the cnn epochs")
    args = p.parse_args()
    os.makedirs(WORK, exist_ok=True)
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    simd = "AVX-512" if " avx512f" in flags else ("AVX2" if " avx2" in flags else "no AVX2")
    began = time.monotonic()
    rows = []  # (what, digits, anchor name, anchor, unit, higher_is_better)
    med = statistics.median

    # mlp recipe, 5 epochs: digits-bench times the training loop as the anchor does.
    d = [run([BENCH]) for _ in range(args.runs)]
    # digits-bench names the CPU, its vector width and the BLAS kernels, and warns when they are a fallback.
    machine = next((l for l in d[0].splitlines() if l.startswith("machine:")), "machine: (not reported)")
    blas_warning = next((l for l in d[0].splitlines() if l.startswith("warning:")), None)
    d_mlp = med(grab(r"mlp 5 epochs: ([0-9.]+) s training", t, "mlp seconds") for t in d)
    d_acc = med(grab(r"test accuracy ([0-9.]+)%", t, "mlp accuracy") for t in d)
    d_rss = max(grab(r"peak resident memory: ([0-9.]+) MB", t, "peak RSS") for t in d)
    t = run([PY, "benchmarks/anchor_mlp.py", "--runs", str(args.runs)])
    rows.append(("mlp, 5 epochs (s)", d_mlp, "PyTorch", result(t, "seconds"), "s", False))
    accuracies = f"digits {d_acc:.2f}%, PyTorch {100 * result(t, 'accuracy'):.2f}%"

    # mlp-sigmoid, one epoch one sample at a time.
    d = [run([DIGITS, "train", "--model", "mlp-sigmoid", "--quiet"]) for _ in range(args.runs)]
    d_sig = med(grab(r"epoch 1: .*?([0-9.]+)s \(", t, "sigmoid seconds") for t in d)   # to 0.01 s
    n = [run([PY, "benchmarks/anchor_numpy_sigmoid.py"]) for _ in range(args.runs_slow)]
    rows.append(("mlp-sigmoid, 1 epoch (s)", d_sig, "NumPy", med(result(t, "seconds") for t in n), "s", False))

    # Convolutional epochs, batch 64, the recipes' optimizer and schedule.
    for model, runs in (("lenet5", args.runs), ("cnn", args.runs_slow)):
        # The PyTorch anchors train without augmentation, so these runs do too.
        d = [run([DIGITS, "train", "--model", model, "--epochs", "1", "--augment", "none", "--quiet"]) for _ in range(runs)]
        d_epoch = med(grab(r"epoch 1: .*?([0-9.]+)s \(", t, f"{model} epoch seconds") for t in d)
        a = run([PY, "benchmarks/anchor_convnets.py", "--model", model, "--epochs", "1", "--runs", str(runs)])
        rows.append((f"{model}, 1 epoch (s)", d_epoch, "PyTorch", result(a, "epoch_seconds"), "s", False))

    # Inference on the same weights: an mlp trained by digits, exported to ONNX for onnxruntime.
    model = os.path.join(WORK, "mlp.safetensors")
    onnx = os.path.join(WORK, "mlp.onnx")
    if not os.path.exists(model):
        run([DIGITS, "train", "--model", "mlp", "--quiet", "--output", model])
    run([DIGITS, "export", model, "--onnx", onnx])
    d = [run([BENCH, "infer", model]) for _ in range(args.runs)]
    o = [run([PY, "benchmarks/anchor_onnxruntime.py", onnx]) for _ in range(args.runs)]
    rows.append(("mlp inference, batches of 1000 (images/s)", med(result(t, "images_per_second") for t in d),
                 "onnxruntime", med(result(t, "images_per_second") for t in o), "images/s", True))
    rows.append(("mlp inference, one image (us)", med(result(t, "latency_us") for t in d),
                 "onnxruntime", med(result(t, "latency_us") for t in o), "us", False))
    photo = med(result(t, "photo_ms") for t in d)
    photo_jpeg = med(result(t, "photo_jpeg_ms") for t in d)

    print()
    print(f"CPU: {cpu_model()} ({simd}), {os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M')}; "
          f"medians of {args.runs} runs ({args.runs_slow} for NumPy and cnn); {time.monotonic() - began:.0f} s in all")
    print(machine)
    if blas_warning:
        print(blas_warning)
    print()
    print("| target | digits | anchor | anchor's figure | digits is |")
    print("|---|---|---|---|---|")
    for what, ours, name, theirs, unit, higher in rows:
        ratio = ours / theirs if higher else theirs / ours
        print(f"| {what} | {ours:,.2f} | {name} | {theirs:,.2f} | {ratio:.2f}x {'faster' if ratio >= 1 else 'slower'} |")
    print()
    print(f"mlp test accuracy (median): {accuracies}")
    print(f"640x480 photo to answer (digits, median): {photo:.2f} ms as PNG, {photo_jpeg:.2f} ms as JPEG")
    print(f"peak resident memory training mlp (digits-bench): {d_rss:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
