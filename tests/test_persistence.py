"""Saving and loading: version stamp and warning, plain-typed state, skops round trips."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

import skhtm
import skhtm._base
from skhtm import (
    ObjectLayerClassifier,
    PatchSpatialPooler,
    PooledFeatureUnion,
    SaccadeEncoder,
    SequencePooler,
    SpatialPoolerTransformer,
    TemporalMemoryTransformer,
    ThermometerEncoder,
    skops_trusted_types,
)
from skhtm.exceptions import InconsistentVersionWarning

ALL_ESTIMATORS = {ObjectLayerClassifier, SpatialPoolerTransformer, TemporalMemoryTransformer,
                  SaccadeEncoder, SequencePooler, PatchSpatialPooler, ThermometerEncoder,
                  PooledFeatureUnion}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300], y[:300]


def _sp_pipeline():
    return make_pipeline(ThermometerEncoder(n_thresholds=4),
                         SpatialPoolerTransformer(column_shape=256, input_shape=(8, 8, 4),
                                                  random_state=0),
                         LogisticRegression(max_iter=300))


def _saccade_pipeline():
    return make_pipeline(
        SaccadeEncoder(n_glimpses=3, fovea_shape=4, n_levels=2, gaze="scan", location=None),
        SpatialPoolerTransformer(column_shape=128, local_area_density=0.08, random_state=0),
        TemporalMemoryTransformer(cells_per_column=4, activation_threshold=4, min_threshold=3,
                                  max_new_synapse_count=8, random_state=0),
        LogisticRegression(max_iter=300))


def _patch_pipeline():
    return make_pipeline(
        PatchSpatialPooler(SpatialPoolerTransformer(column_shape=64), patch_shape=3,
                           pool_grid=2, max_fit_patches=3000, random_state=0),
        LogisticRegression(max_iter=300))


def _order_pipeline():
    return make_pipeline(
        SaccadeEncoder(n_glimpses=3, fovea_shape=4, gaze="scan", location=None),
        SpatialPoolerTransformer(column_shape=128, local_area_density=0.08, random_state=0),
        SequencePooler("concatenate"), LogisticRegression(max_iter=300))


def _union_pipeline():
    return make_pipeline(
        PooledFeatureUnion([(f"patch{s}", PatchSpatialPooler(
            SpatialPoolerTransformer(column_shape=32), patch_shape=3, pool_grid=2,
            max_fit_patches=2000, random_state=s)) for s in range(2)]),
        LogisticRegression(max_iter=300))


def _sensorimotor_pipeline():
    encoder = SaccadeEncoder(n_glimpses=4, fovea_shape=4, gaze="scan", location="place",
                             location_frame="object", location_resolution=2.0,
                             sensor_offsets=[(0, 0), (2, 2)],
                             fovea_features=PatchSpatialPooler(
                                 SpatialPoolerTransformer(column_shape=32), patch_shape=3,
                                 pool_grid=1, max_fit_patches=2000, random_state=0))
    # 16 place bits per sensor: a 4x4 grid of 2-pixel places over the 8x8 digit.
    return make_pipeline(encoder, ObjectLayerClassifier(16, n_columns=2, policy="hypothesis",
                                                        curiosity=0.3, n_glimpses=3,
                                                        random_state=0))


PIPELINES = {"sensorimotor": _sensorimotor_pipeline, "sp": _sp_pipeline,
             "saccade_tm": _saccade_pipeline, "patch": _patch_pipeline,
             "sequence_pooler": _order_pipeline, "union": _union_pipeline}


def _skhtm_names(pipe):
    """The skhtm classes anywhere in a fitted pipeline: its steps, a union's fitted
    branches, and estimators held in their parameters or fitted state, at any depth
    (an encoder's fitted fovea features hold a pooler, which holds a Spatial Pooler)."""
    names, seen = set(), set()

    def visit(est):
        if id(est) in seen:
            return
        seen.add(id(est))
        if type(est).__module__.startswith("skhtm."):
            names.add(f"{type(est).__module__}.{type(est).__qualname__}")
        for value in vars(est).values():
            items = value if isinstance(value, (list, tuple)) else [value]
            for item in items:
                item = item[1] if isinstance(item, tuple) and len(item) == 2 else item
                if isinstance(item, BaseEstimator):
                    visit(item)

    for _, step in pipe.steps:
        visit(step)
    return names


def _plain(value, path="state"):
    """Fail unless value is made of the types skops trusts by default."""
    if isinstance(value, dict):
        for k, v in value.items():
            assert isinstance(k, str), path
            _plain(v, f"{path}.{k}")
    elif isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            _plain(v, f"{path}[{i}]")
    else:
        ok = (value is None or isinstance(value, (bool, int, float, str, np.ndarray, np.generic,
                                                  np.random.RandomState, np.random.Generator))
              or isinstance(value, BaseEstimator))
        assert ok, f"{path} is a {type(value).__name__}"
        assert not sp.issparse(value), path


# ------------------------------------------------------------ version stamp

def test_version_comes_from_one_place():
    from importlib.metadata import version

    assert skhtm.__version__ == skhtm._base.__version__
    assert version("skhtm") == skhtm.__version__


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_state_is_plain_types_and_stamped(name, digits):
    pipe = PIPELINES[name]().fit(*digits)
    for _, step in pipe.steps[:-1]:
        state = step.__getstate__()
        assert state["_skhtm_version"] == skhtm.__version__
        _plain(state)


def test_round_trip_is_silent_and_exact(digits):
    pipe = _saccade_pipeline().fit(*digits)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(again.predict_proba(digits[0]), pipe.predict_proba(digits[0]))
    sp_a, sp_b = pipe[1].permanences_, again[1].permanences_
    assert type(sp_b) is type(sp_a) and sp_b.nnz == sp_a.nnz      # explicit zeros kept
    for attr in ("data", "indices", "indptr"):
        np.testing.assert_array_equal(getattr(sp_b, attr), getattr(sp_a, attr))
        assert getattr(sp_b, attr).dtype == getattr(sp_a, attr).dtype
    assert "_skhtm_version" not in vars(again[1])


@pytest.mark.parametrize("estimator", [
    SpatialPoolerTransformer(column_shape=64, random_state=0),
    TemporalMemoryTransformer(cells_per_column=4, activation_threshold=2, min_threshold=1,
                              random_state=0),
    SequencePooler(),
])
def test_loading_a_model_of_another_version_warns(estimator, monkeypatch, random_bits):
    X = random_bits.reshape(6, 10, 32) if isinstance(estimator, TemporalMemoryTransformer) \
        else random_bits
    estimator.fit(X)
    monkeypatch.setattr(skhtm._base, "__version__", "0.0.1")
    blob = pickle.dumps(estimator)
    monkeypatch.undo()
    with pytest.warns(InconsistentVersionWarning) as record:
        loaded = pickle.loads(blob)
    warning = [w.message for w in record if isinstance(w.message, InconsistentVersionWarning)][0]
    assert warning.original_version == "0.0.1"
    assert warning.current_version == skhtm.__version__
    assert warning.estimator_name == type(estimator).__name__
    assert "0.0.1" in str(warning)
    np.testing.assert_array_equal(loaded.transform(X), estimator.transform(X))


def test_a_pickle_without_version_warns(random_bits):
    est = SpatialPoolerTransformer(column_shape=64, random_state=0).fit(random_bits)
    state = est.__getstate__()
    del state["_skhtm_version"]
    fresh = SpatialPoolerTransformer.__new__(SpatialPoolerTransformer)
    with pytest.warns(InconsistentVersionWarning, match="version unknown"):
        fresh.__setstate__(state)


# -------------------------------------------------------------------- skops

def test_trusted_types_are_the_estimator_classes():
    names = skops_trusted_types()
    assert names == sorted(names)
    assert set(names) == {f"{c.__module__}.{c.__qualname__}" for c in ALL_ESTIMATORS}


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_skops_round_trip(name, digits, tmp_path):
    sio = pytest.importorskip("skops.io")
    X, y = digits
    pipe = PIPELINES[name]().fit(X, y)
    path = tmp_path / "model.skops"
    sio.dump(pipe, path)
    untrusted = set(sio.get_untrusted_types(file=path))
    assert untrusted == _skhtm_names(pipe)
    assert untrusted <= set(skops_trusted_types())
    with pytest.raises(Exception, match="[Uu]ntrusted"):
        sio.load(path)                                  # skops refuses what is not trusted
    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        loaded = sio.load(path, trusted=skops_trusted_types())
    np.testing.assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))
    np.testing.assert_array_equal(loaded[:-1].transform(X), pipe[:-1].transform(X))


