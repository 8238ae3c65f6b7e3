"""TemporalMemoryTransformer: HTM sequence memory as a scikit-learn transformer."""

import copy
from numbers import Integral, Real
from types import SimpleNamespace

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
_PARAMS = ("activation_threshold", "min_threshold", "initial_permanence",
           "connected_permanence", "permanence_increment", "permanence_decrement",
           "predicted_segment_decrement", "max_new_synapse_count", "max_segments_per_cell",
           "max_synapses_per_segment")


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
        The distal segments and synapses: ``segment_cell``,
        ``presynaptic_cell`` and ``permanence`` arrays (see Notes).
    n_segments_ : int
    n_synapses_ : int
    n_columns_ : int
    n_cells_ : int
    n_iterations_ : int
        Time steps learned from.
    random_state_ : numpy.random.Generator
    n_features_in_ : int

    See Also
    --------
    SpatialPoolerTransformer : Produces the SDRs this estimator takes.

    Notes
    -----
    The learning rule is the online algorithm of the BAMI pseudocode, one
    time step at a time. ``fit`` resets before each sequence; ``partial_fit``
    on a stream continues it from where the last call stopped, so a long
    stream can be fed in chunks. ``transform`` never learns and starts each
    sequence (and a stream) from a reset; many sequences are advanced in
    lock-step as one batch.

    Segment ``s`` belongs to cell ``connections_.segment_cell[s]`` (-1: a free
    slot); its synapses are the entries of ``connections_.presynaptic_cell[s]``
    that are not -1, with ``connections_.permanence[s]``. Cell ``c`` is cell
    ``c % cells_per_column`` of column ``c // cells_per_column``.

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
        "cells_per_column": [Interval(Integral, 1, None, closed="left")],
        "activation_threshold": [Interval(Integral, 1, None, closed="left")],
        "min_threshold": [Interval(Integral, 1, None, closed="left")],
        "initial_permanence": [Interval(Real, 0, 1, closed="both")],
        "connected_permanence": [Interval(Real, 0, 1, closed="both")],
        "permanence_increment": [Interval(Real, 0, 1, closed="both")],
        "permanence_decrement": [Interval(Real, 0, 1, closed="both")],
        "predicted_segment_decrement": [Interval(Real, 0, 1, closed="both")],
        "max_new_synapse_count": [Interval(Integral, 1, None, closed="left")],
        "max_segments_per_cell": [Interval(Integral, 1, None, closed="left")],
        "max_synapses_per_segment": [Interval(Integral, 1, None, closed="left")],
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

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, reset=False):
        """Learn from X in one pass, in order.

        A batch of sequences is learned sequence by sequence, each from a
        reset. A stream (2-D X) continues the stream of the previous
        ``partial_fit`` call unless ``reset`` is True, so a long stream can be
        fed in chunks. A call that fails leaves the model exactly as it was.

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
        with restore_on_error(self):
            first = not hasattr(self, "connections_")
            X, stream = self._validate_input(X, reset=first)
            if first:
                self._initialize()
            self._learn(X, stream, 1, shuffle=False, continue_stream=not reset)
        return self

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
        X, stream = self._validate_input(X, reset=False)
        anomaly = self._infer(X, "anomaly", None)[..., 0]
        if stream:
            return -anomaly[0].astype(np.float64)
        steps = anomaly[:, 1:] if anomaly.shape[1] > 1 else anomaly
        return -steps.mean(axis=1, dtype=np.float64)

    @property
    def n_segments_(self):
        return self.connections_.n_segments

    @property
    def n_synapses_(self):
        return self.connections_.n_synapses

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

    def _drop_fitted_state(self):
        for key in [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]:
            delattr(self, key)
        for key in ("_stream_state", "_connected_index"):
            self.__dict__.pop(key, None)

    def _params(self):
        return SimpleNamespace(**{name: getattr(self, name) for name in _PARAMS})

    def _initialize(self):
        self.n_columns_ = self.n_features_in_
        self.n_cells_ = self.n_columns_ * self.cells_per_column
        width = min(self.max_synapses_per_segment, 1 << (self.max_new_synapse_count - 1)
                    .bit_length())
        self.connections_ = K.Connections(self.n_columns_, self.cells_per_column, width)
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        self.random_state_ = np.random.default_rng(seed)
        self.n_iterations_ = 0
        self._stream_state = K.StreamState()
        self._connected_index = self._build_index(self.connections_)

    def _learn(self, X, stream, n_epochs, shuffle, continue_stream):
        """Learn on copies of the state, then commit (a failure changes nothing).

        Sequences of a batch each start from a reset, and leave the stream
        reset; a stream continues the last one if ``continue_stream``.
        """
        if self.n_iterations_:
            conn = copy.deepcopy(self.connections_)
            rng = copy.deepcopy(self.random_state_)
            state = copy.deepcopy(self._stream_state)
        else:  # freshly initialised: nothing to protect
            conn, rng, state = self.connections_, self.random_state_, self._stream_state
        iteration = self.n_iterations_
        params = self._params()
        # A stream reports steps, a batch of sequences reports sequences.
        progress = EpochProgress(self, n_epochs, X.shape[1] if stream else X.shape[0],
                                 unit="steps" if stream else "sequences")
        for epoch in range(n_epochs):
            order = rng.permutation(X.shape[0]) if shuffle and not stream else range(X.shape[0])
            for i in order:
                if not (stream and continue_stream and epoch == 0):
                    state.reset()
                for step in X[i]:
                    iteration += 1
                    K.learn_step(conn, state, np.flatnonzero(step), params, rng, iteration)
                    if stream and progress.verbose:
                        progress.update()
                if not stream:
                    progress.update()
            if progress.verbose:
                progress.end_epoch(f"{conn.n_segments} segments, {conn.n_synapses} synapses")
        if not stream:
            state.reset()
        # Commit.
        self.connections_ = conn
        self.random_state_ = rng
        self._stream_state = state
        self.n_iterations_ = iteration
        self._connected_index = self._build_index(conn)

    def _build_index(self, conn):
        return self.connected_permanence, K.connected_index(conn, self.connected_permanence)

    def _infer(self, X, output, pooling):
        # The index kept at the last commit, unless set_params has changed
        # connected_permanence since (then a temporary one: transform must not
        # change the estimator).
        index = self._connected_index
        if index[0] != self.connected_permanence:
            index = self._build_index(self.connections_)
        slices = list(gen_batches(X.shape[0], _TRANSFORM_CHUNK))
        if len(slices) > 1 and self.n_jobs not in (None, 1):
            parts = Parallel(n_jobs=self.n_jobs, prefer="threads")(
                delayed(self._infer_chunk)(X[s], output, pooling, index[1]) for s in slices)
        else:
            parts = [self._infer_chunk(X[s], output, pooling, index[1]) for s in slices]
        return np.concatenate(parts, axis=0)

    def _infer_chunk(self, X, output, pooling, index):
        n_seq, n_steps, _ = X.shape
        cpc = self.cells_per_column
        n_features = {"anomaly": 1, "predictive_columns": self.n_columns_}.get(
            output, self.n_cells_)
        per_step = pooling is None
        if output == "anomaly" or pooling == "mean":
            dtype = np.float32
        else:
            dtype = np.int32 if pooling == "count" else np.uint8
        shape = (n_seq, n_steps, n_features) if per_step else (n_seq, n_features)
        out = np.zeros(shape, dtype)

        def emit(t, active, correct, anomaly, predictive):
            target = out[:, t] if per_step else out
            if output == "anomaly":
                score = anomaly.astype(np.float32)
                if per_step or pooling in ("count", "mean"):
                    target[:, 0] += score
                else:
                    np.maximum(target[:, 0], score, out=target[:, 0])
                return
            if output == "predictive_columns":
                mask = np.zeros((n_seq, self.n_columns_), bool)
                mask[predictive[0], predictive[1] // cpc] = True
                seq, feature = np.nonzero(mask)
            else:
                seq, feature = active if output == "active_cells" else correct
            if per_step or pooling == "union":
                target[seq, feature] = 1
            else:  # pairs are distinct within a step
                target[seq, feature] += 1

        K.infer_sequences(index, self.connections_.segment_cell[
            :self.connections_.n_allocated], self.n_columns_, cpc, X,
            self.activation_threshold, emit)
        if pooling == "mean":
            out /= n_steps
        return out
