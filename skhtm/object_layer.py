"""ObjectLayerClassifier: objects recognised from features at locations, whatever
the order of the glimpses, by columns that vote."""

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context, clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from . import _object_layer as K
from ._base import VersionedStateMixin
from ._saccades import frame_seeds, splitmix64

_POLICIES = {"given": 0, "random": 1, "hypothesis": 2}
# Samples per chunk when statistics are gathered: bounds the float copies of the
# features to a chunk's.
_CHUNK = 2048
# A bound feature whose spread at a place is below this is constant there: it is
# centred but not scaled, so it stays 0 instead of amplifying rounding noise.
_MIN_SCALE = 1e-6


class ObjectLayerClassifier(VersionedStateMixin, ClassifierMixin, BaseEstimator):
    """Recognise objects from glimpses: each glimpse a feature at a location,
    accumulated without regard to order, read out as evidence for each class
    after every glimpse, with several columns voting.

    The input layer binds each glimpse's features to the place it was taken
    at (a *feature at a location*); the object layer sums the bound features
    over the glimpses of a sample, so the representation is the same for any
    order of the same fixations and grows with every glimpse; a linear
    read-out (by default a :class:`~sklearn.linear_model.LogisticRegression`)
    learns the objects from it. Bound features are centred on what their place
    usually shows, so a place not looked at brings no evidence, and every
    glimpse adds one *vote* vector to the evidence: :meth:`staged_predict_proba`
    gives the evidence after each glimpse.

    Several columns (sensor patches seen at once, e.g. from a
    :class:`SaccadeEncoder` with ``sensor_offsets``) each bind their own
    glimpses to their own places; their evidence is summed (lateral voting),
    so together they narrow the candidates sooner than one column would.

    Which candidate glimpse to take next is the ``policy``: the given order,
    random, or ``"hypothesis"``: the glimpse whose place best separates the
    two classes ranked first so far, judged from the read-out's weights and
    the places the glimpses are at, never from what an untaken glimpse shows.
    With ``n_glimpses`` below the number of candidates, only that many are
    taken.

    Parameters
    ----------
    location_bits : int
        Trailing values of each column's glimpse that code its location (the
        ``location`` slice of :meth:`SaccadeEncoder.glimpse_layout`); binary.
        Every distinct code seen in ``fit`` is a place; a code not seen
        in ``fit`` is taken as the known place it overlaps most. 0: no
        location, every glimpse at one place (a bag of features).
    n_columns : int, default=1
        Columns side by side in each glimpse: the last axis of X holds
        ``n_columns`` equal blocks ``[features | location]``.
    readout : classifier, default=None
        A linear classifier with ``coef_`` and ``intercept_`` after ``fit``.
        ``None``: ``LogisticRegression(C=1.0, max_iter=1000)``.
    voting : {"joint", "independent"}, default="joint"
        How the columns' votes are weighted. "joint": one read-out learned
        over all columns' bound features, so each column's vote counts for
        what it adds to the others' (a column that sees little votes weakly);
        each column's evidence is its block of the read-out. "independent":
        each column learns its own read-out, and their evidence is added as
        equals (a product of experts).
    n_glimpses : int, default=None
        Glimpses taken of each sample's candidates by :meth:`predict` and
        friends. ``None``: all of them.
    policy : {"given", "random", "hypothesis"}, default="given"
        The order in which candidates are taken.
    curiosity : float, default=0.0
        With ``policy="hypothesis"``, the probability of taking a random
        untaken candidate instead of the most telling one.
    fit_glimpses : int, default=None
        Glimpses per sample the read-out learns from: each training sample's
        sums hold a random subset of this many of its glimpses (drawn from
        the sample and ``random_state``), so that the evidence after a few
        glimpses is what the read-out was trained on, as when ``n_glimpses``
        takes few of many candidates. ``None``: all of them.
    copy : bool, default=True
        Whether ``fit`` keeps X intact. ``False``: with ``voting="joint"``,
        ``fit`` may write the bound features over X (a C-contiguous float32
        array with no fewer values than them), which halves the memory of a
        Pipeline's fit, where X is the encoder's output and is thrown away
        after.
    random_state : int, RandomState instance or None, default=None
        Seeds the random choices of "random" and curiosity; a sample's
        choices depend only on it and the sample, never on the batch.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
        Values per glimpse (all columns).
    n_steps_ : int
        Glimpses per sample seen in ``fit``.
    places_ : list of ndarray
        Per column, the location codes (n_places, location_bits) seen in fit.
    place_mean_, place_scale_ : list of ndarray
        Per column, (n_places, n_features) float32: what each place's
        features usually are, and their spread.
    readouts_ : list of classifier
        The fitted read-out over the bound features (n_places * n_features
        per column): one for ``voting="joint"``, one per column for
        "independent".

    See Also
    --------
    SaccadeEncoder : Glimpses along a gaze path, with ``location="place"``.
    SequencePooler : Order-free pooling without locations.

    Notes
    -----
    Votes are exact: the decision function after glimpses ``G`` is the sum
    over columns of ``intercept + sum_{g in G} vote(g)``, so the result is the
    same (up to floating-point rounding) for any order of the same glimpses.

    References
    ----------
    .. [1] J. Hawkins, S. Ahmad, Y. Cui, "A Theory of How Columns in the
       Neocortex Enable Learning the Structure of the World", Frontiers in
       Neural Circuits, 2017.
    .. [2] V. Clay, N. Leadholm, J. Hawkins, "The Thousand Brains Project: A
       New Paradigm for Sensorimotor Intelligence", arXiv:2412.18354, 2024.

    Examples
    --------
    >>> import numpy as np
    >>> from skhtm import ObjectLayerClassifier
    >>> rng = np.random.RandomState(0)
    >>> where = np.eye(3)                       # three places, one-hot
    >>> def glimpses(label, n):                 # class 1: bright at place 2
    ...     feats = rng.rand(n, 3, 4) + (label * 2.0) * (np.arange(3) == 2)[:, None]
    ...     return np.concatenate([feats, np.broadcast_to(where, (n, 3, 3))], axis=2)
    >>> X = np.concatenate([glimpses(0, 50), glimpses(1, 50)])
    >>> y = np.repeat([0, 1], 50)
    >>> clf = ObjectLayerClassifier(location_bits=3).fit(X, y)
    >>> clf.score(X, y)
    1.0
    >>> shuffled = X[:, ::-1]                   # the same glimpses in another order
    >>> bool(np.allclose(clf.predict_proba(shuffled), clf.predict_proba(X)))
    True
    """

    _parameter_constraints = {
        "location_bits": [Interval(Integral, 0, None, closed="left")],
        "n_columns": [Interval(Integral, 1, None, closed="left")],
        "readout": [HasMethods(["fit"]), None],
        "n_glimpses": [Interval(Integral, 1, None, closed="left"), None],
        "voting": [StrOptions({"joint", "independent"})],
        "policy": [StrOptions(set(_POLICIES))],
        "copy": ["boolean"],
        "fit_glimpses": [Interval(Integral, 1, None, closed="left"), None],
        "curiosity": [Interval(Real, 0, 1, closed="both")],
        "random_state": ["random_state"],
    }

    def __init__(self, location_bits=0, *, n_columns=1, readout=None, voting="joint",
                 n_glimpses=None, policy="given", curiosity=0.0, fit_glimpses=None,
                 copy=True, random_state=None):
        self.location_bits = location_bits
        self.n_columns = n_columns
        self.readout = readout
        self.voting = voting
        self.n_glimpses = n_glimpses
        self.policy = policy
        self.curiosity = curiosity
        self.fit_glimpses = fit_glimpses
        self.copy = copy
        self.random_state = random_state

    # ------------------------------------------------------------------ API

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Learn each column's places, their usual features, and the read-out.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_steps, n_columns * width) or \
(n_samples, n_columns * width)
            Glimpse sequences (2-D: one glimpse per sample); each column's
            block is ``[features | location]`` with ``location_bits`` trailing
            location values.
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : object
        """
        X = self._validate(X, reset=True)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if len(y) != len(X):
            self._fail(f"X has {len(X)} samples but y has {len(y)} labels.")
        places, means, scales, column_places = [], [], [], []
        for k in range(self.n_columns):
            features, codes = self._column(X, k)
            known = self._places(codes)
            place = K.place_indices(codes.reshape(-1, codes.shape[-1]), known).reshape(
                codes.shape[:2]) if len(known) > 1 else np.zeros(codes.shape[:2], np.int64)
            mean, scale = self._place_statistics(features, place, len(known))
            places.append(known)
            means.append(mean)
            scales.append(scale)
            column_places.append(place)
        if self.fit_glimpses is not None and self.fit_glimpses < X.shape[1]:
            # The read-out learns from partial views: each sample's glimpses
            # outside a random subset (the same for every column: one gaze) are
            # left out of its sums.
            left_out = self._random_subsets(X, self.fit_glimpses)
            column_places = [np.where(left_out, -1, place) for place in column_places]
        template = LogisticRegression(C=1.0, max_iter=1000) if self.readout is None \
            else self.readout
        sizes = [m.size for m in means]
        if self.voting == "joint":
            # One read-out over every column's bound features: each column's vote
            # is weighted by what it adds to the others.
            groups = [list(range(self.n_columns))]
        else:
            groups = [[k] for k in range(self.n_columns)]
        readouts = []
        if self.voting == "joint":
            bound = self._bind_joint(X, column_places, means, scales, sizes)
            readouts.append(self._fit_readout(template, bound, y))
            del bound
            groups = []
        for group in groups:
            bound = np.zeros((len(X), sum(sizes[k] for k in group)), dtype=np.float32)
            start = 0
            for k in group:
                features = self._column(X, k)[0]
                block = bound[:, start:start + sizes[k]].reshape(len(X), *means[k].shape)
                # The kernel writes in place into a view of the shared array.
                view = np.zeros((len(X),) + means[k].shape, dtype=np.float32) \
                    if not block.flags.c_contiguous else block
                K.bind_features(features, column_places[k], means[k], scales[k],
                                len(places[k]), view)
                if view is not block:
                    block[...] = view
                start += sizes[k]
            readouts.append(self._fit_readout(template, bound, y))
            del bound
        self.places_, self.place_mean_, self.place_scale_ = places, means, scales
        self.readouts_ = readouts
        self.classes_ = readouts[0].classes_
        self.n_steps_ = X.shape[1]
        return self

    def decision_function(self, X):
        """The summed evidence of all columns after the glimpses taken.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes), or (n_samples,) for two
            classes: the evidence for ``classes_[1]`` minus that for ``classes_[0]``.
        """
        scores = self._scores(X)
        return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores

    def _scores(self, X):
        return self.evidence(X).sum(axis=2)[:, -1]

    def predict_proba(self, X):
        """Class probabilities from the columns' summed evidence.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return _softmax(self._scores(X))

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        return np.log(self.predict_proba(X))

    def predict(self, X):
        """The class with the most evidence.

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        scores = self._scores(X)
        return self.classes_[np.argmax(scores, axis=1)]

    def staged_predict_proba(self, X):
        """Class probabilities after each glimpse taken, in the policy's order.

        Yields
        ------
        proba : ndarray of shape (n_samples, n_classes)
            After glimpses 1, 2, ..., ``n_glimpses``.
        """
        summed = self.evidence(X).sum(axis=2)
        for t in range(summed.shape[1]):
            yield _softmax(summed[:, t])

    def staged_predict(self, X):
        """Predicted class after each glimpse taken, in the policy's order.

        Yields
        ------
        y : ndarray of shape (n_samples,)
        """
        for proba in self.staged_predict_proba(X):
            yield self.classes_[np.argmax(proba, axis=1)]

    def evidence(self, X):
        """Each column's own evidence (before voting) after each glimpse taken.

        Returns
        -------
        evidence : ndarray of shape (n_samples, n_glimpses, n_columns, n_classes)
            Cumulative over the glimpses in the order the policy took them;
            its sum over columns is the voted evidence.
        """
        votes, intercept, _, order = self._votes_and_order(X)
        taken = np.take_along_axis(votes, order[:, :, None, None], axis=1)
        return intercept[None, None] + np.cumsum(taken, axis=1)

    def glimpse_order(self, X):
        """Which candidate glimpse the policy took at each step.

        Returns
        -------
        order : ndarray of int64 of shape (n_samples, n_glimpses)
            Indices into the steps of X.
        """
        return self._votes_and_order(X)[3]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    # ----------------------------------------------------------- internals

    def _fail(self, message):
        raise ValueError(f"{type(self).__name__}: {message}")

    def _validate(self, X, *, reset):
        """X as float32 (n_samples, n_steps, n_values)."""
        name = type(self).__name__
        if sp.issparse(X):
            self._fail("sparse input is not supported; pass a dense array of glimpses.")
        X = np.asarray(X) if not hasattr(X, "shape") else X
        ndim = len(X.shape)
        if ndim not in (2, 3):
            hint = (" Reshape your data with array.reshape(1, -1) for a single glimpse."
                    if ndim == 1 else "")
            self._fail(f"expects glimpse sequences (n_samples, n_steps, n_values) or one "
                       f"glimpse per sample (n_samples, n_values); got {ndim} dimension(s)."
                       + hint)
        shape = tuple(X.shape)
        if ndim == 3 and 0 in shape:
            self._fail(f"got an empty batch of shape {shape}.")
        try:
            flat = validate_data(self, np.asarray(X).reshape(-1, shape[-1]) if ndim == 3 else X,
                                 reset=False, dtype=[np.float32, np.float64])
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{name}: {exc}") from exc
        X = flat.reshape(shape[0], shape[1] if ndim == 3 else 1, shape[-1])
        if reset:
            self.n_features_in_ = shape[-1]
        elif shape[-1] != self.n_features_in_:
            self._fail(f"X has {shape[-1]} values per glimpse, but the classifier was fit "
                       f"with {self.n_features_in_}.")
        width, rest = divmod(shape[-1], self.n_columns)
        if rest:
            self._fail(f"{shape[-1]} values per glimpse do not split into n_columns="
                       f"{self.n_columns} equal blocks.")
        if self.location_bits >= width:
            self._fail(f"location_bits={self.location_bits} leaves no features in a column's "
                       f"glimpse of {width} values.")
        return X.astype(np.float32, copy=False)

    def _column(self, X, k):
        """Column ``k``'s features (a view) and location codes."""
        width = X.shape[2] // self.n_columns
        block = X[:, :, k * width:(k + 1) * width]
        n_features = width - self.location_bits
        codes = block[:, :, n_features:]
        if codes.size and not np.isin(codes, (0.0, 1.0)).all():
            self._fail("the location codes (the last location_bits values of each column's "
                       "glimpse) must be binary.")
        return block[:, :, :n_features], codes

    @staticmethod
    def _places(codes):
        """The distinct location codes, as the places of this column."""
        if codes.shape[-1] == 0:
            return np.zeros((1, 0), dtype=np.uint8)
        return np.unique(codes.reshape(-1, codes.shape[-1]).astype(np.uint8), axis=0)

    @staticmethod
    def _place_statistics(features, place, n_places):
        """Mean and spread (n_places, n_features) of the features at each place."""
        n, n_steps, n_features = features.shape
        sums = np.zeros((n_places, n_features))
        squares = np.zeros((n_places, n_features))
        counts = np.zeros(n_places)
        for start in range(0, n, _CHUNK):
            chunk = np.asarray(features[start:start + _CHUNK], dtype=np.float64).reshape(
                -1, n_features)
            where = place[start:start + _CHUNK].reshape(-1)
            onehot = sp.csr_matrix((np.ones(len(where)), (where, np.arange(len(where)))),
                                   shape=(n_places, len(where)))
            sums += onehot @ chunk
            squares += onehot @ (chunk * chunk)
            counts += np.bincount(where, minlength=n_places)
        counts = np.maximum(counts, 1)[:, None]
        mean = sums / counts
        spread = np.sqrt(np.maximum(squares / counts - mean * mean, 0.0))
        scale = np.where(spread > _MIN_SCALE, spread, 1.0)
        return mean.astype(np.float32), scale.astype(np.float32)

    def _random_subsets(self, X, size):
        """(n, n_steps) bool: True for the glimpses outside each sample's random
        subset of ``size``, drawn from the sample's content and random_state."""
        n, n_steps = X.shape[:2]
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        seeds = frame_seeds(X.reshape(n, -1), seed)[:, None]
        keys = splitmix64(seeds ^ splitmix64(np.arange(n_steps, dtype=np.uint64)))
        rank = np.argsort(np.argsort(keys, axis=1), axis=1)
        return rank >= size

    def _fit_readout(self, template, bound, y):
        readout = clone(template).fit(bound, y)
        if not (hasattr(readout, "coef_") and hasattr(readout, "intercept_")):
            self._fail(f"the readout must be a linear classifier with coef_ and "
                       f"intercept_ after fit; {type(readout).__name__} has not.")
        return readout

    def _bind_joint(self, X, column_places, means, scales, sizes):
        """Every column's bound features side by side, (n_samples, sum of sizes);
        written over X itself with ``copy=False`` where X's buffer can hold them."""
        n, n_steps, n_values = X.shape
        size = sum(sizes)
        in_place = (not self.copy and size <= n_steps * n_values and X.flags.c_contiguous
                    and X.flags.writeable and X.dtype == np.float32)
        if in_place:
            bound = X.reshape(-1)[:n * size].reshape(n, size)
        else:
            bound = np.empty((n, size), dtype=np.float32)
        first = np.cumsum([0] + [len(m) for m in means[:-1]]).astype(np.int64)
        K.bind_columns(X, np.stack(column_places, axis=2), np.concatenate(means),
                       np.concatenate(scales), first, means[0].shape[1], bound)
        return bound

    def _coef(self, k):
        """Column ``k``'s read-out as (n_classes, n_places, n_features) weights and
        (n_classes,) intercepts, a binary read-out as two symmetric classes."""
        n_places, n_features = self.place_mean_[k].shape
        if len(self.readouts_) == 1:
            # Joint read-out: column k's block of weights and an equal share of
            # the intercept, so the columns' evidence adds up to the read-out's.
            readout = self.readouts_[0]
            start = sum(m.size for m in self.place_mean_[:k])
            coef = np.asarray(readout.coef_, dtype=np.float64)[:, start:start + n_places *
                                                               n_features]
            intercept = np.atleast_1d(np.asarray(readout.intercept_, dtype=np.float64)
                                      ) / self.n_columns
        else:
            readout = self.readouts_[k]
            coef = np.asarray(readout.coef_, dtype=np.float64)
            intercept = np.atleast_1d(np.asarray(readout.intercept_, dtype=np.float64))
        if coef.shape[0] == 1:
            coef = np.concatenate([-coef, coef]) / 2.0
            intercept = np.concatenate([-intercept, intercept]) / 2.0
        return coef.reshape(-1, n_places, n_features), intercept

    def _votes_and_order(self, X):
        check_is_fitted(self, "readouts_")
        X = self._validate(X, reset=False)
        n, n_steps = X.shape[:2]
        n_classes = len(self.classes_)
        votes = np.empty((n, n_steps, self.n_columns, n_classes))
        places = np.empty((n, n_steps, self.n_columns), dtype=np.int64)
        intercepts = np.empty((self.n_columns, n_classes))
        disagreement = []
        for k in range(self.n_columns):
            features, codes = self._column(X, k)
            known = self.places_[k]
            place = K.place_indices(codes.reshape(-1, codes.shape[-1]), known).reshape(
                n, n_steps) if len(known) > 1 else np.zeros((n, n_steps), np.int64)
            coef, intercepts[k] = self._coef(k)
            column_votes = np.empty((n, n_steps, n_classes))
            K.glimpse_votes(features, place, self.place_mean_[k], self.place_scale_[k], coef,
                            column_votes)
            votes[:, :, k] = column_votes
            places[:, :, k] = place
            disagreement.append(K.place_disagreement(coef))
        n_take = n_steps if self.n_glimpses is None else self.n_glimpses
        if n_take > n_steps:
            self._fail(f"n_glimpses={n_take} is more than the {n_steps} candidate glimpses "
                       f"per sample.")
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        seeds = frame_seeds(X.reshape(n, -1), seed)
        order = np.empty((n, n_take), dtype=np.int64)
        # Columns may know different numbers of places; pad to a common table.
        table = np.zeros((self.n_columns, max(len(d) for d in disagreement), n_classes,
                          n_classes))
        for k, d in enumerate(disagreement):
            table[k, :len(d)] = d
        K.choose_glimpses(votes, intercepts, places, table, n_take,
                          _POLICIES[self.policy], float(self.curiosity), seeds, order)
        return votes, intercepts, places, order


def _softmax(scores):
    scores = scores - scores.max(axis=1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=1, keepdims=True)
    return scores
