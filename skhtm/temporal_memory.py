"""TemporalMemoryTransformer: HTM sequence memory as a scikit-learn transformer."""

from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted

from . import _temporal_memory as K
from ._base import EpochProgress, VersionedStateMixin
from ._utils import restore_on_error
from ._validation import check_binary, validate_last_axis

# Sequences per inference chunk; fixed, so results never depend on n_jobs.
_TRANSFORM_CHUNK = 64
_CELL_OUTPUTS = ("active_cells", "predicted_cells")
# The kernels' int_params and float_params, in their order.
_INT_PARAMS = ("cells_per_column", "activation_threshold", "min_threshold",
               "max_new_synapse_count", "max_segments_per_cell", "max_synapses_per_segment")
_FLOAT_PARAMS = ("initial_permanence", "connected_permanence", "permanence_increment",
                 "permanence_decrement", "predicted_segment_decrement")
_INT_MAX = np.iinfo(np.int32).max
_INITIAL_CAPACITY = 256
_FAST_DTYPES = (np.dtype(bool), np.dtype(np.uint8))
_OUTPUT_CODES = {"active_cells": K.ACTIVE_CELLS, "predicted_cells": K.PREDICTED_CELLS,
                 "predictive_columns": K.PREDICTIVE_COLUMNS, "anomaly": K.ANOMALY}
# Kernel parameter arrays by parameter values (read-only, shared).
_PARAMS_CACHE = {}
_POOLING_CODES = {None: K.PER_STEP, "union": K.UNION, "count": K.COUNT, "mean": K.MEAN}


class Connections(NamedTuple):
    """Read-only views of a fitted Temporal Memory's segments and synapses.

    Row ``s`` is segment slot ``s`` (below the high-water mark of slots used).
    """

    segment_cell: np.ndarray
    """int32: the cell that owns each segment; -1 for a free slot."""
    segment_last_used: np.ndarray
    """int64: the time step at which each segment was last active or created."""
    segment_n_synapses: np.ndarray
    """int32: synapses of each segment."""
    presynaptic_cell: np.ndarray
    """int32, (n_segments, width): the cell each synapse comes from; -1 for an empty slot."""
    permanence: np.ndarray
    """float32, (n_segments, width): the permanence of each synapse; 0 in empty slots."""


