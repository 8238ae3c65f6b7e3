"""Temporal Memory kernels (BAMI "Temporal Memory Algorithm Details"; Hawkins & Ahmad 2016).

Cells are numbered ``column * cells_per_column + i``. Distal segments live in
flat arrays: segment ``s`` belongs to cell ``segment_cell[s]`` (-1: a free
slot) and has ``width`` synapse slots, ``presynaptic_cell[s, j]`` (-1 for an
empty slot) with ``permanence[s, j]``. A synapse is named by its flat slot id
``s * width + j``.

Segment activity needs, each step, the synapses that leave the few active
cells; scanning every synapse would cost O(n_synapses) per step. So the
synapses leaving each cell form a doubly linked list: ``cell_first_synapse[c]``
is the first flat id of cell ``c``'s list (-1: none), ``synapse_next`` and
``synapse_prev`` (indexed by flat id) chain the rest. Adding and removing a
synapse is O(1) and the lists never run out of room. ``width`` is a power of 2,
so that a flat id splits into segment and slot with a shift and a mask (an
integer division per synapse visited costs more than the rest of the visit).

``counts`` holds the scalars of the model and of the stream (see the ``_N_*``
indices below); ``rng_state`` the state of a small xorshift generator, seeded
from the estimator's ``random_state``, so that learning is reproducible in
compiled and pure-Python runs alike.

Learning (:func:`learn_steps`) runs many steps per call and checks, at the
start of each step, that the step cannot run out of segment slots or
synapse slots; if it could, it returns before changing anything of that step,
and the caller grows the arrays (:func:`grow_segments`, :func:`widen_segments`)
and calls again from there. Inference (:func:`infer_sequences`) reads a CSR
index of the connected synapses (:func:`connected_index`) and writes the
requested output directly.
"""

import numpy as np

from ._jit import jit

# A synapse whose permanence falls to this or below is destroyed (as in
# Numenta's implementations, where permanences below ~0 are pruned).
PRUNE = np.float32(1e-6)

# Indices into ``counts``.
N_ALLOCATED = 0   # segment slots in use or freed so far (the high-water mark)
N_FREE = 1        # free slots below the high-water mark, on the ``free_segments`` stack
N_ACTIVE = 2      # active cells of the last step (``stream_active_cells``)
N_WINNERS = 3     # winner cells of the last step (``stream_winner_cells``)
N_TOUCHED = 4     # segments with a synapse from an active cell (``touched_segments``)
ITERATION = 5     # time steps learned
MOST_SEGMENTS = 6  # the most segments a cell has ever had
N_COUNTS = 7

# Synapse lists followed side by side in learn_steps.
_N_WALKS = 8

# What learn_steps returns as its status.
DONE, NEED_SEGMENTS, NEED_WIDTH = 0, 1, 2

# ``output`` and ``pooling`` codes of infer_sequences.
ACTIVE_CELLS, PREDICTED_CELLS, PREDICTIVE_COLUMNS, ANOMALY = 0, 1, 2, 3
PER_STEP, UNION, COUNT, MEAN = 0, 1, 2, 3


# ---------------------------------------------------------------- storage

def new_model(n_cells, capacity, width, seed):
    """Empty connections and a reset stream, as a dict of arrays."""
    if width & (width - 1):
        raise ValueError(f"width must be a power of 2, got {width}")
    return {
        "segment_cell": np.full(capacity, -1, np.int32),
        "segment_last_used": np.zeros(capacity, np.int64),
        "segment_n_synapses": np.zeros(capacity, np.int32),
        "presynaptic_cell": np.full((capacity, width), -1, np.int32),
        "permanence": np.zeros((capacity, width), np.float32),
        "synapse_next": np.full(capacity * width, -1, np.int32),
        "synapse_prev": np.full(capacity * width, -1, np.int32),
        "cell_first_synapse": np.full(n_cells, -1, np.int32),
        "cell_n_segments": np.zeros(n_cells, np.int32),
        "free_segments": np.zeros(capacity, np.int32),
        # The stream: what one step hands to the next.
        "stream_active_cells": np.zeros(n_cells, np.int32),
        "stream_winner_cells": np.zeros(n_cells, np.int32),
        "segment_n_connected": np.zeros(capacity, np.int32),
        "segment_n_potential": np.zeros(capacity, np.int32),
        "touched_segments": np.zeros(capacity, np.int32),
        "counts": np.zeros(N_COUNTS, np.int64),
        "rng_state": np.array([seed], np.int64),
    }


