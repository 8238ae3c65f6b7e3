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
# From this batch size on, compacting the connected synapses once per batch
# (~0.3 ms at 140k synapses) is cheaper than multiplying over the whole pool.
_COMPACT_BATCH = 32


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
            X, _ = self._validate_input(X, reset=True)
            self._initialize(X.shape[1])
            self._learn(X, self.n_epochs, self.shuffle)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Learn from X in one pass, in the given order (online learning).

        The first call initialises the columns. A call that fails leaves the
        model exactly as it was.

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
            X, _ = self._validate_input(X, reset=first)
            if first:
                self._initialize(X.shape[1])
            self._learn(X, 1, shuffle=False)
        return self

    def transform(self, X):
        """Active columns (the SDR) of each input, without learning.

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
        connected = self._connected_synapses
        slices = list(gen_batches(X.shape[0], _TRANSFORM_CHUNK))
        if len(slices) > 1 and self.n_jobs not in (None, 1):
            parts = Parallel(n_jobs=self.n_jobs, prefer="threads")(
                delayed(self._active_columns)(connected, X[s]) for s in slices)
        else:
            parts = [self._active_columns(connected, X[s]) for s in slices]
        if self.sparse_output:
            if len(lead_shape) > 1:
                raise ValueError(
                    f"{type(self).__name__}: sparse_output=True needs 2-D input; "
                    "scipy.sparse has no 3-D matrices.")
            return sp.vstack([sp.csr_matrix(p, dtype=np.uint8) for p in parts], format="csr")
        sdr = np.concatenate(parts, axis=0) if parts else np.zeros((0, self.n_columns_), bool)
        return sdr.view(np.uint8).reshape(lead_shape + (self.n_columns_,))

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
        if not sp.issparse(X):
            X = np.asarray(X, dtype=np.float64)
            if X.ndim not in (2, 3):
                raise ValueError(f"{name}.inverse_transform expects 2-D or 3-D SDRs; "
                                 f"got {X.ndim}-D.")
        lead_shape = tuple(X.shape[:-1])
        if X.shape[-1] != self.n_columns_:
            raise ValueError(f"{name}.inverse_transform: X has {X.shape[-1]} columns, "
                             f"but the pooler has {self.n_columns_}.")
        X = X.reshape(-1, self.n_columns_) if not sp.issparse(X) else X.tocsr()
        values = X.data if sp.issparse(X) else X
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValueError(f"{name}.inverse_transform: X must be finite and non-negative.")
        weight = np.asarray(X.sum(axis=1)).reshape(-1, 1)
        pattern = np.asarray(X @ self.permanences_) / np.maximum(weight, 1e-12)
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
        X, lead_shape = validate_last_axis(self, X, reset=reset)
        check_binary(self, X)
        return X, lead_shape

    def _drop_fitted_state(self):
        for key in [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]:
            delattr(self, key)
        self.__dict__.pop("_connected_synapses", None)

    def _n_active(self, radius):
        """Target number of winners: per layer (global) or per column (local)."""
        if self.global_inhibition:
            if self.n_active_columns is not None:
                return min(self.n_active_columns, self.n_columns_)
            return max(1, int(round(self.local_area_density * self.n_columns_)))
        size = T.neighbourhood_size(self.column_shape_, radius, self.wrap_around)
        if self.n_active_columns is not None:
            return np.minimum(self.n_active_columns, size)
        return np.maximum(1, (0.5 + self.local_area_density * size).astype(np.int64))

    def _target_density(self, active_duty_cycles, radius):
        if self.global_inhibition:
            return self._n_active(radius) / self.n_columns_
        return T.neighbourhood_mean(active_duty_cycles[None], self.column_shape_,
                                    radius, self.wrap_around)[0]

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
        K.raise_to_threshold(perms, indptr, np.arange(self.n_columns_), self.syn_perm_connected,
                             self.syn_perm_connected / 10.0, self.stimulus_threshold)
        self.permanences_ = sp.csr_matrix((perms, indices, indptr),
                                          shape=(self.n_columns_, n_inputs))
        self.column_rank_ = self.random_state_.permutation(self.n_columns_).astype(np.int32)
        zeros = np.zeros(self.n_columns_)
        self.active_duty_cycles_ = zeros.copy()
        self.overlap_duty_cycles_ = zeros.copy()
        self.min_overlap_duty_cycles_ = zeros.copy()
        self.boost_factors_ = np.ones(self.n_columns_)
        self.n_iterations_ = 0
        self.inhibition_radius_ = self._compute_inhibition_radius(indptr, indices, perms)

    def _compute_inhibition_radius(self, indptr, indices, permanences):
        """Inhibition radius from the mean receptive-field extent (BAMI)."""
        if self.global_inhibition:
            return int(max(self.column_shape_))
        span = T.mean_connected_span(indptr, indices, permanences >= self.syn_perm_connected,
                                     self.input_shape_)
        shape = T.align_shapes(self.column_shape_, self.input_shape_)
        columns_per_input = np.mean(np.asarray(shape) / np.asarray(self.input_shape_))
        diameter = span * columns_per_input
        return int(max(1.0, (diameter - 1.0) / 2.0) + 0.5)

    def _connected(self):
        """Compact connected-synapse matrix of the current permanences.

        Computed when learning commits and kept as fitted state, so that
        transform neither rebuilds it nor writes to the estimator.
        """
        pm = self.permanences_
        return K.connected_matrix(pm.indptr, pm.indices, pm.data >= self.syn_perm_connected,
                                  self.n_features_in_)

    def _inhibit(self, scores, overlaps, radius):
        min_overlap = max(int(self.stimulus_threshold), 1)
        if self.global_inhibition:
            return K.global_winners(scores, self._n_active(radius), self.column_rank_,
                                    min_overlap, overlaps)
        offsets = T.neighbourhood_offsets(self.column_shape_, radius)
        return K.local_winners(scores, self._n_active(radius), self.column_rank_,
                               self.column_shape_, offsets, self.wrap_around, min_overlap,
                               overlaps)

    def _active_columns(self, connected, X):
        """Winners (bool) for a chunk of rows, no boosting, no learning."""
        overlaps = K.compute_overlaps(connected, X.toarray() if sp.issparse(X) else X)
        return self._inhibit(overlaps, overlaps, self.inhibition_radius_)

    def _learn(self, X, n_epochs, shuffle):
        """Learn on working copies of the state; commit only when all went well."""
        pm = self.permanences_
        indptr, indices, n_inputs = pm.indptr, pm.indices, pm.shape[1]
        perms = pm.data.copy()
        # A copy of the RNG too, so that a failed call leaves it untouched.
        rng = check_random_state(None)
        rng.set_state(self.random_state_.get_state())
        active, overlap = self.active_duty_cycles_, self.overlap_duty_cycles_
        min_overlap_duty, boost = self.min_overlap_duty_cycles_, self.boost_factors_
        iteration, radius = self.n_iterations_, self.inhibition_radius_
        n_rows = X.shape[0]
        below_stimulus_inc = self.syn_perm_connected / 10.0
        trim = self.syn_perm_active_inc / 2.0
        min_overlap = max(int(self.stimulus_threshold), 1)
        progress = EpochProgress(self, n_epochs, n_rows)
        for epoch in range(n_epochs):
            order = rng.permutation(n_rows) if shuffle else np.arange(n_rows)
            for batch in gen_batches(n_rows, self.batch_size):
                rows = X[order[batch]]
                rows = (rows.toarray() if sp.issparse(rows) else rows).astype(bool, copy=False)
                n = rows.shape[0]
                connected = perms >= self.syn_perm_connected
                # Few samples: multiply over the whole pool; many: compact first.
                matrix = (K.pool_matrix if n < _COMPACT_BATCH else K.connected_matrix)(
                    indptr, indices, connected, n_inputs)
                overlaps = K.compute_overlaps(matrix, rows)
                scores = overlaps * boost.astype(np.float32) if self.boost_strength > 0 \
                    else overlaps
                winners = self._inhibit(scores, overlaps, radius)

                won, synapses, hits, wins = K.synapse_statistics(indptr, indices, winners, rows)
                K.adapt_synapses(perms, synapses, hits, wins, self.syn_perm_active_inc,
                                 self.syn_perm_inactive_dec, trim)
                K.raise_to_threshold(perms, indptr, won, self.syn_perm_connected,
                                     below_stimulus_inc, self.stimulus_threshold)
                overlap = K.update_duty_cycles(overlap, overlaps >= min_overlap, iteration,
                                               self.duty_cycle_period)
                active = K.update_duty_cycles(active, winners, iteration,
                                              self.duty_cycle_period)
                weak = np.flatnonzero(overlap < min_overlap_duty)
                K.bump_up_weak_columns(perms, indptr, weak, n * below_stimulus_inc)
                boost = K.boost_factors(active, self._target_density(active, radius),
                                        self.boost_strength)
                if (iteration + n) // _UPDATE_PERIOD > iteration // _UPDATE_PERIOD:
                    radius = self._compute_inhibition_radius(indptr, indices, perms)
                    min_overlap_duty = self._min_duty_cycles(overlap, radius)
                iteration += n
                progress.update(n)
            progress.end_epoch()
        # Commit.
        self.permanences_ = sp.csr_matrix((perms, indices, indptr), shape=pm.shape)
        self.active_duty_cycles_ = active
        self.overlap_duty_cycles_ = overlap
        self.min_overlap_duty_cycles_ = min_overlap_duty
        self.boost_factors_ = boost
        self.n_iterations_ = iteration
        self.inhibition_radius_ = radius
        self.random_state_ = rng
        self._connected_synapses = self._connected()

    def _min_duty_cycles(self, overlap_duty_cycles, radius):
        if self.global_inhibition:
            top = np.full(self.n_columns_, overlap_duty_cycles.max())
        else:
            top = T.neighbourhood_max(overlap_duty_cycles[None], self.column_shape_,
                                      radius, self.wrap_around)[0]
        return self.min_pct_overlap_duty_cycle * top
