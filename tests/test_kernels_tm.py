"""Temporal Memory kernels: the synapse store, growth of the arrays, and a differential
test against the brute-force BAMI reference (tests/tm_reference.py).

Small workloads: CI also runs this file with NUMBA_DISABLE_JIT=1.
"""

import copy

import numpy as np
import pytest
import tm_reference as R

from skhtm import TemporalMemoryTransformer
from skhtm import _temporal_memory as K
from skhtm import temporal_memory as tm_module

# Two memories that churn their storage: synapses and segments are destroyed
# (decrements, predicted_segment_decrement), full cells replace segments, and
# segments either widen (first) or replace their weakest synapses (second).
CHURN = {
    "widening": dict(max_synapses_per_segment=32, max_segments_per_cell=3),
    "full segments": dict(max_synapses_per_segment=6, max_segments_per_cell=2),
}
CHURN_PARAMS = dict(cells_per_column=4, activation_threshold=3, min_threshold=2,
                    max_new_synapse_count=5, predicted_segment_decrement=0.05, n_epochs=3,
                    random_state=0)


def _random_sdrs(rng, n, n_columns, n_active):
    sdrs = np.zeros((n, n_columns), np.uint8)
    for row in sdrs:
        row[rng.choice(n_columns, n_active, replace=False)] = 1
    return sdrs


def _params(tm):
    width = tm._model["presynaptic_cell"].shape[1]
    return R.Params(**{name: getattr(tm, name) for name in (
        "cells_per_column", "activation_threshold", "min_threshold", "initial_permanence",
        "connected_permanence", "permanence_increment", "permanence_decrement",
        "predicted_segment_decrement", "max_new_synapse_count", "max_segments_per_cell",
        "max_synapses_per_segment")}, width=width)


@pytest.fixture(scope="module")
def sequences():
    rng = np.random.RandomState(0)
    alphabet = _random_sdrs(rng, 10, 128, 10)
    return alphabet[rng.randint(0, 10, size=(30, 8))]


@pytest.fixture(scope="module", params=list(CHURN))
def churned(request, sequences, monkeypatch_module):
    # Start with room for 4 segments, so that the arrays grow while learning.
    monkeypatch_module.setattr(tm_module, "_INITIAL_CAPACITY", 4)
    tm = TemporalMemoryTransformer(**CHURN_PARAMS, **CHURN[request.param]).fit(sequences)
    return tm, request.param


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


# ------------------------------------------------------------------ storage

def _check_storage(tm):
    model = tm._model
    counts = model["counts"]
    n = int(counts[K.N_ALLOCATED])
    owner = model["segment_cell"]
    presyn, perm = model["presynaptic_cell"], model["permanence"]
    capacity, width = presyn.shape
    assert np.all(owner[n:] == -1) and np.all(presyn[n:] == -1)
    live = owner[:n] >= 0
    np.testing.assert_array_equal(model["cell_n_segments"],
                                  np.bincount(owner[:n][live], minlength=tm.n_cells_))
    assert model["cell_n_segments"].max() <= min(tm.max_segments_per_cell,
                                                 counts[K.MOST_SEGMENTS])
    # Free slots: exactly the dead ones below the high-water mark, listed once.
    free = model["free_segments"][:counts[K.N_FREE]]
    assert np.unique(free).size == free.size
    assert set(free.tolist()) == set(np.flatnonzero(~live).tolist())
    assert np.all(presyn[:n][~live] == -1) and np.all(perm[:n][~live] == 0)
    # Live segments: 1 .. max_synapses_per_segment synapses from distinct cells,
    # permanences in (0, 1]; empty slots hold 0.
    exists = presyn >= 0
    np.testing.assert_array_equal(model["segment_n_synapses"], exists.sum(axis=1))
    assert np.all(exists[:n][live].any(axis=1))
    assert exists.sum(axis=1).max() <= tm.max_synapses_per_segment
    for row, ok in zip(presyn[:n][live], exists[:n][live]):
        assert np.unique(row[ok]).size == ok.sum()
    assert np.all((perm[exists] > 0) & (perm[exists] <= 1)) and np.all(perm[~exists] == 0)
    # Each cell's linked list holds exactly the synapses from it, once, and the
    # back links mirror the forward ones.
    nxt, prv = model["synapse_next"], model["synapse_prev"]
    listed = {}
    for cell in range(tm.n_cells_):
        synapse, previous = model["cell_first_synapse"][cell], -1
        while synapse >= 0:
            assert synapse not in listed and prv[synapse] == previous
            listed[synapse] = cell
            previous, synapse = synapse, nxt[synapse]
    flat = presyn.ravel()
    assert listed == {int(i): int(flat[i]) for i in np.flatnonzero(flat >= 0)}
    assert np.all(nxt[flat < 0] == -1) and np.all(prv[flat < 0] == -1)
    assert tm.n_segments_ == live.sum() and tm.n_synapses_ == exists.sum()