# Per-segment arrays and the value of a free slot.
_SEGMENT_ARRAYS = {"segment_cell": -1, "segment_last_used": 0, "segment_n_synapses": 0,
                   "presynaptic_cell": -1, "permanence": 0, "synapse_next": -1,
                   "synapse_prev": -1, "free_segments": 0, "segment_n_connected": 0,
                   "segment_n_potential": 0, "touched_segments": 0}
_FLAT_ARRAYS = ("synapse_next", "synapse_prev")  # capacity * width entries


def grow_segments(model, capacity):
    """A copy of ``model`` with ``capacity`` segment slots (new arrays: the
    original is untouched, so a MemoryError here changes nothing)."""
    out = dict(model)
    width = model["presynaptic_cell"].shape[1]
    for name, fill in _SEGMENT_ARRAYS.items():
        old = model[name]
        shape = (capacity * width,) if name in _FLAT_ARRAYS else (capacity,) + old.shape[1:]
        new = np.full(shape, fill, old.dtype)
        new[:old.shape[0]] = old
        out[name] = new
    return out


def widen_segments(model, width):
    """A copy of ``model`` whose segments have ``width`` synapse slots (flat
    synapse ids change, so the cells' synapse lists are rebuilt)."""
    if width & (width - 1):
        raise ValueError(f"width must be a power of 2, got {width}")
    out = dict(model)
    capacity, old_width = model["presynaptic_cell"].shape
    for name, fill in (("presynaptic_cell", -1), ("permanence", 0)):
        new = np.full((capacity, width), fill, model[name].dtype)
        new[:, :old_width] = model[name]
        out[name] = new
    out["synapse_next"] = np.full(capacity * width, -1, np.int32)
    out["synapse_prev"] = np.full(capacity * width, -1, np.int32)
    out["cell_first_synapse"] = np.full(model["cell_first_synapse"].size, -1, np.int32)
    link_all_synapses(out["presynaptic_cell"], out["synapse_next"], out["synapse_prev"],
                      out["cell_first_synapse"])
    return out


@jit
def link_all_synapses(presynaptic_cell, synapse_next, synapse_prev, cell_first_synapse):
    """Build every cell's synapse list from ``presynaptic_cell`` (lists empty)."""
    capacity, width = presynaptic_cell.shape
    for s in range(capacity - 1, -1, -1):
        for j in range(width - 1, -1, -1):
            if presynaptic_cell[s, j] >= 0:
                _link(s * width + j, presynaptic_cell[s, j], synapse_next, synapse_prev,
                      cell_first_synapse)


@jit
def _link(synapse, cell, synapse_next, synapse_prev, cell_first_synapse):
    """Put ``synapse`` (a flat id) at the head of ``cell``'s list."""
    head = cell_first_synapse[cell]
    synapse_next[synapse] = head
    synapse_prev[synapse] = -1
    if head >= 0:
        synapse_prev[head] = synapse
    cell_first_synapse[cell] = synapse


@jit
def _destroy_synapse(s, j, presynaptic_cell, permanence, synapse_next, synapse_prev,
                     cell_first_synapse, segment_n_synapses):
    synapse = s * presynaptic_cell.shape[1] + j
    nxt = synapse_next[synapse]
    prv = synapse_prev[synapse]
    if prv >= 0:
        synapse_next[prv] = nxt
    else:
        cell_first_synapse[presynaptic_cell[s, j]] = nxt
    if nxt >= 0:
        synapse_prev[nxt] = prv
    synapse_next[synapse] = -1
    synapse_prev[synapse] = -1
    presynaptic_cell[s, j] = -1
    permanence[s, j] = 0.0
    segment_n_synapses[s] -= 1


@jit
def _destroy_segment(s, segment_cell, segment_n_synapses, presynaptic_cell, permanence,
                     synapse_next, synapse_prev, cell_first_synapse, cell_n_segments,
                     free_segments, counts):
    for j in range(presynaptic_cell.shape[1]):
        if presynaptic_cell[s, j] >= 0:
            _destroy_synapse(s, j, presynaptic_cell, permanence, synapse_next, synapse_prev,
                             cell_first_synapse, segment_n_synapses)
    cell_n_segments[segment_cell[s]] -= 1
    segment_cell[s] = -1
    free_segments[counts[N_FREE]] = s
    counts[N_FREE] += 1


