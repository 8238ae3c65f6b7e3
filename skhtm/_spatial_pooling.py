"""Spatial Pooler kernels (Numenta's BAMI pseudocode; Cui, Ahmad & Hawkins 2017).

Compiled with numba (``skhtm._jit.jit``); the estimator in ``spatial_pooler.py``
holds the state and calls them. Synapses are stored column-major: the potential
pool of column ``c`` is ``pool_inputs[pool_indptr[c]:pool_indptr[c + 1]]``
(sorted inputs) with one float32 permanence per potential synapse.

Inputs reach the kernels as dense uint8 rows (0/1). The parts:

- overlaps: integer counts of connected synapses to active inputs, either per
  sample over the input-major potential pool (online learning), or for a block
  of samples at once over a compact list of connected synapses (transform,
  mini-batch learning);
- inhibition: global k-winners or local k-winners per column neighbourhood,
  ties broken by a fixed random column rank (higher score wins, equal score:
  higher rank wins); a column under ``min_overlap`` never wins;
- learning (BAMI Phase 3): Hebbian update of the winners' synapses, raising
  winners to the stimulus threshold, duty cycles, boosting, bumping of weak
  columns and the periodic update of the inhibition radius, all in one call
  over a chunk of samples (``learn``). ``batch_size=1`` is the exact online
  algorithm; a larger batch computes its winners with the same permanences and
  applies the sum of their updates.

A learning call may write the live permanences in place: it first saves each
column it touches in a journal, so that the estimator can undo the call if
anything fails (transactional ``partial_fit`` without copying the whole model).
"""

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ._jit import jit

# Samples per block of the blocked overlaps (the width of every x_block / acc /
# overlaps scratch): one 64-lane SIMD add per connected synapse (uint16 lanes),
# and the block's overlaps stay in L2.
BLOCK_WIDTH = 64
# From this batch size on, compacting the connected synapses once per batch
# pays; below it, overlaps run per sample over the input-major potential pool.
_COMPACT_BATCH = 4
# Buckets of the radix pass of the global k-winners (top 15 bits of a positive float32).
_SCORE_BUCKETS = 1 << 15
# From this many rows on, an online call keeps connected flags input-major.
_FLAG_ROWS = 16