def test_skops_loaded_models_keep_learning_identically(tmp_path):
    sio = pytest.importorskip("skops.io")
    rng = np.random.RandomState(0)
    sdrs = np.zeros((4, 128), np.uint8)
    for row in sdrs:
        row[rng.choice(128, 8, replace=False)] = 1
    stream = np.tile(sdrs, (12, 1))
    tm = TemporalMemoryTransformer(cells_per_column=4, activation_threshold=5, min_threshold=3,
                                   output="anomaly", random_state=0).partial_fit(stream[:20])
    sp_ = SpatialPoolerTransformer(column_shape=64, random_state=0).partial_fit(stream[:20])
    for est in (tm, sp_):
        sio.dump(est, tmp_path / "m.skops")
        loaded = sio.load(tmp_path / "m.skops", trusted=skops_trusted_types())
        # The stream (and the RNG) continue where they were.
        est.partial_fit(stream[20:])
        loaded.partial_fit(stream[20:])
        np.testing.assert_array_equal(loaded.transform(stream), est.transform(stream))


def test_skops_load_of_another_version_warns(monkeypatch, random_bits, tmp_path):
    sio = pytest.importorskip("skops.io")
    est = SpatialPoolerTransformer(column_shape=64, random_state=0).fit(random_bits)
    monkeypatch.setattr(skhtm._base, "__version__", "0.0.1")
    sio.dump(est, tmp_path / "old.skops")
    monkeypatch.undo()
    with pytest.warns(InconsistentVersionWarning, match="0.0.1"):
        loaded = sio.load(tmp_path / "old.skops", trusted=skops_trusted_types())
    np.testing.assert_array_equal(loaded.transform(random_bits), est.transform(random_bits))