@jit
def _log2(n):
    """log2 of a power of 2; -1 for any other n."""
    shift = 0
    while (1 << shift) < n:
        shift += 1
    return shift if (1 << shift) == n else -1


@jit
def _column(cell, cells_per_column, cpc_shift):
    """The column of ``cell`` (a shift when cells_per_column is a power of 2)."""
    if cpc_shift >= 0:
        return cell >> cpc_shift
    return cell // cells_per_column


@jit
def _random_below(rng, n):
    """A random integer in [0, n) from the xorshift32 state ``rng[0]`` (never 0).

    32-bit values in int64 arithmetic: nothing overflows, so compiled and
    pure-Python runs draw the same numbers.
    """
    x = rng[0]
    x ^= (x << 13) & 0xFFFFFFFF
    x ^= x >> 17
    x ^= (x << 5) & 0xFFFFFFFF
    rng[0] = x
    return (x * n) >> 32


# ---------------------------------------------------------------- learning

@jit
def _adapt_segment(s, prev_active, increment, decrement, segment_cell, segment_n_synapses,
                   presynaptic_cell, permanence, synapse_next, synapse_prev,
                   cell_first_synapse, cell_n_segments, free_segments, counts):
    """Hebbian update of segment ``s``: synapses from previously active cells
    gain ``increment``, the others lose ``decrement``; synapses at ~0 are
    destroyed, and so is the segment when none is left."""
    one = np.float32(1.0)
    zero = np.float32(0.0)
    for j in range(presynaptic_cell.shape[1]):
        cell = presynaptic_cell[s, j]
        if cell < 0:
            continue
        if prev_active[cell]:
            p = permanence[s, j] + increment
        else:
            p = permanence[s, j] - decrement
        p = min(max(p, zero), one)
        if p <= PRUNE:
            _destroy_synapse(s, j, presynaptic_cell, permanence, synapse_next, synapse_prev,
                             cell_first_synapse, segment_n_synapses)
        else:
            permanence[s, j] = p
    if segment_n_synapses[s] == 0:
        _destroy_segment(s, segment_cell, segment_n_synapses, presynaptic_cell, permanence,
                         synapse_next, synapse_prev, cell_first_synapse, cell_n_segments,
                         free_segments, counts)


@jit
def _create_segment(cell, iteration, max_segments_per_cell, segment_cell, segment_last_used,
                    segment_n_synapses, presynaptic_cell, permanence, synapse_next,
                    synapse_prev, cell_first_synapse, cell_n_segments, free_segments, counts):
    """A new segment on ``cell``; a full cell first loses its least recently
    used segment (the lowest id among equals)."""
    if cell_n_segments[cell] >= max_segments_per_cell:
        oldest = -1
        for s in range(counts[N_ALLOCATED]):
            if segment_cell[s] == cell and (
                    oldest < 0 or segment_last_used[s] < segment_last_used[oldest]):
                oldest = s
        _destroy_segment(oldest, segment_cell, segment_n_synapses, presynaptic_cell,
                         permanence, synapse_next, synapse_prev, cell_first_synapse,
                         cell_n_segments, free_segments, counts)
    if counts[N_FREE] > 0:
        counts[N_FREE] -= 1
        s = free_segments[counts[N_FREE]]
    else:
        s = counts[N_ALLOCATED]
        counts[N_ALLOCATED] += 1
    segment_cell[s] = cell
    segment_last_used[s] = iteration
    cell_n_segments[cell] += 1
    counts[MOST_SEGMENTS] = max(counts[MOST_SEGMENTS], cell_n_segments[cell])
    return s


