"""Temporal Memory kernels (BAMI "Temporal Memory Algorithm Details"; Hawkins & Ahmad 2016).

Cells are numbered ``column * cells_per_column + i``. Distal segments live in
flat arrays: segment ``s`` belongs to cell ``segment_cell[s]`` and has
``width`` synapse slots, ``presynaptic_cell[s, j]`` (-1 for an empty slot) with
``permanence[s, j]``. A synapse is identified by its flat slot id
``s * width + j``.

Segment activity needs, each step, the segments that have synapses from the
few active cells; scanning every synapse would cost O(n_synapses) per step.
So the connections keep a reverse index: row ``reverse_row[c]`` of
``reverse`` lists the flat ids of the synapses whose presynaptic cell is
``c`` (-1 for a hole left by a destroyed synapse), and ``reverse_pos`` gives
each synapse's place in its row so that destroying it is O(1). Only cells
that ever had a synapse out get a row (a few percent of the cells). Rows have
a common width that grows by half when one overflows (the index is then
rebuilt, which also closes holes).

Learning is the online algorithm, one time step at a time (``learn_step``).
Inference of many sequences in lock-step (``infer_sequences``) uses a CSR
index of the connected synapses only (``connected_index``), which the
estimator builds once per learning call.
"""

import numpy as np

# A synapse whose permanence falls to this or below is destroyed (as in
# Numenta's implementations, where permanences below ~0 are pruned).
_PRUNE = 1e-6
_EMPTY = np.zeros(0, np.int64)
_ZERO, _ONE = np.float32(0.0), np.float32(1.0)


class Connections:
    """Distal segments and synapses of a Temporal Memory, in flat arrays.

    Attributes
    ----------
    segment_cell : ndarray of int32, (capacity,)
        Owner cell of each segment slot; -1 for a free slot.
    segment_last_used : ndarray of int64, (capacity,)
        Learning iteration at which the segment was last active or created
        (for replacing the least recently used segment of a full cell).
    presynaptic_cell : ndarray of int32, (capacity, width)
    permanence : ndarray of float32, (capacity, width)
    cell_n_segments : ndarray of int32, (n_cells,)
    n_allocated : int
        Segment slots in use or freed so far (the high-water mark).
    """

    def __init__(self, n_columns, cells_per_column, width, capacity=256):
        self.n_columns = int(n_columns)
        self.cells_per_column = int(cells_per_column)
        self.n_cells = self.n_columns * self.cells_per_column
        self.width = int(width)
        self.segment_cell = np.full(capacity, -1, np.int32)
        self.segment_last_used = np.zeros(capacity, np.int64)
        self.presynaptic_cell = np.full((capacity, self.width), -1, np.int32)
        self.permanence = np.zeros((capacity, self.width), np.float32)
        self.cell_n_segments = np.zeros(self.n_cells, np.int32)
        self.n_allocated = 0
        self.free_segments = np.zeros(0, np.int64)
        self.reverse_row = np.full(self.n_cells, -1, np.int32)
        self.n_reverse_rows = 0
        self.reverse = np.full((64, 8), -1, np.int32)
        self.reverse_fill = np.zeros(64, np.int32)
        self.reverse_pos = np.zeros((capacity, self.width), np.int32)

    @property
    def n_segments(self):
        return int(np.count_nonzero(self.segment_cell[:self.n_allocated] >= 0))

    @property
    def n_synapses(self):
        return int(np.count_nonzero(self.presynaptic_cell[:self.n_allocated] >= 0))

    @property
    def nbytes(self):
        return sum(a.nbytes for a in (
            self.segment_cell, self.segment_last_used, self.presynaptic_cell,
            self.permanence, self.cell_n_segments, self.free_segments, self.reverse_row,
            self.reverse, self.reverse_fill, self.reverse_pos))


class StreamState:
    """What the Temporal Memory carries from one time step to the next."""

    def __init__(self):
        self.reset()

    def reset(self):
        empty = np.zeros(0, np.int64)
        self.active_cells = empty
        self.winner_cells = empty
        self.active_segments = empty
        self.matching_segments = empty
        self.n_potential = np.zeros(0, np.int32)  # active potential synapses per segment