class TemporalMemoryTransformer(VersionedStateMixin, ClassNamePrefixFeaturesOutMixin,
                                TransformerMixin, BaseEstimator):
    """HTM Temporal Memory: learns sequences of SDRs, predicts and scores anomalies.

    Each input column (an active bit of the SDR, e.g. an active column of a
    :class:`SpatialPoolerTransformer`) has ``cells_per_column`` cells. Cells
    grow distal segments whose synapses connect to cells that were active the
    step before; a segment with at least ``activation_threshold`` connected
    synapses from active cells puts its cell in the predictive state. In an
    active column the predicted cells become active; a column nobody predicted
    bursts (all its cells become active). The active cells therefore code the
    current input *in the context of the steps before it*: "B after A" and
    "B after X" activate different cells of the same columns.

    Input is a batch of sequences, shape (n_samples, n_steps, n_columns), each
    starting from a reset; or one stream, shape (n_steps, n_columns). Values
    are binary.

    Parameters
    ----------
    cells_per_column : int, default=32
    activation_threshold : int, default=13
        Active connected synapses that make a segment active (predictive).
    min_threshold : int, default=10
        Active potential synapses (any permanence) that make a segment
        matching: a candidate for learning when its column bursts.
    initial_permanence : float, default=0.21
        Permanence of a newly grown synapse.
    connected_permanence : float, default=0.5
        Permanence at and above which a synapse is connected.
    permanence_increment : float, default=0.1
    permanence_decrement : float, default=0.1
    predicted_segment_decrement : float, default=0.0
        Punishment of synapses from active cells on segments that predicted a
        column that did not become active. A small value (about
        ``permanence_increment`` times the input density) forgets wrong
        predictions.
    max_new_synapse_count : int, default=20
        A learning segment grows synapses to previous winner cells until it has
        this many active potential synapses.
    max_segments_per_cell : int, default=255
        A full cell replaces its least recently used segment.
    max_synapses_per_segment : int, default=255
        A full segment replaces its weakest synapses.
    output : {"active_cells", "predicted_cells", "predictive_columns", "anomaly"}, \
default="active_cells"
        What ``transform`` returns for each step:

        - ``"active_cells"``: the active cells (n_columns * cells_per_column).
        - ``"predicted_cells"``: the active cells that were correctly predicted
          (empty when the step was unexpected).
        - ``"predictive_columns"``: the columns predicted for the *next* step.
        - ``"anomaly"``: the raw anomaly score, the fraction of active columns
          that were not predicted.
    pooling : {"union", "count", "mean"} or None, default="union"
        How a batch of sequences is summarised over its steps: ``"union"``
        (maximum: any step), ``"count"`` (sum), ``"mean"``, or ``None`` to keep
        every step (output of shape (n_samples, n_steps, n_features)). A
        single stream (2-D input) is always returned step by step.
    n_epochs : int, default=1
        Passes over the training sequences in ``fit``.
    shuffle : bool, default=True
        Shuffle the sequences before each epoch of ``fit``.
    sparse_output : bool, default=False
        Return a CSR matrix when the output is 2-D.
    n_jobs : int, default=None
        Threads used by ``transform``. Results do not depend on it.
    random_state : int, RandomState instance or None, default=None
        Seeds the choice of winner cells among equals, the sampling of new
        synapses and the shuffling.
    verbose : int, default=0
        Print progress of learning: one line per epoch with sequences (or,
        for a stream, steps) per second, the time left and the model size
        (``1``), and every tenth of an epoch too (``2``).

    Attributes
    ----------
    connections_ : Connections
        Read-only views of the distal segments and synapses:
        ``segment_cell``, ``segment_last_used``, ``segment_n_synapses``,
        ``presynaptic_cell`` and ``permanence`` (see Notes).
    n_segments_ : int
    n_synapses_ : int
    n_columns_ : int
    n_cells_ : int
    n_iterations_ : int
        Time steps learned from.
    n_features_in_ : int

    See Also
    --------
    SpatialPoolerTransformer : Produces the SDRs this estimator takes.

    Notes
    -----
    The learning rule is the online algorithm of the BAMI pseudocode, one
    time step at a time, compiled with numba. ``fit`` resets before each
    sequence; ``partial_fit`` on a stream continues it from where the last
    call stopped, so a long stream can be fed in chunks, down to one step per
    call at about the cost of a step (the model is not copied: a call is
    checked before it changes anything). :meth:`partial_fit_anomaly` learns
    the same way and returns the anomaly of each step as it arrived, before
    learning it: the way to score a live stream. ``transform`` never learns
    and starts each sequence (and a stream) from a reset; it runs sequences
    in fixed chunks over ``n_jobs`` threads.

    ``cells_per_column`` cannot change after fitting (``transform`` and
    ``partial_fit`` refuse it; ``fit`` starts afresh), nor can
    ``max_synapses_per_segment`` and ``max_segments_per_cell`` fall below
    what the model holds already; the other parameters apply from the next
    call, e.g. ``connected_permanence`` and ``activation_threshold`` to
    ``transform``.

    Segment ``s`` belongs to cell ``connections_.segment_cell[s]`` (-1: a free
    slot); its synapses are the entries of ``connections_.presynaptic_cell[s]``
    that are not -1, with ``connections_.permanence[s]``. Cell ``c`` is cell
    ``c % cells_per_column`` of column ``c // cells_per_column``. The fitted
    state is a dict of numpy arrays, so the model pickles (and loads with
    ``skops.io``) as plain arrays.

    References
    ----------
    .. [1] J. Hawkins, S. Ahmad, "Why Neurons Have Thousands of Synapses, a
       Theory of Sequence Memory in Neocortex", Frontiers in Neural Circuits,
       2016.
    .. [2] Y. Cui, S. Ahmad, J. Hawkins, "Continuous Online Sequence Learning
       with an Unsupervised Neural Network Model", Neural Computation, 2016.
    .. [3] Numenta, "Biological and Machine Intelligence (BAMI)", Temporal
       Memory Algorithm Details, 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from skhtm import TemporalMemoryTransformer
    >>> rng = np.random.RandomState(0)
    >>> sdrs = np.zeros((4, 256), dtype=np.uint8)
    >>> for row in sdrs:
    ...     row[rng.choice(256, 10, replace=False)] = 1
    >>> stream = np.tile(sdrs, (10, 1))          # A B C D A B C D ...
    >>> tm = TemporalMemoryTransformer(cells_per_column=8, activation_threshold=8,
    ...                                min_threshold=6, output="anomaly",
    ...                                random_state=0).fit(stream)
    >>> tm.transform(stream[:8]).ravel().round(2).tolist()
    [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    """

    _parameter_constraints = {
        "cells_per_column": [Interval(Integral, 1, _INT_MAX, closed="both")],
        "activation_threshold": [Interval(Integral, 1, _INT_MAX, closed="both")],
        "min_threshold": [Interval(Integral, 1, _INT_MAX, closed="both")],
        "initial_permanence": [Interval(Real, 0, 1, closed="both")],
        "connected_permanence": [Interval(Real, 0, 1, closed="both")],
        "permanence_increment": [Interval(Real, 0, 1, closed="both")],
        "permanence_decrement": [Interval(Real, 0, 1, closed="both")],
        "predicted_segment_decrement": [Interval(Real, 0, 1, closed="both")],
        "max_new_synapse_count": [Interval(Integral, 1, _INT_MAX, closed="both")],
        "max_segments_per_cell": [Interval(Integral, 1, _INT_MAX, closed="both")],
        "max_synapses_per_segment": [Interval(Integral, 1, _INT_MAX, closed="both")],
        "output": [StrOptions({"active_cells", "predicted_cells", "predictive_columns",
                               "anomaly"})],
        "pooling": [StrOptions({"union", "count", "mean"}), None],
        "n_epochs": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "sparse_output": ["boolean"],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        cells_per_column=32,
        *,
        activation_threshold=13,
        min_threshold=10,
        initial_permanence=0.21,
        connected_permanence=0.5,
        permanence_increment=0.1,
        permanence_decrement=0.1,
        predicted_segment_decrement=0.0,
        max_new_synapse_count=20,
        max_segments_per_cell=255,
        max_synapses_per_segment=255,
        output="active_cells",
        pooling="union",
        n_epochs=1,
        shuffle=True,
        sparse_output=False,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.cells_per_column = cells_per_column
        self.activation_threshold = activation_threshold
        self.min_threshold = min_threshold
        self.initial_permanence = initial_permanence
        self.connected_permanence = connected_permanence
        self.permanence_increment = permanence_increment
        self.permanence_decrement = permanence_decrement
        self.predicted_segment_decrement = predicted_segment_decrement
        self.max_new_synapse_count = max_new_synapse_count
        self.max_segments_per_cell = max_segments_per_cell
        self.max_synapses_per_segment = max_synapses_per_segment
        self.output = output
        self.pooling = pooling
        self.n_epochs = n_epochs
        self.shuffle = shuffle
        self.sparse_output = sparse_output
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ API

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the sequences in X, ``n_epochs`` times, resetting before each.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_steps, n_columns), or (n_steps, \
n_columns) for one stream
            Binary SDRs.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        with restore_on_error(self):
            self._drop_fitted_state()
            X, stream = self._validate_input(X, reset=True)
            self._initialize()
            self._learn(X, stream, self.n_epochs, self.shuffle, continue_stream=False)
        return self

    def partial_fit(self, X, y=None, reset=False):
        """Learn from X in one pass, in order.

        A batch of sequences is learned sequence by sequence, each from a
        reset. A stream (2-D X) continues the stream of the previous
        ``partial_fit`` call unless ``reset`` is True, so a stream can be fed
        in chunks, down to one step per call. A call that fails leaves the
        model exactly as it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_steps, n_columns), or (n_steps, \
n_columns) for one stream
            Binary SDRs.
        y : None
            Ignored.
        reset : bool, default=False
            Start the stream afresh before learning X.

        Returns
        -------
        self : object
        """
        # What scikit-learn's _fit_context does for a partial_fit, without its
        # cost (~10 us of config_context per call, a third of a streamed step):
        # parameters are validated on the first call only, later calls check the
        # kernels' parameters themselves, and nothing here calls a nested
        # scikit-learn estimator whose validation could be skipped.
        if not hasattr(self, "_model"):
            self._validate_params()
        self._partial_fit(X, reset)
        return self

    def partial_fit_anomaly(self, X, reset=False):
        """Learn from X like :meth:`partial_fit`; return each step's raw anomaly.

        The anomaly of a step is scored as the step arrives, *before* it is
        learned (as htm.core's ``compute`` does): the fraction of its active
        columns that the memory did not predict from the steps before it. Fed
        one step (or a few) per call, this scores a live stream while learning
        it, at the cost of a learning step.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_steps, n_columns), or (n_steps, \
n_columns) for one stream
            Binary SDRs.
        reset : bool, default=False
            Start the stream afresh before learning X.

        Returns
        -------
        anomaly : ndarray of float32, shape (n_steps,) for a stream or \
(n_samples, n_steps)
            1.0 for a step nobody predicted (e.g. the first step after a
            reset), 0.0 for a fully predicted one (and for a step without
            active columns).

        Examples
        --------
        >>> import numpy as np
        >>> from skhtm import TemporalMemoryTransformer
        >>> rng = np.random.RandomState(0)
        >>> sdrs = np.zeros((3, 128), dtype=np.uint8)
        >>> for row in sdrs:
        ...     row[rng.choice(128, 8, replace=False)] = 1
        >>> tm = TemporalMemoryTransformer(cells_per_column=4, activation_threshold=6,
        ...                                min_threshold=4, initial_permanence=0.5,
        ...                                random_state=0)
        >>> scores = [tm.partial_fit_anomaly(sdrs[t % 3][None])[0] for t in range(12)]
        >>> np.round(scores, 2).tolist()  # A B C A B C ...: learned after one pass
        [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        """
        # As scikit-learn's partial_fit: parameters validated on the first call
        # only (later calls check the kernels' parameters themselves, cheaply).
        if not hasattr(self, "_model"):
            self._validate_params()
        anomaly, stream = self._partial_fit(X, reset)
        return anomaly[0] if stream else anomaly

    def transform(self, X):
        """What the memory does on X, without learning (see ``output``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_steps, n_columns), or (n_steps, \
n_columns) for one stream
            Binary SDRs.

        Returns
        -------
        Xt : ndarray or CSR matrix
            (n_samples, n_features) when pooled, (n_samples, n_steps,
            n_features) when ``pooling=None``, and (n_steps, n_features) for a
            stream. Cell and column outputs are uint8 (int32 for
            ``pooling="count"``), anomaly and ``"mean"`` are float32.
        """
        check_is_fitted(self)
        self._check_structure()
        X, stream = self._validate_input(X, reset=False)
        pooling = None if stream else self.pooling
        out = self._infer(X, self.output, pooling)
        if stream:
            out = out[0]
        if out.ndim == 2 and self.sparse_output:
            return sp.csr_matrix(out)
        if out.ndim == 3 and self.sparse_output:
            raise ValueError(f"{type(self).__name__}: sparse_output=True needs a 2-D "
                             "output; use pooling or a stream.")
        return out

    def score_samples(self, X):
        """How expected X is: minus the mean raw anomaly (higher is more normal).

        For a batch of sequences, one score per sequence, averaged over the
        steps after the first (the first step after a reset is always
        unexpected). For a stream, one score per step.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_steps, n_columns), or (n_steps, \
n_columns) for one stream

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_steps,)
        """
        check_is_fitted(self)
        self._check_structure()
        X, stream = self._validate_input(X, reset=False)
        anomaly = self._infer(X, "anomaly", None)[..., 0]
        if stream:
            return -anomaly[0].astype(np.float64)
        steps = anomaly[:, 1:] if anomaly.shape[1] > 1 else anomaly
        return -steps.mean(axis=1, dtype=np.float64)

    @property
    def connections_(self):
        """The segments and synapses, as read-only views (see Notes)."""
        check_is_fitted(self)
        model = self._model
        n = int(model["counts"][K.N_ALLOCATED])
        views = []
        for name in Connections._fields:
            view = model[name][:n]
            view.flags.writeable = False
            views.append(view)
        return Connections(*views)

    @property
    def n_segments_(self):
        check_is_fitted(self)
        return int(np.count_nonzero(self.connections_.segment_cell >= 0))

    @property
    def n_synapses_(self):
        check_is_fitted(self)
        return int(self.connections_.segment_n_synapses.sum())

    @property
    def n_iterations_(self):
        check_is_fitted(self)
        return int(self._model["counts"][K.ITERATION])

    def __sklearn_is_fitted__(self):
        # Cheaper than scikit-learn's scan of the attributes, which every
        # partial_fit call of a stream pays (via _fit_context).
        return "_model" in self.__dict__

    @property
    def _n_features_out(self):
        if self.output in _CELL_OUTPUTS:
            return self.n_cells_
        return self.n_columns_ if self.output == "predictive_columns" else 1

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.three_d_array = True
        tags.input_tags.positive_only = True
        tags.transformer_tags.preserves_dtype = []
        return tags

    # ----------------------------------------------------------- internals

    def _validate_input(self, X, *, reset):
        """Binary X as a bool array (n_sequences, n_steps, n_columns).

        Returns it and whether X was one stream (2-D).
        """
        fast = self._fast_input(X, reset)
        if fast is not None:
            return fast
        X2d, lead_shape = validate_last_axis(self, X, reset=reset)
        check_binary(self, X2d)
        X2d = X2d.toarray() if sp.issparse(X2d) else X2d
        if X2d.dtype == np.uint8 or X2d.dtype == bool:  # binary by now: reinterpret
            X2d = np.ascontiguousarray(X2d).view(bool)
        else:
            X2d = X2d != 0
        stream = len(lead_shape) == 1
        shape = (1,) + lead_shape if stream else lead_shape
        return X2d.reshape(shape + (X2d.shape[1],)), stream

    def _fast_input(self, X, reset):
        """The common case of a stream fed step by step, without scikit-learn's
        validation (~60 us a call): a non-empty bool or uint8 ndarray, 2-D or
        3-D, of the fitted width, holding only 0 and 1. Anything else (None)
        takes the full path, with its messages."""
        if reset or type(X) is not np.ndarray or X.dtype not in _FAST_DTYPES \
                or X.ndim not in (2, 3) or X.size == 0 \
                or X.shape[-1] != getattr(self, "n_features_in_", -1) \
                or hasattr(self, "feature_names_in_"):
            return None
        if X.dtype == np.uint8 and X.max() > 1:
            return None
        X = np.ascontiguousarray(X).view(bool)
        return (X[None], True) if X.ndim == 2 else (X, False)

    def _drop_fitted_state(self):
        for key in [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]:
            delattr(self, key)
        self.__dict__.pop("_model", None)

    def _initialize(self):
        self.n_columns_ = self.n_features_in_
        self.n_cells_ = self.n_columns_ * self.cells_per_column
        seed = check_random_state(self.random_state).randint(1, np.iinfo(np.int32).max)
        self._model = K.new_model(self.n_cells_, _INITIAL_CAPACITY, self._initial_width(),
                                  seed)

    def _initial_width(self):
        """Synapse slots per segment at first: room for one growth."""
        wanted = min(self.max_new_synapse_count, 256, self.max_synapses_per_segment,
                     self.n_cells_)
        return max(8, 1 << (wanted - 1).bit_length())

    def _max_width(self):
        """The width that holds any segment (a power of 2, as the kernels need):
        a segment has at most max_synapses_per_segment synapses, from distinct
        cells."""
        most = min(self.max_synapses_per_segment, self.n_cells_)
        return 1 << (most - 1).bit_length()

    def _kernel_params(self):
        """The parameters as the kernels take them (values checked here too:
        ``partial_fit`` on a fitted model skips scikit-learn's validation)."""
        values = tuple(getattr(self, name) for name in _INT_PARAMS + _FLOAT_PARAMS)
        params = _PARAMS_CACHE.get(values)
        if params is not None:
            return params
        ints, floats = values[:len(_INT_PARAMS)], values[len(_INT_PARAMS):]
        for name, value in zip(_INT_PARAMS, ints):
            if not isinstance(value, Integral) or isinstance(value, bool) \
                    or not 1 <= value <= _INT_MAX:
                raise ValueError(f"{type(self).__name__}: {name} must be an int in "
                                 f"[1, {_INT_MAX}]; got {value!r}.")
        for name, value in zip(_FLOAT_PARAMS, floats):
            if not isinstance(value, Real) or isinstance(value, bool) or not 0 <= value <= 1:
                raise ValueError(f"{type(self).__name__}: {name} must be a float in "
                                 f"[0, 1]; got {value!r}.")
        params = np.array(ints, np.int64), np.array(floats, np.float32)
        for array in params:
            array.flags.writeable = False
        if len(_PARAMS_CACHE) > 64:
            _PARAMS_CACHE.clear()
        _PARAMS_CACHE[values] = params
        return params

    def _check_structure(self):
        """Refuse parameters that no longer fit the fitted state."""
        name = type(self).__name__
        cpc = self.n_cells_ // self.n_columns_
        if self.cells_per_column != cpc:
            raise ValueError(
                f"{name}: cells_per_column is {self.cells_per_column!r} but the model was "
                f"fitted with {cpc}; set it back or fit again.")

    def _check_learning_structure(self):
        """Refuse limits lowered below what the fitted model holds already."""
        self._check_structure()
        name = type(self).__name__
        model = self._model
        # Cheap bounds first: a stream fed step by step checks at every call.
        if self.max_synapses_per_segment < model["presynaptic_cell"].shape[1]:
            most = int(model["segment_n_synapses"].max(initial=0))
            if self.max_synapses_per_segment < most:
                raise ValueError(
                    f"{name}: max_synapses_per_segment is {self.max_synapses_per_segment!r} "
                    f"but some segments of the fitted model have {most} synapses; raise it "
                    "or fit again.")
        if self.max_segments_per_cell < model["counts"][K.MOST_SEGMENTS]:
            most = int(model["cell_n_segments"].max(initial=0))
            if self.max_segments_per_cell < most:
                raise ValueError(
                    f"{name}: max_segments_per_cell is {self.max_segments_per_cell!r} but "
                    f"some cells of the fitted model have {most} segments; raise it or fit "
                    "again.")

    def _partial_fit(self, X, reset):
        with restore_on_error(self):
            first = not hasattr(self, "_model")
            X, stream = self._validate_input(X, reset=first)
            params = self._kernel_params()
            if first:
                self._initialize()
            else:
                self._check_learning_structure()
            anomaly = self._learn(X, stream, 1, shuffle=False, continue_stream=not reset,
                                  params=params)
        return anomaly, stream

    def _learn(self, X, stream, n_epochs, shuffle, continue_stream, params=None):
        """Learn X and commit; a failure changes nothing.

        A call made of one kernel call that cannot run out of room (a stream
        chunk, one sequence) learns in place: a kernel call that returns has
        learned all its steps, one that stops early has changed nothing.
        Other calls learn on a copy of the model, committed at the end.
        Sequences of a batch each start from a reset and leave the stream
        reset; a stream continues the last one if ``continue_stream``.
        Returns the anomaly of every step (of the last epoch), scored before it
        was learned, shape (n_sequences, n_steps).
        """
        int_params, float_params = params if params is not None else self._kernel_params()
        n_seq, n_steps, _ = X.shape
        columns, step_start = _active_columns(X)
        model = self._model
        fresh = not model["counts"][K.ITERATION] and not model["counts"][K.N_ALLOCATED]
        if not fresh and (n_epochs > 1 or n_seq > 1 or (n_steps > 1 and not self._fits(
                model, step_start, n_steps, int(int_params[3])))):
            model = {key: value.copy() for key, value in model.items()}
        anomaly = np.empty((n_seq, n_steps), np.float32)
        reset_before = np.zeros(n_steps, bool)
        progress = EpochProgress(self, n_epochs, n_steps if stream else n_seq,
                                 unit="steps" if stream else "sequences") \
            if self.verbose else None
        for epoch in range(n_epochs):
            order = range(n_seq)
            if shuffle and not stream:  # fit only (a fresh model): its seed draws the orders
                if epoch == 0:
                    rng = np.random.default_rng(int(model["rng_state"][0]))
                order = rng.permutation(n_seq)
            reset_before[0] = not (stream and continue_stream and epoch == 0)
            for i in order:
                lo = i * n_steps
                model = self._learn_steps(model, columns, step_start[lo:lo + n_steps + 1],
                                          reset_before, not stream, int_params, float_params,
                                          anomaly[i])
                if progress is not None:
                    progress.update(n_steps if stream else 1)
            if progress is not None:
                n_segments = int((model["segment_cell"] >= 0).sum())
                n_synapses = int(model["segment_n_synapses"].sum())
                progress.end_epoch(f"{n_segments} segments, {n_synapses} synapses")
        self._model = model  # commit
        return anomaly

    def _fits(self, model, step_start, n_steps, max_new_synapse_count):
        """Whether learning these steps in place can never need more room: a
        step creates at most one segment per active column, and a segment
        gains at most max_new_synapse_count synapses per step."""
        counts = model["counts"]
        capacity, width = model["presynaptic_cell"].shape
        free = capacity - counts[K.N_ALLOCATED] + counts[K.N_FREE]
        if free < step_start[-1] - step_start[0]:
            return False
        if width >= self._max_width():
            return True
        most = int(model["segment_n_synapses"].max(initial=0))
        return most + n_steps * max_new_synapse_count <= width

    def _learn_steps(self, model, columns, step_start, reset_before, reset_after,
                     int_params, float_params, anomaly):
        """One sequence or stream chunk; grows the model (new arrays) when needed."""
        first, stop = 0, reset_before.size
        while True:
            done, status = K.learn(model, columns, step_start, reset_before, first, stop,
                                   reset_after, int_params, float_params, anomaly)
            if status == K.DONE:
                return model
            capacity, width = model["presynaptic_cell"].shape
            if status == K.NEED_SEGMENTS:
                model = K.grow_segments(model, 2 * capacity)
            else:
                model = K.widen_segments(model, 2 * width)
            first = done

    def _infer(self, X, output, pooling):
        model = self._model
        n = int(model["counts"][K.N_ALLOCATED])
        index = K.connected_index(model["presynaptic_cell"], model["permanence"], n,
                                  self.n_cells_, np.float32(self.connected_permanence))
        segment_cell = model["segment_cell"][:n]
        slices = list(gen_batches(X.shape[0], _TRANSFORM_CHUNK))
        if len(slices) > 1 and self.n_jobs not in (None, 1):
            # Threads sharing the model, whatever joblib backend the caller made active.
            parts = Parallel(n_jobs=self.n_jobs, prefer="threads", require="sharedmem")(
                delayed(self._infer_chunk)(X[s], output, pooling, index, segment_cell)
                for s in slices)
        else:
            parts = [self._infer_chunk(X[s], output, pooling, index, segment_cell)
                     for s in slices]
        return np.concatenate(parts, axis=0)

    def _infer_chunk(self, X, output, pooling, index, segment_cell):
        n_seq, n_steps, _ = X.shape
        n_features = {"anomaly": 1, "predictive_columns": self.n_columns_}.get(
            output, self.n_cells_)
        if output == "anomaly" or pooling == "mean":
            dtype = np.float32
        else:
            dtype = np.int32 if pooling == "count" else np.uint8
        out = np.zeros((n_seq, n_steps if pooling is None else 1, n_features), dtype)
        columns, step_start = _active_columns(X)
        K.infer_sequences(columns, step_start, n_steps, index[0], index[1], segment_cell,
                          self.n_cells_ // self.n_columns_, self.activation_threshold,
                          _OUTPUT_CODES[output], _POOLING_CODES[pooling], out)
        if pooling == "mean":
            out /= n_steps
        return out if pooling is None else out[:, 0]


def _active_columns(X):
    """Active columns of every step of X (n_seq, n_steps, n_columns), as CSR:
    (columns int32, step_start int64 of n_seq * n_steps + 1)."""
    X = np.ascontiguousarray(X).reshape(-1, X.shape[-1]).view(np.uint8)
    if X.shape[1] % 8:
        X = np.pad(X, ((0, 0), (0, 8 - X.shape[1] % 8)))
    return K.active_columns(X.view(np.uint64), X)
