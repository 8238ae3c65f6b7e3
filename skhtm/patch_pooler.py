"""PatchSpatialPooler: one Spatial Pooler applied to every patch of an image, pooled."""

from numbers import Integral

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
    clone,
)
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted

from . import _patches as K
from ._base import VersionedStateMixin
from ._grey_levels import grey_bits, uniform_thresholds
from ._validation import validate_image_batch
from .spatial_pooler import SpatialPoolerTransformer

# Images per transform chunk: the unit of work of a thread, fixed so that results
# never depend on n_jobs or on how X is batched. The fused pass needs no more
# memory for a larger chunk; the chunked fallback holds a chunk's patches.
_CHUNK = 64
_FALLBACK_CHUNK = 16

_ENCODINGS = ("grey", "contrast", "whitened")
# Stands in for the whitening matrix of the "contrast" encoding: the kernels take
# one array type whether they whiten or not, so one compilation serves both.
_NO_WHITENING = np.zeros((0, 0))


def _draw_patches(rng, n_patches, n_draw):
    """``n_draw`` distinct patch indices out of ``n_patches``, uniformly at random, sorted.

    ``RandomState.choice(replace=False)`` permutes the whole population: 2.4 s
    and 280 MB for the 35 million patches of 60,000 images. Where the sample is
    a small part of the population, the first ``n_draw`` distinct values of a
    stream of uniform draws are the same uniform sample at O(n_draw) cost.
    """
    if n_patches < 4 * n_draw:
        return np.sort(rng.choice(n_patches, n_draw, replace=False))
    stream = np.empty(0, dtype=np.int64)
    while True:
        more = n_draw + n_draw // 8 + 16
        stream = np.concatenate([stream, rng.randint(0, n_patches, size=more, dtype=np.int64)])
        _, first = np.unique(stream, return_index=True)
        if first.size >= n_draw:
            return np.sort(stream[np.sort(first)[:n_draw]])


def _connected_synapses(sp):
    """Dense bool (n_columns, n_inputs): the fitted Spatial Pooler's connected synapses,
    by its own test (float32 permanences against syn_perm_connected), so both
    agree on every permanence at the threshold."""
    permanences = sp.permanences_.tocsr()
    connected = np.zeros(permanences.shape, dtype=bool)
    rows = np.repeat(np.arange(permanences.shape[0]), np.diff(permanences.indptr))
    connected[rows, permanences.indices] = permanences.data >= sp._connected_perm()
    return connected


def _ndim(X):
    """Dimensions of array-like X without numpy's array functions (objects that only
    offer ``__array__`` refuse those); None where X is no array at all, for
    validation to report."""
    try:
        return np.asarray(X).ndim
    except (TypeError, ValueError):
        return None


def _square_shape(n_features):
    """(side, side) when a flattened image of n_features pixels is square, else None."""
    side = int(round(np.sqrt(n_features)))
    return (side, side) if side * side == n_features else None