@jit
def _grow_synapses(s, n_desired, prev_winners, n_prev_winners, cell_mark, rng,
                   initial_permanence, max_synapses_per_segment, presynaptic_cell,
                   permanence, synapse_next, synapse_prev, cell_first_synapse,
                   segment_n_synapses, candidates, slots):
    """Grow up to ``n_desired`` synapses on segment ``s`` to a random sample of
    the previous winner cells it has none from. Free slots are used first
    (lowest index first); a segment at ``max_synapses_per_segment`` replaces
    its weakest synapses (lowest permanence, then lowest index)."""
    width = presynaptic_cell.shape[1]
    for j in range(width):
        if presynaptic_cell[s, j] >= 0:
            cell_mark[presynaptic_cell[s, j]] = True
    n_candidates = 0
    for i in range(n_prev_winners):
        if not cell_mark[prev_winners[i]]:
            candidates[n_candidates] = prev_winners[i]
            n_candidates += 1
    for j in range(width):
        if presynaptic_cell[s, j] >= 0:
            cell_mark[presynaptic_cell[s, j]] = False
    limit = min(max_synapses_per_segment, width)
    n_new = min(n_desired, n_candidates, limit)
    if n_new <= 0:
        return
    # Slots: free ones first, then the weakest existing synapses.
    n_existing = segment_n_synapses[s]
    n_replace = max(0, n_existing + n_new - limit)
    n_slots = 0
    for j in range(width):
        if n_slots == n_new - n_replace:
            break
        if presynaptic_cell[s, j] < 0:
            slots[n_slots] = j
            n_slots += 1
    for _ in range(n_replace):
        weakest = -1
        for j in range(width):
            if presynaptic_cell[s, j] >= 0 and (
                    weakest < 0 or permanence[s, j] < permanence[s, weakest]):
                weakest = j
        _destroy_synapse(s, weakest, presynaptic_cell, permanence, synapse_next,
                         synapse_prev, cell_first_synapse, segment_n_synapses)
        slots[n_slots] = weakest
        n_slots += 1
    # A uniform random sample of n_new candidates (partial Fisher-Yates).
    for k in range(n_new):
        r = k + _random_below(rng, n_candidates - k)
        cell = candidates[r]
        candidates[r] = candidates[k]
        candidates[k] = cell
        j = slots[k]
        presynaptic_cell[s, j] = cell
        permanence[s, j] = initial_permanence
        segment_n_synapses[s] += 1
        _link(s * width + j, cell, synapse_next, synapse_prev, cell_first_synapse)


@jit
def _reset_stream(segment_n_connected, segment_n_potential, touched_segments, counts):
    for i in range(counts[N_TOUCHED]):
        segment_n_connected[touched_segments[i]] = 0
        segment_n_potential[touched_segments[i]] = 0
    counts[N_TOUCHED] = 0
    counts[N_ACTIVE] = 0
    counts[N_WINNERS] = 0


