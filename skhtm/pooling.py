"""SequencePooler: one feature vector per sequence, without learning."""

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import validate_data

from ._base import VersionedStateMixin
from ._validation import _named


class SequencePooler(VersionedStateMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                     BaseEstimator):
    """Pool a batch of sequences (n_samples, n_steps, n_features) into
    (n_samples, n_pooled_features).

    "union", "count" and "mean" forget the order of the steps: they are the
    order-free baselines against which a :class:`TemporalMemoryTransformer`
    shows what sequence context adds. "concatenate" keeps every step in its
    slot (it depends on the order, but only through the step index). A 2-D X
    is a batch of one-step sequences and passes through ("concatenate",
    "union" of binary data, "count" and "mean" all return it unchanged, as
    float for "mean").

    Parameters
    ----------
    pooling : {"union", "count", "mean", "max", "concatenate"}, default="union"
        "union": whether the feature was on at any step (binary data); "max":
        the maximum over steps; "count": the sum over steps; "mean": the mean;
        "concatenate": all steps side by side (n_steps * n_features).

    Attributes
    ----------
    n_features_in_ : int
        Features per step.
    n_steps_ : int
        Steps per sequence seen in ``fit`` (1 for 2-D X).

    See Also
    --------
    TemporalMemoryTransformer : Order-aware features of a sequence.
    SaccadeEncoder : Makes glimpse sequences of images.

    Examples
    --------
    >>> import numpy as np
    >>> from skhtm import SequencePooler
    >>> X = np.array([[[1, 0, 0], [0, 1, 0]]])     # one sequence of two steps
    >>> SequencePooler(pooling="union").fit_transform(X)
    array([[1, 1, 0]])
    >>> SequencePooler(pooling="concatenate").fit_transform(X)
    array([[1, 0, 0, 0, 1, 0]])
    """

    _parameter_constraints = {
        "pooling": [StrOptions({"union", "count", "mean", "max", "concatenate"})],
    }

    def __init__(self, pooling="union"):
        self.pooling = pooling

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Record the shape of X; nothing is learned.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_steps, n_features) or (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        X = self._validate(X, reset=True)
        self.n_steps_ = X.shape[1] if X.ndim == 3 else 1
        return self

    def transform(self, X):
        """Pool each sequence.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_steps, n_features) or (n_samples, n_features)

        Returns
        -------
        pooled : ndarray of shape (n_samples, n_features), or (n_samples, n_steps *
            n_features) for "concatenate"
        """
        self._validate_params()
        X = self._validate(X, reset=False)
        if X.ndim == 2:
            return self._one_step(X)
        if self.pooling == "concatenate":
            if hasattr(self, "n_steps_") and X.shape[1] != self.n_steps_:
                raise ValueError(
                    f"{type(self).__name__}: X has sequences of {X.shape[1]} steps, but "
                    f"pooling='concatenate' was fit on {self.n_steps_}.")
            return X.reshape(len(X), -1)
        if self.pooling == "union":
            return (X != 0).any(axis=1).astype(X.dtype if X.dtype != bool else np.uint8)
        if self.pooling == "max":
            return X.max(axis=1)
        if self.pooling == "count":
            return X.sum(axis=1)
        return X.mean(axis=1)

    def _one_step(self, X):
        """Pooling a one-step sequence leaves it as it is (dense or sparse)."""
        if self.pooling == "concatenate" and getattr(self, "n_steps_", 1) != 1:
            raise ValueError(
                f"{type(self).__name__}: X has one step per sample (2-D), but "
                f"pooling='concatenate' was fit on {self.n_steps_}.")
        if self.pooling == "union":
            return (X != 0).astype(np.uint8 if X.dtype == bool else X.dtype)
        if self.pooling == "mean":
            return X.astype(np.float64)
        return X

    @property
    def _n_features_out(self):
        if self.pooling == "concatenate":
            return self.n_features_in_ * self.n_steps_
        return self.n_features_in_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.three_d_array = True
        tags.input_tags.sparse = True
        return tags

    def _validate(self, X, *, reset):
        """X as (n_samples, n_steps, n_features); a 2-D X is one step per sample
        (kept sparse when it is sparse)."""
        ndim = len(X.shape) if hasattr(X, "shape") else np.asarray(X).ndim
        if sp.issparse(X) or ndim == 2:
            try:
                return validate_data(self, X, reset=reset, accept_sparse="csr",
                                     dtype="numeric")
            except (TypeError, ValueError) as exc:
                raise _named(self, exc) from exc
        X = np.asarray(X)
        if X.ndim != 3:
            raise ValueError(
                f"{type(self).__name__} expects a batch of sequences (n_samples, n_steps, "
                f"n_features) or (n_samples, n_features); got an array with {X.ndim} "
                f"dimension(s)." + (" Reshape your data with X.reshape(1, -1) for a single "
                                    "sample." if X.ndim < 2 else ""))
        if 0 in X.shape:
            raise ValueError(f"{type(self).__name__}: got an empty array of shape {X.shape}.")
        try:
            flat = validate_data(self, X.reshape(-1, X.shape[2]), reset=reset,
                                 dtype="numeric")
        except (TypeError, ValueError) as exc:
            raise _named(self, exc) from exc
        return flat.reshape(X.shape)
