"""TemporalMemoryTransformer: sequence learning, anomalies, outputs, composition,
determinism, persistence, bad input."""

import copy

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline

import skhtm._temporal_memory
from skhtm import SpatialPoolerTransformer, TemporalMemoryTransformer

N_COLUMNS = 256
N_ACTIVE = 12
# Thresholds suited to ~12 active columns per SDR (the defaults suit ~40).
TM_PARAMS = dict(cells_per_column=8, activation_threshold=8, min_threshold=6,
                 max_new_synapse_count=12, random_state=0)
# Noisy inputs (a few bits moved per SDR): a lower threshold tolerates them.
NOISY_PARAMS = {**TM_PARAMS, "activation_threshold": 6, "min_threshold": 4}
OUTPUTS = ("active_cells", "predicted_cells", "predictive_columns", "anomaly")
POOLINGS = ("union", "count", "mean", None)


def random_sdrs(rng, n, n_columns=N_COLUMNS, n_active=N_ACTIVE):
    sdrs = np.zeros((n, n_columns), np.uint8)
    for row in sdrs:
        row[rng.choice(n_columns, n_active, replace=False)] = 1
    return sdrs


def with_noise(rng, sdr, n_moved):
    """``sdr`` with ``n_moved`` of its active bits moved to random inactive positions."""
    out = sdr.copy()
    out[rng.choice(np.flatnonzero(sdr), n_moved, replace=False)] = 0
    out[rng.choice(np.flatnonzero(sdr == 0), n_moved, replace=False)] = 1
    return out


def _snapshot(est):
    """A deep copy of everything fitted (all attributes but the parameters)."""
    params = est.get_params(deep=False)
    return copy.deepcopy({k: v for k, v in vars(est).items() if k not in params})