def test_churn_keeps_the_storage_consistent(churned):
    tm, name = churned
    _check_storage(tm)
    model = tm._model
    capacity, width = model["presynaptic_cell"].shape
    assert capacity > 4  # the segment arrays grew
    assert model["counts"][K.N_FREE] > 0  # segments were destroyed
    if name == "widening":
        assert width > 8  # segments widened
    else:
        assert width == 8 and model["segment_n_synapses"].max() == 6  # full segments


def test_growing_the_arrays_does_not_change_what_is_learned(churned, sequences):
    # The same fit with room for everything from the start: the same segments
    # (same ids), synapses and stream; only the unused capacity differs.
    tm, name = churned
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tm_module, "_INITIAL_CAPACITY", 4096)
        roomy = TemporalMemoryTransformer(**CHURN_PARAMS, **CHURN[name]).fit(sequences)
    a, b = tm._model, roomy._model
    n = int(a["counts"][K.N_ALLOCATED])
    np.testing.assert_array_equal(a["counts"], b["counts"])
    width = min(a["presynaptic_cell"].shape[1], b["presynaptic_cell"].shape[1])
    for key in ("segment_cell", "segment_last_used", "segment_n_synapses"):
        np.testing.assert_array_equal(a[key][:n], b[key][:n], err_msg=key)
    for key in ("presynaptic_cell", "permanence"):
        np.testing.assert_array_equal(a[key][:n, :width], b[key][:n, :width], err_msg=key)
    np.testing.assert_array_equal(tm.transform(sequences), roomy.transform(sequences))


def test_a_step_that_could_run_out_of_room_changes_nothing():
    model = K.new_model(n_cells=32, capacity=2, width=4, seed=1)
    before = copy.deepcopy(model)
    columns = np.array([1, 3, 5], np.int32)
    step_start = np.array([0, 3], np.int64)
    anomaly = np.full(1, -1.0, np.float32)
    ints = np.array([4, 2, 1, 4, 8, 8], np.int64)
    floats = np.array([0.3, 0.5, 0.1, 0.1, 0.0], np.float32)
    done, status = K.learn(model, columns, step_start, np.ones(1, bool), 0, 1, False, ints,
                           floats, anomaly)
    assert (done, status) == (0, K.NEED_SEGMENTS)
    for key in before:
        np.testing.assert_array_equal(model[key], before[key], err_msg=key)
    assert anomaly[0] == -1
    grown = K.grow_segments(model, 4)
    for key in before:  # growing makes new arrays
        np.testing.assert_array_equal(model[key], before[key], err_msg=key)
    assert K.learn(grown, columns, step_start, np.ones(1, bool), 0, 1, False, ints, floats,
                   anomaly) == (1, K.DONE)
    assert anomaly[0] == 1.0 and grown["counts"][K.ITERATION] == 1


def test_active_columns_and_connected_index_against_numpy(churned, sequences):
    tm, _ = churned
    X = sequences.astype(bool).reshape(-1, 128)
    columns, start = K.active_columns(X.view(np.uint8).view(np.uint64), X.view(np.uint8))
    for r, row in enumerate(X):
        np.testing.assert_array_equal(columns[start[r]:start[r + 1]], np.flatnonzero(row))
    model = tm._model
    n = int(model["counts"][K.N_ALLOCATED])
    indptr, segments = K.connected_index(model["presynaptic_cell"], model["permanence"], n,
                                         tm.n_cells_, np.float32(tm.connected_permanence))
    presyn, perm = model["presynaptic_cell"][:n], model["permanence"][:n]
    for c in range(tm.n_cells_):
        expected = np.flatnonzero(((presyn == c) & (perm >= tm.connected_permanence)).any(1))
        np.testing.assert_array_equal(np.sort(segments[indptr[c]:indptr[c + 1]]), expected)


# ------------------------------------------------------- against the reference

