"""Moving digits: the eye follows the digit, the sequence of its positions is the motion.
A Temporal Memory on those per-frame SDRs tells opposite directions apart; order-free
pooling of the same SDRs cannot (the set of positions is the same either way)."""

import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skhtm import (
    SaccadeEncoder,
    SequencePooler,
    SpatialPoolerTransformer,
    TemporalMemoryTransformer,
)
from skhtm.datasets import make_moving_digits


@pytest.fixture(scope="module")
def right_or_left():
    # Two directions: right (0) and left (1), the opposite of each other.
    kw = dict(n_frames=6, canvas_shape=20, n_directions=2, speed=2.0, target="direction")
    X_train, y_train = make_moving_digits(200, random_state=0, **kw)
    X_test, y_test = make_moving_digits(100, random_state=1, **kw)
    return X_train, y_train, X_test, y_test


def _sdrs():
    """Per-frame SDRs of where the eye points while it follows the digit."""
    return make_pipeline(
        SaccadeEncoder(n_glimpses=1, gaze="object_scan", scan_shape=1, fovea_shape=None,
                       location="coordinate", location_frame="image", location_resolution=1.0),
        SpatialPoolerTransformer(column_shape=256, local_area_density=0.06,
                                 syn_perm_connected=0.5, syn_perm_active_inc=0.0,
                                 syn_perm_inactive_dec=0.0, random_state=0),
    )


def test_temporal_memory_tells_opposite_directions_apart(right_or_left):
    X_train, y_train, X_test, y_test = right_or_left
    sdrs = _sdrs().fit(X_train)
    S_train, S_test = sdrs.transform(X_train), sdrs.transform(X_test)
    assert S_train.shape == (200, 6, 256)
    tm = TemporalMemoryTransformer(cells_per_column=8, activation_threshold=6, min_threshold=4,
                                   max_new_synapse_count=12, n_epochs=3,
                                   random_state=0).fit(S_train)
    # It learned the transitions: after the first frame (always a burst) unseen videos
    # are mostly predicted (anomaly 1.0 before learning; ~0.14 here).
    assert -tm.score_samples(S_test).mean() < 0.25
    accuracy = {}
    for name, pooling in (("tm", tm), ("union", SequencePooler("union")),
                          ("count", SequencePooler("count"))):
        F_train, F_test = pooling.transform(S_train), pooling.transform(S_test)
        clf = LogisticRegression(max_iter=2000).fit(F_train, y_train)
        accuracy[name] = clf.score(F_test, y_test)
    assert accuracy["tm"] >= 0.95, accuracy
    # Order-free pooling of the same SDRs sees the same positions either way: chance.
    assert max(accuracy["union"], accuracy["count"]) <= 0.7, accuracy
