"""Kernels of the patch (convolution-like) Spatial Pooler.

Two ways from images to pooled column activity. The fused, compiled pass
(:func:`pooled_patch_columns`) goes from pixels to the pooled output row
without building a patch: a pixel at grey level ``l`` has its first ``l``
thermometer bits on, so a column's overlap with a patch is a sum of per-pixel,
per-level counts of its connected synapses (:func:`column_tables`). The numpy
functions (:func:`image_patches`, :func:`pool_regions`) cut patches and pool
activity computed elsewhere: they encode training patches, and serve Spatial
Poolers the fused pass does not cover.

Multi-channel images (a first layer's column map, one bit per pixel and
channel) have their own functions at the end: :func:`channel_patches`,
:func:`bit_tables` and the fused :func:`pooled_channel_columns`.

The contrast encodings (:func:`pooled_patch_contrast_columns`) replace a
pixel's grey level by a code of its contrast within the patch (ON or OFF, and
how strongly), computed per patch position by the same compiled arithmetic
that encodes the training patches (:func:`patch_contrast_codes`).
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
def _image_peak(image):
    """The maximum of ``image`` (0 for an all-zero or empty image)."""
    peak = 0.0
    for y in range(image.shape[0]):
        for x in range(image.shape[1]):
            if image[y, x] > peak:
                peak = image[y, x]
    return peak


@jit
def _scaled(value, by_peak, peak, low, high):
    """One pixel scaled as every patch encoding scales it: by the image's
    ``peak``, or ``low``..``high`` clipped to [0, 1]."""
    if by_peak:
        return value / peak if peak > 0.0 else 0.0
    return min(max((value - low) / (high - low), 0.0), 1.0)


@jit
def grey_levels(image, by_peak, low, high, thresholds, levels):
    """Thermometer level (bits on, 0 .. n_levels) of each pixel of one image.

    Scales as the patch encoding does (:func:`_scaled`) and counts the
    thresholds the value exceeds; the bits of level ``l`` are the first ``l``
    thresholds, as in ``uniform_thresholds`` / ``grey_bits``.
    """
    h, w = image.shape
    n_levels = thresholds.shape[0]
    peak = _image_peak(image) if by_peak else 0.0
    for y in range(h):
        for x in range(w):
            value = _scaled(image[y, x], by_peak, peak, low, high)
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


# ---------------------------------------------------------------- contrast encodings
#
# "contrast" and "whitened" patches: each patch normalised by its own mean and
# standard deviation, each pixel then an ON or an OFF cell (centre-surround:
# brighter or darker than its patch) with a thermometer of n_levels bits per
# sign. The per-patch arithmetic lives in the @jit helpers below, called both by
# the batch functions that encode training patches and by the fused pass, so
# that both see bit-for-bit the same values (numpy's pairwise sums would not).

# Added to a patch's standard deviation before dividing by it: a patch whose
# pixels differ by much less than this (sensor noise, a soft gradient) keeps
# small z values and turns few bits on, instead of having its noise blown up to
# full contrast. In units of the scaled image (0..1).
CONTRAST_FLOOR = 0.1

# Added to the eigenvalues of the patch covariance before the inverse square
# root of ZCA whitening: directions of little variance (fine noise) are not
# amplified without bound (Coates, Lee & Ng 2011 use 0.1 on normalised patches).
WHITENING_FLOOR = 0.1


def contrast_column_tables(connected, rank, n_pixels, n_levels, dtype):
    """Per patch pixel and contrast code, how many connected synapses each column has there.

    Parameters
    ----------
    connected : ndarray of bool (n_columns, n_pixels * 2 * n_levels)
        Connected synapses over the patch's bits, pixel major: the ``n_levels``
        ON bits of a pixel, then its ``n_levels`` OFF bits.
    rank : ndarray of int (n_columns,)
        The Spatial Pooler's tie-break priority (``column_rank_``).
    n_pixels, n_levels : int
    dtype : numpy integer dtype of the overlaps

    Returns
    -------
    tables : ndarray (n_pixels, 2 * n_levels + 1, n_columns)
        ``tables[p, c, s]``: connected synapses of the column in slot ``s`` to
        the bits that code ``c`` turns on at pixel ``p``: none for 0, the first
        ``c`` ON bits for ``c`` in 1..n_levels, the first ``c - n_levels`` OFF
        bits above (a thermometer per sign).
    slot_column : ndarray of int64 (n_columns,)
        As in :func:`column_tables`.
    """
    n_columns = connected.shape[0]
    per_sign = connected.reshape(n_columns, n_pixels, 2, n_levels)
    on, slot_column = column_tables(per_sign[:, :, 0].reshape(n_columns, -1), rank, n_pixels,
                                    n_levels, dtype)
    off, _ = column_tables(per_sign[:, :, 1].reshape(n_columns, -1), rank, n_pixels, n_levels,
                           dtype)
    return np.ascontiguousarray(np.concatenate([on, off[:, 1:]], axis=1)), slot_column


def contrast_bits(codes, n_levels):
    """The bits of contrast codes: (..., n_pixels) -> uint8 (..., n_pixels * 2 * n_levels).

    Pixel major, ``[ON_1 .. ON_n, OFF_1 .. OFF_n]`` per pixel: code ``c`` in
    1..n turns on ON_1..ON_c; code ``n + c`` turns on OFF_1..OFF_c; 0 none.
    """
    codes = np.asarray(codes, dtype=np.int64)[..., None]
    level = np.arange(1, n_levels + 1)
    on = (codes >= level) & (codes <= n_levels)
    off = codes >= n_levels + level
    bits = np.concatenate([on, off], axis=-1)
    return bits.reshape(bits.shape[:-2] + (-1,)).astype(np.uint8)


def zca_whitening(z):
    """The ZCA whitening matrix of a sample of contrast-normalised patches.

    z (n_patches, n_pixels) -> W (n_pixels, n_pixels), float64, symmetric:
    ``C = cov(z)`` (population covariance, so one patch is enough),
    ``W = V diag(1 / sqrt(ev + WHITENING_FLOOR)) V^T`` from the eigenvalues
    ``ev`` and eigenvectors ``V`` of ``C``, then divided by the standard
    deviation of all the values of ``z @ W.T``, so that the whitened sample has
    standard deviation 1 overall and the contrast thresholds keep their scale.
    """
    z = np.asarray(z, dtype=np.float64)
    covariance = np.atleast_2d(np.cov(z, rowvar=False, bias=True))
    ev, vectors = np.linalg.eigh(covariance)
    # eigh may return a null direction's eigenvalue as -1e-17: clipped at 0.
    whitening = (vectors / np.sqrt(np.maximum(ev, 0.0) + WHITENING_FLOOR)) @ vectors.T
    whitening = (whitening + whitening.T) / 2  # symmetric to the last bit
    spread = (z @ whitening.T).std()
    if spread > 0:  # all-uniform sample: z is 0 whatever W, nothing to scale
        whitening /= spread
    return whitening


@jit
def _scale_image(image, by_peak, low, high, scaled):
    """``image`` scaled as every patch encoding scales it (:func:`_scaled`), into
    ``scaled``."""
    peak = _image_peak(image) if by_peak else 0.0
    for y in range(image.shape[0]):
        for x in range(image.shape[1]):
            scaled[y, x] = _scaled(image[y, x], by_peak, peak, low, high)


@jit
def _sum_of_four(values):
    """The sum of ``values`` in a fixed order: four interleaved partial sums
    (indices 0, 4, 8, ...; 1, 5, ...; ...) added pairwise. Four short chains of
    additions instead of one long one: the per-patch sums are on the fused
    pass's critical path."""
    n = values.shape[0]
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    j = 0
    while j + 4 <= n:
        s0 += values[j]
        s1 += values[j + 1]
        s2 += values[j + 2]
        s3 += values[j + 3]
        j += 4
    while j < n:
        s0 += values[j]
        j += 1
    return (s0 + s1) + (s2 + s3)