@jit
def learn_steps(columns, step_start, reset_before, first, stop, reset_after,
                segment_cell, segment_last_used, segment_n_synapses, presynaptic_cell,
                permanence, synapse_next, synapse_prev, cell_first_synapse, cell_n_segments,
                free_segments, stream_active_cells, stream_winner_cells, segment_n_connected,
                segment_n_potential, touched_segments, counts, rng_state,
                int_params, float_params, anomaly):
    """Learn time steps ``first .. stop - 1`` with the online Temporal Memory.

    Step ``t`` has the active columns ``columns[step_start[t]:step_start[t + 1]]``
    (sorted); the stream is reset before it where ``reset_before[t]``, and after
    the last step if ``reset_after``. Each step activates cells (the predicted
    cells of an active column, or the whole column when none was predicted:
    bursting), chooses winner cells, punishes the matching segments of inactive
    columns, reinforces the segments that predicted correctly and the best
    matching segment of each bursting column, grows new segments and synapses
    to the previous winner cells, and computes the segments' activity for the
    next step. ``anomaly[t]`` receives the raw anomaly of step ``t``, scored
    before it is learned.

    ``int_params`` is (cells_per_column, activation_threshold, min_threshold,
    max_new_synapse_count, max_segments_per_cell, max_synapses_per_segment);
    ``float_params`` (float32) is (initial_permanence, connected_permanence,
    permanence_increment, permanence_decrement, predicted_segment_decrement).

    Returns
    -------
    done : int
        The first step not learned (``stop`` when all were).
    status : int
        ``DONE``, or ``NEED_SEGMENTS`` / ``NEED_WIDTH`` when step ``done`` could
        run out of segment slots / synapse slots: nothing of it was changed.
    """
    cells_per_column = int_params[0]
    activation_threshold = int_params[1]
    min_threshold = int_params[2]
    max_new_synapse_count = int_params[3]
    max_segments_per_cell = int_params[4]
    max_synapses_per_segment = int_params[5]
    initial_permanence = float_params[0]
    connected_permanence = float_params[1]
    permanence_increment = float_params[2]
    permanence_decrement = float_params[3]
    predicted_segment_decrement = float_params[4]

    n_cells = cell_n_segments.shape[0]
    n_columns = n_cells // cells_per_column
    capacity, width = presynaptic_cell.shape
    width_shift = _log2(width)
    cpc_shift = _log2(cells_per_column)
    permanence_flat = permanence.reshape(-1)
    # Scratch: marks are cleared after each use.
    column_active = np.zeros(n_columns, np.bool_)
    column_predicted = np.zeros(n_columns, np.bool_)
    column_best = np.full(n_columns, -1, np.int64)
    prev_active = np.zeros(n_cells, np.bool_)
    cell_mark = np.zeros(n_cells, np.bool_)
    active_cells = np.empty(n_cells, np.int32)
    winner_cells = np.empty(n_cells, np.int32)
    new_cells = np.empty(n_columns, np.int32)
    learning = np.empty(capacity + n_columns, np.int64)
    n_grow = np.empty(capacity + n_columns, np.int64)
    candidates = np.empty(n_cells, np.int32)
    slots = np.empty(width, np.int64)
    rng = np.empty(1, np.int64)
    walks = np.empty(_N_WALKS, np.int64)
    candidate_segments = np.empty(capacity, np.int64)

    for t in range(first, stop):
        lo = step_start[t]
        hi = step_start[t + 1]
        n_active_columns = hi - lo
        # ---- Can this step run out of room? (Nothing is changed before this.)
        if counts[N_FREE] + capacity - counts[N_ALLOCATED] < n_active_columns:
            return t, NEED_SEGMENTS
        # The active and matching segments: the only ones this step can learn on
        # (most segments reached by the active cells are neither).
        n_candidates = 0
        if not reset_before[t]:
            for i in range(counts[N_TOUCHED]):
                s = touched_segments[i]
                if segment_n_connected[s] >= activation_threshold or \
                        segment_n_potential[s] >= min_threshold:
                    candidate_segments[n_candidates] = s
                    n_candidates += 1
        if width < min(max_synapses_per_segment, n_cells):
            for i in range(n_candidates):
                s = candidate_segments[i]
                grow = max(0, max_new_synapse_count - segment_n_potential[s])
                if segment_n_synapses[s] + grow > width:
                    return t, NEED_WIDTH
        if reset_before[t]:
            _reset_stream(segment_n_connected, segment_n_potential, touched_segments, counts)
        rng[0] = rng_state[0]
        iteration = counts[ITERATION] + 1

        # ---- Activate cells: the predicted cells of active columns ...
        for i in range(lo, hi):
            column_active[columns[i]] = True
        n_learning = 0
        n_active = 0
        for i in range(n_candidates):
            s = candidate_segments[i]
            if segment_n_connected[s] >= activation_threshold:
                cell = segment_cell[s]
                if column_active[_column(cell, cells_per_column, cpc_shift)]:
                    learning[n_learning] = s  # a correct prediction: reinforce it
                    n_learning += 1
                    if not cell_mark[cell]:
                        cell_mark[cell] = True
                        active_cells[n_active] = cell
                        n_active += 1
        active_cells[:n_active].sort()
        n_winners = 0
        for i in range(n_active):
            cell_mark[active_cells[i]] = False
            column_predicted[_column(active_cells[i], cells_per_column, cpc_shift)] = True
            winner_cells[n_winners] = active_cells[i]
            n_winners += 1
        n_correct_segments = n_learning
        # ... or the whole column (bursting), whose best matching segment learns.
        n_bursting = 0
        for i in range(lo, hi):
            if not column_predicted[columns[i]]:
                n_bursting += 1
                for k in range(cells_per_column):
                    active_cells[n_active] = columns[i] * cells_per_column + k
                    n_active += 1
        for i in range(n_candidates):
            s = candidate_segments[i]
            if segment_n_potential[s] >= min_threshold:
                column = _column(segment_cell[s], cells_per_column, cpc_shift)
                if column_active[column] and not column_predicted[column]:
                    best = column_best[column]
                    if best < 0 or segment_n_potential[s] > segment_n_potential[best] or (
                            segment_n_potential[s] == segment_n_potential[best] and s < best):
                        column_best[column] = s
        for i in range(n_correct_segments):
            n_grow[i] = max_new_synapse_count - segment_n_potential[learning[i]]
        n_new_cells = 0
        for i in range(lo, hi):
            column = columns[i]
            if column_predicted[column]:
                continue
            best = column_best[column]
            if best >= 0:
                learning[n_learning] = best
                n_grow[n_learning] = max_new_synapse_count - segment_n_potential[best]
                n_learning += 1
                winner_cells[n_winners] = segment_cell[best]
            else:
                # The least used cell of the column, ties broken at random.
                first_cell = column * cells_per_column
                fewest = cell_n_segments[first_cell]
                n_ties = 0
                for k in range(cells_per_column):
                    used = cell_n_segments[first_cell + k]
                    if used < fewest:
                        fewest = used
                        n_ties = 1
                    elif used == fewest:
                        n_ties += 1
                pick = _random_below(rng, n_ties) if n_ties > 1 else 0
                for k in range(cells_per_column):
                    if cell_n_segments[first_cell + k] == fewest:
                        if pick == 0:
                            winner_cells[n_winners] = first_cell + k
                            break
                        pick -= 1
                new_cells[n_new_cells] = winner_cells[n_winners]
                n_new_cells += 1
            n_winners += 1
        anomaly[t] = n_bursting / n_active_columns if n_active_columns > 0 else 0.0

        # ---- Learn.
        n_prev_active = counts[N_ACTIVE]
        n_prev_winners = counts[N_WINNERS]
        for i in range(n_prev_active):
            prev_active[stream_active_cells[i]] = True
        if predicted_segment_decrement > 0:
            # Matching segments of inactive columns predicted wrongly.
            for i in range(n_candidates):
                s = candidate_segments[i]
                if segment_n_potential[s] >= min_threshold and segment_cell[s] >= 0 and \
                        not column_active[_column(segment_cell[s], cells_per_column,
                                                  cpc_shift)]:
                    _adapt_segment(s, prev_active, -predicted_segment_decrement,
                                   np.float32(0.0), segment_cell, segment_n_synapses,
                                   presynaptic_cell, permanence, synapse_next, synapse_prev,
                                   cell_first_synapse, cell_n_segments, free_segments, counts)
        for i in range(n_learning):
            _adapt_segment(learning[i], prev_active, permanence_increment,
                           permanence_decrement, segment_cell, segment_n_synapses,
                           presynaptic_cell, permanence, synapse_next, synapse_prev,
                           cell_first_synapse, cell_n_segments, free_segments, counts)
        if n_prev_winners > 0:
            for i in range(n_new_cells):
                learning[n_learning] = _create_segment(
                    new_cells[i], iteration, max_segments_per_cell, segment_cell,
                    segment_last_used, segment_n_synapses, presynaptic_cell, permanence,
                    synapse_next, synapse_prev, cell_first_synapse, cell_n_segments,
                    free_segments, counts)
                n_grow[n_learning] = min(max_new_synapse_count, n_prev_winners)
                n_learning += 1
            for i in range(n_learning):
                s = learning[i]
                if n_grow[i] > 0 and segment_cell[s] >= 0:
                    _grow_synapses(s, n_grow[i], stream_winner_cells, n_prev_winners,
                                   cell_mark, rng, initial_permanence,
                                   max_synapses_per_segment, presynaptic_cell, permanence,
                                   synapse_next, synapse_prev, cell_first_synapse,
                                   segment_n_synapses, candidates, slots)
        for i in range(n_prev_active):
            prev_active[stream_active_cells[i]] = False

        # ---- Segment activity for the next step: active connected and active
        # potential synapses of every segment with a synapse from an active cell.
        for i in range(counts[N_TOUCHED]):
            segment_n_connected[touched_segments[i]] = 0
            segment_n_potential[touched_segments[i]] = 0
        # The lists of _N_WALKS cells are followed side by side: each list is a
        # chain of dependent loads, and independent chains let the CPU overlap
        # their cache misses.
        n_touched = 0
        for k in range(_N_WALKS):
            walks[k] = -1
        next_cell = 0
        while True:
            n_walking = 0
            for k in range(_N_WALKS):
                synapse = walks[k]
                while synapse < 0 and next_cell < n_active:
                    synapse = cell_first_synapse[active_cells[next_cell]]
                    next_cell += 1
                if synapse < 0:
                    walks[k] = -1
                    continue
                n_walking += 1
                s = synapse >> width_shift
                if segment_n_potential[s] == 0:
                    touched_segments[n_touched] = s
                    n_touched += 1
                segment_n_potential[s] += 1
                if permanence_flat[synapse] >= connected_permanence:
                    segment_n_connected[s] += 1
                    if segment_n_connected[s] == activation_threshold:
                        segment_last_used[s] = iteration  # active: used now
                walks[k] = synapse_next[synapse]
            if n_walking == 0:
                break

        # ---- Hand the step over to the next one.
        stream_active_cells[:n_active] = active_cells[:n_active]
        stream_winner_cells[:n_winners] = winner_cells[:n_winners]
        counts[N_ACTIVE] = n_active
        counts[N_WINNERS] = n_winners
        counts[N_TOUCHED] = n_touched
        counts[ITERATION] = iteration
        rng_state[0] = rng[0]
        for i in range(lo, hi):
            column_active[columns[i]] = False
            column_predicted[columns[i]] = False
            column_best[columns[i]] = -1
    if reset_after:
        _reset_stream(segment_n_connected, segment_n_potential, touched_segments, counts)
    return stop, DONE


