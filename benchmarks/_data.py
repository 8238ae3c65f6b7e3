"""Data for the benchmarks: Fashion-MNIST from Debian's dataset-fashion-mnist."""

import gzip
import os
import struct

import numpy as np

FASHION_DIR = "/usr/share/datasets/fashion-mnist"


def _read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        _, _, ndim = struct.unpack(">HBB", f.read(4))
        shape = struct.unpack(">" + "I" * ndim, f.read(4 * ndim))
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(shape)


def _find(stem):
    for name in (stem, stem + ".gz"):
        path = os.path.join(FASHION_DIR, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(
        f"{stem} not found under {FASHION_DIR}; install Debian's package "
        "dataset-fashion-mnist (apt-get install dataset-fashion-mnist)")


def load_fashion_mnist():
    """(X_train, y_train, X_test, y_test); X as uint8 (n, 784)."""
    parts = [_read_idx(_find(f"{s}-{k}-ubyte")) for s in ("train", "t10k")
             for k in ("images-idx3", "labels-idx1")]
    return (parts[0].reshape(-1, 784), parts[1], parts[2].reshape(-1, 784), parts[3])
