"""Topology: shapes, column centres and potential pools (drawn once, at initialisation).

Plain numpy functions, no estimator state; the neighbourhoods of local
inhibition and the receptive-field spans are compiled kernels in
``_spatial_pooling.py``, since learning updates them. Coordinates follow numpy's
C order (``np.ravel_multi_index``), so an image of shape ``(h, w)`` flattened
row by row has the input topology ``(h, w)``.
"""

import numpy as np

# Bound on the (columns x window) scratch arrays built while sampling pools.
_MAX_SCRATCH = 1 << 23


def as_shape(shape):
    """Return ``shape`` (an int or a sequence of ints) as a tuple of ints."""
    if np.isscalar(shape):
        return (int(shape),)
    return tuple(int(s) for s in shape)


def align_shapes(column_shape, input_shape):
    """Give the column topology as many dimensions as the input topology.

    Missing trailing column dimensions count as size 1, so columns on a 2-D
    sheet can sit over a ``(h, w, n_levels)`` input whose last axis holds the
    grey-level bits of a pixel.
    """
    if len(column_shape) > len(input_shape):
        raise ValueError(
            f"column_shape {column_shape} has more dimensions than input_shape {input_shape}"
        )
    return column_shape + (1,) * (len(input_shape) - len(column_shape))


def column_centres(column_shape, input_shape):
    """Input-space coordinates of each column's centre, shape (n_columns, ndim).

    A column at coordinate ``c`` along an axis of ``n_c`` columns over ``n_i``
    inputs sits at input ``floor((c + 0.5) * n_i / n_c)``: columns spread evenly
    over the input whatever the ratio of the two sizes.
    """
    grids = np.indices(column_shape).reshape(len(column_shape), -1).T
    ratios = np.asarray(input_shape, dtype=np.float64) / np.asarray(column_shape)
    return np.floor((grids + 0.5) * ratios).astype(np.int64)


def _axis_window(centres, size, radius, wrap_around):
    """Coordinates within ``radius`` of each centre along one axis, and their validity."""
    if 2 * radius + 1 >= size:
        coords = np.broadcast_to(np.arange(size), (centres.shape[0], size))
        return coords, np.ones(coords.shape, dtype=bool)
    coords = centres[:, None] + np.arange(-radius, radius + 1)
    if wrap_around:
        return coords % size, np.ones(coords.shape, dtype=bool)
    valid = (coords >= 0) & (coords < size)
    return np.clip(coords, 0, size - 1), valid


def potential_pools(column_shape, input_shape, potential_radius, potential_pct, wrap_around,
                    random_state):
    """Sample each column's potential pool, as CSR structure over the inputs.

    The pool of a column is a random ``potential_pct`` of the inputs within
    ``potential_radius`` (a hypercube, in input coordinates) of its centre; with
    ``potential_radius=None`` the neighbourhood is the whole input.

    Returns
    -------
    indptr : ndarray of int64, shape (n_columns + 1,)
    indices : ndarray of int32, shape (n_synapses,)
        The inputs of column ``c`` are ``indices[indptr[c]:indptr[c + 1]]``, sorted.
    """
    n_columns = int(np.prod(column_shape))
    n_inputs = int(np.prod(input_shape))
    if potential_radius is None:
        window = np.broadcast_to(np.arange(n_inputs), (n_columns, n_inputs))
        valid = np.ones(window.shape, dtype=bool)
    else:
        centres = column_centres(align_shapes(column_shape, input_shape), input_shape)
        axes = [_axis_window(centres[:, d], size, potential_radius, wrap_around)
                for d, size in enumerate(input_shape)]
        # Cartesian product of the per-axis windows -> flat input indices.
        window = np.zeros((n_columns, 1), dtype=np.int64)
        valid = np.ones((n_columns, 1), dtype=bool)
        for (coords, ok), size in zip(axes, input_shape):
            window = (window[:, :, None] * size + coords[:, None, :]).reshape(n_columns, -1)
            valid = (valid[:, :, None] & ok[:, None, :]).reshape(n_columns, -1)
    n_potential = np.floor(valid.sum(axis=1) * potential_pct + 0.5).astype(np.int64)
    n_potential = np.maximum(n_potential, 1)

    width = window.shape[1]
    chunk = max(1, _MAX_SCRATCH // width)
    pieces = []
    for start in range(0, n_columns, chunk):
        stop = min(start + chunk, n_columns)
        keys = random_state.random_sample((stop - start, width))
        keys[~valid[start:stop]] = 2.0  # never chosen before a valid input
        order = np.argsort(keys, axis=1, kind="stable")
        take = np.arange(width) < n_potential[start:stop, None]
        rows = np.broadcast_to(np.arange(stop - start)[:, None], order.shape)[take]
        chosen = window[start:stop][rows, order[take]]
        # Sort each column's inputs: canonical CSR, and the cache-friendly order.
        pieces.append(chosen[np.lexsort((chosen, rows))])
    indices = np.concatenate(pieces).astype(np.int32)
    indptr = np.zeros(n_columns + 1, dtype=np.int64)
    np.cumsum(n_potential, out=indptr[1:])
    return indptr, indices