@jit
def _sum_of_squares_of_four(values):
    """The sum of the squares of ``values`` in the order of :func:`_sum_of_four`."""
    n = values.shape[0]
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    j = 0
    while j + 4 <= n:
        s0 += values[j] * values[j]
        s1 += values[j + 1] * values[j + 1]
        s2 += values[j + 2] * values[j + 2]
        s3 += values[j + 3] * values[j + 3]
        j += 4
    while j < n:
        s0 += values[j] * values[j]
        j += 1
    return (s0 + s1) + (s2 + s3)


@jit
def _patch_deviations(values, deviations):
    """One patch's ``values - mean`` into ``deviations``; returns the divisor of its
    contrast, ``std + CONTRAST_FLOOR`` (population std), so ``z = deviations / divisor``.

    Sums in the fixed order of :func:`_sum_of_four`, so every caller gets the
    same bits. A uniform patch returns 0.0 with every deviation 0: exactly no
    contrast, even where rounding would leave a mean a hair off its values.
    """
    n = values.shape[0]
    uniform = True
    for j in range(n):
        uniform &= values[j] == values[0]
    if uniform:
        for j in range(n):
            deviations[j] = 0.0
        return 0.0
    mean = _sum_of_four(values) / n
    for j in range(n):
        deviations[j] = values[j] - mean
    return np.sqrt(_sum_of_squares_of_four(deviations) / n) + CONTRAST_FLOOR


