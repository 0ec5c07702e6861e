"""Reads MNIST's gzipped IDX files with NumPy alone (used by the anchor scripts).

IDX: a big-endian header — two zero bytes, a type byte (0x08 = unsigned byte), the number of
dimensions — then one big-endian uint32 per dimension, then the data, row-major.
"""

import gzip
import os
import struct

import numpy as np

FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
IMAGES_MAGIC = 0x00000803  # ubyte, 3 dimensions
LABELS_MAGIC = 0x00000801  # ubyte, 1 dimension


def default_data_dir():
    """$DIGITS_DATA, else ../shared/datasets/mnist relative to the repository root."""
    env = os.environ.get("DIGITS_DATA")
    if env:
        return env
    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.normpath(os.path.join(repo_root, "..", "shared", "datasets", "mnist"))


def read_idx(path, expected_magic):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4:
        raise ValueError(f"{path}: too short for an IDX header")
    (magic,) = struct.unpack(">I", raw[:4])
    if magic != expected_magic:
        raise ValueError(f"{path}: magic 0x{magic:08x}, expected 0x{expected_magic:08x}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    dims = struct.unpack(">" + "I" * ndim, raw[4:header])
    count = int(np.prod(dims))
    if len(raw) - header != count:
        raise ValueError(f"{path}: {len(raw) - header} data bytes, header says {count}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def load(data_dir, split):
    """(images float32 [N, 784] in [0, 1], labels int64 [N]) for split 'train' or 'test'."""
    images_name, labels_name = FILES[split]
    images = read_idx(os.path.join(data_dir, images_name), IMAGES_MAGIC)
    labels = read_idx(os.path.join(data_dir, labels_name), LABELS_MAGIC)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{split}: {images.shape[0]} images but {labels.shape[0]} labels")
    x = images.reshape(images.shape[0], -1).astype(np.float32) / np.float32(255)
    return x, labels.astype(np.int64)
