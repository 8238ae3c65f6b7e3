"""PooledFeatureUnion: the square-rooted, standardised union of pooled counts, in one array."""

import pickle
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from joblib import parallel_config
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from skhtm import PatchSpatialPooler, PooledFeatureUnion, SpatialPoolerTransformer
from skhtm._moments import update_moments
from skhtm.recipes import sqrt_counts

N_TRAIN = 300


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:600]


def patch_branches(seeds=(0, 1)):
    return [(f"patch{s}", PatchSpatialPooler(SpatialPoolerTransformer(column_shape=32),
                                             patch_shape=3, pool_grid=2, random_state=s))
            for s in seeds]


def reference(branches, steps=(sqrt_counts, "scaler"), **kwargs):
    """The plain FeatureUnion of (branch, sqrt, StandardScaler) pipelines."""
    def pipe(branch):
        return make_pipeline(branch, *[StandardScaler() if s == "scaler" else
                                       FunctionTransformer(s) for s in steps])
    return FeatureUnion([(name, pipe(b)) for name, b in branches], **kwargs)


@pytest.fixture(scope="module")
def fitted(digits):
    X = digits[0]
    union = PooledFeatureUnion(patch_branches())
    return union, union.fit_transform(X)


def identity(X):
    return X


def to_sparse(X):
    return sp.csr_matrix(X)


def constant_column(X):
    return np.full((len(X), 1), 3.0)


# ------------------------------------------------------------------ same as the plain union

