"""Kernels of the patch (convolution-like) Spatial Pooler.

Two ways from images to pooled column activity. The fused, compiled pass
(:func:`pooled_patch_columns`) goes from pixels to the pooled output row
without building a patch: a pixel at grey level ``l`` has its first ``l``
thermometer bits on, so a column's overlap with a patch is a sum of per-pixel,
per-level counts of its connected synapses (:func:`column_tables`). The numpy
functions (:func:`image_patches`, :func:`pool_regions`) cut patches and pool
activity computed elsewhere: they encode training patches, and serve Spatial
Poolers the fused pass does not cover.
"""

import numpy as np

from ._jit import jit


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


# ---------------------------------------------------------------- fused transform
#
# The transform of a fitted PatchSpatialPooler in one compiled pass per image,
# without ever building a patch: grey levels of the pixels, each patch
# position's overlaps, k-winners, pooling straight into the output row.


def column_tables(connected, rank, n_pixels, n_levels, dtype):
    """Per patch pixel and grey level, how many connected synapses each column has there.

    Parameters
    ----------
    connected : ndarray of bool (n_columns, n_pixels * n_levels)
        Connected synapses over the patch's thermometer bits (pixel major).
    rank : ndarray of int (n_columns,)
        The Spatial Pooler's tie-break priority (``column_rank_``).
    n_pixels, n_levels : int
    dtype : numpy integer dtype of the overlaps

    Returns
    -------
    tables : ndarray (n_pixels, n_levels + 1, n_columns)
        ``tables[p, l, s]``: connected synapses of the column in slot ``s`` to
        the first ``l`` bits of pixel ``p``. A pixel at grey level ``l`` has
        exactly those bits on (thermometer), so a patch's overlap with a column
        is the sum of one table entry per pixel.
    slot_column : ndarray of int64 (n_columns,)
        The column in each slot: columns sorted by decreasing rank, so that the
        lower slot wins a tie, as the higher rank does in the Spatial Pooler.
    """
    n_columns = connected.shape[0]
    slot_column = np.argsort(-np.asarray(rank, dtype=np.int64), kind="stable")
    per_bit = connected[slot_column].reshape(n_columns, n_pixels, n_levels)
    tables = np.zeros((n_pixels, n_levels + 1, n_columns), dtype=dtype)
    tables[:, 1:, :] = np.cumsum(per_bit, axis=2, dtype=np.int64).transpose(1, 2, 0)
    return tables, slot_column.astype(np.int64)


def band_of_positions(n_positions, n_regions):
    """The pooling band (0 .. n_regions - 1) of each patch position along one axis."""
    edges = region_edges(n_positions, n_regions)
    return (np.searchsorted(edges, np.arange(n_positions), side="right") - 1).astype(np.int64)


@jit
def _count_winners(winners, n_winners, out_row, base, max_pooling):
    """Add the first ``n_winners`` columns of ``winners`` into ``out_row`` at ``base``."""
    for c in range(n_winners):
        if max_pooling:
            out_row[base + winners[c]] = 1.0
        else:
            out_row[base + winners[c]] += 1.0


@jit
def _pool_k_winners(overlaps, k, min_overlap, slot_column, candidates, winners, out_row, base,
                    max_pooling):
    """The Spatial Pooler's global inhibition on one patch's ``overlaps`` (slot order),
    its winners counted into ``out_row`` at ``base``.

    The ``k`` columns of highest overlap among those with overlap >= ``min_overlap``,
    ties to the lower slot (the higher ``column_rank_``); their columns are written
    to ``winners`` and their number returned (0 when none reaches ``min_overlap``).
    """
    n_columns = overlaps.shape[0]
    # k-winners: the overlap ``cut`` of the k-th winner, and how many of the
    # columns at exactly ``cut`` win (the first ``n_at_cut`` slots). Counting
    # passes from the top overlap down: each is one vectorised loop, and the
    # k-th of a few hundred overlaps lies a few values below the top.
    top = overlaps[0]
    for s in range(n_columns):
        top = max(top, overlaps[s])
    if top < min_overlap:
        return 0
    cut = top
    above = 0  # columns whose overlap is above cut
    while True:
        at_least = 0
        for s in range(n_columns):
            if overlaps[s] >= cut:
                at_least += 1
        if at_least >= k:
            n_at_cut = k - above
            break
        if cut == min_overlap:  # fewer than k columns are eligible: all win
            n_at_cut = at_least - above
            break
        above = at_least
        cut -= 1
    # The winners: every candidate (overlap >= cut) above the cut, and the
    # first n_at_cut at it. Candidates are gathered without a branch per
    # column (a column is one with probability ~k / n_columns: unpredictable).
    n_candidates = 0
    for s in range(n_columns):
        candidates[n_candidates] = s
        n_candidates += overlaps[s] >= cut
    n_winners = 0
    for c in range(n_candidates):
        s = candidates[c]
        if overlaps[s] == cut:
            if n_at_cut == 0:
                continue
            n_at_cut -= 1
        winners[n_winners] = slot_column[s]
        n_winners += 1
        if max_pooling:
            out_row[base + slot_column[s]] = 1.0
        else:
            out_row[base + slot_column[s]] += 1.0
    return n_winners


