"""The object layer's kernels against plain numpy, compiled and (in CI) with
NUMBA_DISABLE_JIT=1."""

import numpy as np

from skhtm import _object_layer as K


def _data(seed=0, n=7, n_steps=5, n_columns=2, n_features=6, n_places=4):
    rng = np.random.RandomState(seed)
    features = rng.rand(n, n_steps, n_columns * n_features).astype(np.float32)
    place = rng.randint(0, n_places, size=(n, n_steps, n_columns)).astype(np.int64)
    mean = rng.rand(n_columns * n_places, n_features).astype(np.float32)
    scale = (0.5 + rng.rand(n_columns * n_places, n_features)).astype(np.float32)
    return features, place, mean, scale


def test_bind_columns_is_the_sum_of_centred_features_per_place():
    features, place, mean, scale = _data()
    n, n_steps, _ = features.shape
    place[0, 1, 0] = -1                                  # left out
    first = np.array([0, 4], dtype=np.int64)
    out = np.full((n, 8 * 6), np.nan, dtype=np.float32)
    K.bind_columns(features, place, mean, scale, first, 6, out)
    expected = np.zeros((n, 8, 6))
    for i in range(n):
        for g in range(n_steps):
            for k in range(2):
                if place[i, g, k] < 0:
                    continue
                q = first[k] + place[i, g, k]
                expected[i, q] += (features[i, g, k * 6:(k + 1) * 6] - mean[q]) / scale[q]
    np.testing.assert_allclose(out, expected.reshape(n, -1), rtol=1e-5, atol=1e-6)


def test_bind_columns_in_place_equals_a_separate_output():
    features, place, mean, scale = _data(1, n_columns=1, n_places=3)
    first = np.zeros(1, dtype=np.int64)
    separate = np.empty((len(features), 3 * 6), dtype=np.float32)
    K.bind_columns(features, place, mean[:3], scale[:3], first, 6, separate)
    shared = features.copy()
    view = shared.reshape(-1)[:separate.size].reshape(separate.shape)
    K.bind_columns(shared, place, mean[:3], scale[:3], first, 6, view)
    np.testing.assert_array_equal(view, separate)


def test_bind_features_and_votes_agree_with_a_dense_read_out():
    features, place, mean, scale = _data(2, n_columns=1)
    mean, scale = mean[:4], scale[:4]
    n = len(features)
    bound = np.zeros((n, 4, 6), dtype=np.float32)
    K.bind_features(features, place[:, :, 0], mean, scale, 4, bound)
    coef = np.random.RandomState(3).randn(3, 4, 6)
    votes = np.empty((n, features.shape[1], 3))
    K.glimpse_votes(features, place[:, :, 0], mean, scale, coef, votes)
    # The votes of all glimpses add up to the read-out of the summed bound features.
    np.testing.assert_allclose(votes.sum(axis=1), bound.reshape(n, -1) @ coef.reshape(3, -1).T,
                               rtol=1e-5, atol=1e-5)


def test_place_disagreement_is_the_norm_of_weight_differences():
    coef = np.random.RandomState(4).randn(3, 5, 2)
    table = K.place_disagreement(coef)
    for p in range(5):
        for a in range(3):
            for b in range(3):
                assert np.isclose(table[p, a, b], np.linalg.norm(coef[a, p] - coef[b, p]))


def test_choose_glimpses_policies():
    rng = np.random.RandomState(5)
    n, n_steps, n_classes = 6, 5, 3
    votes = rng.randn(n, n_steps, 1, n_classes)
    intercept = np.zeros((1, n_classes))
    place = np.tile(np.arange(n_steps), (n, 1))[:, :, None].astype(np.int64)
    disagreement = rng.rand(1, n_steps, n_classes, n_classes)
    seeds = np.arange(n, dtype=np.uint64) + np.uint64(11)
    order = np.empty((n, 3), dtype=np.int64)
    K.choose_glimpses(votes, intercept, place, disagreement, 3, 0, 0.0, seeds, order)
    np.testing.assert_array_equal(order, np.tile([0, 1, 2], (n, 1)))
    K.choose_glimpses(votes, intercept, place, disagreement, 3, 1, 0.0, seeds, order)
    assert all(len(set(row)) == 3 for row in order)
    K.choose_glimpses(votes, intercept, place, disagreement, 3, 2, 0.0, seeds, order)
    for i in range(n):
        evidence, taken = np.zeros(n_classes), []
        for _ in range(3):
            top = np.argsort(-evidence, kind="stable")[:2]
            scores = [-1.0 if s in taken else disagreement[0, s, top[0], top[1]]
                      for s in range(n_steps)]
            pick = int(np.argmax(scores))
            taken.append(pick)
            evidence += votes[i, pick, 0]
        assert list(order[i]) == taken
