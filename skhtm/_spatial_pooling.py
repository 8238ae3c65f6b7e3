"""Spatial Pooler kernels (Numenta's BAMI pseudocode; Cui, Ahmad & Hawkins 2017).

Plain functions over numpy / scipy arrays; the estimator in ``spatial_pooler.py``
holds the state and calls them. Synapses are stored column-major as CSR
structure: the potential pool of column ``c`` is ``indices[indptr[c]:indptr[c+1]]``
with one float32 permanence per potential synapse.

Everything works on a batch of samples at once. A batch of one sample is the
exact online algorithm; a larger batch applies the sum of its samples' updates.
"""

import numpy as np
import scipy.sparse as sp

# Scratch-array budget (elements) for the bit-packed synapse statistics.
_MAX_SCRATCH = 1 << 22


def initial_permanences(n_synapses, syn_perm_connected, random_state, spread=0.1):
    """Permanences in a small range around the connection threshold (BAMI).

    About half of the potential synapses start connected, and every synapse is
    a few increments away from changing state, so learning reshapes the
    receptive fields quickly.
    """
    low = syn_perm_connected - spread
    perms = low + 2.0 * spread * random_state.random_sample(n_synapses)
    return np.clip(perms, 0.0, 1.0).astype(np.float32)


def synapse_columns(indptr):
    """Column of each synapse."""
    return np.repeat(np.arange(indptr.shape[0] - 1, dtype=np.int32), np.diff(indptr))


def synapses_of(indptr, columns):
    """Synapse ids of the given columns, in column order."""
    starts = indptr[columns]
    sizes = indptr[columns + 1] - starts
    offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(sizes)[:-1])), sizes)
    return np.arange(int(sizes.sum()), dtype=np.int64) + offsets


def pool_matrix(indptr, indices, connected, n_inputs):
    """CSR (n_columns, n_inputs) over the whole potential pool, data = connected (0/1).

    Costs no compaction: the product then runs over every potential synapse,
    which is cheaper than rebuilding a compact matrix for a few samples.
    """
    wide = np.diff(indptr).max(initial=0) > np.iinfo(np.uint8).max
    data = connected.astype(np.int32) if wide else connected.view(np.uint8)
    return _csr(data, indices, indptr, n_inputs)


def connected_matrix(indptr, indices, connected, n_inputs):
    """Compact CSR (n_columns, n_inputs) of the connected synapses only.

    uint8 data: overlaps are counts, and uint8 sparse x dense products are
    ~2.5x faster than float32 ones in scipy; wider ints only if a column can
    exceed 255 connected synapses.
    """
    kept = np.flatnonzero(connected)  # far cheaper than a random boolean mask
    counts_before = np.concatenate(([0], np.cumsum(connected, dtype=np.int64)))
    new_indptr = counts_before[indptr]
    top = int(np.diff(new_indptr).max()) if new_indptr.size > 1 else 0
    dtype = np.uint8 if top <= np.iinfo(np.uint8).max else np.int32
    return _csr(np.ones(kept.size, dtype=dtype), indices[kept], new_indptr, n_inputs)


def _csr(data, indices, indptr, n_inputs):
    matrix = sp.csr_matrix((indptr.shape[0] - 1, n_inputs), dtype=data.dtype)
    # Assigning the parts directly skips scipy's O(nnz) format checks: the
    # structure is canonical by construction (sorted pools, no duplicates).
    matrix.data, matrix.indices, matrix.indptr = data, indices, indptr
    return matrix


# Rows per block of the overlap product: a block's (n_columns x rows) result
# must stay in L2 cache, or transposing it back to rows costs more than the
# product itself (uint8 transposes of big blocks run at a few hundred MB/s).
_ROW_BLOCK = 64


def compute_overlaps(connected, inputs):
    """Overlap of every column with every sample: (n_samples, n_columns).

    ``inputs`` is a dense binary (n_samples, n_inputs) array. Each block of
    rows is one sparse x dense product ``connected @ block.T``.
    """
    n_rows = inputs.shape[0]
    out = np.empty((n_rows, connected.shape[0]), dtype=connected.dtype)
    if inputs.dtype == bool:
        inputs = inputs.view(np.uint8)
    for start in range(0, n_rows, _ROW_BLOCK):
        block = inputs[start:start + _ROW_BLOCK]
        block_t = np.ascontiguousarray(block.T, dtype=connected.dtype)
        out[start:start + _ROW_BLOCK] = (connected @ block_t).T
    return out