@jit
def grey_levels(image, by_peak, low, high, thresholds, levels):
    """Thermometer level (bits on, 0 .. n_levels) of each pixel of one image.

    Scales as the patch encoding does (by the image's maximum, or ``low``..
    ``high`` clipped to [0, 1]) and counts the thresholds the value exceeds;
    the bits of level ``l`` are the first ``l`` thresholds, as in
    ``uniform_thresholds`` / ``grey_bits``.
    """
    h, w = image.shape
    n_levels = thresholds.shape[0]
    peak = 0.0
    if by_peak:
        for y in range(h):
            for x in range(w):
                if image[y, x] > peak:
                    peak = image[y, x]
    for y in range(h):
        for x in range(w):
            if by_peak:
                value = image[y, x] / peak if peak > 0.0 else 0.0
            else:
                value = min(max((image[y, x] - low) / (high - low), 0.0), 1.0)
            level = 0
            while level < n_levels and value > thresholds[level]:
                level += 1
            levels[y, x] = level


@jit
def pooled_patch_columns(images, by_peak, low, high, thresholds, patch_shape, stride,
                         tables, slot_column, k, min_overlap, row_band, col_band,
                         n_band_cols, max_pooling, out):
    """Pooled Spatial Pooler activity over every patch of each image, into ``out``.

    For each patch position: the overlap of every column (the table entries of
    its pixels' grey levels), the ``k`` columns of highest overlap (ties to the
    lower slot, i.e. the higher ``column_rank_``) among those with overlap >=
    ``min_overlap`` (global inhibition, no boosting: the Spatial Pooler's
    transform), and each winner counted in the output of its position's region.

    Parameters
    ----------
    images : ndarray of float64 (n_images, h, w)
    by_peak : bool
        Scale each image by its maximum (else ``low``..``high``).
    low, high : float
    thresholds : ndarray of float64 (n_levels,)
    patch_shape, stride : ndarray of int64 (2,)
    tables, slot_column : from :func:`column_tables`
    k, min_overlap : int
    row_band, col_band : ndarray of int64
        Pooling band of each patch row / column (:func:`band_of_positions`).
    n_band_cols : int
        Regions along the column axis.
    max_pooling : bool
        Whether any patch activated a column (else how many).
    out : ndarray of float32 (n_images, n_regions * n_columns), zeros
        Region major: ``out[i, region * n_columns + column]``.
    """
    n_images, h, w = images.shape
    n_levels = thresholds.shape[0]
    n_columns = slot_column.shape[0]
    ph, pw = patch_shape[0], patch_shape[1]
    grid_rows, grid_cols = row_band.shape[0], col_band.shape[0]
    max_overlap = ph * pw * n_levels
    k = min(k, n_columns)
    levels = np.zeros((h, w), dtype=np.uint8)
    overlaps = np.zeros(n_columns, dtype=tables.dtype)
    candidates = np.zeros(n_columns + 1, dtype=np.int64)
    # The columns that won at the previous position of the row, and how many.
    winners = np.zeros(n_columns, dtype=np.int64)
    n_winners = 0
    if k <= 0 or min_overlap > max_overlap:
        return
    for i in range(n_images):
        grey_levels(images[i], by_peak, low, high, thresholds, levels)
        for gy in range(grid_rows):
            y0 = gy * stride[0]
            for gx in range(grid_cols):
                x0 = gx * stride[1]
                base = (row_band[gy] * n_band_cols + col_band[gx]) * n_columns
                # The same grey levels as the patch to the left (a uniform stretch of
                # the image, 10-16% of Fashion-MNIST's patches): the same winners.
                same = gx > 0
                for dy in range(ph):
                    if not same:
                        break
                    for dx in range(pw):
                        if levels[y0 + dy, x0 + dx] != levels[y0 + dy, x0 - stride[1] + dx]:
                            same = False
                            break
                if same:
                    _count_winners(winners, n_winners, out[i], base, max_pooling)
                    continue
                n_winners = 0
                # Overlap: one table row per pixel; a pixel at level 0 has no bit on.
                blank = True
                for dy in range(ph):
                    for dx in range(pw):
                        level = levels[y0 + dy, x0 + dx]
                        if level == 0:
                            continue
                        row = tables[dy * pw + dx, level]
                        if blank:
                            blank = False
                            for s in range(n_columns):
                                overlaps[s] = row[s]
                        else:
                            for s in range(n_columns):
                                overlaps[s] += row[s]
                if blank:
                    continue  # no overlap anywhere: no column reaches min_overlap >= 1
                n_winners = _pool_k_winners(overlaps, k, min_overlap, slot_column, candidates,
                                            winners, out[i], base, max_pooling)