# ---------------------------------------------------------------- storage

def _grow_capacity(conn, needed):
    capacity = conn.segment_cell.size
    if needed <= capacity:
        return
    new = max(needed, 2 * capacity)
    extra = new - capacity
    conn.segment_cell = np.concatenate([conn.segment_cell, np.full(extra, -1, np.int32)])
    conn.segment_last_used = np.concatenate([conn.segment_last_used,
                                             np.zeros(extra, np.int64)])
    w = conn.width
    conn.presynaptic_cell = np.concatenate([conn.presynaptic_cell,
                                            np.full((extra, w), -1, np.int32)])
    conn.permanence = np.concatenate([conn.permanence, np.zeros((extra, w), np.float32)])
    conn.reverse_pos = np.concatenate([conn.reverse_pos, np.zeros((extra, w), np.int32)])


def _widen(conn, width):
    """Give every segment ``width`` synapse slots (flat ids change: reindex)."""
    pad = width - conn.width
    n = conn.segment_cell.size
    conn.presynaptic_cell = np.hstack([conn.presynaptic_cell, np.full((n, pad), -1, np.int32)])
    conn.permanence = np.hstack([conn.permanence, np.zeros((n, pad), np.float32)])
    conn.reverse_pos = np.zeros((n, width), np.int32)
    conn.width = width
    rebuild_reverse_index(conn)