@jit
def _contrast_codes(deviations, divisor, thresholds, counts, codes):
    """The code of each ``z = deviations / divisor``: 0 (within +-thresholds[0]),
    ``l`` (above the first ``l`` thresholds: ON), ``n_levels + l`` (below minus the
    first ``l``: OFF). ``counts`` (int64) is scratch.

    ``z > t`` is evaluated as ``deviation > t * divisor`` (divisor > 0): the same
    inequality without a division per pixel, and loops over the pixels that
    vectorise; a threshold can never be passed on both sides (t > 0).
    """
    n_levels = thresholds.shape[0]
    n = deviations.shape[0]
    for j in range(n):
        counts[j] = 0
    for level in range(n_levels):
        bound = thresholds[level] * divisor
        for j in range(n):
            counts[j] += (deviations[j] > bound) + (deviations[j] < -bound)
    for j in range(n):
        off = (deviations[j] < 0.0) & (counts[j] > 0)
        codes[j] = counts[j] + n_levels * off


@jit
def _patch_codes(values, thresholds, whitening_t, whiten, deviations, white, counts, codes):
    """Contrast codes of one patch's scaled values, into ``codes``; whitened first
    where ``whiten`` (``whitening_t``: the whitening matrix transposed, so
    that the product runs over contiguous rows). ``deviations``, ``white`` and
    ``counts`` are scratch. Returns False for a uniform patch (every code 0).

    ``W z = (W deviations) / divisor``: the whitened values are compared with
    the thresholds times the divisor, as the plain ones are.
    """
    divisor = _patch_deviations(values, deviations)
    if divisor == 0.0:
        for j in range(codes.shape[0]):
            codes[j] = 0
        return False
    if whiten:
        n = deviations.shape[0]
        for j in range(n):
            white[j] = 0.0
        # Row m of W^T is column m of W: white[j] sums W[j, m] * deviations[m]
        # over m in order, for all j at once.
        for m in range(n):
            d = deviations[m]
            for j in range(n):
                white[j] += whitening_t[m, j] * d
        _contrast_codes(white, divisor, thresholds, counts, codes)
    else:
        _contrast_codes(deviations, divisor, thresholds, counts, codes)
    return True


@jit
def patch_contrast(patches, z):
    """Contrast-normalised ``z = (v - mean) / (std + CONTRAST_FLOOR)`` of scaled
    patches (n_patches, n_pixels), into ``z`` (0 for a uniform patch)."""
    deviations = np.zeros(patches.shape[1])
    for i in range(patches.shape[0]):
        divisor = _patch_deviations(patches[i], deviations)
        for j in range(patches.shape[1]):
            z[i, j] = deviations[j] / divisor if divisor > 0.0 else 0.0


@jit
def patch_contrast_codes(patches, thresholds, whitening_t, whiten, codes):
    """Contrast codes (uint8, see :func:`_contrast_codes`) of scaled patches
    (n_patches, n_pixels), into ``codes``: the training path's encoding, the same
    arithmetic as :func:`pooled_patch_contrast_columns`.

    ``whitening_t`` (n_pixels, n_pixels): the whitening matrix transposed,
    applied where ``whiten``; any 2-D float64 array (e.g. empty) otherwise.
    """
    n_pixels = patches.shape[1]
    deviations = np.zeros(n_pixels)
    white = np.zeros(n_pixels)
    counts = np.zeros(n_pixels, dtype=np.int64)
    for i in range(patches.shape[0]):
        _patch_codes(patches[i], thresholds, whitening_t, whiten, deviations, white, counts,
                     codes[i])


