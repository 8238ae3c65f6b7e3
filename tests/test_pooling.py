"""SequencePooler: order-free and concatenating pooling of sequences."""

import numpy as np
import pytest
import scipy.sparse as sp

from skhtm import SequencePooler


@pytest.fixture
def sequences():
    return (np.random.RandomState(0).rand(6, 5, 7) < 0.3).astype(np.uint8)


def test_poolings(sequences):
    X = sequences
    np.testing.assert_array_equal(SequencePooler("union").fit_transform(X), X.max(axis=1))
    np.testing.assert_array_equal(SequencePooler("count").fit_transform(X), X.sum(axis=1))
    np.testing.assert_allclose(SequencePooler("mean").fit_transform(X), X.mean(axis=1))
    grey = X * np.arange(1, 8)
    np.testing.assert_array_equal(SequencePooler("max").fit_transform(grey), grey.max(axis=1))
    concat = SequencePooler("concatenate").fit(X)
    np.testing.assert_array_equal(concat.transform(X), X.reshape(6, 35))
    assert concat.n_steps_ == 5 and len(concat.get_feature_names_out()) == 35


def test_order_free_pooling_ignores_the_order_of_steps(sequences):
    reversed_ = sequences[:, ::-1]
    for pooling in ("union", "count", "mean", "max"):
        pooler = SequencePooler(pooling).fit(sequences)
        np.testing.assert_array_equal(pooler.transform(sequences), pooler.transform(reversed_))
    concat = SequencePooler("concatenate").fit(sequences)
    assert (concat.transform(sequences) != concat.transform(reversed_)).any()


def test_two_dimensional_input_is_one_step(sequences):
    X = sequences[:, 0]
    for pooling in ("union", "count", "max", "concatenate"):
        np.testing.assert_array_equal(SequencePooler(pooling).fit_transform(X), X)
    out = SequencePooler("union").fit_transform(sp.csr_matrix(X))
    assert sp.issparse(out)
    np.testing.assert_array_equal(out.toarray(), X)


def test_errors(sequences):
    concat = SequencePooler("concatenate").fit(sequences)
    with pytest.raises(ValueError, match="SequencePooler: X has sequences of 4 steps"):
        concat.transform(sequences[:, :4])
    with pytest.raises(ValueError, match="SequencePooler.*expecting 7 features"):
        SequencePooler().fit(sequences).transform(sequences[:, :, :3])
    with pytest.raises(ValueError, match="SequencePooler expects a batch of sequences"):
        SequencePooler().fit(np.zeros((2, 2, 2, 2)))
    with pytest.raises(ValueError, match="SequencePooler.*NaN"):
        SequencePooler().fit(np.full((2, 3, 4), np.nan))
