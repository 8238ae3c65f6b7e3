"""Datasets for vision and video, scikit-learn style.

``fetch_*`` find real data on the machine or download it once into
:func:`get_data_home`; ``make_*`` generate data (tests use these and
scikit-learn's bundled digits, never downloads).
"""

from ._base import get_data_home
from ._idx import read_idx, write_idx
from ._mnist import fetch_fashion_mnist, fetch_mnist
from ._samples_generator import make_cluttered, make_moving_digits, make_translated

__all__ = [
    "fetch_fashion_mnist",
    "fetch_mnist",
    "get_data_home",
    "make_cluttered",
    "make_moving_digits",
    "make_translated",
    "read_idx",
    "write_idx",
]