def global_winners(scores, k, column_rank, min_overlap=None, overlaps=None):
    """The ``k`` best-scoring columns of each row, ties broken by ``column_rank``.

    Parameters
    ----------
    scores : ndarray (n_samples, n_columns), non-negative
        Integer overlaps (inference) or float boosted overlaps (learning).
    k : int
    column_rank : ndarray of int, a permutation of range(n_columns)
        Fixed, random priority: among equal scores the higher rank wins, so the
        result is unique and does not favour low column indices.
    min_overlap : int or None
        Columns whose raw overlap is below this cannot win (stimulus threshold).
    overlaps : ndarray or None
        Raw overlaps for ``min_overlap`` when ``scores`` are boosted.

    Returns
    -------
    winners : ndarray of bool (n_samples, n_columns)

    Notes
    -----
    Every column gets one unique integer key, score major and rank minor, and a
    single ``np.partition`` per row finds the k-th key. Float scores enter the
    key through their IEEE-754 bits, which order non-negative floats exactly
    like their values; so there are no ties to resolve afterwards, and integer
    partitions (SIMD-sorted in numpy) stay fast when many scores are equal.
    """
    n_rows, n_columns = scores.shape
    k = min(int(k), n_columns)
    if k <= 0 or n_rows == 0:
        return np.zeros(scores.shape, dtype=bool)
    floor = 0
    if scores.dtype.kind == "f":
        values = np.ascontiguousarray(scores, dtype=np.float32).view(np.int32)
        if min_overlap:
            # Ineligible columns get key = rank < n_columns; eligible ones have
            # a positive score, so bits >= 1 and key >= n_columns.
            eligible = (overlaps if overlaps is not None else scores) >= min_overlap
            values = values * eligible
            floor = 1
        top = int(np.iinfo(np.int32).max)
    else:
        values = scores
        top = int(scores.max())
        floor = int(min_overlap or 0)
    dtype = np.int32 if (top + 2) * n_columns < np.iinfo(np.int32).max else np.int64
    keys = np.multiply(values, n_columns, dtype=dtype)
    keys += column_rank
    kth = np.partition(keys, n_columns - k, axis=1)[:, n_columns - k]
    # Keys below floor * n_columns belong to columns under the stimulus threshold.
    return keys >= np.maximum(kth, floor * n_columns)[:, None]


def local_winners(scores, n_active, column_rank, column_shape, offsets, wrap_around,
                  min_overlap=None, overlaps=None):
    """Local inhibition: a column wins if fewer than ``n_active[c]`` of its
    neighbours beat it (higher score, or equal score and higher rank).

    ``offsets`` are the neighbour offsets in column space (self excluded). One
    vectorised comparison per offset over the whole batch.
    """
    n_rows = scores.shape[0]
    scores = scores.astype(np.float64)
    eligible = None
    if min_overlap:
        eligible = (overlaps if overlaps is not None else scores) >= min_overlap
        scores = np.where(eligible, scores, -np.inf)
    grid_shape = (n_rows,) + tuple(column_shape)
    score_grid = scores.reshape(grid_shape)
    rank_grid = np.broadcast_to(column_rank.reshape(column_shape), grid_shape)
    n_bigger = np.zeros(grid_shape, dtype=np.int32)
    axes = tuple(range(1, len(column_shape) + 1))
    coords = np.indices(column_shape)
    for offset in offsets:
        neighbour_score = np.roll(score_grid, shift=[-o for o in offset], axis=axes)
        neighbour_rank = np.roll(rank_grid, shift=[-o for o in offset], axis=axes)
        beats = (neighbour_score > score_grid) | (
            (neighbour_score == score_grid) & (neighbour_rank > rank_grid))
        if not wrap_around:
            inside = np.ones(column_shape, dtype=bool)
            for axis_coords, o, size in zip(coords, offset, column_shape):
                inside &= (axis_coords + o >= 0) & (axis_coords + o < size)
            beats &= inside
        n_bigger += beats
    winners = n_bigger.reshape(n_rows, -1) < n_active
    winners &= np.isfinite(scores) if eligible is None else eligible
    return winners


def _pack_rows(bits):
    """Pack a bool (n_rows, n_samples) array into uint64 words along samples."""
    packed = np.packbits(bits, axis=1, bitorder="little")
    pad = (-packed.shape[1]) % 8
    if pad:
        packed = np.pad(packed, ((0, 0), (0, pad)))
    return np.ascontiguousarray(packed).view(np.uint64)


