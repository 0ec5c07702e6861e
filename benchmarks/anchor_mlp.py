"""PyTorch anchor for digits' `mlp` recipe, on CPU.

Dense 784→512, ReLU, Dense 512→10; softmax cross-entropy on the logits; RMSprop(lr 0.001,
alpha/rho 0.9, eps 1e-7); batch 128 (the last, partial batch included: 469 steps an epoch);
5 epochs; reshuffled each epoch with torch.randperm from a seeded generator. Glorot-uniform
weights and zero biases, as Keras and digits draw them (PyTorch's default Linear init differs).
Inputs are pixel/255 as whole tensors indexed by the permutation; no DataLoader.

Timed: the training loop of each epoch only (not loading, not the test pass).

    benchmarks/.venv/bin/python benchmarks/anchor_mlp.py [--data DIR] [--runs N]
"""

import argparse
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn

import mnist_idx


def build(seed):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)  # U(±sqrt(6 / (fan_in + fan_out))) = Keras glorot_uniform
            nn.init.zeros_(layer.bias)
    return model


def accuracy(model, x, y):
    with torch.no_grad():
        return (model(x).argmax(dim=1) == y).float().mean().item()


def run(seed, data, epochs, batch_size):
    x_train, y_train, x_test, y_test = data
    model = build(seed)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=0.001, alpha=0.9, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    shuffle = torch.Generator().manual_seed(seed)
    n = x_train.shape[0]
    total = 0.0
    acc = 0.0
    for epoch in range(1, epochs + 1):
        model.train()
        start = time.perf_counter()
        perm = torch.randperm(n, generator=shuffle)
        running, steps = 0.0, 0
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x_train[idx]), y_train[idx])
            loss.backward()
            optimizer.step()
            running += loss.item()
            steps += 1
        seconds = time.perf_counter() - start
        total += seconds
        model.eval()
        acc = accuracy(model, x_test, y_test)
        print(f"seed {seed} epoch {epoch}: {seconds:.3f} s  loss {running / steps:.4f}  test accuracy {acc:.4f}",
              flush=True)
    return total, acc


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=mnist_idx.default_data_dir(),
                        help="folder with the four MNIST .gz IDX files (default: $DIGITS_DATA or ../shared/datasets/mnist)")
    parser.add_argument("--runs", type=int, default=1, help="repeat with seeds 1..N and report the median")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    torch.set_num_threads(args.threads)
    x_train, y_train = mnist_idx.load(args.data, "train")
    x_test, y_test = mnist_idx.load(args.data, "test")
    data = tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in (x_train, y_train, x_test, y_test))
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"train {x_train.shape[0]}, test {x_test.shape[0]}, data {args.data}", flush=True)

    results = []
    for seed in range(1, args.runs + 1):
        seconds, acc = run(seed, data, args.epochs, args.batch_size)
        print(f"seed {seed}: train {seconds:.3f} s  accuracy {acc:.4f}", flush=True)
        results.append((seconds, acc))
    seconds = statistics.median(r[0] for r in results)
    acc = statistics.median(r[1] for r in results)
    label = "median of " + str(args.runs) + " runs: " if args.runs > 1 else ""
    print(f"{label}train {seconds:.3f} s  accuracy {acc:.4f}")
    print(f"RESULT anchor=pytorch-mlp seconds={seconds:.3f} accuracy={acc:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
