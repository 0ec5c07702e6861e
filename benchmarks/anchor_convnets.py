"""PyTorch anchor for digits' convolutional recipes `cnn`, `lenet5`, `alexnet` and `best`, on CPU.

The same networks as digits' recipes (see Sources/Digits/Recipe.swift):
  cnn:     conv 5x5 1→16 same, ReLU, max-pool 2; conv 5x5 16→32 same, ReLU, max-pool 2; Linear 1568→10
  lenet5:  conv 5x5 1→6 same, ReLU, max-pool 2; conv 5x5 6→16 valid, ReLU, max-pool 2;
           Linear 400→120, ReLU, Linear 120→84, ReLU, Linear 84→10
  alexnet: conv 3x3 same 1→32, ReLU, max-pool 2; 32→64, ReLU, max-pool 2; 64→96, ReLU; 96→96, ReLU;
           96→64, ReLU, max-pool 2; Linear 576→512, ReLU, Dropout 0.5, Linear 512→256, ReLU, Dropout 0.5,
           Linear 256→10
  best:    conv 5x5 same 1→32, batch norm, ReLU, max-pool 2; conv 3x3 same 32→64, BN, ReLU; 64→64, BN, ReLU,
           max-pool 2; 64→128, BN, ReLU, max-pool 2; Dropout 0.3, Linear 1152→10 (batch 128 in its recipe;
           here timed without its augmentation and weight averaging, with Adam rather than AdamW)
He-normal weights, zero biases; inputs standardised with MNIST's mean 0.1307 and std 0.3081; Adam(lr 0.001);
batch 64 unless given; the learning rate annealed to zero on a cosine over the run (per step); softmax
cross-entropy.
Whole tensors indexed by a seeded permutation each epoch; no DataLoader.

Timed: each epoch's training loop (not loading, not the test pass).

    benchmarks/.venv/bin/python benchmarks/anchor_convnets.py --model lenet5 [--epochs N] [--runs N]
"""

import argparse
import math
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn

import mnist_idx

RECIPES = {"cnn": 3, "lenet5": 10, "alexnet": 4, "best": 15}  # default epochs


def build(name, seed):
    torch.manual_seed(seed)
    if name == "cnn":
        model = nn.Sequential(
            nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
    elif name == "alexnet":
        model = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 96, 3, padding=1), nn.ReLU(),
            nn.Conv2d(96, 96, 3, padding=1), nn.ReLU(),
            nn.Conv2d(96, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(576, 512), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(512, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10))
    elif name == "best":
        model = nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(0.3), nn.Linear(1152, 10))
    else:
        model = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    for layer in model:
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")  # N(0, 2/fan_in), as digits' heNormal
            nn.init.zeros_(layer.bias)
    return model


def accuracy(model, x, y):
    with torch.no_grad():
        return sum((model(x[i:i + 1000]).argmax(dim=1) == y[i:i + 1000]).sum().item()
                   for i in range(0, x.shape[0], 1000)) / x.shape[0]


def run(name, seed, data, epochs, batch_size):
    x_train, y_train, x_test, y_test = data
    model = build(name, seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    loss_fn = nn.CrossEntropyLoss()
    shuffle = torch.Generator().manual_seed(seed)
    n = x_train.shape[0]
    steps_per_epoch = math.ceil(n / batch_size)
    total_steps = steps_per_epoch * epochs
    step = 0
    times, acc = [], 0.0
    for epoch in range(1, epochs + 1):
        model.train()
        start = time.perf_counter()
        perm = torch.randperm(n, generator=shuffle)
        running = 0.0
        for i in range(0, n, batch_size):
            for group in optimizer.param_groups:
                group["lr"] = 0.001 * 0.5 * (1 + math.cos(math.pi * step / total_steps))
            idx = perm[i:i + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x_train[idx]), y_train[idx])
            loss.backward()
            optimizer.step()
            running += loss.item()
            step += 1
        seconds = time.perf_counter() - start
        times.append(seconds)
        model.eval()
        acc = accuracy(model, x_test, y_test)
        print(f"{name} seed {seed} epoch {epoch}: {seconds:.3f} s  loss {running / steps_per_epoch:.4f}  "
              f"test accuracy {acc:.4f}", flush=True)
    return statistics.median(times), sum(times), acc


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(RECIPES), required=True)
    parser.add_argument("--data", default=mnist_idx.default_data_dir())
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=None, help="default: cnn 3, lenet5 10, alexnet 4, best 15")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    epochs = args.epochs or RECIPES[args.model]

    torch.set_num_threads(args.threads)
    mean, std = 0.1307, 0.3081
    x_train, y_train = mnist_idx.load(args.data, "train")
    x_test, y_test = mnist_idx.load(args.data, "test")
    x_train = ((x_train - mean) / std).reshape(-1, 1, 28, 28)
    x_test = ((x_test - mean) / std).reshape(-1, 1, 28, 28)
    data = tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in (x_train, y_train, x_test, y_test))
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, model {args.model}, epochs {epochs}", flush=True)
    results = [run(args.model, seed, data, epochs, args.batch_size) for seed in range(1, args.runs + 1)]
    epoch_seconds = statistics.median(r[0] for r in results)
    total = statistics.median(r[1] for r in results)
    acc = statistics.median(r[2] for r in results)
    print(f"RESULT anchor=pytorch-{args.model} epoch_seconds={epoch_seconds:.3f} seconds={total:.3f} accuracy={acc:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
