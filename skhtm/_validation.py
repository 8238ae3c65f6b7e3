"""Input checks shared by the skhtm estimators."""

from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import validate_data

BINARY_HINT = (
    "Binarize it first with sklearn.preprocessing.Binarizer, or keep grey levels "
    "with skhtm.ThermometerEncoder (several thresholds per pixel)."
)


def _named(estimator, exc):
    """Re-raise ``exc`` with the estimator's name in front, keeping its type and text."""
    name = type(estimator).__name__
    if name in str(exc):
        return exc
    return type(exc)(f"{name}: {exc}")


def validate_last_axis(estimator, X, *, reset, accept_sequences=True):
    """Validate X whose last axis holds the features, as a 2-D array.

    Accepts (n_samples, n_features), and with ``accept_sequences`` a batch of
    sequences (n_samples, n_steps, n_features); scipy.sparse input must be 2-D.

    Returns
    -------
    X2d : ndarray or CSR matrix, (n_rows, n_features)
    lead_shape : tuple
        The leading axes to restore on output: (n_samples,) or (n_samples, n_steps).
    """
    name = type(estimator).__name__
    if not sp.issparse(X) and not hasattr(X, "shape"):
        try:
            X = np.asarray(X)
        except ValueError as exc:  # ragged nested lists
            raise _named(estimator, exc) from exc
    ndim = len(X.shape)
    allowed = (2, 3) if accept_sequences and not sp.issparse(X) else (2,)
    if ndim not in allowed:
        expected = "a 2-D array (n_samples, n_features)"
        if accept_sequences:
            expected += " or a 3-D batch of sequences (n_samples, n_steps, n_features)"
        hint = (" Reshape your data with array.reshape(1, -1) for a single sample."
                if ndim == 1 else "")
        raise ValueError(f"{name} expects {expected}; got an array with {ndim} dimension(s)."
                         + hint)
    lead_shape = tuple(X.shape[:-1])
    if ndim == 3:
        if 0 in X.shape:
            raise ValueError(f"{name}: got an empty batch of sequences of shape {X.shape}.")
        X = np.asarray(X).reshape(-1, X.shape[-1])
    try:
        X = validate_data(estimator, X, reset=reset, accept_sparse="csr", dtype="numeric")
    except (TypeError, ValueError) as exc:
        raise _named(estimator, exc) from exc
    return X, lead_shape


def check_binary(estimator, X):
    """Raise a clear error unless X (dense or sparse, 2-D) holds only 0 and 1."""
    name = type(estimator).__name__
    values = X.data if sp.issparse(X) else X
    if values.dtype == bool:
        return
    if values.dtype.kind == "u":  # one pass suffices: no negatives, no NaN
        if values.size and values.max() <= 1:
            return
    if np.any(values < 0):
        raise ValueError(
            f"Negative values in data passed to {name}, which requires binary input "
            "(0/1 or bool). "
            + BINARY_HINT)
    bad = (values != 0) & (values != 1)
    if np.any(bad):
        example = values[bad].flat[0]
        raise ValueError(
            f"{name} requires binary input (0/1 or bool); X contains other values "
            f"(e.g. {example!r}). " + BINARY_HINT)


def validate_image_batch(estimator, X, *, reset, ndims, expects, dtype=np.float64):
    """The checks every image estimator makes before looking at image shapes.

    X as an array of ``ndims`` dimensions (not sparse), validated flattened to
    (n_samples, n_pixels) by scikit-learn (its own messages for empty input,
    NaN / inf, dtype and n_features_in_), each error naming the estimator.
    ``expects`` describes the accepted shapes for the error message. ``dtype``
    as in ``validate_data`` (a list keeps any dtype of it without a copy).

    Returns
    -------
    flat : ndarray of ``dtype`` (float64 by default), (n_samples, n_pixels)
    shape : tuple, the shape of X
    """
    name = type(estimator).__name__
    if not hasattr(X, "shape") or hasattr(X, "iloc"):
        try:
            X = np.asarray(X)
        except ValueError as exc:
            raise _named(estimator, exc) from exc
    if sp.issparse(X):
        raise ValueError(f"{name}: sparse input is not supported; pass images as a dense array.")
    ndim = len(X.shape)
    if ndim not in ndims:
        raise ValueError(
            f"{name}: expects {expects}; got an array with {ndim} dimension(s)."
            + (" Reshape your data with X.reshape(1, -1) for a single flattened image."
               if ndim < 2 else ""))
    n = X.shape[0]
    try:
        flat = validate_data(estimator, np.asarray(X).reshape(n, int(np.prod(X.shape[1:]))),
                             reset=reset, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise _named(estimator, exc) from exc
    return flat, tuple(X.shape)


def int_shape(estimator, name, value, *, lengths=(2,), scalar=True, low=1):
    """A shape parameter as a tuple of Python ints, or a clear error.

    ``value`` is a sequence of ints whose length is one of ``lengths``, or
    (with ``scalar``) one int, repeated to ``lengths[0]``. Every entry must be
    an integer (numpy's too; never a float, which would be truncated, nor a
    bool) of at least ``low``. The ValueError names the estimator and ``name``.
    """
    def fail():
        counts = " or ".join(str(n) for n in lengths)
        form = "an int or " if scalar else ""
        raise ValueError(f"{type(estimator).__name__}: {name} must be {form}a tuple of "
                         f"{counts} ints >= {low}; got {value!r}.")

    def is_int(v):
        return isinstance(v, Integral) and not isinstance(v, (bool, np.bool_))

    if is_int(value):
        if not scalar:
            fail()
        items = (value,) * lengths[0]
    else:
        try:
            one_d = not isinstance(value, (str, bytes)) and np.ndim(value) == 1
        except ValueError:  # ragged
            one_d = False
        if not one_d:
            fail()
        items = tuple(value)
    if len(items) not in lengths or not all(is_int(v) for v in items) or min(items) < low:
        fail()
    return tuple(int(v) for v in items)
