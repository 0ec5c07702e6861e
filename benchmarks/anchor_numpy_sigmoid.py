"""NumPy anchor for digits' `mlp-sigmoid` recipe: the classic from-scratch sigmoid network.

784 → 200 sigmoid → 10 sigmoid, with biases (zero at the start); weights N(0, std²) with
std = (units in the receiving layer)^-1/2; targets 0.01 / 0.99; half squared error; plain SGD,
lr 0.2, one sample at a time, one epoch over the training set in a shuffled order. The exact
gradient: δ_out = (t − o)·o(1 − o), δ_hidden = (W2ᵀ δ_out)·h(1 − h), with W2 taken before its
update. Inputs are pixel/255 in [0, 1]. float64 by default, as the classic code runs.

Timed: the training epoch only (not loading, not the test pass).
BLAS threads: OPENBLAS/OMP/MKL_NUM_THREADS are set to --threads (default 2) before NumPy loads.

    benchmarks/.venv/bin/python benchmarks/anchor_numpy_sigmoid.py [--data DIR]
"""

import argparse
import os
import sys
import time


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None,
                        help="folder with the four MNIST .gz IDX files (default: $DIGITS_DATA or ../shared/datasets/mnist)")
    parser.add_argument("--threads", type=int, default=2, help="BLAS threads (default 2)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hidden", type=int, default=200)
    parser.add_argument("--lr", type=float, default=0.2)
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    return parser.parse_args()


args = parse_args()
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import numpy as np  # noqa: E402  (after the thread variables)

import mnist_idx  # noqa: E402


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def main():
    data_dir = args.data or mnist_idx.default_data_dir()
    dtype = np.dtype(args.dtype)
    x_train, y_train = mnist_idx.load(data_dir, "train")
    x_test, y_test = mnist_idx.load(data_dir, "test")
    x_train = x_train.astype(dtype)
    x_test = x_test.astype(dtype)
    n_in, n_hidden, n_out = x_train.shape[1], args.hidden, 10
    print(f"numpy {np.__version__}, BLAS threads {args.threads}, {args.dtype}, "
          f"train {x_train.shape[0]}, test {x_test.shape[0]}, data {data_dir}", flush=True)

    rng = np.random.default_rng(args.seed)
    w1 = rng.normal(0.0, n_hidden ** -0.5, (n_hidden, n_in)).astype(dtype)
    b1 = np.zeros(n_hidden, dtype)
    w2 = rng.normal(0.0, n_out ** -0.5, (n_out, n_hidden)).astype(dtype)
    b2 = np.zeros(n_out, dtype)
    targets = np.full((n_out, n_out), 0.01, dtype)
    np.fill_diagonal(targets, 0.99)
    lr = dtype.type(args.lr)
    order = rng.permutation(x_train.shape[0])

    start = time.perf_counter()
    for i in order:
        x = x_train[i]
        t = targets[y_train[i]]
        h = sigmoid(w1 @ x + b1)
        o = sigmoid(w2 @ h + b2)
        delta_out = (t - o) * o * (1.0 - o)
        delta_hidden = (w2.T @ delta_out) * h * (1.0 - h)
        w2 += lr * np.outer(delta_out, h)
        b2 += lr * delta_out
        w1 += lr * np.outer(delta_hidden, x)
        b1 += lr * delta_hidden
    seconds = time.perf_counter() - start

    h = sigmoid(x_test @ w1.T + b1)
    o = sigmoid(h @ w2.T + b2)
    acc = float((o.argmax(axis=1) == y_test).mean())
    print(f"epoch 1: {seconds:.3f} s  ({x_train.shape[0] / seconds:.0f} samples/s)  test accuracy {acc:.4f}")
    print(f"RESULT anchor=numpy-sigmoid seconds={seconds:.3f} accuracy={acc:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
