"""Kernels of the patch (convolution-like) Spatial Pooler: patches in, pooled activity out."""

import numpy as np


def patch_grid(image_shape, patch_shape, stride):
    """Number of patch positions along each axis: ``(rows, cols)``."""
    return tuple((size - p) // s + 1 for size, p, s in zip(image_shape, patch_shape, stride))


def image_patches(images, patch_shape, stride, which=None):
    """Every ``patch_shape`` patch of each image, ``stride`` apart.

    images (n, h, w) -> (n, grid_rows, grid_cols, ph * pw), row-major inside a
    patch. A strided view, copied once by the reshape.

    ``which``: flat indices into ``(n, grid_rows, grid_cols)``; only those
    patches are copied, as an array (len(which), ph * pw). Sampling training
    patches this way keeps memory proportional to the sample, not to the
    n x grid_rows x grid_cols patches of the batch.
    """
    windows = np.lib.stride_tricks.sliding_window_view(images, patch_shape, axis=(1, 2))
    windows = windows[:, ::stride[0], ::stride[1]]
    n, gr, gc = windows.shape[:3]
    if which is None:
        return windows.reshape(n, gr, gc, -1)
    image, row, col = np.unravel_index(which, (n, gr, gc))
    return windows[image, row, col].reshape(len(which), -1)


def region_edges(n_positions, n_regions):
    """Boundaries splitting ``n_positions`` into ``n_regions`` near-equal bands."""
    return np.linspace(0, n_positions, n_regions + 1).round().astype(np.intp)


def pool_regions(activity, pool_grid, pooling):
    """Pool column activity over a grid of neighbourhoods of patch positions.

    activity (n, grid_rows, grid_cols, n_columns) binary -> (n, regions, n_columns):
    per region of the patch grid, how many of its patches activated each
    column (``"sum"``) or whether any did (``"max"``). Pooling is what makes
    the features tolerate small shifts: a column tuned to an edge counts the
    same wherever in the region the edge falls.
    """
    n, gr, gc, n_columns = activity.shape
    rows, cols = region_edges(gr, pool_grid[0]), region_edges(gc, pool_grid[1])
    # Sums over bands by cumulative sums, without a Python loop over regions.
    csum = np.zeros((n, gr + 1, gc + 1, n_columns), dtype=np.int32)
    np.cumsum(np.cumsum(activity, axis=1, dtype=np.int32), axis=2, out=csum[:, 1:, 1:])
    r0, r1 = rows[:-1], rows[1:]
    c0, c1 = cols[:-1], cols[1:]
    sums = (csum[:, r1][:, :, c1] - csum[:, r0][:, :, c1]
            - csum[:, r1][:, :, c0] + csum[:, r0][:, :, c0])
    sums = sums.reshape(n, -1, n_columns)
    if pooling == "max":
        return (sums > 0).astype(np.float32)
    return sums.astype(np.float32)
