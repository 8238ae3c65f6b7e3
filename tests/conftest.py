import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skhtm import ThermometerEncoder


@pytest.fixture(scope="session")
def digits_split():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


@pytest.fixture(scope="session")
def digits_bits(digits_split):
    """Digits as thermometer bits (8x8x4 topology): train / test bits and labels."""
    X_train, X_test, y_train, y_test = digits_split
    enc = ThermometerEncoder(n_thresholds=4).fit(X_train)
    return enc.transform(X_train), enc.transform(X_test), y_train, y_test


@pytest.fixture
def random_bits():
    return np.random.RandomState(0).rand(60, 32) < 0.3
