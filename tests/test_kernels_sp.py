"""The Spatial Pooler kernels, against the brute-force BAMI reference (tests/sp_reference.py).

Small workloads: CI also runs this file with NUMBA_DISABLE_JIT=1, the kernels as
plain Python.
"""

import numpy as np
import pytest
from sp_reference import (
    ReferenceSP,
    inhibition_radius,
    n_active_of,
    neighbourhood,
    neighbourhood_max,
    neighbourhood_mean,
    pools_of,
    winners,
)

from skhtm import SpatialPoolerTransformer
from skhtm import _spatial_pooling as K
from skhtm import _topology as T


def _bits(n, n_inputs, density, seed):
    return (np.random.RandomState(seed).rand(n, n_inputs) < density).astype(np.uint8)


# ------------------------------------------------------------- inhibition

def test_global_winners_by_counts_and_by_scores_match_sorting():
    rng = np.random.RandomState(0)
    n = 50
    rank = rng.permutation(n).astype(np.int32)
    by_rank = np.empty(n, np.int64)
    by_rank[n - 1 - rank] = np.arange(n)
    for trial in range(30):
        overlaps = rng.randint(0, 6, n).astype(np.int32)  # many ties
        k, min_overlap = rng.randint(1, 12), rng.randint(1, 4)
        boost = np.round(rng.uniform(0.5, 2.0, n), 1).astype(np.float32)  # equal products occur
        scores = overlaps.astype(np.float32) * boost
        got = np.zeros(n, np.uint8)
        K._global_winners_counts(overlaps, k, min_overlap, by_rank, np.zeros(7, np.int64), got)
        expected = winners(overlaps.astype(np.float32), overlaps, rank, min_overlap,
                           global_inhibition=True, k=k)
        np.testing.assert_array_equal(got.astype(bool), expected)
        expected = winners(scores, overlaps, rank, min_overlap, global_inhibition=True, k=k)
        histogram = np.zeros(1 << 15, np.int32)
        K._global_winners_scores(scores, overlaps, k, min_overlap, rank,
                                 np.empty(n, np.int64), got, histogram)
        np.testing.assert_array_equal(got.astype(bool), expected)
        assert not histogram.any()  # left clean for the next sample


@pytest.mark.parametrize("shape", [(5, 7), (6, 6), (3, 9), (12,)])
@pytest.mark.parametrize("wrap_around", [True, False])
@pytest.mark.parametrize("radius", [1, 2, 4, 20])
def test_neighbourhoods_match_the_distance_definition(shape, wrap_around, radius):
    column_shape = np.array(shape, np.int64)
    coords, strides = K.column_coordinates(column_shape)
    nb_coords, nb_counts = K.neighbourhoods(column_shape, radius, wrap_around)
    sizes = K.neighbourhood_sizes(coords, nb_counts)
    values = np.random.RandomState(1).rand(coords.shape[0])
    means = K.neighbourhood_reduce(values, coords, strides, nb_coords, nb_counts, False)
    maxima = K.neighbourhood_reduce(values, coords, strides, nb_coords, nb_counts, True)
    for c in range(coords.shape[0]):
        hood = neighbourhood(c, shape, radius, wrap_around)
        assert sizes[c] == len(hood)  # no column counted twice, none missing
    np.testing.assert_allclose(means, neighbourhood_mean(values, shape, radius, wrap_around),
                               rtol=1e-12)
    np.testing.assert_array_equal(maxima, neighbourhood_max(values, shape, radius, wrap_around))
    n_active = K.local_n_active(sizes, 0.3, 0)
    assert [n_active_of(s, 0.3, None) for s in sizes] == list(n_active)


