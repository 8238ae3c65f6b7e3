import numpy as np
import pytest

from skhtm import ThermometerEncoder


def test_thermometer_bits_are_monotone_and_keep_grey_levels():
    X = np.array([[0.0, 16.0], [8.0, 4.0], [16.0, 0.0]])
    enc = ThermometerEncoder(n_thresholds=3).fit(X)
    np.testing.assert_allclose(enc.thresholds_, [4.0, 8.0, 12.0])
    bits = enc.transform(X).reshape(3, 2, 3)
    assert bits.dtype == np.uint8
    np.testing.assert_array_equal(bits.sum(axis=2), [[0, 3], [1, 0], [3, 0]])
    # Thermometer: a bit is only on if all lower bits are.
    assert np.all(np.diff(bits.astype(int), axis=2) <= 0)


def test_quantile_strategy_balances_bits():
    X = np.random.RandomState(0).exponential(size=(500, 3))
    bits = ThermometerEncoder(4, strategy="quantile").fit_transform(X).reshape(500, 3, 4)
    rates = bits.mean(axis=(0, 1))
    np.testing.assert_allclose(rates, [1.0, 0.75, 0.5, 0.25], atol=0.02)


def test_per_feature_thresholds_and_sequences():
    X = np.array([[0.0, 100.0], [1.0, 200.0]])
    enc = ThermometerEncoder(1, per_feature=True).fit(X)
    np.testing.assert_allclose(enc.thresholds_, [[0.5], [150.0]])
    seqs = np.stack([X, X[::-1]])
    out = enc.transform(seqs)
    assert out.shape == (2, 2, 2)
    np.testing.assert_array_equal(out[0], enc.transform(X))


def test_feature_names_and_errors():
    enc = ThermometerEncoder(2).fit(np.zeros((3, 5)) + np.arange(3)[:, None])
    assert len(enc.get_feature_names_out()) == 10
    with pytest.raises(ValueError, match="4 features, but ThermometerEncoder"):
        enc.transform(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="NaN"):
        enc.transform(np.full((2, 5), np.nan))


@pytest.mark.parametrize("params", [{"n_thresholds": 3}, {"n_thresholds": 1},
                                    {"per_feature": True}])
def test_structural_parameter_changed_after_fit_is_refused(params):
    X = np.arange(12.0).reshape(4, 3)
    enc = ThermometerEncoder(2).fit(X)
    thresholds = enc.thresholds_.copy()
    enc.set_params(**params)
    name = next(iter(params))
    with pytest.raises(ValueError, match=f"ThermometerEncoder: {name}=.*fit again"):
        enc.transform(X)
    np.testing.assert_array_equal(enc.thresholds_, thresholds)
    # Refit: the output and the feature names agree with the new parameters.
    out = enc.fit(X).transform(X)
    assert out.shape[1] == len(enc.get_feature_names_out()) == 3 * enc.n_thresholds


def test_set_output_pandas():
    import pandas as pd  # in the test extra: never skipped
    X = np.arange(12.0).reshape(4, 3)
    enc = ThermometerEncoder(2).fit(X)
    frame = ThermometerEncoder(2).set_output(transform="pandas").fit(X).transform(X)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == list(enc.get_feature_names_out())
    np.testing.assert_array_equal(frame.to_numpy(), enc.transform(X))


@pytest.mark.parametrize("n_thresholds, match", [
    (True, "n_thresholds must be an int, not a bool"),
    (10 ** 12, "n_thresholds"),
    (0, "n_thresholds"),
    (2.5, "n_thresholds"),
])
def test_bad_n_thresholds_names_the_estimator_and_the_parameter(n_thresholds, match):
    # 10**12 asked numpy for 7 TiB; True encoded one bit per value silently.
    with pytest.raises(ValueError, match=match) as info:
        ThermometerEncoder(n_thresholds).fit(np.zeros((3, 2)))
    assert "ThermometerEncoder" in str(info.value)
