"""onnxruntime anchor for inference: runs a model that `digits export --onnx` wrote, on the MNIST test set.

Measures, with the given thread count (default 2):
  - batched throughput: images/s over the 10,000 test images in batches of --batch (default 1000), best of 5;
  - single-image latency: the median over 2,000 calls of one image, in microseconds;
and checks the answers' accuracy, so a broken export cannot look fast.

    python benchmarks/anchor_onnxruntime.py MODEL.onnx [--threads 2] [--batch 1000]
"""

import argparse
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort

import mnist_idx


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--data", default=mnist_idx.default_data_dir())
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    x, y = mnist_idx.load(args.data, "test")
    x = np.ascontiguousarray(x.reshape(-1, 1, 28, 28).astype(np.float32))

    predictions = np.concatenate([session.run(None, {name: x[i:i + args.batch]})[0].argmax(axis=1)
                                  for i in range(0, len(x), args.batch)])
    acc = float((predictions == y).mean())

    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for i in range(0, len(x), args.batch):
            session.run(None, {name: x[i:i + args.batch]})
        best = min(best, time.perf_counter() - start)
    throughput = len(x) / best

    one = x[:1]
    for _ in range(200):
        session.run(None, {name: one})
    samples = []
    for i in range(2000):
        image = x[i % len(x):i % len(x) + 1]
        start = time.perf_counter()
        session.run(None, {name: image})
        samples.append(time.perf_counter() - start)
    latency = statistics.median(samples) * 1e6

    print(f"onnxruntime {ort.__version__}, threads {args.threads}: {throughput:.0f} images/s in batches of {args.batch}, "
          f"{latency:.1f} us for one image, accuracy {acc:.4f}")
    print(f"RESULT anchor=onnxruntime images_per_second={throughput:.0f} latency_us={latency:.1f} accuracy={acc:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
