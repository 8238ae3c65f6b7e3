"""Kernel of :class:`~skhtm.PooledFeatureUnion`'s per-feature statistics.

Welford's online update, one row at a time, in float64: the mean and the sum
of squared deviations of each feature come out the same however the rows are
split into chunks (every row updates the running state in the same order),
are exact for a constant feature (its deviations are exactly 0), and need no
float64 copy of a chunk.
"""

import numpy as np

from ._jit import jit

__all__ = ["update_moments"]


@jit
def update_moments(block, count, mean, m2):
    """Add the rows of ``block`` to running per-feature moments, in place.

    Parameters
    ----------
    block : ndarray of float32 of shape (n_rows, n_features)
        The next rows.
    count : ndarray of int64 of shape (1,)
        Rows seen so far; incremented.
    mean : ndarray of float64 of shape (n_features,)
        Running mean; updated.
    m2 : ndarray of float64 of shape (n_features,)
        Running sum of squared deviations from the mean; updated. The
        population variance is ``m2 / count``.
    """
    n_rows, n_features = block.shape
    seen = count[0]
    for i in range(n_rows):
        seen += 1
        for j in range(n_features):
            x = np.float64(block[i, j])
            delta = x - mean[j]
            mean[j] += delta / seen
            m2[j] += delta * (x - mean[j])
    count[0] = seen