# ---------------------------------------------------------------- input

@jit
def active_columns(words, X):
    """The active columns of every row of a bool/uint8 array ``X`` (n_rows,
    n_columns), in CSR form: ``(columns, row_start)``.

    ``words`` is X read as uint64 (n_rows, n_columns // 8, with n_columns a
    multiple of 8): SDRs are sparse, so most words are 0 and skipped whole.
    """
    n_rows, n_words = words.shape
    row_start = np.zeros(n_rows + 1, np.int64)
    for r in range(n_rows):
        n = 0
        for w in range(n_words):
            if words[r, w] != 0:
                for k in range(w * 8, w * 8 + 8):
                    if X[r, k]:
                        n += 1
        row_start[r + 1] = row_start[r] + n
    columns = np.empty(row_start[n_rows], np.int32)
    i = 0
    for r in range(n_rows):
        for w in range(n_words):
            if words[r, w] != 0:
                for k in range(w * 8, w * 8 + 8):
                    if X[r, k]:
                        columns[i] = k
                        i += 1
    return columns, row_start


# ---------------------------------------------------------------- inference

@jit
def connected_index(presynaptic_cell, permanence, n_allocated, n_cells, connected_permanence):
    """CSR index cell -> segments it has a connected synapse to (for inference)."""
    width = presynaptic_cell.shape[1]
    # int32 (flat synapse ids are int32 too): half the cache lines to look up.
    indptr = np.zeros(n_cells + 1, np.int32)
    for s in range(n_allocated):
        for j in range(width):
            cell = presynaptic_cell[s, j]
            if cell >= 0 and permanence[s, j] >= connected_permanence:
                indptr[cell + 1] += 1
    for c in range(n_cells):
        indptr[c + 1] += indptr[c]
    fill = indptr[:-1].copy()
    segments = np.empty(indptr[n_cells], np.int32)
    for s in range(n_allocated):
        for j in range(width):
            cell = presynaptic_cell[s, j]
            if cell >= 0 and permanence[s, j] >= connected_permanence:
                segments[fill[cell]] = s
                fill[cell] += 1
    return indptr, segments