def synapse_statistics(indptr, indices, winners, inputs):
    """Per-synapse counts over a batch, for the synapses of columns that won.

    Returns
    -------
    columns : ndarray of int64
        The columns that won at least once.
    synapses : ndarray of int64 or slice
        Their synapse ids (a slice covering all synapses when every column won).
    n_active_when_won : ndarray of float32
        For each, in how many samples its column won and its input was on.
    n_won : ndarray of float32
        For each, in how many samples its column won.

    The counts are popcounts of bit-packed (column wins AND input on) masks:
    ~n_samples/64 word operations per synapse instead of a dense product.
    """
    wins = winners.sum(axis=0)
    columns = np.flatnonzero(wins)
    n_columns = indptr.shape[0] - 1
    if columns.size == n_columns:
        synapses = slice(None)
        pool_inputs = indices
        local_column = synapse_columns(indptr)
    else:
        synapses = synapses_of(indptr, columns)
        pool_inputs = indices[synapses]
        local_column = None
    inputs = np.asarray(inputs, dtype=bool)
    if winners.shape[0] == 1:  # online learning: one sample, one win per column
        hits = inputs[0][pool_inputs].astype(np.float32)
        return columns, synapses, hits, np.ones(hits.size, dtype=np.float32)
    if local_column is None:
        local_column = np.repeat(np.arange(columns.size), np.diff(indptr)[columns])
    won_bits = _pack_rows(winners[:, columns].T)
    input_bits = _pack_rows(inputs.T)
    n_words = won_bits.shape[1]
    hits = np.empty(pool_inputs.size, dtype=np.float32)
    step = max(1, _MAX_SCRATCH // n_words)
    for start in range(0, pool_inputs.size, step):
        stop = min(start + step, pool_inputs.size)
        both = won_bits[local_column[start:stop]] & input_bits[pool_inputs[start:stop]]
        counts = np.bitwise_count(both)
        hits[start:stop] = counts[:, 0] if n_words == 1 else counts.sum(axis=1)
    return columns, synapses, hits, wins[columns][local_column].astype(np.float32)


def adapt_synapses(permanences, synapses, n_active_when_won, n_won, syn_perm_active_inc,
                   syn_perm_inactive_dec, syn_perm_trim_threshold):
    """Hebbian update of the winners' synapses, in place (BAMI Phase 3).

    Each time its column wins, a synapse gains ``syn_perm_active_inc`` if its
    input was on and loses ``syn_perm_inactive_dec`` otherwise; a batch applies
    the sum. Permanences stay in [0, 1] and tiny ones are trimmed to 0.
    """
    updated = n_active_when_won * np.float32(syn_perm_active_inc + syn_perm_inactive_dec)
    updated -= n_won * np.float32(syn_perm_inactive_dec)
    updated += permanences[synapses]
    np.clip(updated, 0.0, 1.0, out=updated)
    updated[updated < syn_perm_trim_threshold] = 0.0
    permanences[synapses] = updated


def raise_to_threshold(permanences, indptr, columns, syn_perm_connected, increment,
                       stimulus_threshold):
    """Raise whole pools until each column has ``stimulus_threshold`` connected
    synapses, so no column is permanently silenced (in place)."""
    if stimulus_threshold <= 0 or columns.size == 0:
        return
    pool_sizes = np.diff(indptr)
    for _ in range(int(np.ceil(1.0 / increment)) + 1):
        synapses = synapses_of(indptr, columns)
        connected = permanences[synapses] >= syn_perm_connected
        starts = np.concatenate(([0], np.cumsum(pool_sizes[columns])[:-1]))
        counts = np.add.reduceat(connected, starts, dtype=np.int64)
        target = np.minimum(stimulus_threshold, pool_sizes[columns])
        columns = columns[counts < target]
        if columns.size == 0:
            return
        synapses = synapses_of(indptr, columns)
        permanences[synapses] = np.minimum(permanences[synapses] + increment, 1.0)


def bump_up_weak_columns(permanences, indptr, weak_columns, increment):
    """Raise every potential synapse of columns that rarely overlap (in place)."""
    if weak_columns.size:
        synapses = synapses_of(indptr, weak_columns)
        permanences[synapses] = np.minimum(permanences[synapses] + increment, 1.0)


def update_duty_cycles(duty_cycles, events, iteration, duty_cycle_period):
    """Moving averages after a batch of events (n_samples, n_columns).

    Sample ``j`` of the batch is learning iteration ``iteration + j + 1``; its
    averaging period is ``min(that iteration, duty_cycle_period)`` and each step
    is ``d <- (d * (p - 1) + event) / p``. The batch's recursion is applied in
    closed form (one weighted sum), so it equals the per-sample loop exactly.
    """
    n = events.shape[0]
    if n == 0:
        return duty_cycles
    if n == 1:  # online learning: the recursion itself
        p = min(iteration + 1, duty_cycle_period)
        return (duty_cycles * (p - 1) + events[0]) / p
    period = np.minimum(iteration + np.arange(1, n + 1), duty_cycle_period).astype(np.float64)
    decay = (period - 1.0) / period
    # weight of sample j: (1 / p_j) * prod_{m > j} decay_m
    later = np.append(np.cumprod(decay[::-1])[::-1][1:], 1.0)
    weights = later / period
    total_decay = later[0] * decay[0]
    return duty_cycles * total_decay + weights @ events.astype(np.float64)


def boost_factors(active_duty_cycles, target_density, boost_strength):
    """Exponential boosting (Cui, Ahmad & Hawkins 2017): columns less active than
    the target density get boosted, more active ones damped."""
    return np.exp((target_density - active_duty_cycles) * boost_strength)