class PatchSpatialPooler(VersionedStateMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                         BaseEstimator):
    """A Spatial Pooler with a local receptive field, applied to every patch of an
    image like a convolution, its column activity pooled over neighbourhoods.

    Each image is cut into ``patch_shape`` patches ``stride`` apart; every
    patch (each pixel's grey level, or its contrast within the patch: see
    ``encoding``, as thermometer bits) goes through the same
    :class:`SpatialPoolerTransformer`, so its columns learn
    (or, with learning off, sample) local features shared by all positions.
    Then, for each region of a ``pool_grid`` of neighbourhoods over the patch
    positions, the pooler counts how often each column was active
    (``pooling="sum"``) or whether it was (``"max"``). The result is one
    feature vector per image of ``n_regions * n_columns`` values, for a
    linear classifier; pooling buys tolerance to small shifts.

    Images may also have channels, ``(h, w, c)``: activity maps such as the
    column map of another PatchSpatialPooler, whose output reshapes to
    ``(pool_rows, pool_cols, n_columns)``. A second pooler over that map is the
    second layer of a hierarchy: its patches see ``ph x pw`` neighbourhoods of
    the first layer's columns.

    Parameters
    ----------
    spatial_pooler : SpatialPoolerTransformer, default=None
        The pooler applied to each patch (cloned in ``fit``). ``None``:
        ``SpatialPoolerTransformer(column_shape=256, local_area_density=0.05)``.
        Its ``input_shape`` may be set to ``(ph, pw, bits per pixel)``
        (``n_levels``, ``2 * n_levels`` with a contrast encoding, or ``c`` for
        multi-channel images) for local inhibition or potential radii inside
        the patch.
    patch_shape : int or tuple of int, default=5
        Height and width of a patch in pixels.
    stride : int or tuple of int, default=1
        Pixels between neighbouring patches.
    n_levels : int, default=2
        Thermometer bits per pixel (grey levels); with a contrast encoding,
        per sign (ON and OFF: ``2 * n_levels`` bits per pixel). Ignored for
        multi-channel images, whose pixels have one bit per channel.
    encoding : {"grey", "contrast", "whitened"}, default="grey"
        What a pixel's bits say. ``"grey"``: its grey level in the scaled
        image, bit ``l`` on above ``(l + 1) / (n_levels + 1)``.
        ``"contrast"``: how much brighter or darker than its patch it is,
        ``z = (v - mean) / (std + 0.1)`` over the patch's pixels (the 0.1
        keeps faint patches quiet); ON bit ``l`` on where ``z >
        contrast_thresholds[l]``, OFF bit ``l`` where ``z <
        -contrast_thresholds[l]``, so a uniform patch has no bit on.
        ``"whitened"``: as ``"contrast"`` after multiplying each patch's ``z``
        by a ZCA whitening matrix fitted on the training patches
        (``whitening_``).
    contrast_thresholds : array-like of float or None, default=None
        ``n_levels`` increasing positive thresholds on ``z`` (or on the
        whitened ``z``, whose standard deviation is 1 over the training
        patches). ``None``: ``np.linspace(0.2, 1.0, n_levels)``. Ignored
        with ``encoding="grey"``.
    value_range : tuple of float, default=None
        ``(low, high)`` mapped to [0, 1] before thresholding. ``None``: each
        image divided by its own maximum (images must be non-negative). Must be
        ``None`` for multi-channel images.
    image_shape : tuple of int, default=None
        ``(h, w)`` when X is flattened grey images, ``(h, w, c)`` when X is
        flattened images of ``c`` channels (pixel major, then channel: the
        layout of a PatchSpatialPooler's output over a ``pool_grid`` of
        ``(h, w)`` regions). ``None``: the shape of X, (n_samples, h, w) or
        (n_samples, h, w, c), or square flattened grey images.
    pool_grid : int or tuple of int, default=4
        Regions of the patch grid along each axis over which activity is pooled
        (1: over the whole image; the patch grid itself: no pooling).
    pooling : {"sum", "max"}, default="sum"
        Count of patches that activated a column in a region, or whether any
        did.
    max_fit_patches : int, default=100_000
        ``fit`` and ``partial_fit`` train the Spatial Pooler on at most this
        many patches drawn at random from the batch (every image gives many).
    random_state : int, RandomState instance or None, default=None
        Draws the training patches and, unless ``None``, seeds the Spatial
        Pooler (overriding its own ``random_state``).
    n_jobs : int, default=None
        Threads for ``transform``, over fixed chunks of images (the result does
        not depend on it). ``None``: 1 unless in a
        :obj:`joblib.parallel_backend` context; ``-1``: all processors.

    Attributes
    ----------
    spatial_pooler_ : SpatialPoolerTransformer
        The fitted pooler shared by all patches.
    image_shape_ : tuple of int
        ``(h, w)``, or ``(h, w, c)`` for multi-channel images, of the images
        seen in ``fit``.
    patch_grid_ : tuple of int
        Patch positions along each axis.
    n_features_in_ : int
        Values per image (pixels times channels).
    whitening_ : ndarray of float64 of shape (ph * pw, ph * pw)
        With ``encoding="whitened"`` only: the ZCA matrix applied to each
        patch's ``z``. Fitted by ``fit`` or by the first ``partial_fit``; later
        ``partial_fit`` calls keep it, so the Spatial Pooler keeps seeing the
        same encoding.

    See Also
    --------
    SpatialPoolerTransformer : the pooler applied to each patch.
    SaccadeEncoder : patches at a few fixations instead of everywhere.

    Notes
    -----
    The idea of local features pooled over space is that of single-layer
    feature learners on patches (Coates, Lee & Ng 2011) with the Spatial
    Pooler's k-winners-take-all columns as the features.

    Encodings: grey levels give a patch's columns its brightness as much as
    its shape, so a column that learns a stroke on a bright garment misses it
    on a dark one. The contrast encodings see the shape alone: each pixel is
    an ON (brighter than its patch) or OFF (darker) centre-surround cell, with
    ``n_levels`` bits of strength, after the patch's own mean is removed and
    its contrast normalised, as Coates, Lee & Ng (2011) normalise patches.
    ZCA whitening (``"whitened"``) then decorrelates neighbouring pixels, so
    that edges rather than smooth gradients drive the bits. On Fashion-MNIST
    the contrast encodings pool into features a few points more accurate, and
    make learning in the Spatial Pooler pay. The whitening is fitted on the
    training patches after the contrast normalisation: ``C = cov(z)``, ``W =
    V diag(1 / sqrt(ev + 0.1)) V^T``, scaled so the whitened sample has
    standard deviation 1.

    ``transform`` never builds a patch: one compiled pass per image finds each
    patch position's winners from per-pixel, per-grey-level counts of every
    column's connected synapses and adds them straight into the pooled output,
    so its memory is that of the output. The winners are exactly those of
    ``spatial_pooler_.transform`` on the encoded patch. A Spatial Pooler with
    local inhibition (or another transformer) is called on the patches of a
    few images at a time instead. With a contrast encoding the pass computes
    each position's mean, standard deviation (and whitening) by the same
    compiled arithmetic that encodes the training patches, so ``fit`` and
    ``transform`` see identical bits.

    References
    ----------
    A. Coates, H. Lee and A. Y. Ng, "An Analysis of Single-Layer Networks in
    Unsupervised Feature Learning", AISTATS 2011.

    Multi-channel images are activity maps, not grey levels: each (pixel,
    channel) is one bit, on where the value is > 0 (counts or 0/1 alike), and
    a patch has ``ph * pw * c`` bits, pixel major then channel. ``n_levels``
    does not apply, ``value_range`` must be None and negative values are
    refused (they would mean standardised features, where "> 0" is not
    "active"). Their compiled pass lists each image's active bits once and sums
    one row of connected synapses per active bit of a patch, so its cost
    follows the active part of the map (a first layer's map is ~5-20%
    active); the winners are again exactly the Spatial Pooler's own.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhtm import PatchSpatialPooler, SpatialPoolerTransformer
    >>> X, y = load_digits(return_X_y=True)
    >>> psp = PatchSpatialPooler(SpatialPoolerTransformer(column_shape=64), patch_shape=3,
    ...                          pool_grid=2, random_state=0).fit(X[:200])
    >>> psp.transform(X[:3]).shape
    (3, 256)

    A second layer over the first layer's map: 2 x 2 regions of 64 columns.

    >>> layer2 = PatchSpatialPooler(SpatialPoolerTransformer(column_shape=32),
    ...                             image_shape=(2, 2, 64), patch_shape=2, pool_grid=1,
    ...                             random_state=0).fit(psp.transform(X[:200]))
    >>> layer2.transform(psp.transform(X[:3])).shape
    (3, 32)

    Whitened contrast instead of grey levels: ON and OFF bits, 2 * n_levels per pixel.

    >>> psp = PatchSpatialPooler(SpatialPoolerTransformer(column_shape=64), patch_shape=3,
    ...                          pool_grid=2, encoding="whitened", random_state=0).fit(X[:200])
    >>> psp.spatial_pooler_.n_features_in_, psp.whitening_.shape
    (36, (9, 9))
    >>> psp.transform(X[:3]).shape
    (3, 256)
    """

    _parameter_constraints = {
        "spatial_pooler": [HasMethods(["fit", "partial_fit", "transform"]), None],
        "patch_shape": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "stride": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "n_levels": [Interval(Integral, 1, 16, closed="both")],
        "encoding": [StrOptions(set(_ENCODINGS))],
        "contrast_thresholds": ["array-like", None],
        "value_range": ["array-like", None],
        "image_shape": ["array-like", None],
        "pool_grid": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "pooling": [StrOptions({"sum", "max"})],
        "max_fit_patches": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    }

    def __init__(self, spatial_pooler=None, *, patch_shape=5, stride=1, n_levels=2,
                 encoding="grey", contrast_thresholds=None, value_range=None,
                 image_shape=None, pool_grid=4, pooling="sum", max_fit_patches=100_000,
                 random_state=None, n_jobs=None):
        self.spatial_pooler = spatial_pooler
        self.patch_shape = patch_shape
        self.stride = stride
        self.n_levels = n_levels
        self.encoding = encoding
        self.contrast_thresholds = contrast_thresholds
        self.value_range = value_range
        self.image_shape = image_shape
        self.pool_grid = pool_grid
        self.pooling = pooling
        self.max_fit_patches = max_fit_patches
        self.random_state = random_state
        self.n_jobs = n_jobs

    # ----------------------------------------------------------- fitting

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Train the Spatial Pooler on patches of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, h * w), (n_samples, h, w) or \
(n_samples, h, w, c)
            Grey images, non-negative unless ``value_range`` is given; or
            multi-channel images (n_samples, h, w, c), or flattened with
            ``image_shape=(h, w, c)``: non-negative activity maps.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        for attr in ("spatial_pooler_", "image_shape_", "patch_grid_", "whitening_"):
            self.__dict__.pop(attr, None)
        return self._fit(X, reset=True)

    @_fit_context(prefer_skip_nested_validation=False)
    def partial_fit(self, X, y=None):
        """Train the Spatial Pooler further on patches of one batch of images.

        With ``encoding="whitened"``, the first call also fits ``whitening_``
        on its patches; later calls keep it.

        Parameters
        ----------
        X : array-like of shape (n_samples, h * w), (n_samples, h, w) or \
(n_samples, h, w, c)
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        return self._fit(X, reset=not hasattr(self, "spatial_pooler_"))

    def _fit(self, X, reset):
        shapes = self._check_params()
        images = self._validate_images(X, shapes, reset=reset)
        if not reset:
            self._check_patch_bits(shapes)
        rng = check_random_state(self.random_state)
        n_patches = len(images) * int(np.prod(self._grid(images.shape[1:], shapes)))
        which = None
        if n_patches > self.max_fit_patches:
            # Draw the training patches before encoding any: 60,000 images hold
            # 40 million patches, and only the sample is ever needed.
            which = _draw_patches(rng, n_patches, self.max_fit_patches)
        scaled = self._scaled_patches(images, shapes, which)
        whitening = None
        if reset and self.encoding == "whitened" and "n_channels" not in shapes:
            # Fitted on the very patches the Spatial Pooler learns from.
            whitening = K.zca_whitening(self._patch_contrast(scaled))
        patches = self._encode(scaled, shapes, whitening).reshape(-1, self._n_patch_bits(shapes))
        if reset:
            sp = clone(self.spatial_pooler if self.spatial_pooler is not None else
                       SpatialPoolerTransformer(column_shape=256, local_area_density=0.05))
            if self.random_state is not None:
                sp.set_params(random_state=rng.randint(np.iinfo(np.int32).max))
            # A failed first fit leaves no half-built state behind.
            self.spatial_pooler_ = sp.fit(patches)
            if whitening is not None:
                self.whitening_ = whitening
            self.image_shape_ = images.shape[1:]
            self.patch_grid_ = self._grid(self.image_shape_, shapes)
        else:
            # The SP's own partial_fit leaves it unchanged when it fails.
            self.spatial_pooler_.partial_fit(patches)
        return self

    # ----------------------------------------------------------- transform

    def transform(self, X):
        """Pooled column activity of every image.

        Parameters
        ----------
        X : array-like of shape (n_samples, h * w), (n_samples, h, w) or \