@jit
def infer_sequences(columns, step_start, n_steps, indptr, index_segments, segment_cell,
                    cells_per_column, activation_threshold, output, pooling, out):
    """Inference without learning on sequences, each from a reset.

    Sequence ``i`` has steps ``i * n_steps .. (i + 1) * n_steps - 1``, whose active
    columns are ``columns[step_start[t]:step_start[t + 1]]``. For each step the
    requested ``output`` (``ACTIVE_CELLS``, ``PREDICTED_CELLS``: the active cells
    that were predicted, ``PREDICTIVE_COLUMNS``: the columns predicted for the
    next step, ``ANOMALY``: the raw anomaly) goes to ``out[i, t]`` with
    ``pooling=PER_STEP``, or is pooled into ``out[i, 0]`` (``UNION``: maximum,
    ``COUNT`` and ``MEAN``: sum; the caller divides by ``n_steps``).
    """
    n_cells = indptr.shape[0] - 1
    n_columns = n_cells // cells_per_column
    cpc_shift = _log2(cells_per_column)
    n_sequences = out.shape[0]
    column_active = np.zeros(n_columns, np.bool_)
    column_predicted = np.zeros(n_columns, np.bool_)
    column_mark = np.zeros(n_columns, np.bool_)
    cell_mark = np.zeros(n_cells, np.bool_)
    segment_count = np.zeros(segment_cell.shape[0], np.int32)
    touched = np.empty(segment_cell.shape[0], np.int64)
    predictive = np.empty(n_cells, np.int64)
    next_predictive = np.empty(n_cells, np.int64)
    active = np.empty(n_cells, np.int64)
    for seq in range(n_sequences):
        n_predictive = 0
        for step in range(n_steps):
            t = seq * n_steps + step
            lo = step_start[t]
            hi = step_start[t + 1]
            row = step if pooling == PER_STEP else 0
            for i in range(lo, hi):
                column_active[columns[i]] = True
            # Predicted cells of active columns become active ...
            n_active = 0
            for i in range(n_predictive):
                cell = predictive[i]
                column = _column(cell, cells_per_column, cpc_shift)
                if column_active[column]:
                    active[n_active] = cell
                    n_active += 1
                    column_predicted[column] = True
            if output == PREDICTED_CELLS:
                for i in range(n_active):
                    _emit(out, seq, row, active[i], 1.0, pooling)
            # ... the other active columns burst.
            n_bursting = 0
            for i in range(lo, hi):
                column = columns[i]
                if not column_predicted[column]:
                    n_bursting += 1
                    for k in range(cells_per_column):
                        active[n_active] = column * cells_per_column + k
                        n_active += 1
            if output == ACTIVE_CELLS:
                for i in range(n_active):
                    _emit(out, seq, row, active[i], 1.0, pooling)
            elif output == ANOMALY:
                score = n_bursting / (hi - lo) if hi > lo else 0.0
                _emit(out, seq, row, 0, score, pooling)
            for i in range(lo, hi):
                column_active[columns[i]] = False
                column_predicted[columns[i]] = False
            # Segments with enough active connected synapses predict their cell.
            # The cells of a bursting column are consecutive, so their synapses
            # are one run of the index: no lookup per cell. The threshold is
            # tested once per touched segment, not at every synapse.
            n_touched = 0
            n_correct = n_active - n_bursting * cells_per_column
            for i in range(n_correct):
                cell = active[i]
                n_touched = _count_synapses(indptr[cell], indptr[cell + 1], index_segments,
                                            segment_count, touched, n_touched)
            for i in range(n_correct, n_active, cells_per_column):
                first = active[i]
                n_touched = _count_synapses(indptr[first], indptr[first + cells_per_column],
                                            index_segments, segment_count, touched, n_touched)
            n_next = 0
            for i in range(n_touched):
                s = touched[i]
                if segment_count[s] >= activation_threshold:
                    predicted_cell = segment_cell[s]
                    if not cell_mark[predicted_cell]:
                        cell_mark[predicted_cell] = True
                        next_predictive[n_next] = predicted_cell
                        n_next += 1
                segment_count[s] = 0
            for i in range(n_next):
                cell_mark[next_predictive[i]] = False
                predictive[i] = next_predictive[i]
            n_predictive = n_next
            if output == PREDICTIVE_COLUMNS:
                for i in range(n_predictive):
                    column = _column(predictive[i], cells_per_column, cpc_shift)
                    if not column_mark[column]:
                        column_mark[column] = True
                        _emit(out, seq, row, column, 1.0, pooling)
                for i in range(n_predictive):
                    column_mark[_column(predictive[i], cells_per_column, cpc_shift)] = False


