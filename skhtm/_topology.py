"""Topology kernels: potential pools, column neighbourhoods, receptive-field spans.

Plain functions over numpy arrays, no estimator state. Coordinates follow numpy's
C order (``np.ravel_multi_index``), so an image of shape ``(h, w)`` flattened
row by row has the input topology ``(h, w)``.
"""

import numpy as np
from scipy import ndimage

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


def _window_filter(values, column_shape, radius, wrap_around, kind):
    """Apply a (2*radius+1)^ndim max or sum filter to each row of ``values``."""
    n_rows = values.shape[0]
    grid = values.reshape((n_rows,) + tuple(column_shape))
    size = (1,) + tuple(min(2 * radius + 1, 2 * s + 1) for s in column_shape)
    mode = "wrap" if wrap_around else "constant"
    if kind == "max":
        cval = -np.inf if values.dtype.kind == "f" else np.iinfo(values.dtype).min
        out = ndimage.maximum_filter(grid, size=size, mode=mode, cval=cval)
    else:
        out = ndimage.uniform_filter(grid.astype(np.float64), size=size, mode=mode, cval=0.0)
        out *= np.prod(size)
    return out.reshape(n_rows, -1)


def neighbourhood_max(values, column_shape, radius, wrap_around):
    """Max of ``values`` (n_rows, n_columns) over each column's neighbourhood."""
    return _window_filter(values, column_shape, radius, wrap_around, "max")


def neighbourhood_size(column_shape, radius, wrap_around):
    """Number of columns (self included) in each column's neighbourhood."""
    if wrap_around:
        return np.full(int(np.prod(column_shape)),
                       np.prod([min(2 * radius + 1, s) for s in column_shape]), dtype=np.int64)
    ones = np.ones((1, int(np.prod(column_shape))))
    return np.rint(_window_filter(ones, column_shape, radius, False, "sum")[0]).astype(np.int64)


def neighbourhood_mean(values, column_shape, radius, wrap_around):
    """Mean of ``values`` (n_rows, n_columns) over each column's neighbourhood."""
    if wrap_around and any(2 * radius + 1 > s for s in column_shape):
        # A window larger than a wrapped axis would count some columns twice.
        radius = min(radius, (min(column_shape) - 1) // 2)
    total = _window_filter(values, column_shape, radius, wrap_around, "sum")
    return total / neighbourhood_size(column_shape, radius, wrap_around)


def neighbourhood_offsets(column_shape, radius):
    """Offsets (ndim-tuples) of a column's neighbours, self excluded, without repeats."""
    ranges = [np.arange(-min(radius, s // 2), min(radius, (s - 1) // 2) + 1)
              for s in column_shape]
    grid = np.stack(np.meshgrid(*ranges, indexing="ij"), axis=-1).reshape(-1, len(column_shape))
    return [tuple(o) for o in grid if any(o)]


def mean_connected_span(indptr, indices, connected, input_shape):
    """Mean over columns of the extent of their connected synapses in input space.

    The extent of a column is, per input axis, max - min + 1 of its connected
    inputs' coordinates, averaged over the axes. Columns with no connected
    synapse are left out (they have no receptive field).
    """
    n_columns = indptr.shape[0] - 1
    col_of_syn = np.repeat(np.arange(n_columns), np.diff(indptr))[connected]
    if col_of_syn.size == 0:
        return 0.0
    coords = np.unravel_index(indices[connected], input_shape)
    has_field = np.bincount(col_of_syn, minlength=n_columns) > 0
    spans = np.zeros(n_columns)
    for axis_coords in coords:
        lo = np.full(n_columns, np.iinfo(np.int64).max)
        hi = np.full(n_columns, -1)
        np.minimum.at(lo, col_of_syn, axis_coords)
        np.maximum.at(hi, col_of_syn, axis_coords)
        spans[has_field] += hi[has_field] - lo[has_field] + 1
    return float(spans[has_field].mean() / len(coords))