LOCAL_CASES = {
    "square, wrap": dict(column_shape=(6, 6), wrap_around=True, radius=2),
    "square, no wrap": dict(column_shape=(6, 6), wrap_around=False, radius=2),
    "non-square, wrap": dict(column_shape=(4, 10), wrap_around=True, radius=2),
    "non-square, no wrap": dict(column_shape=(4, 10), wrap_around=False, radius=2),
    "radius >= side/2, wrap": dict(column_shape=(4, 10), wrap_around=True, radius=3),
    "radius >= side/2, no wrap": dict(column_shape=(4, 10), wrap_around=False, radius=3),
    "radius past every side": dict(column_shape=(4, 10), wrap_around=False, radius=12),
    "per-column n_active": dict(column_shape=(5, 8), wrap_around=False, radius=2,
                                n_active_columns=3),
    "stimulus threshold": dict(column_shape=(6, 6), wrap_around=True, radius=1,
                               stimulus_threshold=3),
    "1-D": dict(column_shape=(30,), wrap_around=False, radius=4),
}


@pytest.mark.parametrize("case", list(LOCAL_CASES))
def test_transform_winners_match_reference(case):
    params = dict(LOCAL_CASES[case])
    radius = params.pop("radius")
    X = _bits(12, 40, 0.4, 2)
    shape = params["column_shape"]
    input_shape = (40,) if len(shape) == 1 else (4, 10)
    for global_inhibition in (False, True):
        est = SpatialPoolerTransformer(**params, input_shape=input_shape, potential_radius=2,
                                       potential_pct=0.6, global_inhibition=global_inhibition,
                                       local_area_density=0.2, random_state=0).fit(X)
        est.inhibition_radius_ = radius
        ref = ReferenceSP(est)
        ref.radius = radius
        got = est.transform(X).astype(bool)
        for x, out in zip(X, got):
            _, expected = ref.active_columns(x)
            np.testing.assert_array_equal(out, expected)
        assert got.any()


@pytest.mark.parametrize("wrap_around", [True, False])
def test_local_inhibition_keeps_the_target_density(wrap_around):
    # The (4, 32) grid of the issue: 28.6% active without wrap-around before the fix.
    rng = np.random.RandomState(3)
    column_shape = np.array([4, 32], np.int64)
    coords, strides = K.column_coordinates(column_shape)
    nb_coords, nb_counts = K.neighbourhoods(column_shape, 5, wrap_around)
    n_active = K.local_n_active(K.neighbourhood_sizes(coords, nb_counts), 0.2, 0)
    rank = rng.permutation(128).astype(np.int32)
    fractions = []
    for _ in range(20):
        overlaps = rng.permutation(128).astype(np.int32) + 1  # no ties
        won = np.zeros(128, np.uint8)
        K._local_winners(overlaps.astype(np.float32), overlaps, n_active, 1, rank, coords,
                         strides, nb_coords, nb_counts, np.zeros(2, np.int64), won)
        fractions.append(won.mean())
    assert 0.17 < np.mean(fractions) < 0.23, np.mean(fractions)


# --------------------------------------------------------------- learning

LEARNING_CASES = {
    "online, global, boost": dict(batch_size=1, boost_strength=3.0),
    "mini-batch, global, boost": dict(batch_size=5, boost_strength=3.0),
    "mini-batch over 64 samples": dict(batch_size=66, boost_strength=3.0),
    "online, local, wrap": dict(batch_size=1, global_inhibition=False, column_shape=(4, 8)),
    "mini-batch, local, no wrap": dict(batch_size=4, global_inhibition=False,
                                       column_shape=(4, 8), wrap_around=False),
}


