"""SpatialPoolerTransformer: learning, composition, persistence, determinism, bad input."""

import copy
import pickle
import subprocess
import sys

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Binarizer

from skhtm import SpatialPoolerTransformer, ThermometerEncoder

# Learning settings under which training helps on the small digits set (a
# random pooler is already a decent projection there; see the closing note).
PARAMS = dict(column_shape=1024, local_area_density=0.05, boost_strength=3.0, potential_pct=0.3,
              syn_perm_connected=0.5, syn_perm_active_inc=0.1, syn_perm_inactive_dec=0.1,
              batch_size=8, random_state=0)


def _state(est):
    """Every attribute, with arrays and sparse matrices copied for comparison."""
    return {k: copy.deepcopy(v) for k, v in vars(est).items()}


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        x, y = a[key], b[key]
        if sp.issparse(x):
            assert (x != y).nnz == 0 and np.array_equal(x.indptr, y.indptr), key
        elif isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=key)
        elif isinstance(x, np.random.RandomState):
            s1, s2 = x.get_state(), y.get_state()
            assert all(np.array_equal(u, v) for u, v in zip(s1, s2)), key
        else:
            assert x == y, key


def test_learning_beats_untrained_pooler_and_binarized_pixels(digits_bits):
    B_train, B_test, y_train, y_test = digits_bits
    clf = LogisticRegression(max_iter=3000)
    trained = SpatialPoolerTransformer(**PARAMS, n_epochs=3).fit(B_train)
    # Same pooler, same initial pools and permanences, but no learning at all.
    untrained = SpatialPoolerTransformer(**{
        **PARAMS, "syn_perm_active_inc": 0.0, "syn_perm_inactive_dec": 0.0,
        "min_pct_overlap_duty_cycle": 0.0}).fit(B_train)
    # "Untrained" really means it: its permanences do not depend on the data seen.
    unseen = SpatialPoolerTransformer(**untrained.get_params()).fit(B_test)
    np.testing.assert_array_equal(untrained.permanences_.data, unseen.permanences_.data)
    assert not np.array_equal(untrained.permanences_.data, trained.permanences_.data)
    acc_trained = clf.fit(trained.transform(B_train), y_train).score(
        trained.transform(B_test), y_test)
    acc_untrained = clf.fit(untrained.transform(B_train), y_train).score(
        untrained.transform(B_test), y_test)
    X_train, X_test = B_train[:, ::4], B_test[:, ::4]  # one bit per pixel: binarized pixels
    acc_pixels = clf.fit(X_train, y_train).score(X_test, y_test)
    assert acc_trained > acc_untrained + 0.01, (acc_trained, acc_untrained)
    assert acc_trained > acc_pixels, (acc_trained, acc_pixels)


def test_inverse_transform_of_class_sdr_looks_like_the_class(digits_bits):
    B_train, _, y_train, _ = digits_bits
    sp_ = SpatialPoolerTransformer(**PARAMS, n_epochs=3).fit(B_train)
    sdr = sp_.transform(B_train)
    classes = np.unique(y_train)
    mean_sdr = np.stack([sdr[y_train == c].mean(axis=0) for c in classes])
    recon = sp_.inverse_transform(mean_sdr)
    assert recon.shape == (10, B_train.shape[1])
    assert recon.min() >= 0 and recon.max() <= 1
    mean_image = np.stack([B_train[y_train == c].mean(axis=0) for c in classes])
    # All reconstructions share the digits' common background; relative to
    # the average over classes, each is closest to its own class average.
    recon -= recon.mean(axis=0)
    mean_image -= mean_image.mean(axis=0)
    corr = np.corrcoef(recon, mean_image)[:10, 10:]
    np.testing.assert_array_equal(corr.argmax(axis=1), np.arange(10))


