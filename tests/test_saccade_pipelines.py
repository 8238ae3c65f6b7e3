"""End-to-end: SaccadeEncoder -> SpatialPoolerTransformer -> TemporalMemoryTransformer
-> LogisticRegression on the bundled digits, and what the temporal memory adds over
order-free pooling of the same glimpses."""

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import FeatureUnion, make_pipeline

from skhtm import (
    SaccadeEncoder,
    SequencePooler,
    SpatialPoolerTransformer,
    TemporalMemoryTransformer,
)

GRID = {"saccadeencoder__gaze": ["scan", "saliency"], "saccadeencoder__fovea_shape": [3, 4]}


def _pipeline(tail):
    # No location bits: what a glimpse showed and where must come from the
    # sequence, which the temporal memory keeps and union pooling forgets.
    return make_pipeline(
        SaccadeEncoder(n_glimpses=4, fovea_shape=4, n_levels=2, gaze="scan", location=None),
        SpatialPoolerTransformer(column_shape=128, local_area_density=0.08, random_state=0),
        tail,
        LogisticRegression(max_iter=2000),
    )


@pytest.fixture(scope="module")
def searches(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    X_train, X_test = X_train.reshape(-1, 8, 8), X_test.reshape(-1, 8, 8)
    tm = TemporalMemoryTransformer(cells_per_column=4, activation_threshold=4, min_threshold=3,
                                   max_new_synapse_count=8, random_state=0)
    out = {}
    for name, tail in (("tm", tm), ("union", SequencePooler("union"))):
        search = GridSearchCV(_pipeline(tail), GRID, cv=2, n_jobs=2).fit(X_train, y_train)
        out[name] = (search, search.score(X_test, y_test))
    return out


def test_grid_search_over_gaze_and_fovea(searches):
    search, accuracy = searches["tm"]
    assert len(search.cv_results_["params"]) == 4
    # 8x8 digits are too small for saliency to spread four glimpses usefully;
    # the search finds that the fixed scan is better.
    assert search.best_params_["saccadeencoder__gaze"] == "scan"
    assert accuracy >= 0.85


def test_temporal_memory_adds_order_to_order_free_pooling(searches):
    _, tm_accuracy = searches["tm"]
    _, union_accuracy = searches["union"]
    assert tm_accuracy >= union_accuracy + 0.04, (tm_accuracy, union_accuracy)


def test_fitted_pipeline_persists_exactly(searches, digits_split, tmp_path):
    search, _ = searches["tm"]
    X_test = digits_split[1]
    joblib.dump(search.best_estimator_, tmp_path / "pipe.joblib")
    loaded = joblib.load(tmp_path / "pipe.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(X_test),
                                  search.best_estimator_.predict_proba(X_test))


def test_feature_union_of_gaze_policies(digits_split):
    # Two ways of looking, each pooled to one vector per image, side by side.
    X_train, X_test, y_train, y_test = digits_split

    def branch(gaze):
        return make_pipeline(
            SaccadeEncoder(n_glimpses=4, fovea_shape=4, n_levels=2, gaze=gaze,
                           location_bits=64, location_active_bits=8, random_state=0),
            SpatialPoolerTransformer(column_shape=128, local_area_density=0.08, random_state=0),
            SequencePooler("concatenate"))

    union = FeatureUnion([("scan", branch("scan")), ("saliency", branch("saliency"))])
    model = make_pipeline(union, LogisticRegression(max_iter=2000)).fit(X_train, y_train)
    features = model[0].transform(X_test)
    parts = [clone(branch(g)).fit(X_train).transform(X_test) for g in ("scan", "saliency")]
    np.testing.assert_array_equal(features, np.hstack(parts))
    assert features.shape == (len(X_test), 2 * 4 * 128)
    # The two views together beat either alone.
    alone = [make_pipeline(branch(g), LogisticRegression(max_iter=2000)).fit(X_train, y_train)
             .score(X_test, y_test) for g in ("scan", "saliency")]
    both = model.score(X_test, y_test)
    assert both >= max(alone) + 0.01, (both, alone)
    assert model[0].get_feature_names_out()[0].startswith("scan__")