@pytest.mark.parametrize("case", list(LEARNING_CASES))
def test_learning_matches_reference(case):
    """Every synapse of every winner (increment, decrement, clip, trim), the raise to
    the stimulus threshold, duty cycles, boosting, bumping and the radius update."""
    params = dict(column_shape=32, input_shape=(4, 8), potential_radius=2, potential_pct=0.7,
                  local_area_density=0.15, stimulus_threshold=2, syn_perm_connected=0.3,
                  syn_perm_active_inc=0.2, syn_perm_inactive_dec=0.15, duty_cycle_period=20,
                  min_pct_overlap_duty_cycle=0.3, random_state=0)
    params.update(LEARNING_CASES[case])
    X = _bits(70, 32, 0.35, 4)
    X[:, :8] = 0  # the first row of inputs never fires: columns over it never overlap
    est = SpatialPoolerTransformer(**params).partial_fit(X[:1])
    ref = ReferenceSP(est)
    before = est.permanences_.data.copy()
    est.partial_fit(X[1:])
    ref.learn(X[1:])
    _, perms = pools_of(est)
    for c in range(est.n_columns_):
        np.testing.assert_array_equal(perms[c], ref.perms[c], err_msg=f"column {c}")
    np.testing.assert_array_equal(est.active_duty_cycles_, ref.active)
    np.testing.assert_array_equal(est.overlap_duty_cycles_, ref.overlap)
    np.testing.assert_array_equal(est.min_overlap_duty_cycles_, ref.min_overlap_duty)
    np.testing.assert_allclose(est.boost_factors_, ref.boost, rtol=1e-12)
    assert est.inhibition_radius_ == ref.radius
    assert est.n_iterations_ == ref.iteration == 70
    # The comparison exercised every part of the rule.
    assert not np.array_equal(before, est.permanences_.data)
    for event in ("clipped_high", "clipped_low", "trimmed", "bumped"):
        assert ref.events[event] > 0, event


def test_boost_factors_follow_the_exponential_rule():
    X = _bits(40, 32, 0.3, 5)
    est = SpatialPoolerTransformer(48, local_area_density=0.1, boost_strength=2.5,
                                   batch_size=1, random_state=0).fit(X)
    target = round(0.1 * 48) / 48
    expected = np.exp((target - est.active_duty_cycles_) * 2.5)
    np.testing.assert_allclose(est.boost_factors_, expected, rtol=1e-12)
    assert est.boost_factors_.min() < 1 < est.boost_factors_.max()


def test_column_that_never_overlaps_is_bumped():
    X = _bits(80, 32, 0.4, 6)
    X[:, :8] = 0
    est = SpatialPoolerTransformer(32, input_shape=(4, 8), potential_radius=0, potential_pct=1.0,
                                   syn_perm_connected=0.5, min_pct_overlap_duty_cycle=0.1,
                                   duty_cycle_period=30, batch_size=1, random_state=0)
    est.partial_fit(X[:60])  # the minimum duty cycles are set at iteration 50
    silent = [c for c in range(32) if est.overlap_duty_cycles_[c] == 0]
    assert silent
    before = est.permanences_[silent].toarray()
    est.partial_fit(X[60:])
    after = est.permanences_[silent].toarray()
    on = before > 0
    step = np.float32(0.5 / 10.0)
    expected = before.astype(np.float32)
    for _ in range(20):
        expected = np.minimum(expected + step, np.float32(1.0))
    np.testing.assert_array_equal(after[on], expected[on])


