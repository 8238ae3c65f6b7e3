"""ObjectLayerClassifier: order-free evidence per glimpse, policies, voting columns,
and the SaccadeEncoder parts it builds on (fovea features, place codes, sensors)."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline

from skhtm import (
    ObjectLayerClassifier,
    PatchSpatialPooler,
    SaccadeEncoder,
    SpatialPoolerTransformer,
)


def _features(seed=0):
    sp = SpatialPoolerTransformer(column_shape=64, local_area_density=0.1,
                                  syn_perm_connected=0.1, syn_perm_active_inc=0.05,
                                  syn_perm_inactive_dec=0.008, boost_strength=3.0)
    return PatchSpatialPooler(sp, patch_shape=3, n_levels=3, pool_grid=2,
                              encoding="contrast", random_state=seed)


def _encoder(n_glimpses, **kw):
    params = dict(fovea_shape=5, gaze="scan", location="place", location_frame="object",
                  location_resolution=1.0, fovea_features=_features())
    params.update(kw)
    return SaccadeEncoder(n_glimpses, **params)


def _location_bits(encoder):
    layout = encoder.glimpse_layout()["location"]
    return layout.stop - layout.start


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = X.reshape(-1, 8, 8) * 16.0
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def candidates(digits):
    """Nine candidate glimpses (a 3x3 scan) of every digit, and a layer fitted on them."""
    X_train, X_test, y_train, y_test = digits
    encoder = _encoder(9).fit(X_train)
    G_train, G_test = encoder.transform(X_train), encoder.transform(X_test)
    layer = ObjectLayerClassifier(_location_bits(encoder), random_state=0,
                                  readout=LogisticRegression(C=0.1, max_iter=1000))
    layer.fit(G_train, y_train)
    return encoder, layer, G_train, G_test, y_train, y_test


# ------------------------------------------------------------- the encoder parts

def test_fovea_features_are_fitted_on_fovea_crops(digits):
    X_train = digits[0]
    encoder = _encoder(4).fit(X_train)
    assert encoder.fovea_features_.image_shape == (5, 5)
    assert encoder.fovea_features is not encoder.fovea_features_     # a clone
    G = encoder.transform(X_train[:10])
    assert G.dtype == np.float32 and G.shape == (10, 4, encoder.n_bits_)
    fovea = encoder.glimpse_layout()["fovea"]
    # The fovea part is exactly the fitted features of the fovea crops.
    crops, _ = encoder._fovea_crops(
        encoder._validate_input(X_train[:10], reset=False)[0], 0)
    expected = encoder.fovea_features_.transform(crops.reshape(-1, 25)).reshape(10, 4, -1)
    np.testing.assert_array_equal(G[:, :, fovea], expected)
    with pytest.raises(NotFittedError):
        _encoder(4).transform(X_train[:3])


def test_place_code_is_one_hot_and_object_centred(digits):
    X = digits[0][:40]
    # Objects far enough from the border that the object window never has to
    # be moved inside the canvas.
    offsets = np.random.RandomState(0).randint(4, 9, size=(len(X), 2))
    canvases = np.zeros((len(X), 20, 20))
    for canvas, image, (r, c) in zip(canvases, X, offsets):
        canvas[r:r + 8, c:c + 8] = image
    centred = np.zeros_like(canvases)
    centred[:, 6:14, 6:14] = X
    kw = dict(fovea_shape=4, gaze="object_scan", scan_shape=8, location="place",
              location_frame="object", location_resolution=2.0)
    encoder = SaccadeEncoder(4, **kw).fit(canvases)
    a, b = encoder.transform(canvases), encoder.transform(centred)
    location = a[:, :, encoder.glimpse_layout()["location"]]
    assert (location.sum(axis=2) == 1).all()
    # Same places for the same scan points in every image: the object's frame.
    assert len(np.unique(location.argmax(axis=2), axis=0)) == 1
    # Translation moves the object window with the object: identical glimpses.
    np.testing.assert_array_equal(a, b)


def test_sensor_offsets_give_one_block_per_sensor(digits):
    X = digits[0][:20]
    path = np.array([[2, 2], [5, 5]])
    offsets = [(0, 0), (0, 2), (3, -1)]
    many = SaccadeEncoder(2, fovea_shape=3, gaze=path, location="place",
                          location_frame="image", sensor_offsets=offsets).fit(X)
    G = many.transform(X)
    one_bits = many.n_bits_ // 3
    for k, offset in enumerate(offsets):
        single = SaccadeEncoder(2, fovea_shape=3, gaze=np.clip(path + offset, 0, 7),
                                location="place", location_frame="image").fit(X)
        np.testing.assert_array_equal(G[:, :, k * one_bits:(k + 1) * one_bits],
                                      single.transform(X))
    with pytest.raises(ValueError, match="SaccadeEncoder: sensor_offsets"):
        SaccadeEncoder(2, fovea_shape=3, sensor_offsets=[(0.5, 1)]).fit(X)


# ------------------------------------------------------------- the object layer

def test_learns_digits_above_pixels_and_bag_of_glimpses(digits, candidates):
    X_train, X_test = digits[0], digits[1]
    _, layer, G_train, G_test, y_train, y_test = candidates
    accuracy = layer.score(G_test, y_test)
    pixels = LogisticRegression(max_iter=2000).fit(X_train.reshape(len(X_train), -1), y_train)
    assert accuracy > pixels.score(X_test.reshape(len(X_test), -1), y_test)
    # Without locations the same glimpses are a bag of features: binding to places
    # is what the object layer adds.
    bag = ObjectLayerClassifier(0, readout=LogisticRegression(C=0.1, max_iter=1000))
    n_location = layer.location_bits
    bag.fit(G_train[:, :, :-n_location], y_train)
    assert accuracy > bag.score(G_test[:, :, :-n_location], y_test) + 0.02


def test_evidence_is_order_free_and_grows_with_glimpses(candidates):
    _, layer, _, G_test, _, y_test = candidates
    rng = np.random.RandomState(0)
    shuffled = G_test[:, rng.permutation(G_test.shape[1])]
    np.testing.assert_allclose(layer.predict_proba(shuffled), layer.predict_proba(G_test),
                               rtol=1e-9, atol=1e-12)
    staged = [np.mean(p == y_test) for p in layer.staged_predict(G_test)]
    assert len(staged) == 9
    assert staged[-1] > staged[3] > staged[0]
    last = list(layer.staged_predict_proba(G_test))[-1]
    np.testing.assert_allclose(last, layer.predict_proba(G_test))


def test_evidence_adds_one_vote_per_glimpse(candidates):
    _, layer, _, G_test, _, _ = candidates
    evidence = layer.evidence(G_test[:30])                  # (n, steps, 1, classes)
    # The evidence after glimpses 0..t is what the layer makes of those glimpses
    # alone: the glimpses not yet taken bring nothing.
    for t in (0, 4):
        np.testing.assert_allclose(layer._scores(G_test[:30, :t + 1]), evidence[:, t, 0],
                                   rtol=1e-9)
    assert layer.decision_function(G_test[:5]).shape == (5, 10)


def test_hypothesis_policy_beats_random_and_scan_with_few_glimpses(candidates):
    _, layer, _, G_test, _, y_test = candidates
    scores = {}
    for policy in ("given", "random", "hypothesis"):
        layer.set_params(policy=policy, n_glimpses=2)
        scores[policy] = layer.score(G_test, y_test)
    layer.set_params(policy="given", n_glimpses=None)
    assert scores["hypothesis"] > scores["random"] + 0.03
    assert scores["hypothesis"] > scores["given"] + 0.03


def test_hypothesis_policy_never_reads_untaken_glimpses(candidates):
    _, layer, _, G_test, _, _ = candidates
    layer.set_params(policy="hypothesis", n_glimpses=3)
    try:
        G = G_test[:50].copy()
        order = layer.glimpse_order(G)
        proba = layer.predict_proba(G)
        n_location = layer.location_bits
        for i in range(len(G)):
            untaken = np.setdiff1d(np.arange(G.shape[1]), order[i])
            G[i, untaken, :-n_location] = 7.0          # what the eye never saw
        np.testing.assert_array_equal(layer.glimpse_order(G), order)
        np.testing.assert_allclose(layer.predict_proba(G), proba, rtol=1e-12)
    finally:
        layer.set_params(policy="given", n_glimpses=None)


def test_choices_do_not_depend_on_the_batch(candidates):
    _, layer, _, G_test, _, _ = candidates
    layer.set_params(policy="hypothesis", curiosity=0.5, n_glimpses=4)
    try:
        whole = layer.glimpse_order(G_test[:60])
        parts = np.concatenate([layer.glimpse_order(G_test[i:min(i + 7, 60)])
                                for i in range(0, 60, 7)])
        np.testing.assert_array_equal(whole, parts)
        reversed_ = layer.glimpse_order(G_test[:60][::-1])[::-1]
        np.testing.assert_array_equal(whole, reversed_)
    finally:
        layer.set_params(policy="given", curiosity=0.0, n_glimpses=None)


def test_voting_columns_beat_each_column_alone(digits):
    X_train, X_test, y_train, y_test = digits
    offsets = [(0, 0), (0, 3), (3, 0)]
    encoder = _encoder(2, sensor_offsets=offsets).fit(X_train)
    layer = ObjectLayerClassifier(_location_bits(encoder), n_columns=3,
                                  readout=LogisticRegression(C=0.1, max_iter=1000))
    G_train, G_test = encoder.transform(X_train), encoder.transform(X_test)
    layer.fit(G_train, y_train)
    voted = layer.score(G_test, y_test)
    evidence = layer.evidence(G_test)
    alone = [np.mean(layer.classes_[evidence[:, -1, k].argmax(1)] == y_test) for k in range(3)]
    assert voted > max(alone) + 0.01
    np.testing.assert_allclose(evidence.sum(axis=2)[:, -1], layer._scores(G_test))


def test_pipeline_grid_search_and_persistence(digits):
    X_train, X_test, y_train, _ = digits
    encoder = _encoder(4)
    pipe = make_pipeline(encoder, ObjectLayerClassifier(16))
    search = GridSearchCV(pipe, {"objectlayerclassifier__readout": [
        LogisticRegression(C=0.1, max_iter=500), LogisticRegression(C=1.0, max_iter=500)]},
        cv=2).fit(X_train[:300], y_train[:300])
    best = search.best_estimator_
    loaded = pickle.loads(pickle.dumps(best))
    np.testing.assert_array_equal(loaded.predict_proba(X_test), best.predict_proba(X_test))
    sio = pytest.importorskip("skops.io")
    from skhtm import skops_trusted_types
    restored = sio.loads(sio.dumps(best), trusted=skops_trusted_types() + [
        "sklearn.linear_model._logistic.LogisticRegression"])
    np.testing.assert_array_equal(restored.predict_proba(X_test), best.predict_proba(X_test))


def test_bad_input_is_refused_with_the_estimator_named(candidates):
    _, layer, G_train, G_test, y_train, _ = candidates
    n_location = layer.location_bits
    bad = G_train[:20].copy()
    bad[:, :, -1] = 0.5
    with pytest.raises(ValueError, match="ObjectLayerClassifier: the location codes"):
        clone(layer).fit(bad, y_train[:20])
    with pytest.raises(ValueError, match="ObjectLayerClassifier: location_bits"):
        ObjectLayerClassifier(G_train.shape[2]).fit(G_train[:20], y_train[:20])
    with pytest.raises(ValueError, match="n_columns=7 equal blocks"):
        ObjectLayerClassifier(1, n_columns=7).fit(G_train[:20, :, :-1], y_train[:20])
    with pytest.raises(ValueError, match="ObjectLayerClassifier: n_glimpses=12"):
        clone(layer).set_params(n_glimpses=12).fit(G_train[:50], y_train[:50]).predict(G_test)
    with pytest.raises(ValueError, match="ObjectLayerClassifier: X has 480 features"):
        layer.predict(G_test[:, :, 1:])
    with pytest.raises(ValueError, match="linear classifier with coef_"):
        ObjectLayerClassifier(n_location, readout=KNeighborsClassifier()).fit(
            G_train[:50], y_train[:50])
    with pytest.raises(ValueError, match="ObjectLayerClassifier: X has 20 samples"):
        clone(layer).fit(G_train[:20], y_train[:21])
    with pytest.raises(NotFittedError):
        ObjectLayerClassifier(n_location).predict(G_test)


def test_binding_in_place_gives_the_same_model(candidates):
    _, layer, G_train, G_test, y_train, _ = candidates
    kept = clone(layer).fit(G_train, y_train)
    work = np.ascontiguousarray(G_train, dtype=np.float32).copy()
    in_place = clone(layer).set_params(copy=False).fit(work, y_train)
    np.testing.assert_array_equal(in_place.predict_proba(G_test), kept.predict_proba(G_test))
    assert not np.array_equal(work, G_train)           # X was used as the work space
    np.testing.assert_array_equal(kept.predict_proba(G_test), layer.predict_proba(G_test))


def test_learning_from_partial_views_helps_few_glimpses(candidates):
    _, layer, G_train, G_test, y_train, y_test = candidates
    partial = clone(layer).set_params(fit_glimpses=2).fit(G_train, y_train)
    for model in (layer, partial):
        model.set_params(policy="random", n_glimpses=2)
    try:
        assert partial.score(G_test, y_test) > layer.score(G_test, y_test)
        # The subsets are drawn per sample from its content: the same whatever
        # the order of X, and of the asked size.
        subsets = partial._random_subsets(G_train, 2)
        np.testing.assert_array_equal(partial._random_subsets(G_train[::-1], 2)[::-1], subsets)
        assert ((~subsets).sum(axis=1) == 2).all()
    finally:
        layer.set_params(policy="given", n_glimpses=None)