@intrinsic
def _ctpop(typingctx, word):
    """LLVM's population count of a uint64 (one instruction where the CPU has it)."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return sig, codegen


if numba.config.DISABLE_JIT:
    def _popcount(word):
        return bin(int(word)).count("1")
else:
    @jit
    def _popcount(word):
        """Number of set bits of a uint64."""
        return _ctpop(word)



@intrinsic
def _sum_rows_intrinsic(typingctx, x_words, conn_inputs, start, stop, sums, t):
    """``sums[t, :8]`` = the sum of rows ``x_words[conn_inputs[start:stop], :8]``
    (C-contiguous uint64 rows of 8 words), accumulated as one 8-lane vector.

    LLVM keeps 8 separate scalar sums (or turns the loop into gathers), where
    one 64-byte vector add per row does."""
    sig = types.void(x_words, conn_inputs, start, stop, sums, t)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        vector = ir.VectorType(i64, 8)
        x_arg, inputs_arg, start_arg, stop_arg, sums_arg, t_arg = args
        lo, hi, row = (context.cast(builder, value, signature.args[k], types.int64)
                       for value, k in ((start_arg, 2), (stop_arg, 3), (t_arg, 5)))
        x = context.make_array(signature.args[0])(context, builder, x_arg)
        inputs = context.make_array(signature.args[1])(context, builder, inputs_arg)
        out = context.make_array(signature.args[4])(context, builder, sums_arg)
        acc = cgutils.alloca_once_value(builder, ir.Constant(vector, None))
        with cgutils.for_range(builder, builder.sub(hi, lo)) as loop:
            i = builder.load(builder.gep(inputs.data, [builder.add(lo, loop.index)]))
            i = builder.sext(i, i64) if i.type.width < 64 else i
            first = builder.gep(x.data, [builder.mul(i, ir.Constant(i64, 8))])
            words = builder.load(builder.bitcast(first, vector.as_pointer()), align=8)
            builder.store(builder.add(builder.load(acc), words), acc)
        target = builder.gep(out.data, [builder.mul(row, ir.Constant(i64, 8))])
        builder.store(builder.load(acc), builder.bitcast(target, vector.as_pointer()), align=8)
        return context.get_dummy_value()

    return sig, codegen


if numba.config.DISABLE_JIT:
    def _sum_rows(x_words, conn_inputs, start, stop, sums, t):
        sums[t, :8] = x_words[conn_inputs[start:stop], :8].sum(axis=0, dtype=np.uint64)
else:
    @jit
    def _sum_rows(x_words, conn_inputs, start, stop, sums, t):
        """``sums[t, :8]`` = the sum of rows ``x_words[conn_inputs[start:stop], :8]``."""
        _sum_rows_intrinsic(x_words, conn_inputs, start, stop, sums, t)


def initial_permanences(n_synapses, syn_perm_connected, random_state, spread=0.1):
    """Permanences in a small range around the connection threshold (BAMI).

    About half of the potential synapses start connected, and every synapse is
    a few increments away from changing state, so learning reshapes the
    receptive fields quickly. Drawn in numpy from the estimator's random state.
    """
    low = syn_perm_connected - spread
    perms = low + 2.0 * spread * random_state.random_sample(n_synapses)
    return np.clip(perms, 0.0, 1.0).astype(np.float32)


# --------------------------------------------------------------- structure

@jit
def transpose_pool(pool_indptr, pool_inputs, n_inputs):
    """The potential pool input-major: for each input, its synapses and their columns.

    Returns
    -------
    input_indptr : int64 (n_inputs + 1,)
    input_synapses : int32 (n_synapses,)
        Synapse ids (positions in the column-major arrays), by input then column.
    input_columns : int32 (n_synapses,)
    """
    n_columns = pool_indptr.shape[0] - 1
    n_synapses = pool_inputs.shape[0]
    input_indptr = np.zeros(n_inputs + 1, np.int64)
    for s in range(n_synapses):
        input_indptr[pool_inputs[s] + 1] += 1
    for i in range(n_inputs):
        input_indptr[i + 1] += input_indptr[i]
    fill = input_indptr[:-1].copy()
    input_synapses = np.empty(n_synapses, np.int32)
    input_columns = np.empty(n_synapses, np.int32)
    for c in range(n_columns):
        for s in range(pool_indptr[c], pool_indptr[c + 1]):
            i = pool_inputs[s]
            input_synapses[fill[i]] = s
            input_columns[fill[i]] = c
            fill[i] += 1
    return input_indptr, input_synapses, input_columns


@jit
def connected_pool(pool_indptr, pool_inputs, permanences, connected_perm, conn_indptr,
                   conn_inputs):
    """Compact the connected synapses (permanence >= ``connected_perm``) into
    ``conn_indptr`` / ``conn_inputs`` (column-major, preallocated with one slot per
    potential synapse); returns their count."""
    n_columns = pool_indptr.shape[0] - 1
    k = 0
    conn_indptr[0] = 0
    for c in range(n_columns):
        for s in range(pool_indptr[c], pool_indptr[c + 1]):
            # Branch-free: about half the synapses are connected, unpredictably.
            conn_inputs[k] = pool_inputs[s]
            k += permanences[s] >= connected_perm
        conn_indptr[c + 1] = k
    return k


# ---------------------------------------------------------------- overlaps

@jit
def _block_overlaps(conn_indptr, conn_inputs, X, start, n_rows, x_block, acc, overlaps):
    """Overlaps of rows ``start:start + n_rows`` of X (n_rows <= the block width).

    ``overlaps[j, c]`` becomes column c's overlap with row ``start + j``.
    ``x_block`` (n_inputs, BLOCK_WIDTH) is scratch holding the rows input-major, so that
    each connected synapse adds one contiguous vector into ``acc`` (width,): one
    SIMD add per synapse for the whole block. Each column's sums are then
    stored sample-major, where the inhibition reads them.
    """
    n_inputs = X.shape[1]
    x_block[:, :] = 0
    for j in range(n_rows):
        for i in range(n_inputs):
            x_block[i, j] = X[start + j, i]
    n_columns = conn_indptr.shape[0] - 1
    for c in range(n_columns):
        acc[:] = 0
        for s in range(conn_indptr[c], conn_indptr[c + 1]):
            acc += x_block[conn_inputs[s]]
        for j in range(n_rows):
            overlaps[j, c] = acc[j]


# Byte-lane overlaps: when no column has more than 255 potential synapses, a
# block's overlaps fit in bytes, and 8 samples' counts add in one uint64.
_BYTE_POOL = 255
_LOW32 = np.uint64(0x00000000FFFFFFFF)
_LOW16 = np.uint64(0x0000FFFF0000FFFF)
_LOW8 = np.uint64(0x00FF00FF00FF00FF)


@jit
def _swap_halves(x, y, mask, shift):
    """One stage of an 8x8 byte transpose: x keeps its low parts and takes y's low
    parts shifted up; y takes x's high parts and keeps its own."""
    return (x & mask) | ((y & mask) << shift), ((x >> shift) & mask) | (y & ~mask)


@jit
def _transpose_bytes(r0, r1, r2, r3, r4, r5, r6, r7):
    """Transpose the 8x8 byte matrix whose rows are the uint64 words r0..r7 (byte b
    of word t becomes byte t of word b)."""
    r0, r4 = _swap_halves(r0, r4, _LOW32, np.uint64(32))
    r1, r5 = _swap_halves(r1, r5, _LOW32, np.uint64(32))
    r2, r6 = _swap_halves(r2, r6, _LOW32, np.uint64(32))
    r3, r7 = _swap_halves(r3, r7, _LOW32, np.uint64(32))
    r0, r2 = _swap_halves(r0, r2, _LOW16, np.uint64(16))
    r1, r3 = _swap_halves(r1, r3, _LOW16, np.uint64(16))
    r4, r6 = _swap_halves(r4, r6, _LOW16, np.uint64(16))
    r5, r7 = _swap_halves(r5, r7, _LOW16, np.uint64(16))
    r0, r1 = _swap_halves(r0, r1, _LOW8, np.uint64(8))
    r2, r3 = _swap_halves(r2, r3, _LOW8, np.uint64(8))
    r4, r5 = _swap_halves(r4, r5, _LOW8, np.uint64(8))
    r6, r7 = _swap_halves(r6, r7, _LOW8, np.uint64(8))
    return r0, r1, r2, r3, r4, r5, r6, r7