def test_inference_equals_the_reference(churned, sequences):
    tm, _ = churned
    cpc = tm.cells_per_column
    X = sequences[:12].astype(bool)
    X[4:8] = X[4:8, ::-1]  # and some sequences the memory does not know
    X[8:12, 3] = False  # an empty step
    outputs = {}
    for output in ("active_cells", "predicted_cells", "predictive_columns", "anomaly"):
        outputs[output] = copy.deepcopy(tm).set_params(output=output, pooling=None) \
            .transform(X)
    memory = R.from_model(tm._model, _params(tm), tm.n_columns_)
    n_predicted = 0
    for i, seq in enumerate(X):
        for t, ref in enumerate(R.infer(memory, seq)):
            assert set(np.flatnonzero(outputs["active_cells"][i, t])) == set(
                ref["active_cells"]), (i, t)
            assert set(np.flatnonzero(outputs["predicted_cells"][i, t])) == set(
                ref["predicted_cells"]), (i, t)
            assert set(np.flatnonzero(outputs["predictive_columns"][i, t])) == {
                c // cpc for c in ref["predictive_cells"]}, (i, t)
            assert outputs["anomaly"][i, t, 0] == pytest.approx(ref["anomaly"])
            n_predicted += bool(ref["predicted_cells"])
    assert n_predicted > 20  # the comparison covers predicted steps, not only bursts


def _branching_stream(seed, n_steps=120, n_columns=48, n_active=5):
    """A stream of 6 SDRs where each is followed by one of two successors:
    predictions are often wrong (punishment) and contexts many (replacement)."""
    rng = np.random.RandomState(seed)
    alphabet = _random_sdrs(rng, 6, n_columns, n_active)
    successors = rng.randint(0, 6, size=(6, 2))
    state, steps = 0, []
    for _ in range(n_steps):
        steps.append(alphabet[state])
        state = successors[state, rng.randint(2)]
    return np.array(steps)


def test_learning_equals_the_reference_step_by_step():
    # One cell per column and max_new_synapse_count >= the active columns: no
    # random choice, so every step must give exactly the reference's result
    # from the same starting state (segment ids apart).
    stream = _branching_stream(3)
    tm = TemporalMemoryTransformer(
        cells_per_column=1, activation_threshold=3, min_threshold=2, initial_permanence=0.3,
        permanence_increment=0.1, permanence_decrement=0.05, predicted_segment_decrement=0.04,
        max_new_synapse_count=8, max_segments_per_cell=2, max_synapses_per_segment=6,
        random_state=0)
    events = []
    memory = None
    for t, step in enumerate(stream):
        if t:
            memory = R.from_model(tm._model, _params(tm), tm.n_columns_)
        anomaly = tm.partial_fit_anomaly(step[None])[0]
        if memory is None:
            memory = R.Memory(_params(tm), tm.n_columns_, iteration=0)
        ref = memory.step(np.flatnonzero(step), rng=None)
        assert anomaly == pytest.approx(ref["anomaly"]), t
        after = R.from_model(tm._model, _params(tm), tm.n_columns_)
        assert after.segment_multiset() == memory.segment_multiset(), t
        assert after.active_cells == sorted(ref["active_cells"]), t
        assert sorted(after.winner_cells) == sorted(ref["winner_cells"]), t
        events += memory.events
    kinds = {e[0] for e in events}
    # Every rule the test is for was exercised: punishment of matching segments
    # in inactive columns, least-recently-used replacement where the oldest
    # segment is not the newest id, last use refreshed by activity, and full
    # segments replacing their weakest synapses.
    assert {"punished", "refreshed", "weakest replaced"} <= kinds, kinds
    assert any(e[0] == "replaced" and e[1] != e[2] for e in events), events


def test_learning_statistics_match_the_reference():
    # Several cells per column: winner cells and synapses are drawn at random,
    # so compare what the two learn, not the synapses one by one.
    rng = np.random.RandomState(1)
    alphabet = _random_sdrs(rng, 8, 64, 6)
    X = alphabet[rng.randint(0, 8, size=(12, 6))]
    params = dict(cells_per_column=4, activation_threshold=4, min_threshold=3,
                  initial_permanence=0.4, predicted_segment_decrement=0.02,
                  max_new_synapse_count=6, max_segments_per_cell=4,
                  max_synapses_per_segment=12)
    n_epochs = 4
    tm = TemporalMemoryTransformer(**params, random_state=0)
    ours = [tm.partial_fit_anomaly(X) for _ in range(n_epochs)]
    memory = R.Memory(_params(tm), 64)
    generator = np.random.default_rng(0)
    theirs = []
    for _ in range(n_epochs):
        epoch = []
        for seq in X:
            memory.reset()
            epoch.append([memory.step(np.flatnonzero(s), rng=generator)["anomaly"]
                          for s in seq])
        theirs.append(np.array(epoch))
    memory.reset()
    n_segments, n_synapses = len(memory.segments), sum(
        len(s.slots) for s in memory.segments.values())
    assert abs(tm.n_segments_ - n_segments) <= 0.15 * n_segments, (tm.n_segments_, n_segments)
    assert abs(tm.n_synapses_ - n_synapses) <= 0.15 * n_synapses, (tm.n_synapses_, n_synapses)
    # The anomaly curve: epoch by epoch, the mean anomaly after the first step.
    curve_ours = [a[:, 1:].mean() for a in ours]
    curve_theirs = [a[:, 1:].mean() for a in theirs]
    np.testing.assert_allclose(curve_ours, curve_theirs, atol=0.08)
    assert curve_ours[-1] < 0.5 * curve_ours[0]  # and it did learn