(n_samples, h, w, c)

        Returns
        -------
        features : ndarray of float32 of shape (n_samples, n_regions * n_columns)
            Region-major: the columns of region 0, then of region 1, ...;
            regions in row-major order over ``pool_grid``.
        """
        check_is_fitted(self)
        shapes = self._check_params()
        images = self._validate_images(X, shapes, reset=False)
        sp = self.spatial_pooler_
        n_bits = self._check_patch_bits(shapes)
        n_columns = int(sp.n_columns_) if hasattr(sp, "n_columns_") else None
        fused = self._fused_pass(shapes, images.shape[1:])
        if fused is None:
            run, chunk = self._chunked_pass(shapes), _FALLBACK_CHUNK
            if n_columns is None:  # any transformer with fit/partial_fit/transform
                n_columns = np.asarray(sp.transform(np.zeros((1, n_bits)))).shape[-1]
        else:
            run, chunk = fused, _CHUNK
        n_regions = int(np.prod(shapes["pool_grid"]))
        out = np.zeros((len(images), n_regions * n_columns), dtype=np.float32)
        slices = list(gen_batches(len(images), chunk))
        if len(slices) > 1 and self.n_jobs not in (None, 1):
            # Threads: the compiled pass releases the GIL; each writes its own rows.
            # require="sharedmem", not prefer="threads": under an active loky or dask
            # backend a preference is ignored and rows written in another process
            # would never come back.
            Parallel(n_jobs=self.n_jobs, require="sharedmem")(
                delayed(run)(images[s], out[s]) for s in slices)
        else:
            for s in slices:
                run(images[s], out[s])
        return out

    def _fused_pass(self, shapes, image_shape):
        """The compiled pass over images (chunk, out) -> None, or None where it does
        not compute what the Spatial Pooler's transform does (another estimator,
        local inhibition)."""
        sp = self.spatial_pooler_
        if (type(sp) is not SpatialPoolerTransformer or not sp.global_inhibition
                or not hasattr(sp, "_n_active")):
            return None
        if "n_channels" in shapes:
            return self._fused_channel_pass(shapes, image_shape)
        ph, pw = shapes["patch_shape"]
        n_pixels = ph * pw
        n_bits = n_pixels * self._bits_per_pixel()
        dtype = np.int16 if n_bits < np.iinfo(np.int16).max else np.int32
        contrast = self.encoding != "grey"
        make_tables = K.contrast_column_tables if contrast else K.column_tables
        tables, slot_column = make_tables(_connected_synapses(sp), sp.column_rank_, n_pixels,
                                          self.n_levels, dtype)
        common = self._pass_arguments(shapes, image_shape)
        by_peak = self.value_range is None
        low, high = (0.0, 1.0) if by_peak else (float(v) for v in self.value_range)

        if contrast:
            thresholds = shapes["contrast_thresholds"]
            whiten = self.encoding == "whitened"
            whitening_t = (np.ascontiguousarray(self._fitted_whitening(shapes).T) if whiten
                           else _NO_WHITENING)

            def run_contrast(images, out):
                K.pooled_patch_contrast_columns(
                    images, by_peak, low, high, thresholds, whitening_t, whiten,
                    common["patch_shape"], common["stride"], tables, slot_column, common["k"],
                    common["min_overlap"], common["row_band"], common["col_band"],
                    common["n_band_cols"], common["max_pooling"], out)
            return run_contrast

        thresholds = uniform_thresholds(self.n_levels).astype(np.float64)

        def run(images, out):
            K.pooled_patch_columns(
                images, by_peak, low, high, thresholds, common["patch_shape"], common["stride"],
                tables, slot_column, common["k"], common["min_overlap"], common["row_band"],
                common["col_band"], common["n_band_cols"], common["max_pooling"], out)
        return run

    def _fused_channel_pass(self, shapes, image_shape):
        """The compiled pass over multi-channel images (a bit per pixel and channel,
        on where the value is > 0): :func:`~skhtm._patches.pooled_channel_columns`."""
        sp = self.spatial_pooler_
        n_bits = self._n_patch_bits(shapes)
        dtype = np.int16 if n_bits < np.iinfo(np.int16).max else np.int32
        tables, slot_column = K.bit_tables(_connected_synapses(sp), sp.column_rank_, dtype)
        common = self._pass_arguments(shapes, image_shape)

        def run(images, out):
            # Bits as bool: one compiled signature whatever the maps' dtype.
            K.pooled_channel_columns(
                images > 0, common["patch_shape"], common["stride"], tables, slot_column,
                common["k"], common["min_overlap"], common["row_band"], common["col_band"],
                common["n_band_cols"], common["max_pooling"], out)
        return run

    def _pass_arguments(self, shapes, image_shape):
        """What every fused pass takes beside its tables: the fitted Spatial Pooler's
        k and minimum overlap (its own transform's), the patch geometry and the
        pooling band of each patch row and column."""
        sp = self.spatial_pooler_
        grid = self._grid(image_shape, shapes)
        pool_grid = shapes["pool_grid"]
        return dict(
            k=int(sp._n_active(getattr(sp, "inhibition_radius_", None))),
            min_overlap=sp._min_overlap(),
            patch_shape=np.asarray(shapes["patch_shape"], dtype=np.int64),
            stride=np.asarray(shapes["stride"], dtype=np.int64),
            row_band=K.band_of_positions(grid[0], pool_grid[0]),
            col_band=K.band_of_positions(grid[1], pool_grid[1]),
            n_band_cols=int(pool_grid[1]),
            max_pooling=self.pooling == "max")

    def _chunked_pass(self, shapes):
        """Patches of a few images through the Spatial Pooler's own transform."""
        sp = self.spatial_pooler_

        def run(images, out):
            patches = self._encoded_patches(images, shapes)
            n, gr, gc, _ = patches.shape
            active = sp.transform(patches.reshape(n * gr * gc, -1))
            active = active.toarray() if hasattr(active, "toarray") else np.asarray(active)
            out[:] = K.pool_regions(active.reshape(n, gr, gc, -1).astype(np.uint8),
                                    shapes["pool_grid"], self.pooling).reshape(n, -1)
        return run

    @property
    def _n_features_out(self):
        return int(np.prod(self._check_params()["pool_grid"])) * self.spatial_pooler_.n_columns_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = self.value_range is None
        tags.transformer_tags.preserves_dtype = []
        return tags

    # ----------------------------------------------------------- internals

    def _fail(self, message):
        raise ValueError(f"{type(self).__name__}: {message}")

    def _pair(self, name):
        """Parameter ``name`` as (rows, cols) of positive ints, or a clear error."""
        value = getattr(self, name)
        if isinstance(value, Integral) and not isinstance(value, bool):
            pair = (int(value), int(value))
        else:
            try:
                items = list(value)
            except TypeError:
                items = None
            if (items is None or len(items) != 2 or not all(
                    isinstance(v, Integral) and not isinstance(v, bool) for v in items)):
                self._fail(f"{name} must be an int or a pair of ints (rows, cols); "
                           f"got {value!r}.")
            pair = (int(items[0]), int(items[1]))
        if min(pair) < 1:
            self._fail(f"{name} must be at least 1 along each axis; got {value!r}.")
        return pair

    def _check_params(self):
        """The shape parameters as pairs of ints, value_range checked, and with a
        contrast encoding its thresholds (``shapes["contrast_thresholds"]``)."""
        shapes = {name: self._pair(name) for name in ("patch_shape", "stride", "pool_grid")}
        if self.image_shape is not None:
            shapes["image_shape"] = self._image_shape()
        if self.value_range is not None:
            try:
                vr = np.asarray(self.value_range, dtype=np.float64)
            except (TypeError, ValueError):
                vr = None
            if vr is None or vr.shape != (2,) or not np.all(np.isfinite(vr)) or not vr[1] > vr[0]:
                self._fail(f"value_range must be (low, high), finite, with high > low; got "
                           f"{self.value_range!r}.")
        # Checked here too: transform after set_params does not run the constraints.
        if self.encoding not in _ENCODINGS:
            self._fail(f"encoding must be one of {_ENCODINGS}; got {self.encoding!r}.")
        if self.encoding != "grey":
            ph, pw = shapes["patch_shape"]
            if ph * pw < 2:
                self._fail(f"encoding={self.encoding!r} measures a pixel's contrast within its "
                           f"patch, which needs at least 2 pixels; got patch_shape="
                           f"{self.patch_shape!r}.")
            shapes["contrast_thresholds"] = self._contrast_thresholds()
        return shapes

    def _contrast_thresholds(self):
        """contrast_thresholds as n_levels increasing positive floats, or a clear error."""
        n_levels = self.n_levels
        given = self.contrast_thresholds
        if given is None:
            return np.linspace(0.2, 1.0, n_levels)  # n_levels=1: [0.2]
        try:
            thresholds = np.asarray(given, dtype=np.float64)
        except (TypeError, ValueError):
            thresholds = None
        if thresholds is None or thresholds.shape != (n_levels,):
            self._fail(f"contrast_thresholds must hold n_levels={n_levels} values, one per "
                       f"level; got {given!r}.")
        if not (np.all(np.isfinite(thresholds)) and np.all(thresholds > 0)):
            self._fail(f"contrast_thresholds must be positive and finite; got {given!r}.")
        if np.any(np.diff(thresholds) <= 0):
            self._fail(f"contrast_thresholds must be increasing; got {given!r}.")
        return thresholds

    def _check_patch_bits(self, shapes):
        """Bits per patch, refused if they are not what the fitted pooler takes."""
        n_bits = self._n_patch_bits(shapes)
        sp = self.spatial_pooler_
        if getattr(sp, "n_features_in_", n_bits) != n_bits and "n_channels" in shapes:
            self._fail(f"patch_shape={self.patch_shape!r} over {shapes['n_channels']} "
                       f"channels gives {n_bits} bits per patch, but the Spatial Pooler was "
                       f"fit on {sp.n_features_in_}; refit after changing it.")
        if getattr(sp, "n_features_in_", n_bits) != n_bits:
            self._fail(f"patch_shape={self.patch_shape!r} and n_levels={self.n_levels} give "
                       f"{n_bits} bits per patch, but the Spatial Pooler was fit on "
                       f"{sp.n_features_in_}; refit after changing them (or the encoding: "
                       f"encoding={self.encoding!r} gives {self._bits_per_pixel()} bits "
                       "per pixel).")
        return n_bits

    def _bits_per_pixel(self):
        # The contrast encodings give each pixel an ON and an OFF thermometer.
        return self.n_levels * (1 if self.encoding == "grey" else 2)

    def _n_patch_bits(self, shapes):
        ph, pw = shapes["patch_shape"]
        if "n_channels" in shapes:  # a bit per pixel and channel; n_levels does not apply
            return ph * pw * shapes["n_channels"]
        return ph * pw * self._bits_per_pixel()

    def _grid(self, image_shape, shapes):
        return K.patch_grid(image_shape[:2], shapes["patch_shape"], shapes["stride"])

    def _bit_pixels(self):
        """The patch pixel ``(row, col)`` of each bit of an encoded patch.

        ndarray of int (n_patch_bits, 2). The one place that knows the bit
        layout of :meth:`_encoded_patches` in pixel terms: :mod:`skhtm.inspection`
        carries weights and credit from bits back to pixels through it, so a new
        patch encoding updates this method and the backfeed follows.
        """
        ph, pw = self._check_params()["patch_shape"]
        # Pixel major: the bits of pixel p are p * per_pixel ... (p + 1) * per_pixel - 1
        # (its n_levels grey levels, its n_levels ON then n_levels OFF bits, or its
        # channels).
        shape = getattr(self, "image_shape_", ())
        per_pixel = shape[2] if len(shape) == 3 else self._bits_per_pixel()
        pixel = np.arange(ph * pw * per_pixel) // per_pixel
        return np.stack([pixel // pw, pixel % pw], axis=1)

    def _bit_signs(self):
        """The sign of each bit of an encoded patch in pixel terms: +1 or -1.

        ndarray of float (n_patch_bits,), in the layout of :meth:`_bit_pixels`.
        An OFF bit of a contrast encoding is on where its pixel is *darker* than
        its patch, so what it carries back counts against its pixel's brightness
        (-1); grey-level bits, ON bits and channel bits count for it (+1).
        :mod:`skhtm.inspection` signs class weights with it.
        """
        ph, pw = self._check_params()["patch_shape"]
        shape = getattr(self, "image_shape_", ())
        if len(shape) == 3:  # channel maps skip the encoding: a bit per channel
            return np.ones(ph * pw * shape[2])
        if self.encoding == "grey":
            return np.ones(ph * pw * self.n_levels)
        # [ON_1 .. ON_n, OFF_1 .. OFF_n] per pixel (skhtm._patches.contrast_bits).
        per_pixel = np.repeat([1.0, -1.0], self.n_levels)
        return np.tile(per_pixel, ph * pw)

    def _encoded_patches(self, images, shapes, which=None):
        """Binary patches (n, grid_rows, grid_cols, n_patch_bits); only the patches
        at flat indices ``which`` (len(which), n_patch_bits) if given.

        The bits the fused pass sees: :meth:`_bit_pixels` gives their layout.
        """
        return self._encode(self._scaled_patches(images, shapes, which), shapes)

    def _encode(self, scaled, shapes, whitening=None):
        """Bits of scaled patches (..., ph * pw) -> uint8 (..., n_patch_bits).

        ``whitening``: the ZCA matrix for ``"whitened"`` (default ``whitening_``).
        The contrast codes come from the compiled per-patch arithmetic of the
        fused pass itself, so that training and transform see the same bits
        even for a z within rounding of a threshold.
        """
        if "n_channels" in shapes:  # already a bit per pixel and channel
            return scaled
        if self.encoding == "grey":
            return grey_bits(scaled, self.n_levels, "thermometer")
        whiten = self.encoding == "whitened"
        if not whiten:
            whitening = _NO_WHITENING
        elif whitening is None:
            whitening = self._fitted_whitening(shapes)
        flat = np.ascontiguousarray(scaled.reshape(-1, scaled.shape[-1]), dtype=np.float64)
        codes = np.zeros(flat.shape, dtype=np.uint8)
        K.patch_contrast_codes(flat, shapes["contrast_thresholds"],
                               np.ascontiguousarray(whitening.T), whiten, codes)
        return K.contrast_bits(codes.reshape(scaled.shape), self.n_levels)

    def _patch_contrast(self, scaled):
        """Contrast-normalised z of scaled patches (..., ph * pw) -> (n_patches, ph * pw)."""
        flat = np.ascontiguousarray(scaled.reshape(-1, scaled.shape[-1]), dtype=np.float64)
        z = np.zeros(flat.shape)
        K.patch_contrast(flat, z)
        return z

    def _fitted_whitening(self, shapes):
        """``whitening_`` for the current patch shape, or a clear error."""
        ph, pw = shapes["patch_shape"]
        whitening = getattr(self, "whitening_", None)
        if whitening is None or whitening.shape != (ph * pw, ph * pw):
            self._fail("encoding='whitened' needs the whitening fitted with it, but this "
                       "pooler was fit with another encoding or patch_shape; refit it.")
        return np.ascontiguousarray(whitening, dtype=np.float64)

    def _scaled_patches(self, images, shapes, which=None):
        """Patches scaled to [0, 1] (n, grid_rows, grid_cols, ph * pw), or only those at
        flat indices ``which`` (len(which), ph * pw).

        Patches are cut from the raw images and scaled afterwards (value by value,
        so the values are those of the scaled image), so that a sample of patches
        never needs a scaled copy of every image.

        Multi-channel images: a bit per pixel and channel (value > 0), pixel major
        then channel, (..., ph * pw * c).
        """
        if "n_channels" in shapes:
            return K.channel_patches(images, shapes["patch_shape"], shapes["stride"], which)
        patches = K.image_patches(images, shapes["patch_shape"], shapes["stride"], which)
        if self.value_range is None:
            peak = images.max(axis=(1, 2))
            if which is None:
                peak = peak[:, None, None, None]
            else:
                grid_size = int(np.prod(self._grid(images.shape[1:], shapes)))
                peak = peak[which // grid_size, None]
            peak = np.broadcast_to(peak, patches.shape)
            scaled = np.divide(patches, peak, out=np.zeros(patches.shape), where=peak > 0)
        else:
            low, high = (float(v) for v in self.value_range)
            scaled = np.clip((patches - low) / (high - low), 0.0, 1.0)
        return scaled

    def _image_shape(self):
        """``image_shape`` as (h, w) or (h, w, channels) of positive ints."""
        value = self.image_shape
        if isinstance(value, Integral) and not isinstance(value, bool):
            return self._pair("image_shape")
        try:
            items = list(value)
        except TypeError:
            items = []
        if len(items) != 3:
            return self._pair("image_shape")
        if not all(isinstance(v, Integral) and not isinstance(v, bool) for v in items):
            self._fail(f"image_shape must be an int or a pair of ints (h, w), or (h, w, "
                       f"channels) for multi-channel images; got {value!r}.")
        if min(items) < 1:
            self._fail(f"image_shape must be at least 1 along each axis; got {value!r}.")
        return tuple(int(v) for v in items)

    def _fitted_shape_mismatch(self, shape):
        """Raise: images of ``shape`` are not those the pooler was fit on."""
        fitted = self.image_shape_
        if len(shape) == 3 and len(fitted) == 3 and shape[:2] == fitted[:2]:
            self._fail(f"X has {shape[2]} channels per pixel, but the pooler was fit on "
                       f"{fitted[2]}; refit to change the channels.")
        self._fail(f"X has images of shape {shape}, but the pooler was fit on {fitted}.")

    def _validate_images(self, X, shapes, *, reset):
        """X as images (n_samples, h, w) of float64, or (n_samples, h, w, c) of
        float32 or float64 for multi-channel input, with errors naming the
        estimator. Records the channels of multi-channel images in
        ``shapes["n_channels"]``."""
        given = shapes.get("image_shape")
        x_ndim = len(X.shape) if hasattr(X, "shape") else _ndim(X)
        channels = x_ndim == 4 or (given is not None and len(given) == 3)
        if channels and not reset and hasattr(self, "image_shape_"):
            # A changed channel count would otherwise surface as a bare
            # n_features_in_ mismatch.
            shape = tuple(X.shape[1:]) if x_ndim == 4 and hasattr(X, "shape") else given
            if shape is not None and len(shape) == 3 and shape != self.image_shape_:
                self._fitted_shape_mismatch(shape)
        flat, x_shape = validate_image_batch(
            self, X, reset=reset, ndims=(2, 3, 4),
            expects="images (n_samples, h * w), (n_samples, h, w) or (n_samples, h, w, "
                    "channels)",
            # Activity maps are only compared with 0: float32 (a first layer's
            # output) is kept as it is, without a float64 copy.
            dtype=[np.float32, np.float64] if channels else np.float64)
        ndim, n = len(x_shape), x_shape[0]
        if given is not None:
            shape = given
            if ndim > 2 and shape != tuple(x_shape[1:]):
                self._fail(f"image_shape={self.image_shape!r} does not match the images of X, "
                           f"{tuple(x_shape[1:])}.")
        elif ndim > 2:
            shape = tuple(x_shape[1:])
        else:
            shape = _square_shape(flat.shape[1])
            if shape is None:
                self._fail(f"X has {flat.shape[1]} features per sample, which is not a square "
                           "image; pass image_shape=(h, w) (or (h, w, channels)) or X of shape "
                           "(n_samples, h, w) (or (n_samples, h, w, channels)).")
        if int(np.prod(shape)) != flat.shape[1]:
            self._fail(f"X has {flat.shape[1]} features per sample, but image_shape={shape} "
                       f"has {int(np.prod(shape))}.")
        if not reset and shape != self.image_shape_:
            self._fitted_shape_mismatch(shape)
        if channels:
            if self.value_range is not None:
                self._fail(f"value_range={self.value_range!r} does not apply to multi-channel "
                           "images (a bit is on where a value is > 0); leave it None.")
            if flat.size and flat.min() < 0:
                # Negative values mean standardised features (e.g. a StandardScaler's
                # output), where "> 0" would silently read "above the mean".
                self._fail("Negative values in data: multi-channel images are activity maps "
                           "(a bit is on where a value is > 0) and must be non-negative.")
            shapes["n_channels"] = shape[2]
        elif self.value_range is None and flat.size and flat.min() < 0:
            self._fail("Negative values in data: images must be non-negative (or pass "
                       "value_range=(low, high)).")
        ph, pw = shapes["patch_shape"]
        if ph > shape[0] or pw > shape[1]:
            self._fail(f"the patch ({ph}, {pw}) is larger than the images {shape[:2]}.")
        grid = self._grid(shape, shapes)
        pg = shapes["pool_grid"]
        if pg[0] > grid[0] or pg[1] > grid[1]:
            self._fail(f"pool_grid={self.pool_grid!r} has more regions than the {grid} patch "
                       "positions.")
        return np.ascontiguousarray(flat.reshape((n,) + shape))
