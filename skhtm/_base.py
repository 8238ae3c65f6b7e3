"""What every skhtm estimator shares: versioned, skops-safe state and progress lines."""

import sys
import time
import warnings

import scipy.sparse as sp

from ._version import __version__
from .exceptions import InconsistentVersionWarning

# Fitted state is pickled as plain types only (numpy arrays, python scalars,
# tuples, dicts, numpy random states), so that skops.io can load it without
# trusting anything but the estimators' own classes. Sparse matrices become
# tagged dicts of arrays; an estimator's own containers are its business: keep
# them plain (e.g. the Temporal Memory keeps a dict of arrays).
_SPARSE_TAG = "__skhtm_sparse__"
_SPARSE_TYPES = {"csr_matrix": sp.csr_matrix, "csr_array": sp.csr_array}


def _map_items(value, func):
    """``func`` applied to the items of a tuple, list or dict (a new container of the
    same type); any other value unchanged. The recursion shared by _encode and _decode."""
    if type(value) is tuple:
        return tuple(func(v) for v in value)
    if type(value) is list:
        return [func(v) for v in value]
    if type(value) is dict:
        return {k: func(v) for k, v in value.items()}
    return value


def _encode(value):
    if sp.issparse(value) and value.format == "csr" and type(value).__name__ in _SPARSE_TYPES:
        return {_SPARSE_TAG: type(value).__name__, "data": value.data,
                "indices": value.indices, "indptr": value.indptr,
                "shape": tuple(int(n) for n in value.shape)}
    return _map_items(value, _encode)


def _decode(value):
    if type(value) is dict and _SPARSE_TAG in value:
        matrix = _SPARSE_TYPES[value[_SPARSE_TAG]](
            (value["data"], value["indices"], value["indptr"]), shape=value["shape"])
        # The constructor may pick another index dtype: keep the saved arrays.
        matrix.indices, matrix.indptr = value["indices"], value["indptr"]
        return matrix
    return _map_items(value, _decode)


class VersionedStateMixin:
    """Pickle state stamped with the skhtm version, made of skops-trusted types.

    Goes first in an estimator's bases. ``__getstate__`` adds
    ``_skhtm_version`` and turns sparse matrices into dicts of arrays;
    ``__setstate__`` rebuilds them and warns with
    :class:`~skhtm.exceptions.InconsistentVersionWarning` when the state was
    saved by another skhtm version. Works for pickle, joblib, copy and
    ``skops.io`` alike.
    """

    def __getstate__(self):
        state = super().__getstate__()
        state = {key: _encode(value) for key, value in state.items()}
        state["_skhtm_version"] = __version__
        return state

    def __setstate__(self, state):
        state = dict(state)
        original = state.pop("_skhtm_version", "unknown")
        if original != __version__:
            warnings.warn(InconsistentVersionWarning(
                estimator_name=type(self).__name__, current_version=__version__,
                original_version=original), stacklevel=2)
        super().__setstate__({key: _decode(value) for key, value in state.items()})


def _skhtm_classes(cls):
    for sub in cls.__subclasses__():
        if sub.__module__.split(".")[0] == "skhtm" and not sub.__name__.startswith("_"):
            yield sub
        yield from _skhtm_classes(sub)


def skops_trusted_types():
    """Type names to pass as ``trusted=`` to ``skops.io.load`` for skhtm models.

    The fully qualified names of skhtm's estimator classes. Their fitted state
    holds only numpy arrays, python scalars, tuples, dicts and numpy random
    states, which skops trusts already, so this list and skops' defaults
    (scikit-learn, numpy, scipy) are enough to load any pipeline of skhtm and
    scikit-learn estimators. Check a file with ``skops.io.get_untrusted_types``
    before loading it; a user-defined callable (e.g. a ``gaze`` function of
    :class:`~skhtm.SaccadeEncoder`) appears there and is yours to judge.

    Returns
    -------
    names : list of str
        Sorted, e.g. ``"skhtm.spatial_pooler.SpatialPoolerTransformer"``.

    Examples
    --------
    >>> from skhtm import skops_trusted_types
    >>> "skhtm.spatial_pooler.SpatialPoolerTransformer" in skops_trusted_types()
    True
    """
    import skhtm  # noqa: F401  (every estimator class is defined once skhtm is imported)

    return sorted({f"{c.__module__}.{c.__qualname__}" for c in _skhtm_classes(
        VersionedStateMixin)})


class EpochProgress:
    """Progress lines of a verbose ``fit``, scikit-learn style.

    ``verbose >= 1``: one line per epoch with the throughput, the time spent
    and an estimate of the time left; ``verbose >= 2`` also every tenth of an
    epoch. Lines go to stdout, like scikit-learn's, and are flushed at once.
    """

    def __init__(self, estimator, n_epochs, n_per_epoch, unit="samples"):
        self.name = type(estimator).__name__
        self.verbose = int(estimator.verbose or 0)
        self.n_epochs, self.n_per_epoch, self.unit = n_epochs, max(int(n_per_epoch), 1), unit
        self.start = time.perf_counter()
        self.epoch, self.done_in_epoch = 0, 0
        self._tenth = max(self.n_per_epoch // 10, 1)
        self._next = self._tenth

    def update(self, n=1):
        """``n`` more samples of the current epoch are done."""
        self.done_in_epoch += n
        if self.verbose >= 2 and self.done_in_epoch >= self._next \
                and self.done_in_epoch < self.n_per_epoch:
            self._next = (self.done_in_epoch // self._tenth + 1) * self._tenth
            self._print(f"epoch {self.epoch + 1}/{self.n_epochs}, "
                        f"{self.done_in_epoch}/{self.n_per_epoch} {self.unit}")

    def end_epoch(self, details=""):
        """Report the epoch that just finished; ``details`` ends the line."""
        self.epoch += 1
        self.done_in_epoch, self._next = 0, self._tenth
        if self.verbose >= 1:
            self._print(f"epoch {self.epoch}/{self.n_epochs}", details)

    def _print(self, head, details=""):
        elapsed = time.perf_counter() - self.start
        done = self.epoch * self.n_per_epoch + self.done_in_epoch
        rate = done / max(elapsed, 1e-9)
        left = (self.n_epochs * self.n_per_epoch - done) / rate if done else float("nan")
        tail = f"; {details}" if details else ""
        print(f"[{self.name}] {head}: {rate:.0f} {self.unit}/s, {elapsed:.1f}s elapsed, "
              f"~{left:.1f}s left{tail}", file=sys.stdout, flush=True)
