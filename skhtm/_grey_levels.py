"""Grey levels as bits: the one home of the encodings that turn grey values into
binary input for a Spatial Pooler.

Shared by :class:`~skhtm.ThermometerEncoder` (thresholds learned from the
data), :class:`~skhtm.SaccadeEncoder` (fovea and periphery) and
:class:`~skhtm.PatchSpatialPooler` (patches; its compiled kernel compares
against the same :func:`uniform_thresholds`, so the bits are identical).
"""

import numpy as np


def uniform_thresholds(n_levels):
    """The ``n_levels`` thermometer thresholds over [0, 1]: ``(j + 1) / (n_levels + 1)``."""
    return np.arange(1, n_levels + 1) / (n_levels + 1)


def thermometer_bits(values, thresholds):
    """Bits of ``values`` (..., n_features) above ``thresholds``, feature-major.

    ``thresholds`` is (n_thresholds,) for all features or (n_features,
    n_thresholds) per feature. Returns uint8 (..., n_features * n_thresholds):
    bit j of a feature is on when the value is above its j-th threshold, so
    similar grey levels share bits.
    """
    bits = values[..., None] > thresholds
    return bits.view(np.uint8).reshape(values.shape[:-1] + (-1,))


def grey_bits(values, n_levels, encoding):
    """Encode values in [0, 1] as ``n_levels`` bits each, value-major.

    ``"thermometer"``: bit j is on above ``(j + 1) / (n_levels + 1)``, so
    similar grey levels share bits. ``"bitplanes"``: the binary digits (most
    significant first) of the value quantised to ``2 ** n_levels`` levels:
    compact, but not similarity preserving.
    """
    if encoding == "thermometer":
        bits = values[..., None] > uniform_thresholds(n_levels)
    else:
        top = (1 << n_levels) - 1
        level = np.minimum((values * (top + 1)).astype(np.int64), top)
        shifts = np.arange(n_levels - 1, -1, -1)
        bits = (level[..., None] >> shifts) & 1
    return bits.reshape(values.shape[:-1] + (-1,)).astype(np.uint8)
