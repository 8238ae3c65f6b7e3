"""SpatialPoolerTransformer: the HTM Spatial Pooler as a scikit-learn transformer."""

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils._param_validation import Interval
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted

from . import _spatial_pooling as K
from . import _topology as T
from ._base import EpochProgress, VersionedStateMixin
from ._utils import restore_on_error
from ._validation import check_binary, validate_last_axis

# How often (in learning iterations) the inhibition radius and the minimum
# duty cycles are recomputed, as in Numenta's implementations.
_UPDATE_PERIOD = 50
# Rows per transform chunk; fixed, so results never depend on n_jobs.
_TRANSFORM_CHUNK = 256
# Dense input bytes handed to one learning kernel call (whole batches).
_LEARN_CHUNK_BYTES = 1 << 22
# Input dtypes that take the fast validation path of a one-sample partial_fit.
_FAST_DTYPES = (np.dtype(bool), np.dtype(np.uint8))
# Private state: the potential pool input-major (structure only, fixed at
# initialisation), for the online overlaps over the active inputs.
_INPUT_MAJOR = ("_input_indptr", "_input_synapses", "_input_columns")


class SpatialPoolerTransformer(VersionedStateMixin, ClassNamePrefixFeaturesOutMixin,
                               TransformerMixin, BaseEstimator):
    """HTM Spatial Pooler: binary input to a sparse distributed representation.

    Each column has a potential pool of inputs and a permanence per potential
    synapse; a synapse is connected when its permanence reaches
    ``syn_perm_connected``. A column's overlap with an input is its number of
    connected synapses to active inputs. Inhibition (global, or local over the
    column topology) keeps the columns with the highest overlaps, so that about
    ``local_area_density`` of them are active. Learning is Hebbian on the
    winners' synapses, with boosting and bumping to keep every column in use.

    Input is binary, shape (n_samples, n_inputs), or a batch of sequences
    (n_samples, n_steps, n_inputs): the last axis is mapped and the leading
    axes are kept.

    Parameters
    ----------
    column_shape : int or tuple of int, default=2048
        Column topology; its product is the number of columns (output features).
    input_shape : tuple of int, default=None
        Input topology, e.g. ``(28, 28)`` for MNIST or ``(8, 8, 4)`` for 8x8
        images with 4 grey-level bits per pixel. ``None`` means 1-D
        ``(n_inputs,)``. Only used with a ``potential_radius`` or local
        inhibition.
    potential_radius : int, default=None
        Radius, in input coordinates, of the neighbourhood a column draws its
        potential pool from. ``None``: the whole input.
    potential_pct : float, default=0.5
        Fraction of the neighbourhood in a column's potential pool.
    global_inhibition : bool, default=True
        If True, the ``n_active`` best columns of the whole layer win. If False,
        local inhibition: a column wins when few enough columns within the
        inhibition radius beat it; the radius is derived from the columns'
        receptive field size as learning goes.
    local_area_density : float, default=0.02
        Target fraction of active columns (per inhibition area).
    n_active_columns : int, default=None
        Target number of active columns (per inhibition area); overrides
        ``local_area_density`` when set.
    stimulus_threshold : int, default=0
        Minimum overlap for a column to become active. A column with no
        overlap is never active.
    syn_perm_connected : float, default=0.1
        Permanence at and above which a synapse is connected.
    syn_perm_active_inc : float, default=0.05
        Permanence increment of a winner's synapse to an active input.
    syn_perm_inactive_dec : float, default=0.008
        Permanence decrement of a winner's synapse to an inactive input.
    boost_strength : float, default=0.0
        Strength of boosting; 0 disables it.
    duty_cycle_period : int, default=1000
        Period of the moving averages of column activity and overlap.
    min_pct_overlap_duty_cycle : float, default=0.001
        A column whose overlap duty cycle falls below this fraction of the
        (neighbourhood) maximum has all its permanences bumped up.
    wrap_around : bool, default=True
        Whether topologies wrap around at the edges.
    n_epochs : int, default=1
        Passes over the training data in ``fit``.
    batch_size : int, default=32
        Samples per learning step. ``1`` is the exact online algorithm; a
        larger batch computes the winners of all its samples with the same
        permanences, then applies the sum of their updates at once.
    shuffle : bool, default=True
        Shuffle the samples before each epoch of ``fit``.
    sparse_output : bool, default=False
        Return a CSR matrix from ``transform`` instead of a dense uint8 array.
    n_jobs : int, default=None
        Threads used by ``transform``. Results do not depend on it.
    random_state : int, RandomState instance or None, default=None
        Seeds the potential pools, initial permanences, tie-breaking and
        shuffling.
    verbose : int, default=0
        Print progress of learning: one line per epoch with samples per
        second and the time left (``1``), and every tenth of an epoch too
        (``2``).

    Attributes
    ----------
    permanences_ : scipy.sparse.csr_matrix of shape (n_columns, `n_features_in_`)
        Permanence of each potential synapse; the sparsity structure is the
        potential pool (a stored 0 is a potential synapse with zero permanence).
    boost_factors_ : ndarray of shape (n_columns,)
    active_duty_cycles_ : ndarray of shape (n_columns,)
    overlap_duty_cycles_ : ndarray of shape (n_columns,)
    min_overlap_duty_cycles_ : ndarray of shape (n_columns,)
    inhibition_radius_ : int
    column_rank_ : ndarray of shape (n_columns,)
        Random priority breaking ties between equal overlaps.
    n_iterations_ : int
        Number of samples learned from.
    n_columns_ : int
    column_shape_ : tuple of int
    input_shape_ : tuple of int
    random_state_ : RandomState
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fit on a DataFrame with string column names.

    See Also
    --------
    ThermometerEncoder : Binary encoding that keeps grey levels.
    sklearn.preprocessing.Binarizer : Threshold features to 0/1.

    Notes
    -----
    Boosting is applied during learning only, as in the BAMI pseudocode:
    ``transform`` ranks columns by their raw overlap.

    References
    ----------
    .. [1] Numenta, "Biological and Machine Intelligence (BAMI)", Spatial
       Pooling Algorithm Details, 2017.
    .. [2] Y. Cui, S. Ahmad, J. Hawkins, "The HTM Spatial Pooler - A Neocortical
       Algorithm for Online Sparse Distributed Coding", Frontiers in
       Computational Neuroscience, 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from skhtm import SpatialPoolerTransformer
    >>> X = np.random.RandomState(0).rand(100, 64) > 0.7
    >>> sp = SpatialPoolerTransformer(column_shape=256, random_state=0).fit(X)
    >>> sp.transform(X[:3]).shape
    (3, 256)
    >>> sp.transform(X[:3]).sum(axis=1).tolist()
    [5, 5, 5]
    """

    _parameter_constraints = {
        "column_shape": [Interval(Integral, 1, None, closed="left"), tuple, list],
        "input_shape": [tuple, list, None],
        "potential_radius": [Interval(Integral, 0, None, closed="left"), None],
        "potential_pct": [Interval(Real, 0, 1, closed="right")],
        "global_inhibition": ["boolean"],
        "local_area_density": [Interval(Real, 0, 1, closed="right")],
        "n_active_columns": [Interval(Integral, 1, None, closed="left"), None],
        "stimulus_threshold": [Interval(Real, 0, None, closed="left")],
        "syn_perm_connected": [Interval(Real, 0, 1, closed="both")],
        "syn_perm_active_inc": [Interval(Real, 0, 1, closed="both")],
        "syn_perm_inactive_dec": [Interval(Real, 0, 1, closed="both")],
        "boost_strength": [Interval(Real, 0, None, closed="left")],
        "duty_cycle_period": [Interval(Integral, 1, None, closed="left")],
        "min_pct_overlap_duty_cycle": [Interval(Real, 0, 1, closed="both")],
        "wrap_around": ["boolean"],
        "n_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "sparse_output": ["boolean"],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        column_shape=2048,
        *,
        input_shape=None,
        potential_radius=None,
        potential_pct=0.5,
        global_inhibition=True,
        local_area_density=0.02,
        n_active_columns=None,
        stimulus_threshold=0,
        syn_perm_connected=0.1,
        syn_perm_active_inc=0.05,
        syn_perm_inactive_dec=0.008,
        boost_strength=0.0,
        duty_cycle_period=1000,
        min_pct_overlap_duty_cycle=0.001,
        wrap_around=True,
        n_epochs=1,
        batch_size=32,
        shuffle=True,
        sparse_output=False,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.column_shape = column_shape
        self.input_shape = input_shape
        self.potential_radius = potential_radius
        self.potential_pct = potential_pct
        self.global_inhibition = global_inhibition
        self.local_area_density = local_area_density
        self.n_active_columns = n_active_columns
        self.stimulus_threshold = stimulus_threshold
        self.syn_perm_connected = syn_perm_connected
        self.syn_perm_active_inc = syn_perm_active_inc
        self.syn_perm_inactive_dec = syn_perm_inactive_dec
        self.boost_strength = boost_strength
        self.duty_cycle_period = duty_cycle_period
        self.min_pct_overlap_duty_cycle = min_pct_overlap_duty_cycle
        self.wrap_around = wrap_around
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.sparse_output = sparse_output
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ API

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Initialise the columns and learn from X for ``n_epochs`` epochs.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_inputs) or \
(n_samples, n_steps, n_inputs)
            Binary input.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        with restore_on_error(self):
            self._drop_fitted_state()
            self._check_structure()
            X, _ = self._validate_input(X, reset=True)
            self._initialize(X.shape[1])
            self._learn(X, self.n_epochs, self.shuffle, fresh=True)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Learn from X in one pass, in the given order (online learning).

        The first call initialises the columns. A call that fails leaves the
        model exactly as it was. A call costs little more than its samples: a
        stream can be learned one sample per call.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_inputs) or \
