"""Temporal Memory kernels: the synapse store against recounts, rebuilds and the batch path."""

import collections
import copy
import inspect

import numpy as np
import pytest

from skhtm import TemporalMemoryTransformer
from skhtm import _temporal_memory as K

# Two memories that churn their storage: synapses and segments are destroyed
# (decrements, predicted_segment_decrement), full cells replace segments, and
# segments either widen (first) or replace their weakest synapses (second).
CHURN = {
    "widening": dict(max_synapses_per_segment=32, max_segments_per_cell=3),
    "full segments": dict(max_synapses_per_segment=6, max_segments_per_cell=2),
}


def _random_sdrs(rng, n, n_columns, n_active):
    sdrs = np.zeros((n, n_columns), np.uint8)
    for row in sdrs:
        row[rng.choice(n_columns, n_active, replace=False)] = 1
    return sdrs


@pytest.fixture(scope="module")
def sequences():
    rng = np.random.RandomState(0)
    alphabet = _random_sdrs(rng, 10, 128, 10)
    return alphabet[rng.randint(0, 10, size=(40, 8))]


@pytest.fixture(scope="module", params=list(CHURN))
def churned(request, sequences):
    """A fitted memory, and how often each storage path ran while it learned."""
    counts = collections.Counter()

    def counting(name, condition):
        real = getattr(K, name)
        signature = inspect.signature(real)

        def wrapper(*args, **kwargs):
            counts[name] += bool(condition(signature.bind(*args, **kwargs).arguments))
            return real(*args, **kwargs)
        return wrapper

    with pytest.MonkeyPatch.context() as mp:
        for name, condition in [
            ("_widen", lambda a: True),
            ("rebuild_reverse_index", lambda a: True),
            ("destroy_segments", lambda a: a["segments"].size),
            ("destroy_synapses", lambda a: a["ids"].size),
            ("create_segments", lambda a: (  # a full cell loses a segment
                a["conn"].cell_n_segments[a["cells"]] >= a["max_segments_per_cell"]).any()),
        ]:
            mp.setattr(K, name, counting(name, condition))
        tm = TemporalMemoryTransformer(
            cells_per_column=4, activation_threshold=3, min_threshold=2,
            max_new_synapse_count=5, predicted_segment_decrement=0.05, n_epochs=3,
            random_state=0, **CHURN[request.param]).fit(sequences)
    return tm, counts, request.param


def test_churn_exercises_every_storage_path(churned):
    tm, counts, name = churned
    conn = tm.connections_
    assert counts["destroy_synapses"] and counts["destroy_segments"]
    assert counts["create_segments"]  # full cells lost a segment
    assert counts["rebuild_reverse_index"] and conn.reverse_fill.max() > 8
    assert conn.free_segments.size > 0
    if name == "widening":
        assert counts["_widen"] and conn.width > 8
    else:
        assert conn.width == 6
        n_syn = (conn.presynaptic_cell[:conn.n_allocated] >= 0).sum(axis=1)
        assert n_syn.max() == 6  # full segments exist


def _reverse_rows(conn):
    """Row of ``reverse`` of every cell (-1: none)."""
    return getattr(conn, "reverse_row", np.arange(conn.n_cells))


def _check_reverse_index(conn):
    flat = conn.presynaptic_cell.ravel()
    ids = np.flatnonzero(flat >= 0)
    cells = flat[ids]
    row_of = _reverse_rows(conn)
    has_row = row_of >= 0
    assert np.unique(row_of[has_row]).size == has_row.sum()  # one row per cell
    cell_of = np.full(conn.reverse.shape[0], -1)
    cell_of[row_of[has_row]] = np.flatnonzero(has_row)
    # Every synapse sits in its presynaptic cell's row, where reverse_pos says.
    rows = row_of[cells]
    assert np.all(rows >= 0)
    pos = conn.reverse_pos.ravel()[ids]
    assert np.all(pos < conn.reverse_fill[rows])
    np.testing.assert_array_equal(conn.reverse[rows, pos], ids)
    # Every live entry is an existing synapse of its row's cell, listed once;
    # the rest is holes (-1).
    r, c = np.nonzero(conn.reverse >= 0)
    entries = conn.reverse[r, c]
    assert np.all(c < conn.reverse_fill[r])
    np.testing.assert_array_equal(flat[entries], cell_of[r])
    assert np.unique(entries).size == entries.size == ids.size
    # The same sets as a rebuild from the synapse arrays.
    fresh = copy.deepcopy(conn)
    K.rebuild_reverse_index(fresh)
    fresh_row_of = _reverse_rows(fresh)
    for cell in np.flatnonzero(has_row | (fresh_row_of >= 0)):
        old = conn.reverse[row_of[cell]] if row_of[cell] >= 0 else np.zeros(0, int)
        new = fresh.reverse[fresh_row_of[cell]]
        assert set(old[old >= 0]) == set(new[new >= 0]), cell
    assert set(np.flatnonzero(fresh_row_of >= 0)) >= set(cells)


