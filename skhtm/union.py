"""PooledFeatureUnion: pooled counts of several poolers, side by side, in one array."""

from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.base import _fit_context, clone
from sklearn.pipeline import FeatureUnion
from sklearn.utils import Bunch, gen_batches
from sklearn.utils._indexing import _safe_indexing
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils._user_interface import _print_elapsed_time
from sklearn.utils.metadata_routing import _raise_for_params, _routing_enabled, process_routing
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import _num_samples, check_is_fitted

from . import _moments as M
from ._base import VersionedStateMixin

__all__ = ["PooledFeatureUnion"]


class PooledFeatureUnion(VersionedStateMixin, FeatureUnion):
    """A FeatureUnion for pooled activity counts that needs no more memory than its output.

    Each branch (typically a :class:`~skhtm.PatchSpatialPooler`) is fitted on
    X, then transforms X a chunk of rows at a time straight into its block of
    one float32 output array; the counts are square-rooted (the variance-
    stabilising transform for counts, which a linear read-out prefers) and
    standardised with means and scales learned in ``fit``, in place, chunk by
    chunk.

    The same as ``FeatureUnion([(name, make_pipeline(branch,
    FunctionTransformer(sqrt_counts), StandardScaler())), ...])`` up to float32
    rounding, but a plain FeatureUnion holds every branch's output and then
    their concatenation (twice the features), and a StandardScaler over a
    float32 matrix makes float64 temporaries of its size: the 60,000 training
    images of Fashion-MNIST with 36,864 features each need 8.8 GB as one
    float32 array and over 17 GB the plain way.

    Parameters
    ----------
    transformer_list : list of (str, transformer)
        The branches, as for :class:`~sklearn.pipeline.FeatureUnion`; each
        returns a 2-D array (or sparse matrix) of non-negative counts. A branch
        may be ``"drop"``; ``"passthrough"`` is refused (pixels are not counts).
        The branches are cloned in ``fit``; ``transformer_list`` then holds the
        fitted clones, as a FeatureUnion holds its fitted branches.
    counts : {"sqrt", "raw"}, default="sqrt"
        Square root of the branch outputs (which must then be non-negative), or
        the outputs as they are.
    standardize : bool, default=True
        Centre each feature and divide it by its standard deviation (features
        constant in the training set are only centred), as
        :class:`~sklearn.preprocessing.StandardScaler` does.
    chunk_size : int, default=1024
        Rows transformed at a time: the temporaries of a chunk (a branch's
        output for it, float64 sums of one branch's block) are all the memory
        needed beyond the output. The result does not depend on it.
    n_jobs : int, default=None
        Branches fitted in parallel (joblib). ``transform`` goes branch by
        branch: set ``n_jobs`` on the branches themselves (a
        PatchSpatialPooler threads its own transform).
    transformer_weights : dict, default=None
        Multiplies each branch's standardised features, keyed by branch name,
        as in FeatureUnion.
    verbose : bool, default=False
        Print the time each branch takes to fit.
    verbose_feature_names_out : bool, default=True
        Prefix each feature name with its branch's name, as in FeatureUnion.

    Attributes
    ----------
    mean_ : ndarray of float64 of shape (n_features_out,)
        Per-feature mean of the (square-rooted) training features; zeros
        with ``standardize=False``.
    scale_ : ndarray of float64 of shape (n_features_out,)
        Per-feature standard deviation (1 for a feature constant in the
        training set); ones with ``standardize=False``.
    n_features_in_ : int
        From the first kept branch, as in FeatureUnion.

    See Also
    --------
    sklearn.pipeline.FeatureUnion : the general union.
    PatchSpatialPooler : the branch this union is made for.
    skhtm.recipes.sqrt_counts : the square root as a pipeline step.

    Notes
    -----
    ``fit`` alone never holds the output: it accumulates the per-feature
    means and squared deviations one row at a time (Welford's update, in
    float64, compiled), so its memory is one chunk's, and the statistics are
    the same whatever ``chunk_size``. ``fit_transform`` writes the output once
    and standardises it in place afterwards.

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
    >>> bool(abs(F.mean(axis=0)).max() < 1e-5)
    True
    """

    _parameter_constraints = {
        "transformer_list": [list, tuple],
        "counts": [StrOptions({"sqrt", "raw"})],
        "standardize": ["boolean"],
        "chunk_size": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "transformer_weights": [dict, None],
        "verbose": ["verbose"],
        "verbose_feature_names_out": ["boolean"],
    }

    def __init__(self, transformer_list, *, counts="sqrt", standardize=True, chunk_size=1024,
                 n_jobs=None, transformer_weights=None, verbose=False,
                 verbose_feature_names_out=True):
        super().__init__(transformer_list, n_jobs=n_jobs,
                         transformer_weights=transformer_weights, verbose=verbose,
                         verbose_feature_names_out=verbose_feature_names_out)
        self.counts = counts
        self.standardize = standardize
        self.chunk_size = chunk_size

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, **params):
        """Fit every branch on X and learn the per-feature means and scales.

        Never holds the whole output: the statistics are gathered chunk by chunk.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            What the branches take (images for a PatchSpatialPooler).
        y : array-like, default=None
            Passed to each branch's ``fit``.
        **params : dict
            Passed to each branch's ``fit`` (routed to them with metadata
            routing enabled).

        Returns
        -------
        self : object
        """
        self._fit(X, y, params, "fit", keep_output=False)
        return self

    @_fit_context(prefer_skip_nested_validation=False)
    def fit_transform(self, X, y=None, **params):
        """Fit every branch on X; return the standardised features of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            What the branches take.
        y : array-like, default=None
            Passed to each branch's ``fit``.
        **params : dict
            Passed to each branch's ``fit`` (routed to them with metadata
            routing enabled).

        Returns
        -------
        features : ndarray of float32 of shape (n_samples, n_features_out)
        """
        return self._fit(X, y, params, "fit_transform", keep_output=True)

    def transform(self, X, **params):
        """The standardised features of X, written into one float32 array.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            What the branches take.
        **params : dict
            Only with metadata routing enabled: routed to the branches'
            ``transform``.

        Returns
        -------
        features : ndarray of float32 of shape (n_samples, n_features_out)
        """
        _raise_for_params(params, self, "transform")
        check_is_fitted(self, "scale_")
        X = _indexable(X)
        routed = (process_routing(self, "transform", **params) if _routing_enabled()
                  else None)
        widths = self._branch_widths
        out = np.empty((_num_samples(X), sum(widths)), dtype=np.float32)
        mean, scale = self.mean_.astype(np.float32), self.scale_.astype(np.float32)
        for rows in gen_batches(len(out), int(self.chunk_size)):
            X_rows = _safe_indexing(X, rows)
            for (name, branch, cols, weight), width in zip(self._blocks(widths), widths):
                block = out[rows, cols]
                self._write(name, branch, X_rows, block, routed, width)
                if self.standardize:
                    block -= mean[cols]
                    block /= scale[cols]
                if weight is not None:
                    block *= np.float32(weight)
        return out

    @property
    def n_features_in_(self):
        """Number of features seen during :term:`fit` (from the first kept branch)."""
        for _, branch in self.transformer_list:
            if not _is(branch, "drop"):
                return branch.n_features_in_
        raise AttributeError(f"{type(self).__name__} has no branch to take n_features_in_ from.")

    def __sklearn_is_fitted__(self):
        # Fitted once the statistics exist: a FeatureUnion asks its branches,
        # and stateless ones (a FunctionTransformer) always say yes.
        return hasattr(self, "scale_")

    # ----------------------------------------------------------- internals

    def _fit(self, X, y, params, method, *, keep_output):
        """Fit the branches, then one chunked pass: the output (if kept) and the
        per-feature statistics."""
        self._validate_transformers()
        self._validate_transformer_weights()
        for name, branch in self.transformer_list:
            if _is(branch, "passthrough"):
                raise ValueError(f"{type(self).__name__}: branch {name!r} is 'passthrough'; "
                                 "every branch must produce pooled counts (drop it with "
                                 "'drop', or use a FeatureUnion).")
        X = _indexable(X)
        if _routing_enabled():
            routed = process_routing(self, method, **params)
        else:
            routed = Bunch(**{name: Bunch(fit=params, transform={})
                              for name, _ in self.transformer_list})
        kept = self._kept()
        fitted = iter(Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_branch)(clone(branch), X, y, routed[name].fit, type(self).__name__,
                                 self._log_message(name, i, len(kept)))
            for i, (name, branch) in enumerate(kept, 1)))
        # A new list: the caller's list (and the branches in it) stay as they were.
        self.transformer_list = [(name, branch if _is(branch, "drop") else next(fitted))
                                 for name, branch in self.transformer_list]

        n = _num_samples(X)
        out = buffer = widths = None
        for rows in gen_batches(n, int(self.chunk_size)):
            X_rows = _safe_indexing(X, rows)
            parts = None
            if widths is None:
                # The first chunk tells each branch's width: its parts are held
                # until the output can be allocated.
                parts = [self._part(name, branch, X_rows, routed)
                         for name, branch in self._kept()]
                widths = [p.shape[1] for p in parts]
                n_features = sum(widths)
                if keep_output:
                    out = np.empty((n, n_features), dtype=np.float32)
                else:  # fit alone: one chunk's rows at a time
                    buffer = np.empty((min(int(self.chunk_size), n), n_features), np.float32)
                count, mean, m2 = np.zeros(1, np.int64), np.zeros(n_features), np.zeros(n_features)
            chunk = out[rows] if keep_output else buffer[:rows.stop - rows.start]
            for i, (name, branch, cols, _) in enumerate(self._blocks(widths)):
                if parts is not None:
                    chunk[:, cols] = parts[i]
                else:
                    self._write(name, branch, X_rows, chunk[:, cols], routed, widths[i])
            parts = None
            if self.standardize:
                M.update_moments(chunk, count, mean, m2)
        if widths is None:
            raise ValueError(f"{type(self).__name__}: X has no samples.")
        self._branch_widths = widths
        if self.standardize:
            var = m2 / n
            # StandardScaler's test for a feature indistinguishable from a constant
            # (the error bound of a two-pass variance, Chan, Golub & LeVeque): its
            # rounding noise must not be divided by itself.
            eps = np.finfo(np.float64).eps
            constant = var <= n * eps * var + (n * mean * eps) ** 2
            self.mean_, self.scale_ = mean, np.where(constant, 1.0, np.sqrt(var))
        else:
            self.mean_, self.scale_ = np.zeros(n_features), np.ones(n_features)
        if not keep_output:
            return None
        mean, scale = self.mean_.astype(np.float32), self.scale_.astype(np.float32)
        for rows in gen_batches(n, int(self.chunk_size)):
            for name, _, cols, weight in self._blocks(widths):
                block = out[rows, cols]
                if self.standardize:
                    block -= mean[cols]
                    block /= scale[cols]
                if weight is not None:
                    block *= np.float32(weight)
        return out

    def _kept(self):
        return [(name, branch) for name, branch in self.transformer_list
                if not _is(branch, "drop")]

    def _blocks(self, widths):
        """(name, branch, column slice, weight or None) of each kept branch."""
        weights = self.transformer_weights or {}
        blocks, start = [], 0
        for (name, branch), width in zip(self._kept(), widths):
            blocks.append((name, branch, slice(start, start + width), weights.get(name)))
            start += width
        return blocks

    def _part(self, name, branch, X_rows, routed):
        """A branch's output for some rows: a new float32 array, checked, square-rooted."""
        # A copy, always: the square root works in place, and a branch may return
        # its input (an identity FunctionTransformer) or its own state.
        part = np.array(self._raw(name, branch, X_rows, routed, None), dtype=np.float32)
        return self._finish(name, branch, part)

    def _write(self, name, branch, X_rows, block, routed, width):
        """A branch's output for some rows into ``block`` (a float32 view of the
        output), checked and square-rooted in place."""
        block[...] = self._raw(name, branch, X_rows, routed, width)
        self._finish(name, branch, block)

    def _raw(self, name, branch, X_rows, routed, width):
        """A branch's output for some rows as a dense 2-D array of ``width`` columns
        (any width when None), or an error naming the branch."""
        params = routed[name].transform if routed is not None else {}
        raw = branch.transform(X_rows, **params)
        raw = raw.toarray() if sp.issparse(raw) else np.asarray(raw)
        n_rows = _num_samples(X_rows)
        if raw.ndim != 2 or raw.shape[0] != n_rows:
            raise ValueError(f"{type(self).__name__}: branch {name!r} ({type(branch).__name__}) "
                             f"returned shape {raw.shape} for {n_rows} samples; expected 2-D "
                             "(n_samples, n_features).")
        if width is not None and raw.shape[1] != width:
            raise ValueError(f"{type(self).__name__}: branch {name!r} ({type(branch).__name__}) "
                             f"returns {raw.shape[1]} features, but it returned {width} in "
                             "fit (a parameter changed since?); refit the union.")
        return raw

    def _finish(self, name, branch, block):
        """``block`` square-rooted in place (counts="sqrt"), refused if negative."""
        if self.counts == "sqrt":
            low = block.min() if block.size else 0.0
            if low < 0:
                raise ValueError(
                    f"{type(self).__name__}: branch {name!r} ({type(branch).__name__}) "
                    f"returned negative values (min {low:g}); with counts='sqrt' every branch "
                    "must return non-negative counts (counts='raw' takes any features).")
            np.sqrt(block, out=block)
        return block

    def _log_message(self, name, idx, total):
        if not self.verbose:
            return None
        return f"(step {idx} of {total}) Processing {name}"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Always float32, whatever the input's dtype: it preserves none.
        tags.transformer_tags.preserves_dtype = []
        return tags


def _fit_branch(branch, X, y, params, clsname, message):
    with _print_elapsed_time(clsname, message):
        return branch.fit(X, y, **params)


def _is(branch, word):
    return isinstance(branch, str) and branch == word


def _indexable(X):
    """X in a form whose rows ``_safe_indexing`` can slice: arrays, DataFrames,
    row-sliceable sparse matrices and lists stay as they are."""
    if sp.issparse(X):
        return X if X.format in ("csr", "csc", "lil") else X.tocsr()
    if hasattr(X, "shape") and hasattr(X, "__getitem__") or isinstance(X, list):
        return X
    return np.asarray(X)