def test_pipeline_in_grid_search_with_two_jobs(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    pipe = make_pipeline(ThermometerEncoder(4),
                         SpatialPoolerTransformer(column_shape=512, random_state=0),
                         LogisticRegression(max_iter=2000))
    grid = GridSearchCV(pipe, {"spatialpoolertransformer__local_area_density": [0.02, 0.08]},
                        cv=3, n_jobs=2).fit(X_train, y_train)
    assert grid.best_params_["spatialpoolertransformer__local_area_density"] in (0.02, 0.08)
    assert grid.score(X_test, y_test) > 0.85


def test_batch_size_one_is_the_exact_online_algorithm(random_bits):
    whole = SpatialPoolerTransformer(64, batch_size=1, random_state=0, boost_strength=2.0,
                                     stimulus_threshold=2).partial_fit(random_bits)
    stepwise = SpatialPoolerTransformer(64, batch_size=1, random_state=0, boost_strength=2.0,
                                        stimulus_threshold=2)
    for row in random_bits:
        stepwise.partial_fit(row[None])
    _assert_same_state(_state(whole), _state(stepwise))


def test_mini_batch_sums_updates_and_differs_from_online(random_bits):
    online = SpatialPoolerTransformer(64, batch_size=1, random_state=0).partial_fit(random_bits)
    batch = SpatialPoolerTransformer(64, batch_size=20, random_state=0).partial_fit(random_bits)
    assert online.n_iterations_ == batch.n_iterations_ == 60
    assert not np.array_equal(online.permanences_.data, batch.permanences_.data)
    # One batch of all samples: each winner's synapse moves by the summed update.
    model = SpatialPoolerTransformer(64, batch_size=60, random_state=0,
                                     min_pct_overlap_duty_cycle=0.0)
    start = copy.deepcopy(model.partial_fit(random_bits[:1]))
    start.set_params(batch_size=60)
    before = start.permanences_.copy()
    winners = start.transform(random_bits).astype(bool)
    after = copy.deepcopy(start).partial_fit(random_bits).permanences_
    c, i = 5, before.indices[before.indptr[5]]
    n_won = winners[:, c].sum()
    n_hit = (winners[:, c] & random_bits[:, i]).sum()
    expected = np.clip(before[c, i] + 0.05 * n_hit - 0.008 * (n_won - n_hit), 0, 1)
    expected = 0.0 if expected < 0.025 else expected
    assert after[c, i] == pytest.approx(expected, abs=1e-5)


def test_joblib_round_trip_in_a_new_process(tmp_path, random_bits):
    est = SpatialPoolerTransformer(128, random_state=0, n_epochs=2).fit(random_bits)
    path = tmp_path / "sp.joblib"
    joblib.dump(est, path)
    np.save(tmp_path / "X.npy", random_bits)
    code = (f"import joblib, numpy as np; est = joblib.load({str(path)!r}); "
            f"np.save({str(tmp_path / 'out.npy')!r}, est.transform(np.load("
            f"{str(tmp_path / 'X.npy')!r})))")
    subprocess.run([sys.executable, "-c", code], check=True)
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), est.transform(random_bits))
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.transform(random_bits), est.transform(random_bits))


def test_same_random_state_same_sdrs_whatever_n_jobs_or_chunking(digits_bits):
    B_train, B_test, _, _ = digits_bits
    a = SpatialPoolerTransformer(**PARAMS).fit(B_train)
    b = SpatialPoolerTransformer(**PARAMS, n_jobs=2).fit(B_train)
    np.testing.assert_array_equal(a.permanences_.data, b.permanences_.data)
    full = a.transform(B_test)
    np.testing.assert_array_equal(full, b.transform(B_test))
    chunks = np.concatenate([a.transform(B_test[s:s + 37]) for s in range(0, len(B_test), 37)])
    np.testing.assert_array_equal(full, chunks)
    big = np.concatenate([B_test] * 3)  # several transform chunks, threaded
    np.testing.assert_array_equal(b.transform(big), np.concatenate([full] * 3))
    c = SpatialPoolerTransformer(**{**PARAMS, "random_state": 1}).fit(B_train)
    assert not np.array_equal(full, c.transform(B_test))


def test_fit_leaves_numpys_global_random_state_alone(random_bits):
    # The shuffling RNG is a copy of random_state_, never numpy's global RandomState:
    # overwriting that changed the user's np.random stream, and two fits in threads
    # (a PooledFeatureUnion with n_jobs) raced on it and learned different poolers.
    np.random.seed(123)
    expected = np.random.get_state()
    SpatialPoolerTransformer(column_shape=64, random_state=0).fit(random_bits)
    state = np.random.get_state()
    assert all(np.array_equal(a, b) for a, b in zip(state, expected))


def test_sparsity_and_output_formats(digits_bits):
    B_train, B_test, _, _ = digits_bits
    est = SpatialPoolerTransformer(**PARAMS).fit(B_train)
    dense = est.transform(B_test)
    assert dense.dtype == np.uint8 and dense.shape == (len(B_test), 1024)
    assert np.all(dense.sum(axis=1) <= round(0.05 * 1024))
    assert est.transform(np.zeros((1, B_test.shape[1]))).sum() == 0  # no overlap, no activity
    assert dense.sum(axis=1).mean() > 0.9 * round(0.05 * 1024)
    np.testing.assert_array_equal(est.transform(sp.csr_matrix(B_test)), dense)
    est.set_params(sparse_output=True)
    out = est.transform(B_test)
    assert sp.issparse(out)
    np.testing.assert_array_equal(out.toarray(), dense)