def _assert_same(a, b, path="estimator"):
    """Deep equality of estimator state: arrays, generators, nested objects."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype, path
        np.testing.assert_array_equal(a, b, err_msg=path)
    elif isinstance(a, np.random.Generator):
        assert a.bit_generator.state == b.bit_generator.state, path
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            _assert_same(a[key], b[key], f"{path}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{path}[{i}]")
    elif hasattr(a, "__dict__"):
        assert type(a) is type(b), path
        _assert_same(vars(a), vars(b), path)
    else:
        assert a == b, path


def _same(a, b):
    try:
        _assert_same(a, b)
    except AssertionError:
        return False
    return True


def clone_with(est, **params):
    """A copy of a fitted estimator with other (inference) parameters."""
    return copy.deepcopy(est).set_params(**params)


def _connections(est):
    conn = est.connections_
    return conn.segment_cell, conn.presynaptic_cell, conn.permanence


# ------------------------------------------------------------------ data

@pytest.fixture(scope="module")
def high_order():
    """Pairs A-B-C-D / X-B-C-Y of random SDRs sharing the sub-sequence B-C."""
    rng = np.random.RandomState(0)
    seqs = []
    for _ in range(8):
        a, b, c, d, x, y = random_sdrs(rng, 6)
        seqs += [[a, b, c, d], [x, b, c, y]]
    return np.array(seqs)


@pytest.fixture(scope="module")
def high_order_tm(high_order):
    # While B-C is still unknown, C bursts and the cells that learn "Y after C"
    # may be those later used for C in A-B-C; without predicted_segment_decrement
    # such a segment would keep predicting Y there for ever.
    return TemporalMemoryTransformer(**TM_PARAMS, predicted_segment_decrement=0.05,
                                     n_epochs=20).fit(high_order)


@pytest.fixture(scope="module")
def order_task():
    """Two classes: the same 5 SDRs in two orders, with 2 of 12 bits moved per step."""
    rng = np.random.RandomState(0)
    base = random_sdrs(rng, 5)
    p0 = p1 = rng.permutation(5)
    while np.array_equal(p0, p1):
        p1 = rng.permutation(5)
    y = np.repeat([0, 1], 120)
    X = np.array([[with_noise(rng, base[i], 2) for i in (p0, p1)[label]] for label in y])
    return train_test_split(X, y, test_size=0.5, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def stream():
    """One stream: a cycle of 6 SDRs repeated 4 times."""
    cycle = random_sdrs(np.random.RandomState(1), 6)
    return np.tile(cycle, (4, 1))


@pytest.fixture(scope="module")
def stream_tm(stream):
    # To the memory the stream is one long high-order sequence (each repeat is a
    # new context, so a stream repeating without resets is never fully learned
    # in one pass). With one-shot learning (new synapses start connected), 20
    # passes, each from a reset, learn all 24 steps.
    return TemporalMemoryTransformer(**TM_PARAMS, initial_permanence=0.5, n_epochs=20,
                                     output="anomaly").fit(stream)


# ------------------------------------------------------- (a) high order

def test_high_order_sequences_predict_the_right_last_element(high_order, high_order_tm):
    tm = clone_with(high_order_tm, output="predictive_columns", pooling=None)
    n = len(high_order)
    predicted = tm.transform(high_order).astype(bool)
    assert predicted.shape == (n, 4, N_COLUMNS)
    after_c = predicted[:, 2]  # columns predicted for the step after "C"
    true = high_order[:, 3].astype(bool)
    # The other sequence of the pair ends differently; bits it shares by chance
    # with the true ending do not count.
    wrong = high_order[np.arange(n) ^ 1, 3].astype(bool) & ~true
    hit = (after_c & true).sum(axis=1) / true.sum(axis=1)
    false = (after_c & wrong).sum(axis=1) / wrong.sum(axis=1)
    assert np.all(hit >= 0.9), hit
    assert np.all(false <= 0.1), false

    anomaly = clone_with(high_order_tm, output="anomaly", pooling=None).transform(
        high_order)[..., 0]
    np.testing.assert_array_equal(anomaly[:, 0], 1.0)  # nothing is predicted after a reset
    assert anomaly[:, 1:].max() <= 0.05, anomaly

    # "B after A" and "B after X": same columns, different cells.
    cells = clone_with(high_order_tm, output="active_cells", pooling=None).transform(
        high_order)[:, 1].astype(bool)
    cpc = tm.cells_per_column
    for i in range(0, n, 2):
        a, x = cells[i], cells[i + 1]
        np.testing.assert_array_equal(a.reshape(-1, cpc).any(1), x.reshape(-1, cpc).any(1))
        assert (a & x).sum() <= 0.1 * a.sum()


def test_first_order_memory_cannot_tell_the_endings_apart(high_order):
    # The same test with one cell per column (no context) must fail: after "C"
    # it predicts both endings.
    tm = TemporalMemoryTransformer(**{**TM_PARAMS, "cells_per_column": 1},
                                   predicted_segment_decrement=0.05, n_epochs=20,
                                   output="predictive_columns", pooling=None).fit(high_order)
    n = len(high_order)
    after_c = tm.transform(high_order).astype(bool)[:, 2]
    true = high_order[:, 3].astype(bool)
    wrong = high_order[np.arange(n) ^ 1, 3].astype(bool) & ~true
    false = (after_c & wrong).sum(axis=1) / wrong.sum(axis=1)
    assert np.mean(false >= 0.5) >= 0.5, false


# ------------------------------------------------------------- (b) order

def test_order_of_the_same_sdrs_is_learned(order_task):
    X_train, X_test, y_train, y_test = order_task
    pipe = make_pipeline(
        TemporalMemoryTransformer(**NOISY_PARAMS, n_epochs=5, output="active_cells",
                                  pooling="union"),
        LogisticRegression(max_iter=2000))
    acc = pipe.fit(X_train, y_train).score(X_test, y_test)
    assert acc >= 0.95, acc

    chance = DummyClassifier().fit(X_train[:, 0], y_train).score(X_test[:, 0], y_test)
    assert chance == pytest.approx(0.5)
    clf = LogisticRegression(max_iter=2000)
    for pool in (np.max, np.sum):  # order-free pooling of the raw SDRs
        raw = clf.fit(pool(X_train, axis=1), y_train).score(pool(X_test, axis=1), y_test)
        assert raw <= max(0.65, chance + 0.15), (pool.__name__, raw)

    # Without learning (synapses never reach the connected permanence) the
    # memory only bursts: its union is as order-free as the raw union.
    frozen = make_pipeline(
        TemporalMemoryTransformer(**NOISY_PARAMS, n_epochs=5, permanence_increment=0.0),
        LogisticRegression(max_iter=2000))
    assert frozen.fit(X_train, y_train).score(X_test, y_test) <= max(0.65, chance + 0.15)


def test_pipeline_with_spatial_pooler_on_a_batch_of_sequences():
    # Raw patterns (128 bits) -> SP maps every step -> TM -> classifier.
    rng = np.random.RandomState(2)
    base = random_sdrs(rng, 5, n_columns=128, n_active=16)
    orders = (np.array([0, 1, 2, 3, 4]), np.array([3, 1, 4, 0, 2]))
    y = np.repeat([0, 1], 80)
    X = np.array([[with_noise(rng, base[i], 2) for i in orders[label]] for label in y])
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=0,
                                                        stratify=y)
    pipe = make_pipeline(
        SpatialPoolerTransformer(256, n_active_columns=12, random_state=0),
        TemporalMemoryTransformer(**NOISY_PARAMS, n_epochs=5),
        LogisticRegression(max_iter=2000))
    pipe.fit(X_train, y_train)
    sdrs = pipe[0].transform(X_test)
    assert sdrs.shape == (len(X_test), 5, 256)
    assert np.all(sdrs.sum(axis=2) == 12)
    assert pipe[:2].transform(X_test).shape == (len(X_test), 256 * 8)
    assert pipe.score(X_test, y_test) >= 0.95


def test_grid_search_over_activation_threshold(order_task):
    X_train, X_test, y_train, y_test = order_task
    pipe = make_pipeline(TemporalMemoryTransformer(**NOISY_PARAMS, n_epochs=4),
                         LogisticRegression(max_iter=2000))
    # 40 > max_new_synapse_count: no segment can ever become active.
    grid = GridSearchCV(pipe, {"temporalmemorytransformer__activation_threshold": [6, 40]},
                        cv=3).fit(X_train, y_train)
    assert grid.best_params_ == {"temporalmemorytransformer__activation_threshold": 6}
    scores = grid.cv_results_["mean_test_score"]
    assert scores[0] >= 0.95 and scores[1] <= 0.7, scores
    assert grid.score(X_test, y_test) >= 0.95


# ----------------------------------------------------------- (c) anomaly

def test_anomaly_of_a_learned_stream_and_of_a_novel_element(stream, stream_tm):
    anomaly = stream_tm.transform(stream)
    assert anomaly.shape == (len(stream), 1) and anomaly.dtype == np.float32
    assert anomaly[0, 0] == 1.0
    assert anomaly[1:].max() <= 0.05, anomaly.ravel()

    rng = np.random.RandomState(3)
    k = 14
    changed = stream.copy()
    # A novel SDR, sharing no bit with the element it replaces.
    changed[k] = 0
    changed[k, rng.choice(np.flatnonzero(stream[k] == 0), N_ACTIVE, replace=False)] = 1
    a = stream_tm.transform(changed)[:, 0]
    assert a[1:k].max() <= 0.05
    assert a[k] >= 0.9, a
    # The memory recovers: once an element bursts, its successor is predicted.
    assert a[k + 2:].mean() <= 0.1, a

    # score_samples of a stream is minus the anomaly of every step.
    np.testing.assert_allclose(stream_tm.score_samples(changed), -a)


def test_score_samples_is_higher_for_learned_sequences(stream, stream_tm):
    rng = np.random.RandomState(4)
    learned = np.stack([stream[s:s + 12] for s in range(0, 13, 2)])
    reversed_ = learned[:, ::-1]  # no learned transition survives
    shuffled = np.stack([seq[rng.permutation(12)] for seq in learned])
    novel = np.stack([random_sdrs(rng, 12) for _ in range(5)])
    s_learned = stream_tm.score_samples(learned)
    assert s_learned.shape == (len(learned),)
    assert s_learned.min() >= -0.05, s_learned
    for other in (reversed_, shuffled, novel):
        s_other = stream_tm.score_samples(other)
        assert s_other.max() < s_learned.min() - 0.3, s_other
    # One score per sequence: minus the mean anomaly over the steps after the first.
    anomaly = clone_with(stream_tm, pooling=None).transform(shuffled)[..., 0]
    np.testing.assert_allclose(stream_tm.score_samples(shuffled),
                               -anomaly[:, 1:].mean(axis=1), rtol=1e-6)


def test_a_stream_is_order_dependent(stream, stream_tm):
    # Rows of a 2-D input are one stream, not independent samples.
    forward = stream_tm.transform(stream[:12])[:, 0]
    assert forward[1:].max() <= 0.05
    steps = stream[:12][::-1]
    backward = stream_tm.transform(steps)[:, 0]
    # Backwards, each step was predicted to be the learned successor of the one
    # before: only the bits it shares with that successor by chance are predicted.
    cycle = stream[:6]
    position = [int(np.flatnonzero((cycle == row).all(axis=1))[0]) for row in steps]
    successor = cycle[(np.array(position) + 1) % 6]
    expected = 1 - (steps[1:] & successor[:-1]).sum(axis=1) / steps[1:].sum(axis=1)
    np.testing.assert_allclose(backward[1:], expected, atol=1e-6)
    assert backward.mean() >= 0.75


# ------------------------------------------------- outputs and their forms

@pytest.fixture(scope="module")
def probe(high_order):
    """Sequences the model predicts in part: learned, noisy, shuffled, with an empty step."""
    rng = np.random.RandomState(5)
    noisy = np.array([[with_noise(rng, s, 3) for s in seq] for seq in high_order])
    shuffled = high_order[:, [0, 2, 1, 3]]
    gap = high_order.copy()
    gap[:, 1] = 0
    return np.concatenate([high_order, noisy, shuffled, gap]).astype(np.uint8)


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("pooling", POOLINGS)
def test_output_shapes_dtypes_and_pooling(output, pooling, high_order_tm, probe):
    tm = clone_with(high_order_tm, output=output, pooling=pooling)
    n_features = {"anomaly": 1, "predictive_columns": N_COLUMNS}.get(output, N_COLUMNS * 8)
    n, n_steps = probe.shape[:2]
    out = tm.transform(probe)
    per_step = clone_with(high_order_tm, output=output, pooling=None).transform(probe)
    assert per_step.shape == (n, n_steps, n_features)
    if output == "anomaly":
        assert per_step.dtype == np.float32
    else:
        assert per_step.dtype == np.uint8 and set(np.unique(per_step)) == {0, 1}
    if pooling is None:
        expected = per_step
    elif pooling == "union":
        expected = per_step.max(axis=1)
    elif pooling == "count":
        expected = per_step.sum(axis=1, dtype=np.float64)
    else:
        expected = per_step.mean(axis=1, dtype=np.float64)
    float_out = output == "anomaly" or pooling == "mean"
    expected_dtype = np.float32 if float_out else (np.int32 if pooling == "count" else np.uint8)
    assert out.dtype == expected_dtype and out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    assert len(tm.get_feature_names_out()) == n_features == out.shape[-1]

    # A stream is returned step by step, whatever the pooling.
    stream_out = tm.transform(probe[3])
    assert stream_out.shape == (n_steps, n_features) and stream_out.dtype == per_step.dtype
    np.testing.assert_array_equal(stream_out, per_step[3])

    # sparse_output: CSR for a 2-D output, an error for a 3-D one.
    tm.set_params(sparse_output=True)
    sparse_stream = tm.transform(probe[3])
    assert sp.issparse(sparse_stream) and sparse_stream.format == "csr"
    np.testing.assert_array_equal(sparse_stream.toarray(), stream_out)
    if pooling is None:
        with pytest.raises(ValueError, match="TemporalMemoryTransformer.*sparse_output"):
            tm.transform(probe)
    else:
        sparse_out = tm.transform(probe)
        assert sparse_out.format == "csr" and sparse_out.dtype == out.dtype
        np.testing.assert_allclose(sparse_out.toarray(), out, rtol=1e-6)


def test_outputs_agree_with_each_other(high_order_tm, probe):
    def run(output):
        return clone_with(high_order_tm, output=output, pooling=None).transform(probe)

    cpc = high_order_tm.cells_per_column
    X = probe.astype(bool)
    active = run("active_cells").astype(bool).reshape(X.shape + (cpc,))
    correct = run("predicted_cells").astype(bool).reshape(X.shape + (cpc,))
    predictive = run("predictive_columns").astype(bool)
    anomaly = run("anomaly")[..., 0]
    # Active cells lie in the active columns; every active column has some.
    np.testing.assert_array_equal(active.any(axis=-1), X)
    assert not (correct & ~active).any()
    # A column with correctly predicted cells activates just those; the others burst.
    predicted_col = correct.any(axis=-1)
    np.testing.assert_array_equal(active[predicted_col], correct[predicted_col])
    assert active[X & ~predicted_col].all()
    # What was predicted at step t is what is found correct at step t + 1.
    np.testing.assert_array_equal(predicted_col[:, 1:], X[:, 1:] & predictive[:, :-1])
    assert not predicted_col[:, 0].any()
    n_active = X.sum(axis=-1)
    expected = np.where(n_active > 0, 1 - predicted_col.sum(axis=-1) / np.maximum(n_active, 1),
                        0.0)
    np.testing.assert_allclose(anomaly, expected, atol=1e-6)
    # The probe has every kind of step.
    assert (anomaly[:, 1:] == 0).any() and (anomaly[:, 1:] == 1).any()
    assert ((anomaly > 0) & (anomaly < 1)).any()
    # An empty step scores 0, predicts nothing, and the step after it bursts.
    gap = n_active[:, 1] == 0
    assert gap.any() and not predictive[gap, 1].any() and (anomaly[gap, 2] == 1).all()


def test_sparse_and_bool_input_give_the_same_result(stream, stream_tm):
    dense = stream_tm.transform(stream)
    np.testing.assert_array_equal(stream_tm.transform(sp.csr_matrix(stream)), dense)
    np.testing.assert_array_equal(stream_tm.transform(stream.astype(bool)), dense)
    a = TemporalMemoryTransformer(**TM_PARAMS).fit(sp.csr_matrix(stream))
    b = TemporalMemoryTransformer(**TM_PARAMS).fit(stream.astype(np.float64))
    _assert_same(_snapshot(a), _snapshot(b))


def test_transform_uses_the_current_connected_permanence(stream):
    # Like activation_threshold, a connected_permanence set after fit applies to
    # transform at once: the output depends on the connections and the
    # parameters, not on whether a partial_fit ran in between.
    tm = TemporalMemoryTransformer(**TM_PARAMS, initial_permanence=0.5,
                                   output="anomaly").fit(stream)
    conn = tm.connections_
    perm = conn.permanence[conn.presynaptic_cell >= 0]
    assert perm.max() < 0.99 and tm.transform(stream)[1:].min() < 1  # it predicts at 0.5
    tm.set_params(connected_permanence=0.99)  # now no synapse is connected
    # One step after a reset learns nothing: same connections, same parameters.
    noop = copy.deepcopy(tm).partial_fit(stream[:1], reset=True)
    for x, y in zip(_connections(tm), _connections(noop)):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(noop.transform(stream), 1.0)  # nothing can be predicted
    np.testing.assert_array_equal(tm.transform(stream), noop.transform(stream))


# ------------------------------------------------------- (d) determinism

def test_same_random_state_same_connections_and_outputs(high_order):
    a = TemporalMemoryTransformer(**TM_PARAMS, n_epochs=4).fit(high_order)
    b = TemporalMemoryTransformer(**TM_PARAMS, n_epochs=4).fit(high_order)
    for x, y in zip(_connections(a), _connections(b)):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.transform(high_order), b.transform(high_order))
    _assert_same(_snapshot(a), _snapshot(b))
    # Refitting resets: the same model again, not more learning.
    a.fit(high_order)
    _assert_same(_snapshot(a), _snapshot(b))
    c = TemporalMemoryTransformer(**{**TM_PARAMS, "random_state": 1}, n_epochs=4).fit(
        high_order)
    assert not all(np.array_equal(x, y) for x, y in zip(_connections(a), _connections(c)))


@pytest.mark.parametrize("output,pooling", [("active_cells", None), ("anomaly", "mean"),
                                            ("predictive_columns", "count")])
def test_transform_does_not_depend_on_n_jobs_or_batch_split(output, pooling, high_order_tm,
                                                            probe):
    big = np.concatenate([probe] * 3)  # 192 sequences: several inference chunks
    one = clone_with(high_order_tm, output=output, pooling=pooling, n_jobs=1)
    two = clone_with(high_order_tm, output=output, pooling=pooling, n_jobs=2)
    full = one.transform(big)
    np.testing.assert_array_equal(full, two.transform(big))
    parts = np.concatenate([one.transform(big[s]) for s in
                            (slice(0, 1), slice(1, 37), slice(37, 100), slice(100, None))])
    np.testing.assert_array_equal(full, parts)
    np.testing.assert_array_equal(full[:len(probe)], full[len(probe):2 * len(probe)])


def test_partial_fit_in_chunks_continues_the_stream(stream):
    params = dict(TM_PARAMS, initial_permanence=0.5)
    whole = TemporalMemoryTransformer(**params).partial_fit(stream)
    chunked = TemporalMemoryTransformer(**params)
    for s in (slice(0, 7), slice(7, 8), slice(8, 20), slice(20, None)):
        chunked.partial_fit(stream[s])
    assert whole.n_iterations_ == chunked.n_iterations_ == len(stream)
    for x, y in zip(_connections(whole), _connections(chunked)):
        np.testing.assert_array_equal(x, y)
    _assert_same(_snapshot(whole), _snapshot(chunked))
    # fit learns the stream once from a reset: the same as one partial_fit.
    _assert_same(_snapshot(whole), _snapshot(TemporalMemoryTransformer(**params).fit(stream)))
    # Restarting the stream at a chunk boundary is a different history.
    restarted = TemporalMemoryTransformer(**params).partial_fit(stream[:7])
    restarted.partial_fit(stream[7:], reset=True)
    assert not _same(_snapshot(whole), _snapshot(restarted))
    # fit forgets everything learned before.
    refit = TemporalMemoryTransformer(**params).partial_fit(stream[::-1]).fit(stream)
    _assert_same(_snapshot(whole), _snapshot(refit))


def test_partial_fit_on_a_batch_learns_each_sequence_from_a_reset(high_order):
    batch = TemporalMemoryTransformer(**TM_PARAMS).partial_fit(high_order)
    one_by_one = TemporalMemoryTransformer(**TM_PARAMS)
    for seq in high_order:
        one_by_one.partial_fit(seq[None])
    _assert_same(_snapshot(batch), _snapshot(one_by_one))
    unshuffled = TemporalMemoryTransformer(**TM_PARAMS, shuffle=False).fit(high_order)
    _assert_same(_snapshot(batch), _snapshot(unshuffled))
    # A batch leaves the stream reset: a stream learned next starts afresh.
    a = copy.deepcopy(batch).partial_fit(high_order[0])
    b = copy.deepcopy(batch).partial_fit(high_order[0], reset=True)
    _assert_same(_snapshot(a), _snapshot(b))
    assert batch.n_iterations_ == high_order.shape[0] * high_order.shape[1]


# ------------------------------------------------------------ (e) joblib

def test_joblib_round_trip_and_continued_learning(tmp_path, stream):
    params = dict(TM_PARAMS, initial_permanence=0.5, output="active_cells")
    est = TemporalMemoryTransformer(**params).partial_fit(stream[:15])
    path = tmp_path / "tm.joblib"
    joblib.dump(est, path)
    loaded = joblib.load(path)
    _assert_same(_snapshot(est), _snapshot(loaded))
    for x, y in zip(_connections(est), _connections(loaded)):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(loaded.transform(stream), est.transform(stream))
    np.testing.assert_array_equal(loaded.score_samples(stream), est.score_samples(stream))
    # The loaded model continues the stream exactly as the original does ...
    est.partial_fit(stream[15:])
    loaded.partial_fit(stream[15:])
    _assert_same(_snapshot(est), _snapshot(loaded))
    np.testing.assert_array_equal(loaded.transform(stream), est.transform(stream))
    # ... which is learning the whole stream in one go.
    whole = TemporalMemoryTransformer(**params).partial_fit(stream)
    _assert_same(_snapshot(whole), _snapshot(loaded))


# --------------------------------------------------------- (g) bad input

@pytest.fixture
def bits():
    return (np.random.RandomState(0).rand(6, 5, 32) < 0.3).astype(np.uint8)


BAD_INPUTS = {
    "nan": (lambda X: np.where(X, np.nan, 0.0), "NaN"),
    "inf": (lambda X: np.where(X, np.inf, 0.0), "infinity"),
    "non-binary": (lambda X: X * 0.5, "requires binary input"),
    "grey levels": (lambda X: X * 7.0, "ThermometerEncoder"),
    "negative": (lambda X: -X.astype(float), "Negative values"),
    "1-D": (lambda X: X[0, 0], "1 dimension"),
    "4-D": (lambda X: X.reshape(2, 3, 5, 32), "4 dimension"),
    "empty sequences": (lambda X: X[:, :0], "empty batch"),
    "empty batch": (lambda X: X[:0], "empty batch"),
    "empty stream": (lambda X: X[0, :0], "0 sample"),
    "wrong width": (lambda X: X[..., :31], "31 features"),
    "wrong width stream": (lambda X: np.pad(X[0], ((0, 0), (0, 1))), "33 features"),
    "object dtype": (lambda X: np.where(X, "a", "b").astype(object), "convert"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_raises_clear_error_and_keeps_the_model(case, bits):
    make, message = BAD_INPUTS[case]
    est = TemporalMemoryTransformer(cells_per_column=4, activation_threshold=3,
                                    min_threshold=2, random_state=0).fit(bits)
    est.partial_fit(bits[0])  # a stream in progress, so there is stream state to keep
    before = _snapshot(est)
    untouched = copy.deepcopy(est)
    bad = make(bits)
    methods = [est.partial_fit, est.transform, est.score_samples]
    if not case.startswith("wrong width"):  # fit starts afresh, at any width
        methods.append(est.fit)
    for method in methods:
        with pytest.raises((ValueError, TypeError), match=message) as info:
            method(bad)
        assert "TemporalMemoryTransformer" in str(info.value), (method, info.value)
        _assert_same(before, _snapshot(est))
    # A good partial_fit afterwards does what it does on an untouched copy.
    est.partial_fit(bits[1])
    untouched.partial_fit(bits[1])
    _assert_same(_snapshot(untouched), _snapshot(est))
    assert not _same(before, _snapshot(est))  # and it did learn
    if not case.startswith("wrong width"):
        with pytest.raises((ValueError, TypeError), match=message):
            TemporalMemoryTransformer().fit(bad)


def test_failure_in_the_middle_of_learning_changes_nothing(monkeypatch, bits):
    est = TemporalMemoryTransformer(cells_per_column=4, activation_threshold=3,
                                    min_threshold=2, random_state=0).fit(bits)
    est.partial_fit(bits[0])
    before = _snapshot(est)
    untouched = copy.deepcopy(est)
    real = skhtm._temporal_memory.learn
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) > 2:  # some sequences have learned (one kernel call each) by now
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(skhtm._temporal_memory, "learn", failing)
    for method in (est.partial_fit, est.fit):
        calls.clear()
        with pytest.raises(KeyboardInterrupt):
            method(bits)
        _assert_same(before, _snapshot(est))
    # A first partial_fit that fails leaves the estimator unfitted.
    fresh = TemporalMemoryTransformer(cells_per_column=4, random_state=0)
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        fresh.partial_fit(bits)
    assert not [k for k in vars(fresh) if k.endswith("_")]
    monkeypatch.setattr(skhtm._temporal_memory, "learn", real)
    est.partial_fit(bits[1])
    untouched.partial_fit(bits[1])
    _assert_same(_snapshot(untouched), _snapshot(est))


def test_failed_first_partial_fit_leaves_estimator_unfitted(bits):
    est = TemporalMemoryTransformer()
    with pytest.raises(ValueError, match="TemporalMemoryTransformer"):
        est.partial_fit(bits * 0.5)
    assert not [k for k in vars(est) if k.endswith("_")]
    assert not hasattr(est, "_stream_state")


def test_transform_before_fit_raises(bits):
    with pytest.raises(NotFittedError):
        TemporalMemoryTransformer().transform(bits)
    with pytest.raises(NotFittedError):
        TemporalMemoryTransformer().score_samples(bits)


# ------------------------------------------------ streaming, step by step

def test_partial_fit_anomaly_scores_each_step_before_learning_it(high_order):
    # Two-step sequences: the first step after a reset learns nothing (no
    # previous winner cells), so the anomaly of the second step, scored before
    # learning it, is what transform says with the model as it was before the
    # sequence.
    pairs = high_order[:, 1:3]
    tm = TemporalMemoryTransformer(**TM_PARAMS, initial_permanence=0.5, output="anomaly",
                                   pooling=None)
    tm.partial_fit(pairs[:2])
    scores = []
    expected = []
    for _ in range(3):
        for pair in pairs:
            expected.append(tm.transform(pair[None])[0, :, 0])
            scores.append(tm.partial_fit_anomaly(pair[None])[0])
    scores, expected = np.array(scores), np.array(expected)
    assert scores.dtype == np.float32 and scores.shape == (3 * len(pairs), 2)
    np.testing.assert_array_equal(scores, expected)
    assert (scores[:, 1] == 0).any() and (scores[:, 1] == 1).any()  # learned and novel


def test_a_stream_learned_step_by_step_is_the_stream_learned_at_once(stream):
    params = dict(TM_PARAMS, initial_permanence=0.5)
    whole = TemporalMemoryTransformer(**params)
    at_once = whole.partial_fit_anomaly(stream)
    step_by_step = TemporalMemoryTransformer(**params)
    anomaly = np.concatenate([step_by_step.partial_fit_anomaly(step[None]) for step in stream])
    assert at_once.shape == (len(stream),)
    np.testing.assert_array_equal(anomaly, at_once)
    _assert_same(_snapshot(whole), _snapshot(step_by_step))
    # It learns: the second pass over the cycle is better predicted than the first.
    assert at_once[:6].mean() == 1.0 and at_once[-6:].mean() < 0.5
    # A batch reports (n_samples, n_steps) and leaves the stream reset.
    batch = TemporalMemoryTransformer(**params).partial_fit_anomaly(stream.reshape(4, 6, -1))
    assert batch.shape == (4, 6) and np.all(batch[:, 0] == 1.0)


@pytest.mark.parametrize("n_steps", [1, 24])
def test_a_call_that_fails_while_growing_changes_nothing(monkeypatch, stream, n_steps):
    # The model starts with room for a few segments; a call that needs more
    # grows the arrays (new ones) and commits only at the end.
    monkeypatch.setattr(skhtm.temporal_memory, "_INITIAL_CAPACITY", 8)
    params = dict(TM_PARAMS, initial_permanence=0.5)
    est = TemporalMemoryTransformer(**params).partial_fit(stream[:3])
    before = _snapshot(est)
    untouched = copy.deepcopy(est)
    real = skhtm._temporal_memory.grow_segments

    def failing(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(skhtm._temporal_memory, "grow_segments", failing)
    chunk = stream[3:3 + n_steps] if n_steps > 1 else random_sdrs(np.random.RandomState(9), 1)
    with pytest.raises(MemoryError):
        for _ in range(30):  # until a step needs more segment slots
            est.partial_fit(chunk)
            untouched.partial_fit(chunk)
            before = _snapshot(est)
    _assert_same(before, _snapshot(est))
    monkeypatch.setattr(skhtm._temporal_memory, "grow_segments", real)
    est.partial_fit(chunk)
    untouched.partial_fit(chunk)
    _assert_same(_snapshot(untouched), _snapshot(est))


# --------------------------------------------- parameters changed after fit

def test_cells_per_column_changed_after_fit_is_refused_and_harmless(stream):
    tm = TemporalMemoryTransformer(**TM_PARAMS, output="anomaly").fit(stream)
    expected = tm.transform(stream)
    before = _snapshot(tm)
    tm.set_params(cells_per_column=4)
    for method in (tm.partial_fit, tm.transform, tm.score_samples, tm.partial_fit_anomaly):
        with pytest.raises(ValueError, match="TemporalMemoryTransformer: cells_per_column"):
            method(stream)
        _assert_same(before, _snapshot(tm))
    tm.set_params(cells_per_column=TM_PARAMS["cells_per_column"])
    np.testing.assert_array_equal(tm.transform(stream), expected)
    tm.partial_fit(stream)  # and it learns on
    # fit starts afresh with the new value.
    tm.set_params(cells_per_column=4).fit(stream)
    assert tm.n_cells_ == 4 * N_COLUMNS and tm.transform(stream).shape == (len(stream), 1)


def test_limits_lowered_below_the_fitted_model_are_refused(high_order):
    # One cell per column: cells learn several contexts, so several segments.
    tm = TemporalMemoryTransformer(**{**TM_PARAMS, "cells_per_column": 1}, n_epochs=3).fit(
        high_order)
    most_synapses = int(tm.connections_.segment_n_synapses.max())
    most_segments = int(np.bincount(tm.connections_.segment_cell[
        tm.connections_.segment_cell >= 0]).max())
    assert most_synapses > 1 and most_segments > 1
    before = _snapshot(tm)
    for name, value in [("max_synapses_per_segment", most_synapses - 1),
                        ("max_segments_per_cell", most_segments - 1)]:
        lowered = copy.deepcopy(tm).set_params(**{name: value})
        with pytest.raises(ValueError, match=f"TemporalMemoryTransformer: {name}"):
            lowered.partial_fit(high_order)
        _assert_same(before, _snapshot(lowered))
        # Inference does not depend on the limits.
        np.testing.assert_array_equal(lowered.transform(high_order), tm.transform(high_order))
    # At the models' maxima (or above) they are honoured while learning on.
    capped = copy.deepcopy(tm).set_params(max_synapses_per_segment=most_synapses,
                                          max_segments_per_cell=most_segments)
    capped.partial_fit(high_order)
    assert capped.connections_.segment_n_synapses.max() <= most_synapses
    owners = capped.connections_.segment_cell
    assert np.bincount(owners[owners >= 0]).max() <= most_segments


@pytest.mark.parametrize("name", ["max_new_synapse_count", "activation_threshold",
                                  "min_threshold", "max_segments_per_cell",
                                  "max_synapses_per_segment", "cells_per_column"])
def test_huge_integer_parameters_are_clear_errors(name, stream):
    with pytest.raises(ValueError, match=f"{name}.*TemporalMemoryTransformer|"
                                         f"TemporalMemoryTransformer.*{name}"):
        TemporalMemoryTransformer(**{**TM_PARAMS, name: 10**30}).fit(stream)
    tm = TemporalMemoryTransformer(**TM_PARAMS).fit(stream)
    before = _snapshot(tm)
    tm.set_params(**{name: 10**30})  # partial_fit on a fitted model skips sklearn's checks
    with pytest.raises(ValueError, match=f"TemporalMemoryTransformer.*{name}"):
        tm.partial_fit(stream)
    _assert_same(before, _snapshot(tm))