@jit
def _block_overlaps_bytes(conn_indptr, conn_inputs, X, start, n_rows, x_block, overlaps):
    """As ``_block_overlaps``, in byte lanes (no column has more than 255 synapses).

    ``x_block`` (n_inputs, 64) uint8 holds the block's rows input-major; a
    connected synapse adds its input's 64 bytes as 8 uint64 words, one vector
    add (no carry crosses a byte: a count stays <= 255). The words of 8
    columns are then transposed (8x8 bytes) into ``overlaps`` (64, n_columns
    rounded up to 8) uint8, sample-major, one uint64 store per 8 columns and
    sample. Rows past ``n_rows`` and the padding columns come out 0.
    """
    n_inputs = X.shape[1]
    x_block[:, :] = 0
    for j in range(n_rows):
        for i in range(n_inputs):
            x_block[i, j] = X[start + j, i]
    x_words = x_block.view(np.uint64)
    out_words = overlaps.view(np.uint64)
    n_columns = conn_indptr.shape[0] - 1
    sums = np.zeros((8, 8), np.uint64)  # [column of the group, word]
    for g in range(out_words.shape[1]):
        for t in range(8):
            c = 8 * g + t
            if c < n_columns:
                _sum_rows(x_words, conn_inputs, conn_indptr[c], conn_indptr[c + 1], sums, t)
            else:
                sums[t, :] = 0
        for w in range(8):  # word w holds samples 8w..8w+7
            r = _transpose_bytes(sums[0, w], sums[1, w], sums[2, w], sums[3, w], sums[4, w],
                                 sums[5, w], sums[6, w], sums[7, w])
            for b in range(8):
                out_words[8 * w + b, g] = r[b]


@jit
def _overlaps_of_block(conn_indptr, conn_inputs, X, start, n_rows, x_block, acc, overlaps):
    """Overlaps of a block of rows in the scratch's lanes: bytes (uint8 scratch,
    ``_block_overlaps_bytes``) or wider (``_block_overlaps``)."""
    if x_block.itemsize == 1:
        _block_overlaps_bytes(conn_indptr, conn_inputs, X, start, n_rows, x_block, overlaps)
    else:
        _block_overlaps(conn_indptr, conn_inputs, X, start, n_rows, x_block, acc, overlaps)


@jit
def _sample_overlaps(input_indptr, input_synapses, input_columns, permanences, connected_perm,
                     x, overlaps):
    """Overlaps of one sample over the input-major potential pool (online learning):
    only the active inputs' synapses are visited."""
    overlaps[:] = 0
    for i in range(x.shape[0]):
        if x[i]:
            for k in range(input_indptr[i], input_indptr[i + 1]):
                overlaps[input_columns[k]] += permanences[input_synapses[k]] >= connected_perm


@jit
def _sample_overlaps_flags(input_indptr, input_columns, connected, x, overlaps):
    """As ``_sample_overlaps``, over connected flags kept in input-major order
    (two sequential streams instead of a gather into the permanences)."""
    overlaps[:] = 0
    for i in range(x.shape[0]):
        if x[i]:
            for k in range(input_indptr[i], input_indptr[i + 1]):
                overlaps[input_columns[k]] += connected[k]


@jit
def _refresh_flags(c, pool_indptr, permanences, connected_perm, slot_of, connected):
    """Column c's connected flags after its permanences changed."""
    for s in range(pool_indptr[c], pool_indptr[c + 1]):
        connected[slot_of[s]] = permanences[s] >= connected_perm


# -------------------------------------------------------------- inhibition

@jit
def _global_winners_counts(overlaps, k, min_overlap, columns_by_rank, histogram, winners):
    """Global k-winners of integer overlaps (one sample), by counting.

    The k-th best overlap value ``v`` comes from a histogram; every column above
    it wins, and among the columns at exactly ``v`` the highest ranks fill the
    remaining places (``columns_by_rank``: columns by decreasing rank).
    """
    n_columns = overlaps.shape[0]
    histogram[:] = 0
    top = histogram.shape[0] - 1
    for c in range(n_columns):
        v = overlaps[c]
        if v >= min_overlap:
            histogram[min(v, top)] += 1
    # Smallest value v such that fewer than k columns have an overlap above it.
    n_above = 0
    v = top
    while v >= min_overlap and n_above + histogram[v] < k:
        n_above += histogram[v]
        v -= 1
    if v < min_overlap:  # at most k eligible columns: all of them win
        for c in range(n_columns):
            winners[c] = overlaps[c] >= min_overlap
        return
    for c in range(n_columns):
        winners[c] = overlaps[c] > v
    _ties_win_by_rank(overlaps, n_columns, v, k - n_above, columns_by_rank, winners)


@jit
def _ties_win_by_rank(row, n_columns, v, need, columns_by_rank, winners):
    """The ``need`` best ranked of the columns at exactly ``v`` win, walking the
    rank order from the top (``columns_by_rank``: columns by decreasing rank)."""
    for r in range(n_columns):
        if need == 0:
            break
        c = columns_by_rank[r]
        if row[c] == v:
            winners[c] = 1
            need -= 1


@jit
def _count_at_least(row, n_columns, value):
    """Number of columns whose overlap is at least ``value`` (one vectorised pass)."""
    count = 0
    for c in range(n_columns):
        count += np.int32(row[c] >= value)
    return count


