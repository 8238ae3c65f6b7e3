"""PooledFeatureUnion: pooled counts of several poolers, side by side, in one array."""

from numbers import Integral

import numpy as np
from sklearn.base import clone
from sklearn.pipeline import FeatureUnion
from sklearn.utils import gen_batches
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import check_is_fitted

__all__ = ["PooledFeatureUnion"]


class PooledFeatureUnion(FeatureUnion):
    """A FeatureUnion for pooled activity counts that needs no more memory than its output.

    Each branch (typically a :class:`~skhtm.PatchSpatialPooler`) is fitted on
    X, then transforms X a chunk of rows at a time straight into its block of
    one float32 output array; the counts are square-rooted (the variance-
    stabilising transform for counts, which a linear read-out prefers) and
    standardised with means and scales learned in ``fit``, in place, chunk by
    chunk.

    The same as ``FeatureUnion(pipelines of branch, sqrt, StandardScaler)``
    up to float32 rounding, but a plain FeatureUnion holds every branch's
    output and then their concatenation (twice the features), and a
    StandardScaler over a float32 matrix makes float64 temporaries of its size:
    the 60,000 training images of Fashion-MNIST with 36,864 features each
    need 8.8 GB as one float32 array and over 17 GB the plain way.

    Parameters
    ----------
    transformer_list : list of (str, transformer)
        The branches, as for :class:`~sklearn.pipeline.FeatureUnion`; each
        returns a 2-D array of non-negative counts.
    counts : {"sqrt", "raw"}, default="sqrt"
        Square root of the branch outputs, or the outputs as they are.
    standardize : bool, default=True
        Centre each feature and divide it by its standard deviation (features
        constant in the training set are only centred).
    chunk_size : int, default=4096
        Rows transformed at a time: the temporaries of a chunk are all the
        memory needed beyond the output.
    n_jobs : None
        Not used: set ``n_jobs`` on the branches (a PatchSpatialPooler threads
        its own transform). Kept for FeatureUnion's API.
    transformer_weights : dict, default=None
        Multiplies each branch's standardised features, as in FeatureUnion.
    verbose : bool, default=False
    verbose_feature_names_out : bool, default=True

    Attributes
    ----------
    mean_ : ndarray of float64 (n_features_out,)
        Per-feature mean of the (square-rooted) training features.
    scale_ : ndarray of float64 (n_features_out,)
        Per-feature standard deviation (1 where it is 0).
    n_features_in_ : int
        From the first branch, as in FeatureUnion.

    See Also
    --------
    sklearn.pipeline.FeatureUnion : the general union.
    PatchSpatialPooler : the branch this union is made for.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhtm import PatchSpatialPooler, PooledFeatureUnion, SpatialPoolerTransformer
    >>> X, y = load_digits(return_X_y=True)
    >>> union = PooledFeatureUnion([
    ...     (f"patch{s}", PatchSpatialPooler(SpatialPoolerTransformer(column_shape=32),
    ...                                      patch_shape=3, pool_grid=2, random_state=s))
    ...     for s in range(2)])
    >>> F = union.fit_transform(X[:100])
    >>> F.shape, F.dtype
    ((100, 256), dtype('float32'))
    """

    _parameter_constraints = {
        "counts": [StrOptions({"sqrt", "raw"})],
        "standardize": ["boolean"],
        "chunk_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, transformer_list, *, counts="sqrt", standardize=True, chunk_size=4096,
                 n_jobs=None, transformer_weights=None, verbose=False,
                 verbose_feature_names_out=True):
        super().__init__(transformer_list, n_jobs=n_jobs,
                         transformer_weights=transformer_weights, verbose=verbose,
                         verbose_feature_names_out=verbose_feature_names_out)
        self.counts = counts
        self.standardize = standardize
        self.chunk_size = chunk_size

    def fit(self, X, y=None, **params):
        """Fit every branch on X and learn the per-feature means and scales.

        Returns
        -------
        self : object
        """
        self.fit_transform(X, y, **params)
        return self

    def fit_transform(self, X, y=None, **params):
        """Fit every branch on X; return the standardised features of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
        y : array-like, default=None
            Passed to each branch's ``fit``.

        Returns
        -------
        features : ndarray of float32 (n_samples, n_features_out)
        """
        validate_parameter_constraints(
            self._parameter_constraints,
            {k: getattr(self, k) for k in self._parameter_constraints},
            caller_name=type(self).__name__)
        self._validate_transformers()
        fitted = []
        for name, trans in self.transformer_list:
            if trans == "drop":
                continue
            if trans == "passthrough":
                raise ValueError(f"{type(self).__name__}: branch {name!r} is 'passthrough'; "
                                 "every branch must produce pooled counts.")
            fitted.append((name, clone(trans).fit(X, y, **params)))
        new_list, it = [], iter(fitted)
        for name, trans in self.transformer_list:
            new_list.append((name, trans) if trans == "drop" else next(it))
        self.transformer_list = new_list
        out = self._stack(X)
        n_features = out.shape[1]
        if self.standardize:
            # Chunked float64 sums: the temporaries are those of one chunk.
            total = np.zeros(n_features)
            squares = np.zeros(n_features)
            for rows in gen_batches(len(out), int(self.chunk_size)):
                block = out[rows].astype(np.float64)
                total += block.sum(axis=0)
                squares += np.square(block).sum(axis=0)
            n = max(len(out), 1)
            self.mean_ = total / n
            var = np.maximum(squares / n - np.square(self.mean_), 0.0)
            scale = np.sqrt(var)
            scale[scale < 10 * np.finfo(np.float64).eps * np.maximum(1.0, np.abs(self.mean_))] = 1
            self.scale_ = scale
            self._standardize(out)
        else:
            self.mean_ = np.zeros(n_features)
            self.scale_ = np.ones(n_features)
        self._apply_weights(out)
        return out

    def transform(self, X, **params):
        """The standardised features of X, written into one float32 array.

        Returns
        -------
        features : ndarray of float32 (n_samples, n_features_out)
        """
        check_is_fitted(self, "scale_")
        out = self._stack(X)
        if self.standardize:
            self._standardize(out)
        self._apply_weights(out)
        return out

    # ----------------------------------------------------------- internals

    def _branches(self):
        return [(name, t) for name, t in self.transformer_list if t != "drop"]

    def _stack(self, X):
        """Every branch's output of X in its block of one float32 array, sqrt applied."""
        n = _n_rows(X)
        blocks, offset, out = [], 0, None
        for rows in gen_batches(n, int(self.chunk_size)):
            parts = [np.asarray(t.transform(_rows(X, rows)), dtype=np.float32)
                     for _, t in self._branches()]
            if out is None:
                widths = [p.shape[1] for p in parts]
                out = np.empty((n, sum(widths)), dtype=np.float32)
                for w in widths:
                    blocks.append(slice(offset, offset + w))
                    offset += w
            for part, cols in zip(parts, blocks):
                if part.size and part.min() < 0:
                    raise ValueError(f"{type(self).__name__}: a branch returned negative "
                                     "values; its output must be counts (>= 0).")
                out[rows, cols] = part
            if self.counts == "sqrt":
                np.sqrt(out[rows], out=out[rows])
        if out is None:
            out = np.empty((0, sum(self._widths())), dtype=np.float32)
        self._blocks = blocks
        return out

    def _widths(self):
        return [len(t.get_feature_names_out()) for _, t in self._branches()]

    def _standardize(self, out):
        mean = self.mean_.astype(np.float32)
        scale = self.scale_.astype(np.float32)
        for rows in gen_batches(len(out), int(self.chunk_size)):
            block = out[rows]
            block -= mean
            block /= scale

    def _apply_weights(self, out):
        if not self.transformer_weights:
            return
        offset = 0
        for (name, _), width in zip(self._branches(), self._widths()):
            weight = self.transformer_weights.get(name)
            if weight is not None:
                out[:, offset:offset + width] *= np.float32(weight)
            offset += width

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []
        return tags


def _n_rows(X):
    return X.shape[0] if hasattr(X, "shape") else len(X)


def _rows(X, rows):
    return X[rows] if hasattr(X, "shape") else [X[i] for i in range(rows.start, rows.stop)]