def test_reverse_index_matches_the_synapse_arrays(churned):
    _check_reverse_index(churned[0].connections_)


def test_segment_bookkeeping(churned):
    tm, _, _ = churned
    conn = tm.connections_
    n = conn.n_allocated
    owner = conn.segment_cell
    assert np.all(owner[n:] == -1) and np.all(conn.presynaptic_cell[n:] == -1)
    live = owner[:n] >= 0
    np.testing.assert_array_equal(
        conn.cell_n_segments, np.bincount(owner[:n][live], minlength=conn.n_cells))
    assert conn.cell_n_segments.max() <= tm.max_segments_per_cell
    # Free slots: exactly the dead ones below the high-water mark, listed once,
    # and without synapses.
    assert np.unique(conn.free_segments).size == conn.free_segments.size
    assert set(conn.free_segments) == set(np.flatnonzero(~live))
    assert np.all(conn.presynaptic_cell[:n][~live] == -1)
    assert np.all(conn.permanence[:n][~live] == 0)
    # Live segments: 1 .. max_synapses_per_segment synapses to distinct cells,
    # with permanences in (0, 1]; empty slots hold 0.
    presyn = conn.presynaptic_cell[:n][live]
    perm = conn.permanence[:n][live]
    exists = presyn >= 0
    assert np.all(exists.any(axis=1))
    assert exists.sum(axis=1).max() <= tm.max_synapses_per_segment
    for row, ok in zip(presyn, exists):
        assert np.unique(row[ok]).size == ok.sum()
    assert np.all(presyn < conn.n_cells)
    assert np.all((perm[exists] > 0) & (perm[exists] <= 1))
    assert np.all(perm[~exists] == 0)
    assert tm.n_segments_ == live.sum() and tm.n_synapses_ == exists.sum()