def rebuild_reverse_index(conn, min_width=8):
    """Rebuild ``reverse`` from the synapse arrays, closing holes."""
    flat = conn.presynaptic_cell.ravel()
    ids = np.flatnonzero(flat >= 0)
    cells = flat[ids]
    counts = np.bincount(cells, minlength=conn.n_cells)
    # Rows for the cells that have one already and for any new ones, in cell order.
    has_row = (conn.reverse_row >= 0) | (counts > 0)
    row_cells = np.flatnonzero(has_row)
    conn.reverse_row = np.full(conn.n_cells, -1, np.int32)
    conn.reverse_row[row_cells] = np.arange(row_cells.size)
    conn.n_reverse_rows = row_cells.size
    top = int(counts.max()) if counts.size else 0
    width = max(min_width, -(-3 * top // 16) * 8)  # 1.5 * top, a multiple of 8
    order = np.argsort(cells, kind="stable")
    cells, ids = cells[order], ids[order]
    rank = _rank_in_groups(cells)
    n_rows = max(64, 2 * row_cells.size)
    conn.reverse = np.full((n_rows, width), -1, np.int32)
    rows = conn.reverse_row[cells]
    conn.reverse[rows, rank] = ids
    conn.reverse_fill = np.zeros(n_rows, np.int32)
    conn.reverse_fill[:row_cells.size] = counts[row_cells]
    conn.reverse_pos.ravel()[ids] = rank


def _run_starts(sorted_keys):
    """Mask of the first element of each run of equal keys (np.r_ is slow)."""
    first = np.empty(sorted_keys.size, bool)
    first[:1] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=first[1:])
    return first


def _unique_sorted(values):
    """np.unique for small int arrays (np.unique's overhead dominates there)."""
    values = np.sort(values)
    return values[_run_starts(values)]


def _rank_in_groups(sorted_keys):
    """0, 1, 2, ... within each run of equal keys of a sorted array."""
    n = sorted_keys.size
    if n == 0:
        return np.zeros(0, np.int64)
    starts = _run_starts(sorted_keys).nonzero()[0]
    return np.arange(n) - np.repeat(starts, np.diff(starts, append=n))


def _index_synapses(conn, ids, cells):
    """Add synapses (flat ids, presynaptic cells) to the reverse index."""
    new = _unique_sorted(cells[conn.reverse_row[cells] < 0])
    if new.size:
        if conn.n_reverse_rows + new.size > conn.reverse.shape[0]:
            rebuild_reverse_index(conn, conn.reverse.shape[1])  # makes the new rows too
            return
        conn.reverse_row[new] = np.arange(conn.n_reverse_rows, conn.n_reverse_rows + new.size)
        conn.n_reverse_rows += new.size
    rows = conn.reverse_row[cells]
    order = np.argsort(rows, kind="stable")
    rows, ids = rows[order], ids[order]
    pos = conn.reverse_fill[rows] + _rank_in_groups(rows)
    if pos.size and pos.max() >= conn.reverse.shape[1]:
        rebuild_reverse_index(conn, conn.reverse.shape[1])
        return
    conn.reverse[rows, pos] = ids
    conn.reverse_pos.ravel()[ids] = pos
    np.maximum.at(conn.reverse_fill, rows, (pos + 1).astype(np.int32))


def destroy_synapses(conn, ids):
    """Destroy synapses given by flat id (distinct, all existing)."""
    if not ids.size:
        return
    flat = conn.presynaptic_cell.ravel()
    cells = flat[ids]
    conn.reverse[conn.reverse_row[cells], conn.reverse_pos.ravel()[ids]] = -1
    flat[ids] = -1
    conn.permanence.ravel()[ids] = 0.0


def destroy_segments(conn, segments):
    """Destroy segments (distinct) and all their synapses."""
    if not segments.size:
        return
    rows = conn.presynaptic_cell[segments]
    r, j = np.nonzero(rows >= 0)
    destroy_synapses(conn, segments[r] * conn.width + j)
    np.subtract.at(conn.cell_n_segments, conn.segment_cell[segments], 1)
    conn.segment_cell[segments] = -1
    conn.free_segments = np.concatenate([conn.free_segments, segments])


def create_segments(conn, cells, iteration, max_segments_per_cell):
    """One new segment on each of ``cells`` (distinct); returns their ids.

    A cell that already has ``max_segments_per_cell`` segments first loses its
    least recently used one.
    """
    full = cells[conn.cell_n_segments[cells] >= max_segments_per_cell]
    if full.size:
        owner = conn.segment_cell[:conn.n_allocated]
        candidates = np.flatnonzero(np.isin(owner, full))
        order = np.lexsort((candidates, conn.segment_last_used[candidates], owner[candidates]))
        candidates = candidates[order]
        first = _run_starts(owner[candidates])
        destroy_segments(conn, candidates[first])
    k = cells.size
    reuse = conn.free_segments[:k]
    conn.free_segments = conn.free_segments[k:]
    fresh = np.arange(conn.n_allocated, conn.n_allocated + k - reuse.size)
    conn.n_allocated += fresh.size
    _grow_capacity(conn, conn.n_allocated)
    segments = np.concatenate([reuse, fresh]).astype(np.int64)
    conn.segment_cell[segments] = cells
    conn.segment_last_used[segments] = iteration
    np.add.at(conn.cell_n_segments, cells, 1)
    return segments


# ---------------------------------------------------------------- learning

def segment_activity(conn, active_cells, connected_permanence):
    """Active connected and active potential synapses of every segment.

    Returns two arrays of length ``n_allocated`` (counts, possibly as floats).
    """
    n = conn.n_allocated
    rows = conn.reverse_row[active_cells]
    rows = rows[rows >= 0]  # most cells of a bursting column have no synapses out
    if not rows.size or n == 0:
        zero = np.zeros(n, np.intp)
        return zero, zero
    ids = conn.reverse[rows, :int(conn.reverse_fill[rows].max())].ravel()
    # Holes (-1) fall in bin 0, which is dropped; their permanence lookup
    # (the last slot) is harmless for the same reason.
    bins = ids // conn.width + 1
    n_potential = np.bincount(bins, minlength=n + 1)[1:]
    connected = conn.permanence.ravel()[ids] >= connected_permanence
    n_connected = np.bincount(bins, weights=connected, minlength=n + 1)[1:]
    return n_connected, n_potential


def adapt_segments(conn, segments, prev_active_mask, increment, decrement):
    """Hebbian update: synapses from previously active cells gain ``increment``,
    the others lose ``decrement``. Synapses at zero are destroyed, and so are
    segments left without synapses.

    ``prev_active_mask`` has ``n_cells + 1`` entries, the last one False, so
    that empty slots (-1) read as inactive: they only ever lose permanence,
    and stay at 0.
    """
    if not segments.size:
        return
    presyn = conn.presynaptic_cell[segments]
    perm = conn.permanence[segments]
    # A table lookup is cheaper than np.where at this size (~1k synapses).
    delta = np.array([-decrement, increment], np.float32)
    perm += delta[prev_active_mask[presyn].view(np.uint8)]
    np.minimum(perm, _ONE, out=perm)
    np.maximum(perm, _ZERO, out=perm)
    conn.permanence[segments] = perm
    dead = perm <= _PRUNE
    dead &= presyn >= 0
    if dead.any():
        r, j = np.nonzero(dead)
        destroy_synapses(conn, segments[r] * conn.width + j)
        empty = ~(conn.presynaptic_cell[segments] >= 0).any(axis=1)
        destroy_segments(conn, segments[empty])


def grow_synapses(conn, segments, n_desired, candidates, initial_permanence,
                  max_synapses_per_segment, rng):
    """Grow up to ``n_desired[i]`` new synapses on ``segments[i]`` to a random
    sample of ``candidates`` (sorted previous winner cells) it is not yet
    connected to. A full segment first loses its weakest synapses."""
    keep = n_desired > 0
    segments, n_desired = segments[keep], n_desired[keep]
    if not segments.size or not candidates.size:
        return
    n_seg, n_cand = segments.size, candidates.size
    presyn = conn.presynaptic_cell[segments]
    exists = presyn >= 0
    where = np.minimum(np.searchsorted(candidates, presyn), n_cand - 1)
    present_hit = exists & (candidates[where] == presyn)
    present = np.zeros((n_seg, n_cand), bool)
    r, j = np.nonzero(present_hit)
    present[r, where[r, j]] = True
    n_new = np.minimum(np.minimum(n_desired, n_cand - present.sum(axis=1)),
                       max_synapses_per_segment)
    if not n_new.any():
        return
    keys = rng.random((n_seg, n_cand))
    keys[present] = 2.0
    chosen = np.argsort(keys, axis=1)
    take = np.arange(n_cand) < n_new[:, None]
    rows, ranks = np.nonzero(take)
    new_cells = candidates[chosen[rows, ranks]]

    n_existing = exists.sum(axis=1)
    if (n_existing + n_new > conn.width).any() and conn.width < max_synapses_per_segment:
        need = int((n_existing + n_new).max())
        width = conn.width
        while width < need:
            width *= 2
        _widen(conn, min(width, max_synapses_per_segment))
        exists = conn.presynaptic_cell[segments] >= 0
    # Free slots first, then the weakest existing synapses.
    slot_key = np.where(exists, conn.permanence[segments], np.float32(-1.0))
    slots = np.argsort(slot_key, axis=1, kind="stable")[rows, ranks]
    ids = segments[rows] * conn.width + slots
    replaced = exists[rows, slots]
    destroy_synapses(conn, ids[replaced])
    conn.presynaptic_cell.ravel()[ids] = new_cells
    conn.permanence.ravel()[ids] = initial_permanence
    _index_synapses(conn, ids, new_cells)


def learn_step(conn, state, columns, p, rng, iteration, learn=True):
    """One time step of the Temporal Memory on the active ``columns`` (sorted).

    Activates cells (predicted cells of active columns, or the whole column
    when nothing predicted it: bursting), chooses winner cells, learns on the
    segments that predicted correctly or best matched a bursting column,
    grows segments and synapses to the previous winner cells, punishes
    segments that predicted wrongly, then computes the segments' activity for
    the next step. ``p`` holds the estimator's parameters. Updates ``state``
    in place and returns the step's outputs as a dict.
    """
    cpc = conn.cells_per_column
    n_columns = conn.n_columns
    seg_cell = conn.segment_cell
    column_active = np.zeros(n_columns, bool)
    column_active[columns] = True

    act_segs = state.active_segments
    act_cells = seg_cell[act_segs]
    on = column_active[act_cells // cpc]
    correct_segs = act_segs[on]
    correct_cells = _unique_sorted(act_cells[on])
    predicted = np.zeros(n_columns, bool)
    predicted[correct_cells // cpc] = True
    bursting = columns[~predicted[columns]]
    match = state.matching_segments
    match_cols = seg_cell[match] // cpc

    if bursting.size:
        offsets = np.arange(cpc)
        burst_cells = (bursting[:, None] * cpc + offsets).ravel()
        active_cells = np.concatenate([correct_cells, burst_cells])
        # Best matching segment of each bursting column.
        column_bursting = np.zeros(n_columns, bool)
        column_bursting[bursting] = True
        sel = column_bursting[match_cols]
        cand, cand_cols = match[sel], match_cols[sel]
        if cand.size:
            order = np.lexsort((cand, -state.n_potential[cand], cand_cols))
            cand, cand_cols = cand[order], cand_cols[order]
            first = _run_starts(cand_cols)
            best_segs = cand[first]
            has_match = np.zeros(n_columns, bool)
            has_match[cand_cols[first]] = True
            unmatched = bursting[~has_match[bursting]]
        else:
            best_segs = _EMPTY
            unmatched = bursting
        # Least used cell of each unmatched bursting column, ties broken at random.
        pool = unmatched[:, None] * cpc + offsets
        use = conn.cell_n_segments[pool] + rng.random(pool.shape)
        new_cells = pool[np.arange(unmatched.size), np.argmin(use, axis=1)]
        winner_cells = np.concatenate([correct_cells, seg_cell[best_segs], new_cells])
    else:
        active_cells = winner_cells = correct_cells
        best_segs = new_cells = _EMPTY

    if learn:
        prev_active = np.zeros(conn.n_cells + 1, bool)
        prev_active[state.active_cells] = True
        learning = np.concatenate([correct_segs, best_segs]) if best_segs.size else correct_segs
        n_grow = p.max_new_synapse_count - state.n_potential[learning]
        if p.predicted_segment_decrement > 0 and match.size:
            wrong = match[~column_active[match_cols]]
            adapt_segments(conn, wrong, prev_active, -p.predicted_segment_decrement, 0.0)
        adapt_segments(conn, learning, prev_active, p.permanence_increment,
                       p.permanence_decrement)
        prev_winners = state.winner_cells
        if prev_winners.size:
            if new_cells.size:
                new_segs = create_segments(conn, new_cells, iteration, p.max_segments_per_cell)
                learning = np.concatenate([learning, new_segs])
                n_grow = np.concatenate([
                    n_grow, np.full(new_segs.size, min(p.max_new_synapse_count,
                                                       prev_winners.size))])
            if (n_grow > 0).any():
                grow_synapses(conn, learning, n_grow, np.sort(prev_winners),
                              p.initial_permanence, p.max_synapses_per_segment, rng)

    n_connected, n_potential = segment_activity(conn, active_cells, p.connected_permanence)
    active_segments = (n_connected >= p.activation_threshold).nonzero()[0]
    if learn:
        conn.segment_last_used[active_segments] = iteration
    out = {
        "active_cells": active_cells,
        "winner_cells": winner_cells,
        "predicted_cells": correct_cells,
        "anomaly": float(raw_anomaly(bursting.size, columns.size)),
    }
    state.active_cells = active_cells
    state.winner_cells = winner_cells
    state.active_segments = active_segments
    state.matching_segments = (n_potential >= p.min_threshold).nonzero()[0]
    state.n_potential = n_potential
    return out


def raw_anomaly(n_unpredicted, n_active):
    """Fraction of the active columns that were not predicted (0 for no input)."""
    n_active = np.asarray(n_active)
    return np.where(n_active > 0, n_unpredicted / np.maximum(n_active, 1), 0.0)


# ---------------------------------------------------------------- inference

def connected_index(conn, connected_permanence):
    """CSR index cell -> segments it has a connected synapse to (inference)."""
    presyn = conn.presynaptic_cell[:conn.n_allocated]
    ok = (presyn >= 0) & (conn.permanence[:conn.n_allocated] >= connected_permanence)
    segments, _ = np.nonzero(ok)
    cells = presyn[ok]
    order = np.argsort(cells, kind="stable")
    indptr = np.zeros(conn.n_cells + 1, np.int64)
    np.cumsum(np.bincount(cells, minlength=conn.n_cells), out=indptr[1:])
    return indptr, segments[order].astype(np.int32)


def _flatnonzero_sparse(mask):
    """np.flatnonzero for a sparse bool array, reading it 8 bytes at a time."""
    flat = mask.reshape(-1)
    if flat.size % 8:
        return np.flatnonzero(flat)
    words = np.flatnonzero(flat.view(np.uint64))
    r, b = np.divmod(np.flatnonzero(flat.reshape(-1, 8)[words]), 8)
    return words[r] * 8 + b


def infer_sequences(index, segment_cell, n_columns, cells_per_column, X,
                    activation_threshold, emit):
    """Run inference on a batch of sequences in lock-step, without learning.

    The state of every sequence is a list of (sequence, cell) pairs, so a step
    costs in proportion to the active cells and their synapses, not to the
    number of cells.

    Parameters
    ----------
    index : (indptr, segments) from :func:`connected_index`
    segment_cell : ndarray of int, (n_segments,)
    X : ndarray of bool, (n_sequences, n_steps, n_columns)
    emit : callable(t, active, correct, anomaly, predictive)
        Called once per step with (sequence, cell) index pairs of the active
        cells, of the correctly predicted active cells and of the cells
        predicted for the next step, and with the raw anomaly of each
        sequence (float array).
    """
    indptr, seg_of = index
    n_seq, n_steps, _ = X.shape
    cpc = cells_per_column
    n_cells = n_columns * cpc
    n_segments = segment_cell.size
    offsets = np.arange(cpc)
    # Active columns of every step, as (sequence, column) pairs grouped by step.
    flat = _flatnonzero_sparse(np.ascontiguousarray(X.transpose(1, 0, 2)))
    step_of, column_flat = np.divmod(flat, n_seq * n_columns)
    seq_of, col_of = np.divmod(column_flat, n_columns)
    bounds = np.searchsorted(step_of, np.arange(n_steps + 1))
    column_active = np.zeros(n_seq * n_columns, bool)
    column_predicted = np.zeros(n_seq * n_columns, bool)
    pred_seq = pred_cell = np.zeros(0, np.int64)
    for t in range(n_steps):
        lo, hi = bounds[t], bounds[t + 1]
        seq, col, flat = seq_of[lo:hi], col_of[lo:hi], column_flat[lo:hi]
        column_active[flat] = True
        # Predicted cells of active columns become active ...
        pred_flat = pred_seq * n_columns + pred_cell // cpc
        on = column_active[pred_flat]
        correct_seq, correct_cell = pred_seq[on], pred_cell[on]
        column_predicted[pred_flat[on]] = True
        hit = column_predicted[flat]
        column_active[flat] = False
        column_predicted[pred_flat[on]] = False
        # ... and unpredicted active columns burst.
        burst_seq, burst_col = seq[~hit], col[~hit]
        act_seq = np.concatenate([correct_seq, np.repeat(burst_seq, cpc)])
        act_cell = np.concatenate([correct_cell,
                                   (burst_col[:, None] * cpc + offsets).ravel()])
        anomaly = raw_anomaly(np.bincount(burst_seq, minlength=n_seq),
                              np.bincount(seq, minlength=n_seq))
        # Segment activity: active connected synapses per (sequence, segment).
        start = indptr[act_cell]
        lengths = indptr[act_cell + 1] - start
        ends = np.cumsum(lengths)
        total = int(ends[-1]) if ends.size else 0
        if total:
            pos = np.repeat(start - ends + lengths, lengths) + np.arange(total)
            keys = np.repeat(act_seq * n_segments, lengths) + seg_of[pos]
            counts = np.bincount(keys, minlength=n_seq * n_segments)
            hits = np.flatnonzero(counts >= activation_threshold)
            # A cell with several active segments is predicted once.
            cell_keys = np.sort(hits // n_segments * n_cells + segment_cell[hits % n_segments])
            cell_keys = cell_keys[_run_starts(cell_keys)]
            pred_seq, pred_cell = np.divmod(cell_keys, n_cells)
        else:
            pred_seq = pred_cell = np.zeros(0, np.int64)
        emit(t, (act_seq, act_cell), (correct_seq, correct_cell), anomaly,
             (pred_seq, pred_cell))