def test_sequences_map_the_last_axis(random_bits):
    est = SpatialPoolerTransformer(128, random_state=0).fit(random_bits)
    seqs = random_bits.reshape(6, 10, 32)
    out = est.transform(seqs)
    assert out.shape == (6, 10, 128)
    np.testing.assert_array_equal(out.reshape(60, 128), est.transform(random_bits))
    assert est.inverse_transform(out).shape == (6, 10, 32)
    fit3d = SpatialPoolerTransformer(128, random_state=0).fit(seqs)
    np.testing.assert_array_equal(fit3d.permanences_.data, est.permanences_.data)


def test_local_inhibition_and_topology(digits_bits):
    B_train, B_test, y_train, y_test = digits_bits
    est = SpatialPoolerTransformer(
        column_shape=(16, 16), input_shape=(8, 8, 4), potential_radius=2, potential_pct=0.8,
        global_inhibition=False, local_area_density=0.1, wrap_around=False, random_state=0,
        n_epochs=2).fit(B_train)
    assert 1 <= est.inhibition_radius_ < 16
    out = est.transform(B_test)
    assert 0.02 < out.mean() < 0.2
    acc = LogisticRegression(max_iter=3000).fit(est.transform(B_train), y_train).score(
        out, y_test)
    assert acc > 0.85


def test_feature_names_out(random_bits):
    est = SpatialPoolerTransformer(16, random_state=0).fit(random_bits)
    names = est.get_feature_names_out()
    assert len(names) == 16 and names[0] == "spatialpoolertransformer0"


def test_set_output_pandas(random_bits):
    pd = pytest.importorskip("pandas")
    est = SpatialPoolerTransformer(16, random_state=0).set_output(transform="pandas")
    out = est.fit_transform(random_bits)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == list(
        est.get_feature_names_out())


