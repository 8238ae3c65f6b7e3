"""Data for the benchmarks: Fashion-MNIST through skhtm.datasets.

benchmarks/setup.sh installs Debian's dataset-fashion-mnist, which
fetch_fashion_mnist finds under /usr/share/datasets/fashion-mnist; elsewhere
it downloads the files once into skhtm's data home.
"""

from skhtm.datasets import fetch_fashion_mnist


def load_fashion_mnist():
    """(X_train, y_train, X_test, y_test); X as uint8 (n, 784)."""
    X_train, y_train = fetch_fashion_mnist(subset="train", return_X_y=True)
    X_test, y_test = fetch_fashion_mnist(subset="test", return_X_y=True)
    return X_train, y_train, X_test, y_test