@jit
def _global_winners_bytes(row, n_columns, k, min_overlap, columns_by_rank, guess, winners):
    """As ``_global_winners_counts`` for a row of byte overlaps, without a histogram.

    The k-th best value ``v`` (at least k columns reach v, fewer than k exceed it)
    is found by a bisection of counting passes, which vectorise, where a
    histogram's increments serialise on the few distinct values; the first
    pass also counts at ``guess`` and ``guess + 1`` (``guess``: the previous
    sample's ``v``, returned), which often brackets ``v`` already. Of the columns
    at exactly ``v``, the ``need`` best ranked win: found from the top ranks
    down, or, when more than half of them win, by dropping the worst ranked
    from the bottom up (the shorter walk through ``columns_by_rank``).
    """
    top = 0
    n_eligible = 0
    n_guess = 0  # columns at or above the guess, and above it
    n_over_guess = 0
    for c in range(n_columns):
        top = max(top, np.int64(row[c]))
        n_eligible += np.int32(row[c] >= min_overlap)
        n_guess += np.int32(row[c] >= guess)
        n_over_guess += np.int32(row[c] > guess)
    if n_eligible <= k:
        for c in range(n_columns):  # at most k eligible columns: all of them win
            winners[c] = row[c] >= min_overlap
        return guess
    # count(>= lo) = n_lo >= k > count(>= hi) = n_above
    lo = min_overlap
    hi = top + 1
    n_lo = n_eligible
    n_above = 0
    for probe, count in ((guess, n_guess), (guess + 1, n_over_guess)):
        if lo < probe < hi:
            if count >= k:
                lo = probe
                n_lo = count
            else:
                hi = probe
                n_above = count
    while hi - lo > 1:
        probe = (lo + hi) // 2
        count = _count_at_least(row, n_columns, probe)
        if count >= k:
            lo = probe
            n_lo = count
        else:
            hi = probe
            n_above = count
    v = lo
    need = k - n_above  # of the n_lo - n_above columns at v
    n_tied = n_lo - n_above
    if 2 * need <= n_tied:
        for c in range(n_columns):
            winners[c] = row[c] > v
        _ties_win_by_rank(row, n_columns, v, need, columns_by_rank, winners)
    else:
        for c in range(n_columns):
            winners[c] = row[c] >= v
        drop = n_tied - need
        for r in range(n_columns - 1, -1, -1):
            if drop == 0:
                break
            c = columns_by_rank[r]
            if row[c] == v:
                winners[c] = 0
                drop -= 1
    return v