(n_samples, n_steps, n_inputs)
            Binary input.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        with restore_on_error(self):
            first = not hasattr(self, "permanences_")
            if first:
                self._check_structure()
            X, _ = self._validate_input(X, reset=first)
            if first:
                self._initialize(X.shape[1])
            self._learn(X, 1, shuffle=False, fresh=first)
        return self

    def transform(self, X):
        """Active columns (the SDR) of each input, without learning.

        A synapse counts as connected when its permanence reaches the current
        ``syn_perm_connected`` (a value set after fit is honoured).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_inputs) or \
(n_samples, n_steps, n_inputs)
            Binary input.

        Returns
        -------
        sdr : ndarray of uint8 of shape (n_samples, n_columns) or \
(n_samples, n_steps, n_columns), or CSR matrix if ``sparse_output``
        """
        check_is_fitted(self)
        X, lead_shape = self._validate_input(X, reset=False)
        if self.sparse_output and len(lead_shape) > 1:
            raise ValueError(
                f"{type(self).__name__}: sparse_output=True needs 2-D input; "
                "scipy.sparse has no 3-D matrices.")
        indptr, indices, perms = self._pool_arrays()
        conn_indptr = np.empty(self.n_columns_ + 1, np.int64)
        conn_inputs = np.empty(indices.size, np.int32)
        n_conn = K.connected_pool(indptr, indices, perms, self._connected_perm(), conn_indptr,
                                  conn_inputs)
        conn_inputs = conn_inputs[:n_conn]
        inhibition = self._inhibition_args(self.inhibition_radius_)
        lanes = self._lanes()

        # One thread writes dense output in place. Chunks sent to joblib return
        # their own output: under a process or cluster backend (loky, dask) a
        # chunk runs in another process. Sparse output is built chunk by chunk,
        # so that its memory follows the output's.
        sdr = None
        if not self.sparse_output:
            sdr = np.empty((X.shape[0], self.n_columns_), np.uint8)

        def run(s, out=None):
            if out is None:
                out = np.empty((s.stop - s.start, self.n_columns_), np.uint8)
            K.active_columns(conn_indptr, conn_inputs, _dense_rows(X[s]),
                             *self._overlap_scratch(lanes), *inhibition, out)
            return sp.csr_matrix(out) if self.sparse_output else out

        slices = list(gen_batches(X.shape[0], _TRANSFORM_CHUNK))
        if len(slices) > 1 and self.n_jobs not in (None, 1):
            parts = Parallel(n_jobs=self.n_jobs, prefer="threads")(
                delayed(run)(s) for s in slices)
            if sdr is not None:
                np.concatenate(parts, out=sdr)
        else:
            parts = [run(s, None if sdr is None else sdr[s]) for s in slices]
        if self.sparse_output:
            return sp.vstack(parts, format="csr")
        return sdr.reshape(lead_shape + (self.n_columns_,))

    def inverse_transform(self, X):
        """The input-space pattern an SDR stands for ("backfeed").

        Each input gets the mean permanence, over the active columns, of their
        synapse to it: inputs that the active columns are strongly connected to
        light up. Works for one SDR, a batch or a batch of sequences, and for
        any column weighting (e.g. a class's mean SDR).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_columns) or \
(n_samples, n_steps, n_columns)
            Non-negative column activity (binary SDRs or averages of them).

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_inputs) or \
(n_samples, n_steps, n_inputs)
            Values in [0, 1].
        """
        check_is_fitted(self)
        name = type(self).__name__
        if sp.issparse(X):
            if X.ndim != 2:
                raise ValueError(f"{name}.inverse_transform expects 2-D sparse SDRs; "
                                 f"got {X.ndim}-D.")
            X = sp.csr_matrix(X, dtype=np.float64)
        else:
            X = np.asarray(X, dtype=np.float64)
            if X.ndim not in (2, 3):
                raise ValueError(f"{name}.inverse_transform expects 2-D or 3-D SDRs; "
                                 f"got {X.ndim}-D.")
        lead_shape = tuple(X.shape[:-1])
        if X.shape[-1] != self.n_columns_:
            raise ValueError(f"{name}.inverse_transform: X has {X.shape[-1]} columns, "
                             f"but the pooler has {self.n_columns_}.")
        if not sp.issparse(X):
            X = X.reshape(-1, self.n_columns_)
        values = X.data if sp.issparse(X) else X
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValueError(f"{name}.inverse_transform: X must be finite and non-negative.")
        weight = np.asarray(X.sum(axis=1)).reshape(-1, 1)
        product = X @ self.permanences_
        product = product.toarray() if sp.issparse(product) else np.asarray(product)
        pattern = product / np.maximum(weight, 1e-12)
        return pattern.reshape(lead_shape + (self.n_features_in_,))

    @property
    def _n_features_out(self):
        return self.n_columns_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.three_d_array = True
        tags.input_tags.positive_only = True
        tags.transformer_tags.preserves_dtype = []
        return tags

    # ----------------------------------------------------------- internals

    def _validate_input(self, X, *, reset):
        n_features = getattr(self, "n_features_in_", None)
        if (not reset and type(X) is np.ndarray and X.dtype in _FAST_DTYPES
                and X.ndim in (2, 3) and X.shape[-1] == n_features and X.size
                and not hasattr(self, "feature_names_in_")):
            # Fast path for the common case (a one-sample partial_fit of a
            # stream): everything validate_data would check holds already.
            lead_shape = tuple(X.shape[:-1])
            X = X.reshape(-1, n_features)
        else:
            X, lead_shape = validate_last_axis(self, X, reset=reset)
        check_binary(self, X)
        return X, lead_shape

    def _drop_fitted_state(self):
        for key in [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]:
            delattr(self, key)
        for key in ("_connected_synapses",) + _INPUT_MAJOR:
            self.__dict__.pop(key, None)

    def _check_structure(self):
        """Clear errors for shape parameters that the constraints cannot express."""
        _check_shape(self, "column_shape", self.column_shape)
        if self.input_shape is not None:
            _check_shape(self, "input_shape", self.input_shape)

    def _connected_perm(self):
        # The threshold as float32, the permanences' type: numpy compares a
        # float32 array with a Python float in float32 too.
        return np.float32(self.syn_perm_connected)

    def _min_overlap(self):
        """Stimulus threshold on the raw overlap; at least 1 (no overlap, no
        activity). Capped at n_inputs + 1: no overlap can reach a larger one."""
        return max(int(min(self.stimulus_threshold, self.n_features_in_ + 1)), 1)

    def _n_active(self, radius):
        """Target number of winners: per layer (global) or per column (local)."""
        if self.global_inhibition:
            if self.n_active_columns is not None:
                return min(self.n_active_columns, self.n_columns_)
            return max(1, int(round(self.local_area_density * self.n_columns_)))
        shape = np.asarray(self.column_shape_, dtype=np.int64)
        coords, _ = K.column_coordinates(shape)
        _, counts = K.neighbourhoods(shape, int(radius), bool(self.wrap_around))
        return K.local_n_active(K.neighbourhood_sizes(coords, counts),
                                float(self.local_area_density), self.n_active_columns or 0)

    def _inhibition_args(self, radius):
        """The inhibition arguments of K.active_columns after the input rows."""
        shape = np.asarray(self.column_shape_, dtype=np.int64)
        n_active = self._n_active(radius)
        if self.global_inhibition:
            k, per_column = int(n_active), np.zeros(1, np.int64)
        else:
            k, per_column = 0, n_active
        return (bool(self.global_inhibition), k, per_column, self._min_overlap(),
                self.column_rank_.astype(np.int32, copy=False), shape, int(radius),
                bool(self.wrap_around))

    def _lanes(self):
        """dtype of the blocked overlaps: uint8 when no pool exceeds 255 synapses
        (a column's overlap fits in a byte), else uint16, else int32 (a pool
        holds each input at most once)."""
        indptr = self.permanences_.indptr
        if np.diff(indptr).max(initial=0) <= K._BYTE_POOL:
            return np.dtype(np.uint8)
        if self.n_features_in_ <= np.iinfo(np.uint16).max:
            return np.dtype(np.uint16)
        return np.dtype(np.int32)

    def _overlap_scratch(self, dtype):
        """Scratch of the blocked overlaps: (n_inputs, width), (width,) and
        (width, n_columns), in ``dtype``; byte lanes pad the columns to a
        multiple of 8 (K._block_overlaps_bytes)."""
        width = K.BLOCK_WIDTH
        n_columns = self.n_columns_
        if dtype == np.uint8:
            n_columns = -(-n_columns // 8) * 8
        return (np.empty((self.n_features_in_, width), dtype), np.empty(width, dtype),
                np.empty((width, n_columns), dtype))

    def _pool_arrays(self):
        """The potential pool (indptr int64, indices int32) and the live permanences."""
        pm = self.permanences_
        indptr = pm.indptr if pm.indptr.dtype == np.int64 else pm.indptr.astype(np.int64)
        indices = pm.indices if pm.indices.dtype == np.int32 else pm.indices.astype(np.int32)
        return indptr, indices, pm.data

    def _input_major(self, indptr, indices):
        """The pool input-major (K.transpose_pool), kept since initialisation."""
        pool = tuple(self.__dict__.get(key) for key in _INPUT_MAJOR)
        if pool[1] is None or pool[1].size != indices.size:  # a model saved before it existed
            pool = K.transpose_pool(indptr, indices, self.n_features_in_)
        return pool

    def _initialize(self, n_inputs):
        name = type(self).__name__
        self.column_shape_ = T.as_shape(self.column_shape)
        self.input_shape_ = (n_inputs,) if self.input_shape is None else T.as_shape(
            self.input_shape)
        if int(np.prod(self.input_shape_)) != n_inputs:
            raise ValueError(f"{name}: input_shape {self.input_shape_} holds "
                             f"{int(np.prod(self.input_shape_))} inputs, but X has {n_inputs} "
                             "features.")
        if (self.potential_radius is not None or not self.global_inhibition) and len(
                self.column_shape_) > len(self.input_shape_):
            raise ValueError(f"{name}: column_shape {self.column_shape_} has more dimensions "
                             f"than input_shape {self.input_shape_}.")
        self.n_columns_ = int(np.prod(self.column_shape_))
        self.random_state_ = check_random_state(self.random_state)
        indptr, indices = T.potential_pools(self.column_shape_, self.input_shape_,
                                            self.potential_radius, self.potential_pct,
                                            self.wrap_around, self.random_state_)
        perms = K.initial_permanences(indices.size, self.syn_perm_connected, self.random_state_)
        increment = np.float32(self.syn_perm_connected / 10.0)
        for c in range(self.n_columns_):
            K.raise_to_threshold(perms, indptr, c, self._connected_perm(), increment,
                                 float(self.stimulus_threshold))
        self.permanences_ = _csr(perms, indices, indptr, n_inputs)
        for key, value in zip(_INPUT_MAJOR, K.transpose_pool(indptr, indices, n_inputs)):
            setattr(self, key, value)
        self.column_rank_ = self.random_state_.permutation(self.n_columns_).astype(np.int32)
        zeros = np.zeros(self.n_columns_)
        self.active_duty_cycles_ = zeros.copy()
        self.overlap_duty_cycles_ = zeros.copy()
        self.min_overlap_duty_cycles_ = zeros.copy()
        self.boost_factors_ = np.ones(self.n_columns_)
        self.n_iterations_ = 0
        self.inhibition_radius_ = self._compute_inhibition_radius(indptr, indices, perms)

    def _columns_per_input(self):
        shape = T.align_shapes(self.column_shape_, self.input_shape_)
        return float(np.mean(np.asarray(shape) / np.asarray(self.input_shape_)))

    def _compute_inhibition_radius(self, indptr, indices, permanences):
        """Inhibition radius from the mean receptive-field extent (BAMI)."""
        if self.global_inhibition:
            return int(max(self.column_shape_))
        return int(K.inhibition_radius(indptr, indices, permanences, self._connected_perm(),
                                       np.asarray(self.input_shape_, dtype=np.int64),
                                       self._columns_per_input()))

    def _learn(self, X, n_epochs, shuffle, fresh):
        """Learn X (validated, 2-D), committing only when all went well.

        The permanences are updated in place by the kernel, which journals
        every column before its first change; on any failure the journal puts
        them back (not needed when ``fresh``: the permanences were created by
        this call). The small per-column arrays are learned on copies and
        committed by reassignment.
        """
        indptr, indices, perms = self._pool_arrays()
        if perms.dtype != np.float32 or not perms.flags.writeable \
                or not perms.flags.c_contiguous:
            perms = np.ascontiguousarray(perms, dtype=np.float32).copy()
        journal_counts = np.array([0, 0, 0 if fresh else 1], dtype=np.int64)
        journal_saved = np.zeros(self.n_columns_ if not fresh else 0, np.uint8)
        journal_columns = np.empty(journal_saved.size, np.int32)
        journal_values = np.empty(perms.size if not fresh else 0, np.float32)
        by_input = self._input_major(indptr, indices)
        rng = self.random_state_
        if shuffle:  # a copy, so that a failed call leaves the RNG untouched
            # A new RandomState: check_random_state(None) is numpy's global one, which
            # this would overwrite, and which a concurrent fit (threads) shares.
            rng = np.random.RandomState()
            rng.set_state(self.random_state_.get_state())
        active = self.active_duty_cycles_.astype(np.float64)
        overlap = self.overlap_duty_cycles_.astype(np.float64)
        min_overlap_duty = self.min_overlap_duty_cycles_.astype(np.float64)
        boost = self.boost_factors_.astype(np.float64)
        counters = np.array([self.n_iterations_, self.inhibition_radius_], dtype=np.int64)
        n_rows = X.shape[0]
        batch = int(self.batch_size)
        # Rows per kernel call: whole batches, about _LEARN_CHUNK_BYTES of dense input.
        chunk = max(1, _LEARN_CHUNK_BYTES // max(X.shape[1] * batch, 1)) * batch
        if self.verbose and int(self.verbose) >= 2:
            # Progress every tenth of an epoch needs a kernel call to return that
            # often; calls end on batch boundaries, so the model is the same.
            chunk = min(chunk, max(1, n_rows // 10 // batch) * batch)
        fixed = (self.syn_perm_active_inc, self.syn_perm_inactive_dec)
        args = dict(
            column_rank=self.column_rank_.astype(np.int32, copy=False),
            global_inhibition=bool(self.global_inhibition),
            global_n_active=int(self._n_active(0)) if self.global_inhibition else 0,
            column_shape=np.asarray(self.column_shape_, dtype=np.int64),
            wrap_around=bool(self.wrap_around), density=float(self.local_area_density),
            n_active_columns=int(self.n_active_columns or 0),
            input_shape=np.asarray(self.input_shape_, dtype=np.int64),
            columns_per_input=(1.0 if self.global_inhibition else self._columns_per_input()),
            min_overlap=self._min_overlap(),
            stimulus_threshold=float(self.stimulus_threshold),
            connected_perm=self._connected_perm(), active_inc=np.float32(fixed[0]),
            inactive_dec=np.float32(fixed[1]), trim=np.float32(fixed[0] / 2.0),
            below_stimulus_inc=float(self.syn_perm_connected / 10.0),
            boost_strength=float(self.boost_strength),
            duty_cycle_period=int(self.duty_cycle_period),
            min_pct_overlap_duty=float(self.min_pct_overlap_duty_cycle),
            update_period=_UPDATE_PERIOD)
        scratch = self._overlap_scratch(self._lanes())
        progress = EpochProgress(self, n_epochs, n_rows)
        try:
            for _ in range(n_epochs):
                order = rng.permutation(n_rows) if shuffle else None
                for start in range(0, n_rows, chunk):
                    part = slice(start, min(start + chunk, n_rows))
                    rows = _dense_rows(X[part] if order is None else X[order[part]])
                    K.learn(indptr, indices, perms, *by_input, rows, *scratch, batch,
                            args["column_rank"], args["global_inhibition"],
                            args["global_n_active"], args["column_shape"],
                            args["wrap_around"], args["density"], args["n_active_columns"],
                            args["input_shape"], args["columns_per_input"],
                            args["min_overlap"], args["stimulus_threshold"],
                            args["connected_perm"], args["active_inc"], args["inactive_dec"],
                            args["trim"], args["below_stimulus_inc"], args["boost_strength"],
                            args["duty_cycle_period"], args["min_pct_overlap_duty"],
                            args["update_period"], active, overlap, min_overlap_duty, boost,
                            counters, journal_saved, journal_columns, journal_values,
                            journal_counts)
                    progress.update(rows.shape[0])
                progress.end_epoch()
        except BaseException:
            if journal_counts[2]:
                K.undo_journal(perms, indptr, journal_columns, journal_values, journal_counts)
            raise
        # Commit.
        if perms is not self.permanences_.data:
            self.permanences_ = _csr(perms, indices, indptr, self.n_features_in_)
        self.active_duty_cycles_ = active
        self.overlap_duty_cycles_ = overlap
        self.min_overlap_duty_cycles_ = min_overlap_duty
        self.boost_factors_ = boost
        self.n_iterations_ = int(counters[0])
        self.inhibition_radius_ = int(counters[1])
        self.random_state_ = rng


def _check_shape(estimator, name, value):
    """A positive int or a non-empty tuple / list of positive ints."""
    items = (value,) if isinstance(value, Integral) else value
    ok = isinstance(items, (tuple, list)) and len(items) > 0 and all(
        isinstance(v, Integral) and not isinstance(v, bool) and v >= 1 for v in items)
    if not ok:
        raise ValueError(f"{type(estimator).__name__}: {name} must be a positive int or a "
                         f"non-empty tuple of positive ints; got {value!r}.")


def _dense_rows(X):
    """Rows as a C-contiguous uint8 array of 0/1 (the kernels' input format)."""
    if sp.issparse(X):
        X = X.toarray()
    if X.dtype == bool:
        X = X.view(np.uint8)
    return np.ascontiguousarray(X, dtype=np.uint8)


def _csr(data, indices, indptr, n_inputs):
    """CSR matrix over the given arrays as they are (int64 indptr kept)."""
    matrix = sp.csr_matrix((indptr.shape[0] - 1, n_inputs), dtype=data.dtype)
    # Assigning the parts skips scipy's O(nnz) checks and index downcasts: the
    # structure is canonical by construction (sorted pools, no duplicates).
    matrix.data, matrix.indices, matrix.indptr = data, indices, indptr
    return matrix