def test_equals_feature_union_of_sqrt_and_scaler_pipelines(fitted, digits):
    X, _, X_test = digits
    union, F = fitted
    plain = reference(patch_branches())
    expected = plain.fit_transform(X)
    assert F.dtype == np.float32 and F.shape == expected.shape == (N_TRAIN, 256)
    np.testing.assert_allclose(F, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(union.transform(X_test), plain.transform(X_test),
                               rtol=1e-5, atol=1e-5)
    # The statistics are StandardScaler's (the counts are not all alike: the test means
    # something).
    scalers = [pipe[-1] for _, pipe in plain.transformer_list]
    np.testing.assert_allclose(union.mean_, np.hstack([s.mean_ for s in scalers]), rtol=1e-6)
    np.testing.assert_allclose(union.scale_, np.hstack([s.scale_ for s in scalers]), rtol=1e-6)
    assert np.ptp(union.scale_) > 0.1


@pytest.mark.parametrize("chunk_size", [1, 7, 4096])
def test_chunk_size_does_not_change_the_result(chunk_size, fitted, digits):
    X, _, X_test = digits
    union, F = fitted
    other = PooledFeatureUnion(patch_branches(), chunk_size=chunk_size)
    np.testing.assert_array_equal(other.fit_transform(X), F)
    np.testing.assert_array_equal(other.mean_, union.mean_)
    np.testing.assert_array_equal(other.scale_, union.scale_)
    np.testing.assert_array_equal(other.transform(X_test), union.transform(X_test))
    # fit alone (which never holds the output) learns the same statistics.
    alone = PooledFeatureUnion(patch_branches(), chunk_size=chunk_size).fit(X)
    np.testing.assert_array_equal(alone.scale_, union.scale_)
    np.testing.assert_array_equal(alone.transform(X), F)


def test_moments_kernel_matches_numpy_and_ignores_chunking():
    rng = np.random.RandomState(0)
    block = (rng.rand(50, 6) * 10).astype(np.float32)
    block[:, 2] = 7.3                                     # constant: variance exactly 0
    moments = []
    for splits in ([50], [1, 49], [13, 13, 24]):
        count, mean, m2 = np.zeros(1, np.int64), np.zeros(6), np.zeros(6)
        start = 0
        for size in splits:
            update_moments(block[start:start + size], count, mean, m2)
            start += size
        moments.append((count[0], mean, m2))
    for count, mean, m2 in moments:
        assert count == 50
        np.testing.assert_array_equal(mean, moments[0][1])
        np.testing.assert_array_equal(m2, moments[0][2])
    np.testing.assert_allclose(moments[0][1], block.astype(np.float64).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(moments[0][2] / 50, block.astype(np.float64).var(axis=0),
                               rtol=1e-10)
    assert moments[0][2][2] == 0.0


def test_raw_counts_and_no_standardisation(fitted, digits):
    X, _, X_test = digits
    union, _ = fitted
    counts = np.hstack([b.transform(X_test) for _, b in union.transformer_list])
    raw = PooledFeatureUnion(patch_branches(), counts="raw")
    np.testing.assert_allclose(raw.fit(X).transform(X_test),
                               reference(patch_branches(), steps=("scaler",)).fit(X)
                               .transform(X_test), rtol=1e-5, atol=1e-5)
    plain = PooledFeatureUnion(patch_branches(), standardize=False).fit(X)
    np.testing.assert_array_equal(plain.transform(X_test), np.sqrt(counts))
    np.testing.assert_array_equal(plain.mean_, 0.0)
    np.testing.assert_array_equal(plain.scale_, 1.0)
    both = PooledFeatureUnion(patch_branches(), counts="raw", standardize=False).fit(X)
    np.testing.assert_array_equal(both.transform(X_test), counts)


def test_a_constant_feature_is_only_centred():
    # Column 0 is constant in training (sqrt(7) is not exact in float32 or float64):
    # its scale is 1, as StandardScaler's, not the rounding noise of its variance.
    rng = np.random.RandomState(0)
    X = rng.rand(40, 3) * 4
    X[:, 0] = 7.0
    X_new = rng.rand(5, 3) * 4 + 5
    union = PooledFeatureUnion([("x", FunctionTransformer(identity)),
                                ("three", FunctionTransformer(constant_column))], chunk_size=7)
    F = union.fit_transform(X)
    plain = reference([("x", FunctionTransformer(identity)),
                       ("three", FunctionTransformer(constant_column))])
    plain.fit(X.copy())                    # copies: sqrt_counts works in place, through identity
    assert union.scale_[0] == 1.0 and union.scale_[3] == 1.0 and union.scale_[1] != 1.0
    np.testing.assert_array_equal(F[:, [0, 3]], 0.0)
    got = union.transform(X_new)
    np.testing.assert_allclose(got, plain.transform(X_new.copy()), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[:, 0], np.sqrt(X_new[:, 0]) - np.sqrt(7.0), rtol=1e-5)


def test_transformer_weights(fitted, digits):
    X, _, X_test = digits
    weights = {"patch1": 3.0}
    union = PooledFeatureUnion(patch_branches(), transformer_weights=weights, chunk_size=50)
    F = union.fit_transform(X)
    plain = reference(patch_branches(), transformer_weights=weights)
    np.testing.assert_allclose(F, plain.fit_transform(X), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(union.transform(X_test), plain.transform(X_test), rtol=1e-5,
                               atol=1e-5)
    # Only the weighted branch changed.
    np.testing.assert_array_equal(F[:, :128], fitted[1][:, :128])
    np.testing.assert_allclose(F[:, 128:], 3.0 * fitted[1][:, 128:], rtol=1e-6)
    with pytest.raises(ValueError, match='weight transformer "nope"'):
        PooledFeatureUnion(patch_branches(), transformer_weights={"nope": 2.0}).fit(X)


def test_a_dropped_branch(fitted, digits):
    X, _, X_test = digits
    union, F = fitted
    branches = patch_branches((0, 5, 1))
    branches[1] = ("patch5", "drop")
    dropped = PooledFeatureUnion(branches, transformer_weights={"patch5": 2.0})
    np.testing.assert_array_equal(dropped.fit_transform(X), F)
    np.testing.assert_array_equal(dropped.transform(X_test), union.transform(X_test))
    assert dropped.transformer_list[1] == ("patch5", "drop")
    assert len(dropped.get_feature_names_out()) == 256
    assert dropped.n_features_in_ == 64
    first_dropped = PooledFeatureUnion([("gone", "drop"), *patch_branches((0,))]).fit(X)
    assert first_dropped.n_features_in_ == 64


def test_branches_of_any_output_type(digits):
    # Sparse and float64 branch outputs are written into the float32 array alike.
    X = digits[0][:50]
    sparse = PooledFeatureUnion([("a", FunctionTransformer(to_sparse)),
                                 ("b", FunctionTransformer(identity))])
    dense = PooledFeatureUnion([("a", FunctionTransformer(identity)),
                                ("b", FunctionTransformer(identity))])
    np.testing.assert_array_equal(sparse.fit_transform(sp.coo_matrix(X)), dense.fit_transform(X))
    # A branch that returns its own input is not square-rooted in place.
    X32 = X.astype(np.float32)
    before = X32.copy()
    PooledFeatureUnion([("x", FunctionTransformer(identity))], chunk_size=16).fit(X32)
    np.testing.assert_array_equal(X32, before)


# ------------------------------------------------------------------ errors

def test_passthrough_branch_is_refused(digits):
    with pytest.raises(ValueError, match="PooledFeatureUnion: branch 'pixels' is 'passthrough'"):
        PooledFeatureUnion([*patch_branches((0,)), ("pixels", "passthrough")]).fit(digits[0])


def test_negative_branch_output_is_refused(digits):
    X = digits[0][:40]
    union = PooledFeatureUnion([("pos", FunctionTransformer(np.abs)),
                                ("neg", FunctionTransformer(np.negative))])
    with pytest.raises(ValueError, match=r"PooledFeatureUnion: branch 'neg' \(FunctionTransformer\)"
                                         r" returned negative values"):
        union.fit(X)
    # Fitted on counts, given other data later: refused in transform too.
    ident = PooledFeatureUnion([("x", FunctionTransformer(identity))]).fit(X)
    with pytest.raises(ValueError, match="branch 'x' .* returned negative values"):
        ident.transform(X - 1)
    # Raw counts are not square-rooted, so any features go: scaled like StandardScaler.
    raw = PooledFeatureUnion([("neg", FunctionTransformer(np.negative))], counts="raw")
    np.testing.assert_allclose(raw.fit_transform(X), StandardScaler().fit_transform(-X),
                               rtol=1e-5, atol=1e-5)


def test_parameter_errors_name_the_union(digits):
    X = digits[0][:20]
    with pytest.raises(ValueError, match="'chunk_size' parameter of PooledFeatureUnion"):
        PooledFeatureUnion(patch_branches(), chunk_size=0).fit(X)
    with pytest.raises(ValueError, match="'counts' parameter of PooledFeatureUnion"):
        PooledFeatureUnion(patch_branches(), counts="log").fit(X)


def test_a_branch_changed_after_fit_asks_for_a_refit(digits):
    X = digits[0]
    union = PooledFeatureUnion(patch_branches()).fit(X)
    union.set_params(patch0__pool_grid=3)
    with pytest.raises(ValueError, match=r"PooledFeatureUnion: branch 'patch0' "
                                         r"\(PatchSpatialPooler\) returns 288 features.*128"):
        union.transform(X[:5])


# ------------------------------------------------------------------ scikit-learn plumbing

def test_feature_names_out(fitted):
    union, F = fitted
    names = union.get_feature_names_out()
    assert len(names) == F.shape[1]
    assert names[0].startswith("patch0__") and names[-1].startswith("patch1__")
    assert len(set(names)) == len(names)


def test_set_output_pandas(digits):
    pytest.importorskip("pandas")
    X = digits[0][:60]
    union = PooledFeatureUnion(patch_branches()).set_output(transform="pandas")
    frame = union.fit_transform(X)
    assert list(frame.columns) == list(union.get_feature_names_out())
    np.testing.assert_array_equal(frame.to_numpy(),
                                  PooledFeatureUnion(patch_branches()).fit_transform(X))


def test_nested_set_params_and_grid_search(digits):
    X, y, _ = digits
    union = PooledFeatureUnion(patch_branches())
    union.set_params(patch0__pool_grid=3, patch1__spatial_pooler__column_shape=16)
    assert union.fit_transform(X).shape == (N_TRAIN, 9 * 32 + 4 * 16)
    pipe = make_pipeline(PooledFeatureUnion(patch_branches()), LogisticRegression(max_iter=200))
    search = GridSearchCV(pipe, {"pooledfeatureunion__patch0__pool_grid": [1, 2]}, cv=2)
    search.fit(X[:200], y[:200])
    assert len(search.cv_results_["params"]) == 2
    assert search.best_params_["pooledfeatureunion__patch0__pool_grid"] in (1, 2)
    best = search.best_estimator_[0]
    assert best.named_transformers["patch0"].pool_grid == \
        search.best_params_["pooledfeatureunion__patch0__pool_grid"]
    assert search.score(X[200:], y[200:]) > 0.5


def test_pickle_round_trip(fitted, digits):
    union, _ = fitted
    X_test = digits[2]
    loaded = pickle.loads(pickle.dumps(union))
    np.testing.assert_array_equal(loaded.transform(X_test), union.transform(X_test))


def test_same_result_whatever_n_jobs(fitted, digits):
    X = digits[0]
    with parallel_config(backend="threading"):
        F = PooledFeatureUnion(patch_branches(), n_jobs=2).fit_transform(X)
    np.testing.assert_array_equal(F, fitted[1])


def test_the_callers_branches_are_not_fitted(digits):
    branches = patch_branches()
    union = PooledFeatureUnion(branches).fit(digits[0])
    assert not hasattr(branches[0][1], "spatial_pooler_")
    assert hasattr(union.transformer_list[0][1], "spatial_pooler_")


def test_unfitted_until_its_statistics_exist(digits):
    # Stateless branches do not make the union fitted.
    from sklearn.exceptions import NotFittedError
    union = PooledFeatureUnion([("x", FunctionTransformer(identity))])
    with pytest.raises(NotFittedError):
        union.transform(digits[0][:3])


# ------------------------------------------------------------------ memory

def test_transform_memory_is_the_output(fitted, digits):
    # The plain union holds every branch's output and their concatenation (twice the
    # output); this one the output plus a chunk's temporaries (measured: 1.02x).
    union, _ = fitted
    plain = reference(patch_branches()).fit(digits[0])
    X = np.tile(digits[2], (4, 1))                        # 1,200 images
    union = pickle.loads(pickle.dumps(union)).set_params(chunk_size=100)
    union.transform(X[:5])
    plain.transform(X[:5])                                # compiled before measuring
    peaks = []
    for est in (union, plain):
        tracemalloc.start()
        F = est.transform(X)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    chunk = 100 * F.shape[1] * 8
    assert peaks[0] < F.nbytes + 2 * chunk, (peaks, F.nbytes)
    assert peaks[1] > 1.9 * F.nbytes                      # the measure sees numpy's arrays