@jit
def pooled_patch_contrast_columns(images, by_peak, low, high, thresholds, whitening_t, whiten,
                                  patch_shape, stride, tables, slot_column, k, min_overlap,
                                  row_band, col_band, n_band_cols, max_pooling, out):
    """:func:`pooled_patch_columns` for the contrast encodings, into ``out``.

    For each patch position: the patch's contrast codes (:func:`_patch_codes`
    on the scaled image, whitened where ``whiten``), the overlap of every column
    as the sum of one row of ``tables`` (:func:`contrast_column_tables`) per
    pixel with a code, then the same k-winners and pooling.

    Parameters
    ----------
    images, by_peak, low, high : as in :func:`pooled_patch_columns`
    thresholds : ndarray of float64 (n_levels,)
        Increasing positive contrast thresholds.
    whitening_t : ndarray of float64 (n_pixels, n_pixels)
        The whitening matrix transposed (C-contiguous), applied to each patch's
        z when ``whiten``; otherwise unused (may be empty).
    whiten : bool
    patch_shape, stride, tables, slot_column, k, min_overlap, row_band, col_band, \
n_band_cols, max_pooling, out : as in :func:`pooled_patch_columns`
    """
    n_images, h, w = images.shape
    n_levels = thresholds.shape[0]
    n_columns = slot_column.shape[0]
    ph, pw = patch_shape[0], patch_shape[1]
    n_pixels = ph * pw
    grid_rows, grid_cols = row_band.shape[0], col_band.shape[0]
    # A pixel is ON or OFF, never both: at most n_levels of its bits are on.
    max_overlap = n_pixels * n_levels
    k = min(k, n_columns)
    scaled = np.zeros((h, w))
    values = np.zeros(n_pixels)
    deviations = np.zeros(n_pixels)
    white = np.zeros(n_pixels)
    counts = np.zeros(n_pixels, dtype=np.int64)
    codes = np.zeros(n_pixels, dtype=np.uint8)
    previous = np.zeros(n_pixels, dtype=np.uint8)
    overlaps = np.zeros(n_columns, dtype=tables.dtype)
    candidates = np.zeros(n_columns + 1, dtype=np.int64)
    winners = np.zeros(n_columns, dtype=np.int64)
    n_winners = 0
    if k <= 0 or min_overlap > max_overlap:
        return
    for i in range(n_images):
        _scale_image(images[i], by_peak, low, high, scaled)
        for gy in range(grid_rows):
            y0 = gy * stride[0]
            for gx in range(grid_cols):
                x0 = gx * stride[1]
                base = (row_band[gy] * n_band_cols + col_band[gx]) * n_columns
                for dy in range(ph):
                    for dx in range(pw):
                        values[dy * pw + dx] = scaled[y0 + dy, x0 + dx]
                _patch_codes(values, thresholds, whitening_t, whiten, deviations, white, counts,
                             codes)
                # The same codes as the previous position of the row (a straight edge
                # along the row, a uniform stretch): the same winners.
                same = gx > 0
                for p in range(n_pixels):
                    if not same:
                        break
                    same = codes[p] == previous[p]
                if same:
                    _count_winners(winners, n_winners, out[i], base, max_pooling)
                    continue
                for p in range(n_pixels):
                    previous[p] = codes[p]
                n_winners = 0
                # Overlap: one table row per pixel; code 0 turns no bit on.
                blank = True
                for p in range(n_pixels):
                    code = codes[p]
                    if code == 0:
                        continue
                    row = tables[p, code]
                    if blank:
                        blank = False
                        for s in range(n_columns):
                            overlaps[s] = row[s]
                    else:
                        for s in range(n_columns):
                            overlaps[s] += row[s]
                if blank:
                    continue  # no bit on: no column reaches min_overlap >= 1
                n_winners = _pool_k_winners(overlaps, k, min_overlap, slot_column, candidates,
                                            winners, out[i], base, max_pooling)


# ---------------------------------------------------------------- channel input
#
# Images whose pixels carry ``c`` channels of activity (a column map from a first
# layer): a bit per (pixel, channel), on where the value is > 0. The second layer
# of a hierarchy. Kept apart from the grey-level functions above.


def channel_patches(images, patch_shape, stride, which=None):
    """Every ``patch_shape`` patch of each multi-channel image, as bits.

    images (n, h, w, c) -> uint8 (n, grid_rows, grid_cols, ph * pw * c), pixel
    major then channel (the layout of a flattened (ph, pw, c) patch); a bit is
    on where the value is > 0. ``which``: flat indices into (n, grid_rows,
    grid_cols); only those patches, as (len(which), ph * pw * c), as in
    :func:`image_patches`.
    """
    windows = np.lib.stride_tricks.sliding_window_view(images, patch_shape, axis=(1, 2))
    # sliding_window_view puts the window axes last: (n, gr, gc, c, ph, pw).
    windows = windows[:, ::stride[0], ::stride[1]].transpose(0, 1, 2, 4, 5, 3)
    n, gr, gc = windows.shape[:3]
    if which is not None:
        image, row, col = np.unravel_index(which, (n, gr, gc))
        windows = windows[image, row, col]
    bits = (windows > 0).view(np.uint8)
    if which is None:
        return bits.reshape(n, gr, gc, -1)
    return bits.reshape(len(which), -1)


