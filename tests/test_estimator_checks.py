"""scikit-learn's common checks on every public estimator."""

import pytest
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks

import skhtm.spatial_pooler
from skhtm import SpatialPoolerTransformer, ThermometerEncoder

_BINARY = ("feeds continuous data; SpatialPoolerTransformer requires binary input by design "
           "and raises ValueError pointing to Binarizer / ThermometerEncoder")

# The one table of expected failures. Every entry fails only because the check
# feeds non-binary data: test_expected_failures_are_only_binary_input proves it.
SP_EXPECTED_FAILURES = {name: _BINARY for name in [
    "check_fit_score_takes_y", "check_estimators_overwrite_params",
    "check_dont_overwrite_parameters", "check_estimators_fit_returns_self",
    "check_readonly_memmap_input", "check_n_features_in_after_fitting",
    "check_estimators_dtypes", "check_dtype_object", "check_pipeline_consistency",
    "check_estimators_nan_inf", "check_estimator_sparse_tag", "check_estimator_sparse_array",
    "check_estimator_sparse_matrix", "check_estimators_pickle",
    "check_f_contiguous_array_estimator", "check_transformer_data_not_an_array",
    "check_transformer_general", "check_methods_sample_order_invariance",
    "check_methods_subset_invariance", "check_fit2d_1sample", "check_fit2d_1feature",
    "check_dict_unchanged", "check_fit_idempotent", "check_fit_check_is_fitted",
    "check_n_features_in", "check_fit2d_predict1d",
]}


def _expected_failures(estimator):
    return SP_EXPECTED_FAILURES if isinstance(estimator, SpatialPoolerTransformer) else {}


@parametrize_with_checks(
    [SpatialPoolerTransformer(column_shape=64, random_state=0), ThermometerEncoder()],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_expected_failures_are_only_binary_input(monkeypatch):
    # With the binary-input check switched off, every listed check passes.
    monkeypatch.setattr(skhtm.spatial_pooler, "check_binary", lambda estimator, X: None)
    results = check_estimator(SpatialPoolerTransformer(column_shape=64, random_state=0),
                              on_fail=None)
    failed = {r["check_name"] for r in results if r["status"] == "failed"}
    # These two check that negative input is refused, which check_binary does.
    assert failed == {"check_fit_non_negative", "check_positive_only_tag_during_fit"}, failed
    ran = {r["check_name"] for r in results}
    assert set(SP_EXPECTED_FAILURES) <= ran


@pytest.mark.parametrize("check_name", ["check_transformer_general", "check_fit_idempotent"])
def test_listed_checks_fail_with_the_binary_error(check_name):
    results = check_estimator(SpatialPoolerTransformer(column_shape=64, random_state=0),
                              on_fail=None)
    result = next(r for r in results if r["check_name"] == check_name)
    assert result["status"] == "failed"
    assert "requires binary input" in str(result["exception"])
