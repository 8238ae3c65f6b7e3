"""The community's building blocks as plain scikit-learn composition:
several Spatial Poolers concatenated (FeatureUnion) and stacked (Pipeline)."""

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline, make_union

from skhtm import SpatialPoolerTransformer, ThermometerEncoder


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.5, random_state=0, stratify=y)


def sp(seed, n_columns=512):
    return SpatialPoolerTransformer(column_shape=n_columns, local_area_density=0.05,
                                    random_state=seed)


def test_concatenated_spatial_poolers(digits):
    """Poolers with different seeds see different random subsets of the input:
    side by side they beat each of them alone (measured 0.94 vs 0.87 / 0.85)."""
    Xa, Xb, ya, yb = digits
    singles = [make_pipeline(ThermometerEncoder(n_thresholds=2), sp(s),
                             LogisticRegression(max_iter=3000)).fit(Xa, ya).score(Xb, yb)
               for s in range(2)]
    union = make_union(*(sp(s) for s in range(4)))
    pipe = make_pipeline(ThermometerEncoder(n_thresholds=2), union,
                         LogisticRegression(max_iter=3000)).fit(Xa, ya)
    assert pipe.score(Xb, yb) > max(singles) + 0.04, (pipe.score(Xb, yb), singles)
    # The union's features are the poolers' SDRs side by side, each as sparse as alone.
    bits = ThermometerEncoder(n_thresholds=2).fit_transform(Xa[:20])
    F = pipe[1].transform(bits)
    expected = np.hstack([pipe[1].transformer_list[k][1].transform(bits) for k in range(4)])
    np.testing.assert_array_equal(F, expected)
    np.testing.assert_array_equal(F.reshape(20, 4, 512).sum(axis=2), 26)
    assert list(pipe[1].get_feature_names_out()[[0, 512]]) == [
        "spatialpoolertransformer-1__spatialpoolertransformer0",
        "spatialpoolertransformer-2__spatialpoolertransformer0"]


def test_stacked_spatial_poolers(tmp_path, digits):
    """A second pooler learns on the first one's SDRs; the stack tunes in a grid
    search over the upper level and persists exactly."""
    Xa, Xb, ya, yb = digits
    pipe = make_pipeline(ThermometerEncoder(n_thresholds=2), sp(0), sp(1, 256),
                         LogisticRegression(max_iter=3000))
    grid = GridSearchCV(pipe, {"spatialpoolertransformer-2__local_area_density": [0.05, 0.1]},
                        cv=2).fit(Xa, ya)
    best = grid.best_estimator_
    upper = best[:3].transform(Xb)
    k = round(best[2].local_area_density * 256)
    np.testing.assert_array_equal(upper.sum(axis=1), k)  # exactly k winners per image
    assert best[2].n_features_in_ == 512
    assert grid.score(Xb, yb) > 0.6  # chance is 0.1
    path = tmp_path / "stack.joblib"
    joblib.dump(grid.best_estimator_, path)
    np.testing.assert_array_equal(joblib.load(path).predict_proba(Xb), best.predict_proba(Xb))