def bit_tables(connected, rank, dtype):
    """Connected synapses of every column to each input bit, columns in slot order.

    Parameters
    ----------
    connected : ndarray of bool (n_columns, n_bits)
    rank : ndarray of int (n_columns,)
        The Spatial Pooler's tie-break priority (``column_rank_``).
    dtype : numpy integer dtype of the overlaps

    Returns
    -------
    tables : ndarray (n_bits, n_columns)
        ``tables[b, s]``: 1 where the column in slot ``s`` has a connected
        synapse to bit ``b``. A patch's overlap with every column is the sum of
        the rows of its active bits.
    slot_column : ndarray of int64 (n_columns,)
        As in :func:`column_tables`: columns by decreasing rank, so the lower
        slot wins a tie.
    """
    slot_column = np.argsort(-np.asarray(rank, dtype=np.int64), kind="stable")
    tables = np.ascontiguousarray(connected[slot_column].T, dtype=dtype)
    return tables, slot_column.astype(np.int64)


@jit
def pooled_channel_columns(active, patch_shape, stride, tables, slot_column, k, min_overlap,
                           row_band, col_band, n_band_cols, max_pooling, out):
    """Pooled Spatial Pooler activity over every patch of multi-channel images.

    The channel counterpart of :func:`pooled_patch_columns`: per image, the
    active channels of each pixel are listed once; a patch's overlap with every
    column is the sum of the table rows of its active (pixel, channel) bits, so
    the work follows the active input (a first layer's map is 5-15% active),
    not the ph * pw * c bits of a patch. Then the same k-winners and pooling.

    Parameters
    ----------
    active : ndarray of bool (n_images, h, w, c)
        Where a channel of a pixel is on.
    patch_shape, stride : ndarray of int64 (2,)
    tables, slot_column : from :func:`bit_tables`, bits in (ph, pw, c) order
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
    n_images, h, w, n_channels = active.shape
    n_columns = slot_column.shape[0]
    ph, pw = patch_shape[0], patch_shape[1]
    grid_rows, grid_cols = row_band.shape[0], col_band.shape[0]
    k = min(k, n_columns)
    if k <= 0 or min_overlap > ph * pw * n_channels:
        return
    # The active channels of pixel p: on_channel[first_on[p]:first_on[p + 1]].
    first_on = np.zeros(h * w + 1, dtype=np.int64)
    on_channel = np.zeros(h * w * n_channels, dtype=np.int64)
    overlaps = np.zeros(n_columns, dtype=tables.dtype)
    candidates = np.zeros(n_columns + 1, dtype=np.int64)
    winners = np.zeros(n_columns, dtype=np.int64)
    for i in range(n_images):
        n_on = 0
        for y in range(h):
            for x in range(w):
                first_on[y * w + x] = n_on
                for ch in range(n_channels):
                    if active[i, y, x, ch]:
                        on_channel[n_on] = ch
                        n_on += 1
        first_on[h * w] = n_on
        if n_on == 0:
            continue  # a blank map: no overlap, no winner anywhere
        for gy in range(grid_rows):
            y0 = gy * stride[0]
            for gx in range(grid_cols):
                x0 = gx * stride[1]
                blank = True
                for dy in range(ph):
                    for dx in range(pw):
                        p = (y0 + dy) * w + x0 + dx
                        bit0 = (dy * pw + dx) * n_channels
                        for a in range(first_on[p], first_on[p + 1]):
                            row = tables[bit0 + on_channel[a]]
                            # The first row is copied, not added: no zeroing pass.
                            if blank:
                                blank = False
                                for s in range(n_columns):
                                    overlaps[s] = row[s]
                            else:
                                for s in range(n_columns):
                                    overlaps[s] += row[s]
                if blank:
                    continue  # no active bit: no column reaches min_overlap >= 1
                base = (row_band[gy] * n_band_cols + col_band[gx]) * n_columns
                _pool_k_winners(overlaps, k, min_overlap, slot_column, candidates, winners,
                                out[i], base, max_pooling)