@jit
def _kth_largest(keys, m, k):
    """The k-th largest of ``keys[:m]`` (distinct values), partially reordering them."""
    target = m - k
    lo = 0
    hi = m - 1
    while lo < hi:
        a = keys[lo]
        b = keys[(lo + hi) // 2]
        c = keys[hi]
        pivot = max(min(a, b), min(max(a, b), c))  # median of three
        i = lo
        j = hi
        while i <= j:
            while keys[i] < pivot:
                i += 1
            while keys[j] > pivot:
                j -= 1
            if i <= j:
                keys[i], keys[j] = keys[j], keys[i]
                i += 1
                j -= 1
        if target <= j:
            hi = j
        elif target >= i:
            lo = i
        else:
            return keys[target]
    return keys[target]


@jit
def _global_winners_scores(scores, overlaps, k, min_overlap, column_rank, keys, winners,
                           histogram):
    """Global k-winners of float32 (boosted) scores: top k by (score, rank) among
    the columns whose raw overlap reaches ``min_overlap`` and whose score is positive.

    Each eligible column gets one unique int64 key, score major and rank minor:
    the IEEE-754 bits of a positive float32 order like its value. A radix pass
    over the top 15 bits of the scores (``histogram``: 2**15 zeros, left zero)
    finds the bucket holding the k-th score; only that bucket's keys are then
    ordered.
    """
    n_columns = scores.shape[0]
    bits = scores.view(np.int32)
    # Branch-free passes: eligibility is unpredictable column to column.
    m = 0
    low = _SCORE_BUCKETS
    high = 0
    for c in range(n_columns):
        eligible = (overlaps[c] >= min_overlap) & (scores[c] > 0)
        winners[c] = eligible
        bucket = bits[c] >> 16
        histogram[bucket] += eligible
        low = min(low, bucket if eligible else _SCORE_BUCKETS)
        high = max(high, bucket if eligible else 0)
        m += eligible
    if m <= k:
        histogram[min(low, high):high + 1] = 0
        return
    n_above = 0
    bucket = high
    while n_above + histogram[bucket] < k:
        n_above += histogram[bucket]
        bucket -= 1
    histogram[low:high + 1] = 0
    n_candidates = 0
    for c in range(n_columns):
        keys[n_candidates] = np.int64(bits[c]) * n_columns + column_rank[c]
        n_candidates += np.int64(winners[c] & (bits[c] >> 16 == bucket))
    kth = _kth_largest(keys, n_candidates, k - n_above)
    for c in range(n_columns):
        winners[c] = winners[c] & (np.int64(bits[c]) * n_columns + column_rank[c] >= kth)


@jit
def _local_winners(scores, overlaps, n_active, min_overlap, column_rank, coords, strides,
                   nb_coords, nb_counts, position, winners):
    """Local k-winners (one sample): an eligible column wins when fewer than
    ``n_active[c]`` columns of its neighbourhood beat it (higher score, or equal
    score and higher rank). Ineligible columns (raw overlap under ``min_overlap``
    or score <= 0) neither win nor beat anyone."""
    n_columns = scores.shape[0]
    ndim = strides.shape[0]
    for c in range(n_columns):
        winners[c] = 0
        if overlaps[c] < min_overlap or scores[c] <= 0:
            continue
        me = scores[c]
        my_rank = column_rank[c]
        quota = n_active[c]
        n_beaten_by = 0
        for d in range(ndim):
            position[d] = 0
        while True:
            other = 0
            for d in range(ndim):
                other += nb_coords[d, coords[c, d], position[d]] * strides[d]
            if other != c and overlaps[other] >= min_overlap and scores[other] > 0:
                s = scores[other]
                if s > me or (s == me and column_rank[other] > my_rank):
                    n_beaten_by += 1
                    if n_beaten_by >= quota:
                        break
            d = ndim - 1
            while d >= 0:
                position[d] += 1
                if position[d] < nb_counts[d, coords[c, d]]:
                    break
                position[d] = 0
                d -= 1
            if d < 0:
                break
        winners[c] = n_beaten_by < quota


# ----------------------------------------------------------- neighbourhoods

@jit
def neighbourhoods(column_shape, radius, wrap_around):
    """Per-axis neighbour coordinates of every column coordinate.

    A column's neighbourhood is the box of columns within ``radius`` along every
    axis. Without wrap-around it is clipped at the edges; with wrap-around it
    wraps, and an axis shorter than the box is covered once (no column counts
    twice). Returns ``nb_coords`` (ndim, max_side, max_width): the neighbour
    coordinates along axis d of coordinate x are ``nb_coords[d, x, :nb_counts[d, x]]``.
    """
    ndim = column_shape.shape[0]
    max_side = 1
    for d in range(ndim):
        max_side = max(max_side, column_shape[d])
    width = max_side if radius >= max_side else 2 * radius + 1
    width = min(width, max_side)
    nb_coords = np.zeros((ndim, max_side, width), np.int64)
    nb_counts = np.zeros((ndim, max_side), np.int64)
    for d in range(ndim):
        side = column_shape[d]
        for x in range(side):
            n = 0
            if radius >= side or 2 * radius + 1 >= side:
                if wrap_around:
                    for y in range(side):
                        nb_coords[d, x, n] = y
                        n += 1
                else:
                    for y in range(max(0, x - radius), min(side - 1, x + radius) + 1):
                        nb_coords[d, x, n] = y
                        n += 1
            else:
                for o in range(-radius, radius + 1):
                    y = x + o
                    if wrap_around:
                        nb_coords[d, x, n] = y % side
                        n += 1
                    elif 0 <= y < side:
                        nb_coords[d, x, n] = y
                        n += 1
            nb_counts[d, x] = n
    return nb_coords, nb_counts


@jit
def column_coordinates(column_shape):
    """Coordinates (n_columns, ndim) and C-order strides of a column grid."""
    ndim = column_shape.shape[0]
    strides = np.ones(ndim, np.int64)
    for d in range(ndim - 2, -1, -1):
        strides[d] = strides[d + 1] * column_shape[d + 1]
    n_columns = strides[0] * column_shape[0]
    coords = np.empty((n_columns, ndim), np.int64)
    for c in range(n_columns):
        rest = c
        for d in range(ndim):
            coords[c, d] = rest // strides[d]
            rest -= coords[c, d] * strides[d]
    return coords, strides


@jit
def neighbourhood_sizes(coords, nb_counts):
    """Number of columns (self included) in each column's neighbourhood."""
    n_columns, ndim = coords.shape
    sizes = np.ones(n_columns, np.int64)
    for c in range(n_columns):
        for d in range(ndim):
            sizes[c] *= nb_counts[d, coords[c, d]]
    return sizes


@jit
def local_n_active(sizes, density, n_active_columns):
    """Winners allowed per neighbourhood: ``n_active_columns`` (if > 0, capped at
    the neighbourhood size) or ``max(1, round-half-up(density * size))``."""
    out = np.empty(sizes.shape[0], np.int64)
    for c in range(sizes.shape[0]):
        if n_active_columns > 0:
            out[c] = min(n_active_columns, sizes[c])
        else:
            out[c] = max(1, int(0.5 + density * sizes[c]))
    return out


@jit
def neighbourhood_reduce(values, coords, strides, nb_coords, nb_counts, use_max):
    """Max (``use_max``) or mean of ``values`` over each column's neighbourhood.

    The box is separable: one pass per axis over that axis' neighbours.
    """
    n_columns, ndim = coords.shape
    current = values.astype(np.float64)
    out = np.empty(n_columns, np.float64)
    for d in range(ndim):
        for c in range(n_columns):
            x = coords[c, d]
            base = c - x * strides[d]
            acc = -np.inf if use_max else 0.0
            for k in range(nb_counts[d, x]):
                v = current[base + nb_coords[d, x, k] * strides[d]]
                if use_max:
                    acc = max(acc, v)
                else:
                    acc += v
            out[c] = acc
        current, out = out, current
    if not use_max:
        sizes = neighbourhood_sizes(coords, nb_counts)
        for c in range(n_columns):
            current[c] /= sizes[c]
    return current


# ---------------------------------------------------------------- topology

@jit
def inhibition_radius(pool_indptr, pool_inputs, permanences, connected_perm, input_shape,
                      columns_per_input):
    """Inhibition radius from the mean receptive-field extent (BAMI).

    A column's extent is, per input axis, max - min + 1 of its connected
    inputs' coordinates, averaged over the axes; columns without a connected
    synapse are left out. The mean extent, in columns, is the diameter.
    """
    n_columns = pool_indptr.shape[0] - 1
    ndim = input_shape.shape[0]
    lo = np.empty(ndim, np.int64)
    hi = np.empty(ndim, np.int64)
    total = 0
    n_fields = 0
    for c in range(n_columns):
        found = False
        for s in range(pool_indptr[c], pool_indptr[c + 1]):
            if permanences[s] >= connected_perm:
                rest = pool_inputs[s]
                for d in range(ndim - 1, -1, -1):
                    x = rest % input_shape[d]
                    rest //= input_shape[d]
                    if not found or x < lo[d]:
                        lo[d] = x
                    if not found or x > hi[d]:
                        hi[d] = x
                found = True
        if found:
            n_fields += 1
            for d in range(ndim):
                total += hi[d] - lo[d] + 1
    span = 0.0 if n_fields == 0 else total / n_fields / ndim
    diameter = span * columns_per_input
    return int(max(1.0, (diameter - 1.0) / 2.0) + 0.5)


# --------------------------------------------------------------- transform

@jit
def active_columns(conn_indptr, conn_inputs, X, x_block, acc, overlaps, global_inhibition, k,
                   n_active, min_overlap, column_rank, column_shape, radius, wrap_around, out):
    """Winners (uint8 ``out``, n_rows x n_columns) of rows X: no boosting, no learning.

    ``x_block`` (n_inputs, width), ``acc`` (width,) and ``overlaps`` (width,
    n_columns) are scratch for the blocked overlaps (``_overlaps_of_block``):
    uint8 (overlaps padded to a multiple of 8 columns) when no pool exceeds 255
    synapses, else uint16 unless a pool exceeds 65,535 synapses.
    """
    n_rows = X.shape[0]
    n_columns = conn_indptr.shape[0] - 1
    width = x_block.shape[1]
    ov = np.empty(n_columns, np.int32)
    columns_by_rank = np.empty(n_columns, np.int64)
    for c in range(n_columns):
        columns_by_rank[n_columns - 1 - column_rank[c]] = c
    top = 0
    for c in range(n_columns):
        top = max(top, conn_indptr[c + 1] - conn_indptr[c])
    histogram = np.zeros(top + 1, np.int64)
    scores = np.empty(n_columns, np.float32)
    coords, strides = column_coordinates(column_shape)
    nb_coords, nb_counts = neighbourhoods(column_shape, radius, wrap_around)
    position = np.zeros(column_shape.shape[0], np.int64)
    guess = 0
    for start in range(0, n_rows, width):
        n = min(width, n_rows - start)
        _overlaps_of_block(conn_indptr, conn_inputs, X, start, n, x_block, acc, overlaps)
        for j in range(n):
            if global_inhibition and x_block.itemsize == 1:
                guess = _global_winners_bytes(overlaps[j], n_columns, k, min_overlap,
                                              columns_by_rank, guess, out[start + j])
                continue
            for c in range(n_columns):
                ov[c] = overlaps[j, c]
            if global_inhibition:
                _global_winners_counts(ov, k, min_overlap, columns_by_rank, histogram,
                                       out[start + j])
            else:
                for c in range(n_columns):
                    scores[c] = ov[c]
                _local_winners(scores, ov, n_active, min_overlap, column_rank, coords, strides,
                               nb_coords, nb_counts, position, out[start + j])


# ---------------------------------------------------------------- learning

@jit
def _save_column(c, permanences, pool_indptr, journal_saved, journal_columns, journal_values,
                 journal_counts):
    """Record column c's permanences before the first change of this call (undo journal)."""
    if journal_counts[2] == 0 or journal_saved[c]:
        return
    journal_saved[c] = 1
    journal_columns[journal_counts[0]] = c
    journal_counts[0] += 1
    at = journal_counts[1]
    for s in range(pool_indptr[c], pool_indptr[c + 1]):
        journal_values[at] = permanences[s]
        at += 1
    journal_counts[1] = at


@jit
def undo_journal(permanences, pool_indptr, journal_columns, journal_values, journal_counts):
    """Put back the permanences saved in the journal (a failed learning call)."""
    at = 0
    for j in range(journal_counts[0]):
        c = journal_columns[j]
        for s in range(pool_indptr[c], pool_indptr[c + 1]):
            permanences[s] = journal_values[at]
            at += 1


@jit
def raise_to_threshold(permanences, pool_indptr, c, connected_perm, increment,
                       stimulus_threshold):
    """Raise column c's whole pool until ``min(stimulus_threshold, pool size)`` of its
    synapses are connected, so that no column is silenced for good (in place)."""
    start = pool_indptr[c]
    stop = pool_indptr[c + 1]
    target = min(stimulus_threshold, stop - start)
    if target <= 0 or increment <= 0:
        return
    for _ in range(int(math.ceil(1.0 / increment)) + 1):
        n_connected = 0
        for s in range(start, stop):
            if permanences[s] >= connected_perm:
                n_connected += 1
        if n_connected >= target:
            return
        for s in range(start, stop):
            permanences[s] = min(permanences[s] + increment, np.float32(1.0))


@jit
def _update_duty_cycle(duty_cycles, events, iteration, period):
    """One step of the moving averages, for learning iteration ``iteration + 1``."""
    p = min(iteration + 1, period)
    for c in range(duty_cycles.shape[0]):
        duty_cycles[c] = (duty_cycles[c] * (p - 1) + events[c]) / p


@jit
def learn(pool_indptr, pool_inputs, permanences, input_indptr, input_synapses, input_columns,
          X, x_block, acc, overlaps, batch_size, column_rank, global_inhibition, global_n_active,
          column_shape, wrap_around, density, n_active_columns, input_shape, columns_per_input,
          min_overlap, stimulus_threshold, connected_perm, active_inc, inactive_dec, trim,
          below_stimulus_inc, boost_strength, duty_cycle_period, min_pct_overlap_duty,
          update_period, active_duty, overlap_duty, min_overlap_duty, boost, counters,
          journal_saved, journal_columns, journal_values, journal_counts):
    """Learn from the rows of X in order, in batches of ``batch_size`` (BAMI Phase 3).

    For each batch: overlaps and winners with the permanences and boost factors
    of the batch start (boosted scores, inhibition radius ``counters[1]``); the
    summed Hebbian update of every winner's synapses (+``active_inc`` towards an
    active input, -``inactive_dec`` otherwise, per win; clipped to [0, 1];
    below ``trim`` set to 0); winners raised to the stimulus threshold; duty
    cycles per sample; columns whose overlap duty cycle is under their minimum
    bumped by ``batch * below_stimulus_inc``; boost factors
    ``exp((target density - active duty) * boost_strength)``; every
    ``update_period`` iterations, the inhibition radius and the minimum overlap
    duty cycles. ``counters`` = [iteration, radius] and the duty / boost arrays
    are updated in place; permanences too, journaled first.
    """
    n_rows = X.shape[0]
    n_columns = pool_indptr.shape[0] - 1
    n_synapses = pool_inputs.shape[0]
    radius = counters[1]
    # The neighbourhoods only matter to local inhibition (global: left empty).
    shape = column_shape if not global_inhibition else np.ones(1, np.int64)
    coords, strides = column_coordinates(shape)
    nb_coords, nb_counts = neighbourhoods(shape, radius, wrap_around)
    n_active = local_n_active(neighbourhood_sizes(coords, nb_counts), density,
                              n_active_columns)
    position = np.zeros(shape.shape[0], np.int64)

    # Scratch as large as this call needs: a one-sample call (a stream) allocates
    # nothing per synapse.
    largest_batch = min(batch_size, n_rows)
    compact = largest_batch >= _COMPACT_BATCH
    conn_indptr = np.empty(n_columns + 1, np.int64)
    conn_inputs = np.empty(n_synapses if compact else 0, np.int32)
    width = x_block.shape[1]
    ov = np.empty(n_columns, np.int32)
    scores = np.empty(n_columns, np.float32)
    boost32 = np.empty(n_columns, np.float32)
    keys = np.empty(n_columns, np.int64)
    score_histogram = np.zeros(_SCORE_BUCKETS if global_inhibition else 0, np.int32)
    winners = np.empty(n_columns, np.uint8)
    events = np.empty(n_columns, np.uint8)
    # Mini-batch statistics as bit masks over the batch's samples: a synapse's
    # hits are popcount(samples its column won & samples its input was on).
    n_words = (largest_batch + 63) // 64 if largest_batch > 1 else 0
    won_mask = np.zeros((n_columns, n_words), np.uint64)
    input_mask = np.zeros((X.shape[1], n_words), np.uint64)
    # Long online calls keep the connected flags input-major: a pass over the
    # synapses per call, then each sample's overlaps stream instead of gather.
    use_flags = not compact and n_rows >= _FLAG_ROWS
    slot_of = np.empty(n_synapses if use_flags else 0, np.int32)
    connected = np.empty(n_synapses if use_flags else 0, np.uint8)
    if use_flags:
        for k in range(n_synapses):
            s = input_synapses[k]
            slot_of[s] = k
            connected[k] = permanences[s] >= connected_perm
    wins = np.zeros(n_columns, np.int32)
    won = np.empty(n_columns, np.int64)

    for b0 in range(0, n_rows, batch_size):
        b1 = min(b0 + batch_size, n_rows)
        nb = b1 - b0
        iteration = counters[0]
        for c in range(n_columns):
            boost32[c] = boost[c] if boost_strength > 0 else 1.0
        if nb >= _COMPACT_BATCH:
            connected_pool(pool_indptr, pool_inputs, permanences, connected_perm, conn_indptr,
                           conn_inputs)
        n_won = 0
        if nb > 1:
            input_mask[:, :] = 0
            for j in range(nb):
                bit = np.uint64(1) << np.uint64(j & 63)
                for i in range(X.shape[1]):
                    if X[b0 + j, i]:
                        input_mask[i, j >> 6] |= bit
        for j in range(nb):
            row = b0 + j
            if nb >= _COMPACT_BATCH:
                if j % width == 0:
                    _overlaps_of_block(conn_indptr, conn_inputs, X, row, min(width, b1 - row),
                                       x_block, acc, overlaps)
                for c in range(n_columns):
                    ov[c] = overlaps[j % width, c]
            elif use_flags:
                _sample_overlaps_flags(input_indptr, input_columns, connected, X[row], ov)
            else:
                _sample_overlaps(input_indptr, input_synapses, input_columns, permanences,
                                 connected_perm, X[row], ov)
            for c in range(n_columns):
                scores[c] = np.float32(ov[c]) * boost32[c]
            if global_inhibition:
                _global_winners_scores(scores, ov, global_n_active, min_overlap, column_rank,
                                       keys, winners, score_histogram)
            else:
                _local_winners(scores, ov, n_active, min_overlap, column_rank, coords, strides,
                               nb_coords, nb_counts, position, winners)
            # Statistics of the winners' synapses over the batch (online: the
            # sample itself).
            bit = np.uint64(1) << np.uint64(j & 63)
            for c in range(n_columns):
                if winners[c]:
                    if wins[c] == 0:
                        won[n_won] = c
                        n_won += 1
                    wins[c] += 1
                    if nb > 1:
                        won_mask[c, j >> 6] |= bit
            for c in range(n_columns):
                events[c] = ov[c] >= min_overlap
            _update_duty_cycle(overlap_duty, events, iteration + j, duty_cycle_period)
            _update_duty_cycle(active_duty, winners, iteration + j, duty_cycle_period)

        # Hebbian update of the winners' synapses, summed over the batch.
        for w in range(n_won):
            c = won[w]
            _save_column(c, permanences, pool_indptr, journal_saved, journal_columns,
                         journal_values, journal_counts)
            n_wins = wins[c]
            for s in range(pool_indptr[c], pool_indptr[c + 1]):
                if nb > 1:
                    n_hits = 0
                    for word in range(n_words):
                        n_hits += np.int64(_popcount(won_mask[c, word]
                                                     & input_mask[pool_inputs[s], word]))
                else:
                    n_hits = np.int64(X[b0, pool_inputs[s]])
                delta = (np.float32(n_hits) * active_inc
                         - np.float32(n_wins - n_hits) * inactive_dec)
                p = permanences[s] + delta
                p = min(max(p, np.float32(0.0)), np.float32(1.0))
                if p < trim:
                    p = np.float32(0.0)
                permanences[s] = p
            if nb > 1:
                won_mask[c, :] = 0
            wins[c] = 0
            raise_to_threshold(permanences, pool_indptr, c, connected_perm,
                               np.float32(below_stimulus_inc), stimulus_threshold)
            if use_flags:
                _refresh_flags(c, pool_indptr, permanences, connected_perm, slot_of, connected)
        # Columns that rarely overlap get all their synapses raised.
        bump = np.float32(nb * below_stimulus_inc)
        for c in range(n_columns):
            if overlap_duty[c] < min_overlap_duty[c]:
                # A column that never overlaps is bumped every iteration; once all its
                # permanences are at 1 there is nothing left to raise (nor to journal).
                saturated = True
                for s in range(pool_indptr[c], pool_indptr[c + 1]):
                    saturated &= permanences[s] >= np.float32(1.0)
                if saturated:
                    continue
                _save_column(c, permanences, pool_indptr, journal_saved, journal_columns,
                             journal_values, journal_counts)
                for s in range(pool_indptr[c], pool_indptr[c + 1]):
                    permanences[s] = min(permanences[s] + bump, np.float32(1.0))
                if use_flags:
                    _refresh_flags(c, pool_indptr, permanences, connected_perm, slot_of,
                                   connected)
        # Boosting towards the target density (global, or the neighbourhood's mean).
        if global_inhibition:
            target = global_n_active / n_columns
            for c in range(n_columns):
                boost[c] = math.exp((target - active_duty[c]) * boost_strength)
        else:
            local_target = neighbourhood_reduce(active_duty, coords, strides, nb_coords,
                                                nb_counts, False)
            for c in range(n_columns):
                boost[c] = math.exp((local_target[c] - active_duty[c]) * boost_strength)
        # Periodic update of the inhibition radius and the minimum duty cycles.
        if (iteration + nb) // update_period > iteration // update_period:
            if not global_inhibition:
                new_radius = inhibition_radius(pool_indptr, pool_inputs, permanences,
                                               connected_perm, input_shape, columns_per_input)
                if new_radius != radius:
                    radius = new_radius
                    nb_coords, nb_counts = neighbourhoods(column_shape, radius, wrap_around)
                    n_active = local_n_active(neighbourhood_sizes(coords, nb_counts), density,
                                              n_active_columns)
                top = neighbourhood_reduce(overlap_duty, coords, strides, nb_coords,
                                           nb_counts, True)
                for c in range(n_columns):
                    min_overlap_duty[c] = min_pct_overlap_duty * top[c]
            else:
                top_duty = 0.0
                for c in range(n_columns):
                    top_duty = max(top_duty, overlap_duty[c])
                for c in range(n_columns):
                    min_overlap_duty[c] = min_pct_overlap_duty * top_duty
        counters[0] = iteration + nb
        counters[1] = radius
