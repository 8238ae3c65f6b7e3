"""Binary encoders that feed the Spatial Pooler without losing grey levels."""

from numbers import Integral

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import VersionedStateMixin
from ._grey_levels import thermometer_bits, uniform_thresholds
from ._validation import validate_last_axis

# More thresholds than a 16-bit image has grey levels add only constant bits;
# the bound turns an absurd value into a clear error instead of a huge allocation.
_MAX_THRESHOLDS = 2 ** 16 - 1


class ThermometerEncoder(VersionedStateMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                         BaseEstimator):
    """Encode each value as ``n_thresholds`` bits: bit ``j`` is on when the value
    exceeds threshold ``j`` (a thermometer code).

    Grey pixels become several bits instead of one, so an image keeps its grey
    levels on the way into a :class:`SpatialPoolerTransformer`, and nearby grey
    levels share bits. The output is laid out feature-major: the bits of
    feature ``i`` are ``out[:, i * n_thresholds:(i + 1) * n_thresholds]``, so an
    ``(h, w)`` image becomes an ``(h, w, n_thresholds)`` input topology.

    Parameters
    ----------
    n_thresholds : int, default=4
        Bits per feature; at most 65535 (one per grey level of a 16-bit image).
    strategy : {"uniform", "quantile"}, default="uniform"
        "uniform": thresholds evenly spaced strictly inside the range seen in
        ``fit``; "quantile": at quantiles of the non-minimal values seen in
        ``fit``, so each bit is on about equally often.
    per_feature : bool, default=False
        Learn thresholds per feature instead of one set for all features. For
        images one shared set is usually right: a grey level means the same
        everywhere, and rarely-lit border pixels keep a sane range.

    Attributes
    ----------
    thresholds_ : ndarray of shape (n_thresholds,) or (`n_features_in_`, n_thresholds)
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    See Also
    --------
    sklearn.preprocessing.Binarizer : One threshold, one bit per feature.
    SpatialPoolerTransformer : Consumes the binary output.

    Examples
    --------
    >>> import numpy as np
    >>> from skhtm import ThermometerEncoder
    >>> enc = ThermometerEncoder(n_thresholds=3).fit([[0.0], [4.0]])
    >>> enc.thresholds_
    array([1., 2., 3.])
    >>> enc.transform([[0.5], [2.5], [4.0]])
    array([[0, 0, 0],
           [1, 1, 0],
           [1, 1, 1]], dtype=uint8)
    """

    _parameter_constraints = {
        "n_thresholds": [Interval(Integral, 1, _MAX_THRESHOLDS, closed="both")],
        "strategy": [StrOptions({"uniform", "quantile"})],
        "per_feature": ["boolean"],
    }

    def __init__(self, n_thresholds=4, *, strategy="uniform", per_feature=False):
        self.n_thresholds = n_thresholds
        self.strategy = strategy
        self.per_feature = per_feature

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the thresholds from the range (or distribution) of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, n_steps, n_features)
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        if isinstance(self.n_thresholds, (bool, np.bool_)):
            raise ValueError(f"{type(self).__name__}: n_thresholds must be an int, not a bool; "
                             f"got {self.n_thresholds!r}.")
        X, _ = validate_last_axis(self, X, reset=True)
        X = _dense(X)
        values = X if self.per_feature else X.reshape(-1, 1)
        k = self.n_thresholds
        if self.strategy == "uniform":
            low, high = values.min(axis=0), values.max(axis=0)
            steps = uniform_thresholds(k)
            thresholds = low[:, None] + (high - low)[:, None] * steps
        else:
            thresholds = np.empty((values.shape[1], k))
            qs = np.arange(k) / k
            for j, column in enumerate(values.T):
                above = column[column > column.min()]
                above = above if above.size else column
                thresholds[j] = np.quantile(above, qs)
                # Strictly below the quantile value, so a bit is on at that level.
                thresholds[j] = np.nextafter(thresholds[j], -np.inf)
        self.thresholds_ = thresholds if self.per_feature else thresholds[0]
        return self

    def transform(self, X):
        """Thermometer bits of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, n_steps, n_features)

        Returns
        -------
        bits : ndarray of uint8 of shape (..., n_features * n_thresholds)
        """
        check_is_fitted(self)
        self._check_fitted_structure()
        X, lead_shape = validate_last_axis(self, X, reset=False)
        X = _dense(X)
        return thermometer_bits(X, self.thresholds_).reshape(lead_shape + (-1,))

    def _check_fitted_structure(self):
        """Refuse thresholds fit under other structural parameters (set_params
        after fit): the output would not have the bits the parameters say."""
        name = type(self).__name__
        fitted = self.thresholds_.shape[-1]
        if fitted != self.n_thresholds:
            raise ValueError(f"{name}: n_thresholds={self.n_thresholds}, but the encoder was "
                             f"fit with {fitted} thresholds; call fit again.")
        if (self.thresholds_.ndim == 2) != bool(self.per_feature):
            raise ValueError(f"{name}: per_feature={self.per_feature}, but the encoder was fit "
                             f"with per_feature={not self.per_feature}; call fit again.")

    @property
    def _n_features_out(self):
        # From the fitted thresholds, so that the feature names always match
        # the output (transform refuses a changed n_thresholds).
        return self.n_features_in_ * self.thresholds_.shape[-1]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = []
        return tags


def _dense(X):
    return X.toarray() if hasattr(X, "toarray") else np.asarray(X, dtype=np.float64)