BAD_INPUTS = {
    "nan": (lambda X: np.where(X, np.nan, 0.0), "NaN"),
    "inf": (lambda X: np.where(X, np.inf, 0.0), "infinity"),
    "non-binary": (lambda X: X * 0.5, "requires binary input"),
    "grey levels": (lambda X: X * 7.0, "ThermometerEncoder"),
    "negative": (lambda X: -X.astype(float), "Negative values"),
    "1-D": (lambda X: X[0], "Reshape your data"),
    "4-D": (lambda X: X.reshape(3, 4, 5, 32), "2-D array"),
    "empty": (lambda X: X[:0], "0 sample"),
    "wrong width": (lambda X: X[:, :31], "31 features"),
    "object dtype": (lambda X: np.where(X, "a", "b").astype(object), "convert"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_raises_clear_error_and_partial_fit_keeps_model(case, random_bits):
    make, message = BAD_INPUTS[case]
    est = SpatialPoolerTransformer(64, random_state=0).fit(random_bits)
    before = _state(est)
    bad = make(random_bits)
    with pytest.raises((ValueError, TypeError), match=message) as info:
        est.partial_fit(bad)
    assert "SpatialPoolerTransformer" in str(info.value)
    _assert_same_state(before, _state(est))
    with pytest.raises((ValueError, TypeError), match=message):
        est.transform(bad)
    if case != "wrong width":
        with pytest.raises((ValueError, TypeError), match=message):
            SpatialPoolerTransformer(64).fit(bad)


def test_failed_first_partial_fit_leaves_estimator_unfitted(random_bits):
    est = SpatialPoolerTransformer(64)
    with pytest.raises(ValueError):
        est.partial_fit(random_bits * 0.5)
    assert not [k for k in vars(est) if k.endswith("_")]


def test_input_shape_must_match(random_bits):
    with pytest.raises(ValueError, match="input_shape"):
        SpatialPoolerTransformer(64, input_shape=(5, 5), potential_radius=1).fit(random_bits)


def test_binarizer_pipeline_accepts_grey_input(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    pipe = make_pipeline(Binarizer(threshold=7.0), SpatialPoolerTransformer(256, random_state=0))
    assert pipe.fit_transform(X_train).shape == (len(X_train), 256)


def test_partial_fit_interrupted_inside_learning_changes_nothing(random_bits, monkeypatch):
    """The kernel learns the permanences in place; a failure after it has run
    (here an interrupt) puts every changed column back."""
    import skhtm.spatial_pooler as module

    est = SpatialPoolerTransformer(64, batch_size=4, random_state=0).fit(random_bits)
    before = _state(est)
    original = module.K.learn

    def learn_then_interrupt(*args):
        original(*args)
        raise KeyboardInterrupt

    monkeypatch.setattr(module.K, "learn", learn_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        est.partial_fit(random_bits)
    monkeypatch.undo()
    _assert_same_state(before, _state(est))
    # And the model learns on exactly as if nothing had happened.
    again = SpatialPoolerTransformer(64, batch_size=4, random_state=0).fit(random_bits)
    est.partial_fit(random_bits[:10])
    again.partial_fit(random_bits[:10])
    _assert_same_state(_state(again), _state(est))


def test_one_sample_partial_fit_calls_equal_one_call_in_mini_batches(random_bits):
    whole = SpatialPoolerTransformer(64, batch_size=1, random_state=0).fit(random_bits)
    step = SpatialPoolerTransformer(64, batch_size=1, random_state=0).fit(random_bits)
    whole.partial_fit(random_bits[::-1])
    for row in random_bits[::-1]:
        step.partial_fit(row[None].astype(np.uint8))
    _assert_same_state(_state(whole), _state(step))


def test_inverse_transform_accepts_sparse_sdrs(random_bits):
    est = SpatialPoolerTransformer(64, random_state=0).fit(random_bits)
    sdr = est.transform(random_bits)
    dense = est.inverse_transform(sdr)
    for fmt in (sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.csr_array):
        np.testing.assert_allclose(est.inverse_transform(fmt(sdr)), dense)
    est.set_params(sparse_output=True)
    np.testing.assert_allclose(est.inverse_transform(est.transform(random_bits)), dense)
    with pytest.raises(ValueError, match="SpatialPoolerTransformer.*non-negative"):
        est.inverse_transform(-sp.csr_matrix(sdr, dtype=float))


def test_syn_perm_connected_set_after_fit_is_honoured_by_transform(random_bits):
    from sp_reference import ReferenceSP

    est = SpatialPoolerTransformer(64, local_area_density=0.1, random_state=0).fit(random_bits)
    out = est.transform(random_bits)
    est.set_params(syn_perm_connected=0.3)
    before = _state(est)
    changed = est.transform(random_bits)
    _assert_same_state(before, _state(est))  # transform does not touch the model
    assert not np.array_equal(out, changed)
    ref = ReferenceSP(est)
    for x, got in zip(random_bits, changed):
        np.testing.assert_array_equal(got.astype(bool), ref.active_columns(x)[1])
    # Learning uses the same threshold: a refit with it from the same state agrees.
    est.set_params(syn_perm_connected=0.1)
    np.testing.assert_array_equal(est.transform(random_bits), out)


@pytest.mark.parametrize("param, value", [
    ("column_shape", ()), ("column_shape", (0, 4)), ("column_shape", (2.5, 3)),
    ("column_shape", [4, True]), ("input_shape", (4, 8.0)), ("input_shape", ()),
])
def test_bad_shape_parameters_raise_naming_estimator_and_parameter(param, value, random_bits):
    est = SpatialPoolerTransformer(**{"column_shape": 16, param: value})
    for method in (est.fit, est.partial_fit):
        with pytest.raises(ValueError, match=f"SpatialPoolerTransformer: {param}"):
            method(random_bits)
        assert not [k for k in vars(est) if k.endswith("_")]


def test_huge_stimulus_threshold_silences_every_column(random_bits):
    est = SpatialPoolerTransformer(64, stimulus_threshold=1e300, random_state=0).fit(random_bits)
    assert est.transform(random_bits).sum() == 0
    # Every pool got raised as far as it goes, and no step overflowed.
    assert np.all(est.permanences_.data >= 0) and np.all(est.permanences_.data <= 1)


def test_transform_under_a_process_backend_equals_one_thread(random_bits):
    # Chunks may run in other processes (joblib's loky or dask backends): each
    # returns its output instead of writing into a shared array.
    from joblib import parallel_config

    est = SpatialPoolerTransformer(64, random_state=0).fit(random_bits)
    big = np.concatenate([random_bits] * 10)  # several transform chunks
    whole = est.transform(big)
    est.set_params(n_jobs=2)
    with parallel_config(backend="loky"):
        np.testing.assert_array_equal(est.transform(big), whole)
        est.set_params(sparse_output=True)
        np.testing.assert_array_equal(est.transform(big).toarray(), whole)