@jit
def _count_synapses(lo, hi, index_segments, segment_count, touched, n_touched):
    """Count the connected synapses ``index_segments[lo:hi]`` on their segments;
    segments counted for the first time this step join ``touched``. Returns the
    new length of ``touched``."""
    for k in range(lo, hi):
        s = index_segments[k]
        count = segment_count[s]
        if count == 0:
            touched[n_touched] = s
            n_touched += 1
        segment_count[s] = count + 1
    return n_touched


@jit
def _emit(out, seq, row, feature, value, pooling):
    if pooling == UNION:
        if out[seq, row, feature] < value:
            out[seq, row, feature] = value
    elif pooling == PER_STEP:
        out[seq, row, feature] = value
    else:
        out[seq, row, feature] += value


def learn(model, columns, step_start, reset_before, first, stop, reset_after, int_params,
          float_params, anomaly):
    """:func:`learn_steps` on a model made by :func:`new_model` (one kernel call).

    Returns ``(done, status)`` as Python ints.
    """
    done, status = learn_steps(
        columns, step_start, reset_before, first, stop, reset_after,
        model["segment_cell"], model["segment_last_used"], model["segment_n_synapses"],
        model["presynaptic_cell"], model["permanence"], model["synapse_next"],
        model["synapse_prev"], model["cell_first_synapse"], model["cell_n_segments"],
        model["free_segments"], model["stream_active_cells"], model["stream_winner_cells"],
        model["segment_n_connected"], model["segment_n_potential"], model["touched_segments"],
        model["counts"], model["rng_state"], int_params, float_params, anomaly)
    return int(done), int(status)
