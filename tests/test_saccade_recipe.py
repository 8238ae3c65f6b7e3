"""skhtm.recipes.saccade_classifier: what it builds, that it learns, translation, errors."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from skhtm import ObjectLayerClassifier, PooledFeatureUnion, SaccadeEncoder
from skhtm.recipes import saccade_classifier


@pytest.fixture(scope="module")
def digits_split():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X * 16.0, y, test_size=0.3, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def fitted(digits_split):
    X_train, _, y_train, _ = digits_split
    return saccade_classifier(8, n_glimpses=6, random_state=0).fit(X_train, y_train)


def test_recipe_is_an_unfitted_encoder_and_object_layer():
    pipe = saccade_classifier((60, 60), random_state=0)
    assert isinstance(pipe, Pipeline) and len(pipe) == 2
    encoder, layer = pipe[0], pipe[-1]
    assert isinstance(encoder, SaccadeEncoder) and isinstance(layer, ObjectLayerClassifier)
    assert isinstance(encoder.fovea_features, PooledFeatureUnion)
    assert encoder.location == "place" and encoder.location_frame == "object"
    assert encoder.scan_shape == (28, 28) and encoder.n_glimpses == 8
    assert not hasattr(encoder, "fovea_features_") and not hasattr(layer, "readouts_")
    assert saccade_classifier(60, objectlayerclassifier__policy="hypothesis")[-1].policy == \
        "hypothesis"


def test_location_bits_match_the_encoder(fitted, digits_split):
    layout = fitted[0].glimpse_layout()["location"]
    assert fitted[-1].location_bits == layout.stop - layout.start
    coarse = saccade_classifier(8, n_glimpses=4, place_resolution=3.0).fit(
        digits_split[0][:200], digits_split[2][:200])
    layout = coarse[0].glimpse_layout()["location"]
    assert coarse[-1].location_bits == layout.stop - layout.start == 25   # ceil(15 / 3) ** 2


def test_learns_digits_above_pixels_and_rises_with_glimpses(fitted, digits_split):
    X_train, X_test, y_train, y_test = digits_split
    pixels = LogisticRegression(max_iter=3000).fit(X_train, y_train).score(X_test, y_test)
    assert fitted.score(X_test, y_test) > pixels
    glimpses = fitted[0].transform(X_test)
    staged = [np.mean(p == y_test) for p in fitted[-1].staged_predict(glimpses)]
    assert staged[-1] > staged[2] > staged[0]


def test_translated_objects_give_the_same_predictions(fitted, digits_split):
    # The object window follows the object: digits moved on a 20x20 canvas are
    # recognised exactly as the same digits in its middle, once the model has
    # been fitted on canvases.
    X_train, X_test, y_train, _ = digits_split

    def canvas(X, offsets):
        out = np.zeros((len(X), 20, 20))
        for c, image, (r, k) in zip(out, X.reshape(-1, 8, 8), offsets):
            c[r:r + 8, k:k + 8] = image
        return out.reshape(len(X), -1)

    rng = np.random.RandomState(0)
    pipe = saccade_classifier(20, n_glimpses=6, random_state=0, object_shape=8)
    pipe.fit(canvas(X_train, rng.randint(4, 9, (len(X_train), 2))), y_train)
    moved = canvas(X_test, rng.randint(4, 9, (len(X_test), 2)))
    middle = canvas(X_test, np.full((len(X_test), 2), 6))
    np.testing.assert_array_equal(pipe.predict_proba(moved), pipe.predict_proba(middle))


def test_same_seed_same_model_whatever_n_jobs(digits_split):
    X_train, X_test, y_train, _ = digits_split
    a = saccade_classifier(8, n_glimpses=4, random_state=3).fit(X_train[:400], y_train[:400])
    b = saccade_classifier(8, n_glimpses=4, random_state=3, n_jobs=2).fit(X_train[:400],
                                                                          y_train[:400])
    np.testing.assert_array_equal(a.predict_proba(X_test), b.predict_proba(X_test))


@pytest.mark.parametrize("kwargs, match", [
    (dict(image_shape=(8, 0)), "saccade_classifier: image_shape"),
    (dict(image_shape="big"), "saccade_classifier: image_shape"),
    (dict(image_shape=8, n_glimpses=0), "saccade_classifier: n_glimpses"),
    (dict(image_shape=8, object_shape=9), "saccade_classifier: object_shape"),
    (dict(image_shape=8, object_shape=(2, 2), n_glimpses=5), "saccade_classifier: n_glimpses=5"),
    (dict(image_shape=8, place_resolution=0), "saccade_classifier: place_resolution"),
])
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        saccade_classifier(**kwargs)
