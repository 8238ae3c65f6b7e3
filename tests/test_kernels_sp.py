"""The numeric kernels, against plain reference implementations."""

import numpy as np
import pytest

from skhtm import _spatial_pooling as K
from skhtm import _topology as T


def test_global_winners_picks_top_k_with_rank_tie_break():
    rng = np.random.RandomState(0)
    scores = rng.randint(0, 5, size=(20, 50))  # many ties
    rank = rng.permutation(50).astype(np.int32)
    winners = K.global_winners(scores, 7, rank, min_overlap=1)
    for row, won in zip(scores, winners):
        order = sorted(range(50), key=lambda c: (row[c], rank[c]), reverse=True)
        expected = [c for c in order[:7] if row[c] >= 1]
        assert sorted(np.flatnonzero(won)) == sorted(expected)


def test_global_winners_float_scores_match_lexicographic_order():
    rng = np.random.RandomState(1)
    overlaps = rng.randint(0, 6, size=(30, 40))
    boost = np.round(rng.uniform(0.5, 2.0, 40), 1)  # rounded: equal boosted values occur
    scores = overlaps * boost.astype(np.float32)
    rank = rng.permutation(40).astype(np.int32)
    winners = K.global_winners(scores, 5, rank, min_overlap=2, overlaps=overlaps)
    for s, o, won in zip(scores, overlaps, winners):
        eligible = [c for c in range(40) if o[c] >= 2]
        order = sorted(eligible, key=lambda c: (s[c], rank[c]), reverse=True)
        assert sorted(np.flatnonzero(won)) == sorted(order[:5])


def test_update_duty_cycles_closed_form_equals_loop():
    rng = np.random.RandomState(2)
    events = rng.rand(37, 11) < 0.3
    duty = rng.rand(11)
    for iteration, period in [(0, 10), (5, 1000), (500, 20)]:
        expected = duty.copy()
        for j, e in enumerate(events):
            p = min(iteration + j + 1, period)
            expected = (expected * (p - 1) + e) / p
        got = K.update_duty_cycles(duty, events, iteration, period)
        np.testing.assert_allclose(got, expected, rtol=1e-10)


@pytest.mark.parametrize("n_samples", [1, 3, 70, 130])
def test_synapse_statistics_match_naive_counts(n_samples):
    rng = np.random.RandomState(3)
    indptr, indices = T.potential_pools((12,), (30,), None, 0.5, True, rng)
    winners = rng.rand(n_samples, 12) < 0.3
    winners[:, 0] = False  # a column that never wins
    inputs = rng.rand(n_samples, 30) < 0.5
    columns, synapses, hits, wins = K.synapse_statistics(indptr, indices, winners, inputs)
    ids = np.arange(indices.size)[synapses]
    col_of = K.synapse_columns(indptr)
    assert set(columns) == set(np.flatnonzero(winners.any(axis=0)))
    assert set(col_of[ids]) == set(columns)
    for syn, h, w in zip(ids, hits, wins):
        c, i = col_of[syn], indices[syn]
        assert w == winners[:, c].sum()
        assert h == (winners[:, c] & inputs[:, i]).sum()


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


def test_local_winners_respect_neighbourhood_quota():
    rng = np.random.RandomState(5)
    shape = (12, 12)
    scores = rng.randint(1, 20, size=(4, 144))
    rank = rng.permutation(144).astype(np.int32)
    offsets = T.neighbourhood_offsets(shape, 2)
    winners = K.local_winners(scores, 3, rank, shape, offsets, True, min_overlap=1)
    assert winners.any(axis=1).all()
    for row, won in zip(scores, winners):
        grid = won.reshape(shape)
        for y, x in zip(*np.nonzero(grid)):
            me = y * 12 + x
            others = [((y + dy) % 12) * 12 + (x + dx) % 12 for dy, dx in offsets]
            beaten = sum((row[o], rank[o]) > (row[me], rank[me]) for o in others)
            assert beaten < 3


def test_connected_matrix_counts_only_connected_synapses():
    rng = np.random.RandomState(6)
    indptr, indices = T.potential_pools((20,), (15,), None, 0.6, True, rng)
    perms = rng.rand(indices.size).astype(np.float32)
    compact = K.connected_matrix(indptr, indices, perms >= 0.5, 15)
    full = K.pool_matrix(indptr, indices, perms >= 0.5, 15)
    x = rng.rand(9, 15) < 0.5
    dense = np.zeros((20, 15))
    dense[K.synapse_columns(indptr), indices] = perms >= 0.5
    expected = x.astype(int) @ dense.T
    np.testing.assert_array_equal(K.compute_overlaps(compact, x), expected)
    np.testing.assert_array_equal(K.compute_overlaps(full, x), expected)