def test_learn_step_without_learning_matches_batch_inference(churned, sequences):
    tm, _, _ = churned
    conn = tm.connections_
    before = copy.deepcopy(conn)
    p = tm._params()
    cpc = tm.cells_per_column
    rng = np.random.default_rng(0)
    X = sequences[:20].astype(bool)
    X[5:10] = X[5:10, ::-1]  # and some sequences the memory does not know
    X[10:15, 3] = False  # an empty step

    batch = collections.defaultdict(dict)

    def emit(t, active, correct, anomaly, predictive):
        for key, (seq, cell) in (("active", active), ("correct", correct),
                                 ("predictive", predictive)):
            for i in range(len(X)):
                batch[i, t][key] = set(cell[seq == i].tolist())
        for i in range(len(X)):
            batch[i, t]["anomaly"] = float(anomaly[i])

    K.infer_sequences(K.connected_index(conn, p.connected_permanence),
                      conn.segment_cell[:conn.n_allocated], conn.n_columns, cpc, X,
                      p.activation_threshold, emit)
    n_predicted_steps = 0
    for i, seq in enumerate(X):
        state = K.StreamState()
        for t, step in enumerate(seq):
            out = K.learn_step(conn, state, np.flatnonzero(step), p, rng, 10**6, learn=False)
            got = batch[i, t]
            assert set(out["active_cells"].tolist()) == got["active"], (i, t)
            assert set(out["predicted_cells"].tolist()) == got["correct"], (i, t)
            predictive = set(conn.segment_cell[state.active_segments].tolist())
            assert predictive == got["predictive"], (i, t)
            n_active = step.sum()
            n_hit = len({cell // cpc for cell in got["correct"]})
            anomaly = 1 - n_hit / n_active if n_active else 0.0
            assert out["anomaly"] == pytest.approx(anomaly)
            assert got["anomaly"] == pytest.approx(anomaly)
            n_predicted_steps += bool(got["correct"])
    assert n_predicted_steps > 20  # the comparison covers predicted steps, not only bursts
    # Without learning, nothing changed.
    for key, value in vars(before).items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(getattr(conn, key), value, err_msg=key)
        else:
            assert getattr(conn, key) == value, key


def test_full_cell_replaces_its_least_recently_used_segment():
    conn = K.Connections(n_columns=3, cells_per_column=2, width=4)
    cells = np.array([1])
    first = K.create_segments(conn, cells, iteration=1, max_segments_per_cell=2)
    second = K.create_segments(conn, cells, iteration=2, max_segments_per_cell=2)
    conn.segment_last_used[second] = 0  # used longest ago
    K.grow_synapses(conn, second, np.array([2]), np.array([3, 4]), 0.3, 4,
                    np.random.default_rng(0))
    third = K.create_segments(conn, cells, iteration=3, max_segments_per_cell=2)
    np.testing.assert_array_equal(third, second)  # the freed slot is reused
    assert conn.segment_cell[first[0]] == 1 and conn.segment_cell[third[0]] == 1
    assert conn.cell_n_segments[1] == 2 and conn.n_segments == 2
    assert np.all(conn.presynaptic_cell[third] == -1)  # its old synapses are gone
    assert conn.segment_last_used[third[0]] == 3
    _check_reverse_index(conn)


def test_full_segment_replaces_its_weakest_synapses():
    conn = K.Connections(n_columns=4, cells_per_column=2, width=4)
    seg = K.create_segments(conn, np.array([0]), 1, 10)
    rng = np.random.default_rng(0)
    K.grow_synapses(conn, seg, np.array([4]), np.array([2, 3, 4, 5]), 0.3, 4, rng)
    order = np.argsort(conn.presynaptic_cell[seg[0]])
    conn.permanence[seg[0], order] = [0.6, 0.1, 0.5, 0.2]  # cells 2, 3, 4, 5
    K.grow_synapses(conn, seg, np.array([2]), np.array([2, 6, 7]), 0.3, 4, rng)
    presyn = conn.presynaptic_cell[seg[0]]
    assert sorted(presyn.tolist()) == [2, 4, 6, 7]  # 3 and 5 were the weakest
    perm = dict(zip(presyn.tolist(), conn.permanence[seg[0]].tolist()))
    assert perm[2] == pytest.approx(0.6) and perm[6] == pytest.approx(0.3)
    _check_reverse_index(conn)


def test_adapt_destroys_dead_synapses_and_empty_segments():
    conn = K.Connections(n_columns=4, cells_per_column=2, width=4)
    segs = K.create_segments(conn, np.array([0, 1]), 1, 10)
    rng = np.random.default_rng(0)
    K.grow_synapses(conn, segs, np.array([2, 2]), np.array([4, 5]), 0.05, 4, rng)
    prev_active = np.zeros(conn.n_cells + 1, bool)  # the extra entry: empty slots (-1)
    prev_active[4] = True
    # Segment 0 keeps its synapse from active cell 4; everything else dies.
    K.adapt_segments(conn, segs[:1], prev_active, 0.1, 0.1)
    K.adapt_segments(conn, segs[1:], np.zeros(conn.n_cells + 1, bool), 0.1, 0.1)
    assert conn.presynaptic_cell[segs[0]].tolist().count(4) == 1
    assert conn.n_synapses == 1 and conn.n_segments == 1
    assert conn.segment_cell[segs[1]] == -1 and segs[1] in conn.free_segments
    np.testing.assert_array_equal(conn.cell_n_segments[:2], [1, 0])
    _check_reverse_index(conn)


def test_segment_activity_and_connected_index_against_naive_counts(churned):
    tm, _, _ = churned
    conn = tm.connections_
    rng = np.random.RandomState(1)
    active = np.flatnonzero(rng.rand(conn.n_cells) < 0.2)
    n_connected, n_potential = K.segment_activity(conn, active, tm.connected_permanence)
    presyn = conn.presynaptic_cell[:conn.n_allocated]
    perm = conn.permanence[:conn.n_allocated]
    on = np.isin(presyn, active)
    np.testing.assert_array_equal(n_potential, on.sum(axis=1))
    np.testing.assert_array_equal(n_connected,
                                  (on & (perm >= tm.connected_permanence)).sum(axis=1))
    indptr, segments = K.connected_index(conn, tm.connected_permanence)
    for c in rng.choice(conn.n_cells, 50, replace=False):
        expected = np.flatnonzero(((presyn == c) & (perm >= tm.connected_permanence)).any(1))
        np.testing.assert_array_equal(np.sort(segments[indptr[c]:indptr[c + 1]]), expected)