def test_inhibition_radius_follows_the_receptive_fields():
    X = _bits(60, 64, 0.4, 7)
    est = SpatialPoolerTransformer((8, 8), input_shape=(8, 8), potential_radius=3,
                                   potential_pct=0.8, global_inhibition=False,
                                   batch_size=10, random_state=0).fit(X)
    inputs, perms = pools_of(est)
    assert est.inhibition_radius_ == inhibition_radius(inputs, perms, 0.1, (8, 8), 1.0)
    # Starve the receptive fields: narrow ones give a smaller radius.
    data = est.permanences_.data
    pm = est.permanences_
    for c in range(64):
        row = slice(pm.indptr[c], pm.indptr[c + 1])
        keep = np.abs(np.arange(row.stop - row.start) - (row.stop - row.start) // 2) <= 1
        data[row] = np.where(keep, 0.9, 0.0).astype(np.float32)
    indptr, indices, _ = est._pool_arrays()
    narrow = K.inhibition_radius(indptr, indices, data, np.float32(0.1),
                                 np.array([8, 8], np.int64), 1.0)
    inputs, perms = pools_of(est)
    assert narrow == inhibition_radius(inputs, perms, 0.1, (8, 8), 1.0)
    assert narrow < est.inhibition_radius_


def test_update_duty_cycles_is_the_moving_average():
    rng = np.random.RandomState(2)
    events = (rng.rand(37, 11) < 0.3).astype(np.uint8)
    duty = rng.rand(11)
    for iteration, period in [(0, 10), (5, 1000), (500, 20)]:
        got = duty.copy()
        expected = list(duty)
        for j, e in enumerate(events):
            K._update_duty_cycle(got, e, iteration + j, period)
            p = min(iteration + j + 1, period)
            expected = [(d * (p - 1) + int(v)) / p for d, v in zip(expected, e)]
        np.testing.assert_array_equal(got, expected)


def test_raise_to_threshold_connects_enough_synapses():
    perms = np.array([0.0, 0.05, 0.31, 0.02, 0.6, 0.1], np.float32)
    indptr = np.array([0, 3, 6], np.int64)
    for c, target in [(0, 2), (1, 3)]:
        K.raise_to_threshold(perms, indptr, c, np.float32(0.3), np.float32(0.03), float(target))
        assert (perms[indptr[c]:indptr[c + 1]] >= np.float32(0.3)).sum() >= target
    assert perms[0] < 0.3 <= perms[1]  # raised just enough: the weakest stays below


def test_journal_undoes_a_learning_call():
    X = _bits(30, 32, 0.4, 8)
    est = SpatialPoolerTransformer(40, batch_size=3, min_pct_overlap_duty_cycle=0.5,
                                   random_state=0).fit(X[:10])
    perms = est.permanences_.data
    before = perms.copy()
    journal = (np.zeros(40, np.uint8), np.empty(40, np.int32), np.empty(perms.size, np.float32),
               np.array([0, 0, 1], np.int64))

    original = K.learn

    def learn_then_fail(*args):
        original(*args[:-4], *journal)
        raise KeyboardInterrupt

    try:
        K.learn = learn_then_fail
        with pytest.raises(KeyboardInterrupt):
            est.partial_fit(X[10:])
    finally:
        K.learn = original
    assert journal[3][0] > 0  # the call had changed columns before it failed
    K.undo_journal(perms, est._pool_arrays()[0], journal[1], journal[2], journal[3])
    np.testing.assert_array_equal(perms, before)


# ---------------------------------------------------------------- topology

def test_potential_pools_stay_within_radius_and_fraction():
    rng = np.random.RandomState(4)
    indptr, indices = T.potential_pools((10, 10), (20, 20), 3, 0.5, False, rng)
    centres = T.column_centres((10, 10), (20, 20))
    for c in range(100):
        pool = indices[indptr[c]:indptr[c + 1]]
        assert np.all(np.diff(pool) > 0)  # sorted, no duplicates
        rows, cols = np.unravel_index(pool, (20, 20))
        assert np.all(np.abs(rows - centres[c, 0]) <= 3)
        assert np.all(np.abs(cols - centres[c, 1]) <= 3)
        lo = np.maximum(centres[c] - 3, 0)
        hi = np.minimum(centres[c] + 3, 19)
        window = np.prod(hi - lo + 1)
        assert pool.size == int(window * 0.5 + 0.5)


def test_overlaps_count_only_connected_synapses():
    rng = np.random.RandomState(6)
    indptr, indices = T.potential_pools((20,), (15,), None, 0.6, True, rng)
    indptr = indptr.astype(np.int64)
    perms = rng.rand(indices.size).astype(np.float32)
    x = _bits(9, 15, 0.5, 9)
    conn_indptr = np.empty(21, np.int64)
    conn_inputs = np.empty(indices.size, np.int32)
    K.connected_pool(indptr, indices, perms, np.float32(0.5), conn_indptr, conn_inputs)
    by_input = K.transpose_pool(indptr, indices, 15)
    one = np.empty(20, np.int32)
    for dtype in (np.uint16, np.int32):  # int32: pools that can count past 65,535
        width = K.BLOCK_WIDTH
        block = np.zeros((width, 20), dtype)
        K._block_overlaps(conn_indptr, conn_inputs, x, 0, 9, np.empty((15, width), dtype),
                          np.empty(width, dtype), block)
        for j, row in enumerate(x):
            expected = [sum(1 for s in range(indptr[c], indptr[c + 1])
                            if perms[s] >= np.float32(0.5) and row[indices[s]])
                        for c in range(20)]
            np.testing.assert_array_equal(block[j], expected)
            K._sample_overlaps(*by_input, perms, np.float32(0.5), row, one)
            np.testing.assert_array_equal(one, expected)
        assert block[9:].sum() == 0  # rows past the block's samples are not written


def test_byte_lane_overlaps_match_counting():
    # Pools up to 255 synapses: overlaps in byte lanes, transposed 8 columns at a time
    # (13 columns: the last group of 8 is padding and must stay 0).
    rng = np.random.RandomState(11)
    n_inputs, n_columns = 300, 13
    indptr, indices = T.potential_pools((n_columns,), (n_inputs,), None, 0.85, True, rng)
    indptr = indptr.astype(np.int64)
    perms = rng.rand(indices.size).astype(np.float32)
    perms[indptr[3]:indptr[4]] = 1.0  # a column with 255 connected synapses
    assert indptr[4] - indptr[3] == 255
    x = _bits(70, n_inputs, 0.9, 12)
    x[5] = 1  # every input on: column 3 counts 255
    conn_indptr = np.empty(n_columns + 1, np.int64)
    conn_inputs = np.empty(indices.size, np.int32)
    K.connected_pool(indptr, indices, perms, np.float32(0.5), conn_indptr, conn_inputs)
    width = K.BLOCK_WIDTH
    block = np.full((width, 16), 7, np.uint8)
    counted = []
    for start, n_rows in ((0, width), (width, 6)):
        K._block_overlaps_bytes(conn_indptr, conn_inputs, x, start, n_rows,
                                np.empty((n_inputs, width), np.uint8), block)
        for j in range(n_rows):
            expected = [sum(1 for s in range(indptr[c], indptr[c + 1])
                            if perms[s] >= np.float32(0.5) and x[start + j, indices[s]])
                        for c in range(n_columns)]
            np.testing.assert_array_equal(block[j, :n_columns], expected)
            counted.append(block[j, 3])
        assert not block[:, n_columns:].any()
        assert not block[n_rows:].any()
    assert counted[5] == 255  # the largest count a byte lane holds


def test_global_winners_of_bytes_match_sorting_whatever_the_guess():
    rng = np.random.RandomState(3)
    n = 61
    rank = rng.permutation(n).astype(np.int32)
    by_rank = np.empty(n, np.int64)
    by_rank[n - 1 - rank] = np.arange(n)
    for trial in range(60):
        row = np.zeros(64, np.uint8)  # padded past n
        row[:n] = rng.randint(0, rng.choice([3, 8, 40]), n)  # many ties
        k, min_overlap = rng.randint(1, 70), rng.randint(1, 5)
        got = np.zeros(n, np.uint8)
        v = K._global_winners_bytes(row, n, k, min_overlap, by_rank, rng.randint(0, 45), got)
        expected = winners(row[:n].astype(np.float32), row[:n].astype(np.int32), rank,
                           min_overlap, global_inhibition=True, k=k)
        np.testing.assert_array_equal(got.astype(bool), expected)
        if (row[:n] >= min_overlap).sum() > k:  # v: the k-th best overlap
            assert v == np.sort(row[:n])[::-1][k - 1]
