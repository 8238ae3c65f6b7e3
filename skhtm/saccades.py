"""SaccadeEncoder: images and videos to sequences of binary glimpses."""

import math
from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
    clone,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted

from . import _saccades as K
from ._base import VersionedStateMixin
from ._grey_levels import grey_bits
from ._validation import int_shape, validate_image_batch

# Samples per transform chunk; fixed, so results never depend on n_jobs.
_CHUNK = 256
_LOCATIONS = {"coordinate", "grid", "place"}


def _finite(value):
    """Whether a real number (a Python int of any size too) is finite as a float."""
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _square_shape(n_features):
    """(1, side, side) when a flattened image of n_features pixels is square, else None."""
    side = int(round(np.sqrt(n_features)))
    return (1, side, side) if side * side == n_features else None


class SaccadeEncoder(VersionedStateMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                     BaseEstimator):
    """Turn images (or videos) into sequences of glimpses: a fovea patch, an
    optional coarse periphery, and where the eye pointed.

    At each fixation of a gaze path the encoder takes the pixels of a small
    full-resolution patch (the fovea), optionally a wider view at lower
    resolution around it (the periphery), and an SDR of the gaze position (the
    location signal) in which nearby positions share bits. Grey levels become
    several bits per pixel. Each glimpse is one binary vector, so an image
    becomes a sequence ``(n_glimpses, n_bits)``: the input of a
    :class:`SpatialPoolerTransformer` followed by a
    :class:`TemporalMemoryTransformer` or :class:`SequencePooler`.

    Where to look comes from the gaze policy: a fixed scan, random positions,
    saliency (the coarse "clumps" of the image, found without learning and
    visited strongest first with inhibition of return), a fixed list of
    positions, or a callable. :meth:`fixations` shows where it looked.

    The encoder learns nothing: ``fit`` only checks the input, and
    ``transform`` works unfitted.

    Parameters
    ----------
    n_glimpses : int, default=6
        Fixations per image; for videos, per frame.
    image_shape : tuple of int, default=None
        ``(h, w)`` of the images, or ``(n_frames, h, w)`` of videos, when X is
        given flattened as (n_samples, n_features). ``None``: taken from the
        shape of X, (n_samples, h, w) images or (n_samples, n_frames, h, w)
        videos; a 2-D X must then hold square images.
    fovea_shape : int or tuple of int, default=(8, 8)
        Pixels of the fovea patch, centred on the fixation. ``None``: no
        fovea, e.g. to encode only where the eye points (then the periphery
        or the location signal must be on).
    periphery_shape : int or tuple of int, default=None
        Cells of the periphery, each the mean of ``periphery_scale`` squared
        pixels, centred on the fixation. ``None``: no periphery.
    periphery_scale : int, default=3
        Pixels per periphery cell side.
    n_levels : int, default=1
        Bits per pixel (and per periphery cell) for grey levels.
    fovea_features : transformer, default=None
        What the fovea sees: ``None`` gives its grey-level bits; a transformer
        (e.g. a :class:`PatchSpatialPooler`, or several in a
        :class:`PooledFeatureUnion`) is cloned into ``fovea_features_``,
        fitted on the fovea crops of the training glimpses, and each glimpse's
        fovea part becomes its features: local pooled features that tolerate
        small shifts inside the fovea. It receives crops as ``(m, fh * fw)``
        grey levels in [0, 1]; a clone with an ``image_shape`` parameter left
        at ``None`` gets ``fovea_shape``. The glimpses are then float32.
    grey_encoding : {"thermometer", "bitplanes"}, default="thermometer"
        "thermometer": ``n_levels`` evenly spaced thresholds, similar grey
        levels share bits; "bitplanes": the binary digits of the value
        quantised to ``2 ** n_levels`` levels.
    value_range : tuple of float, default=None
        ``(low, high)``, two finite numbers, mapped to [0, 1]; values above
        ``high`` are clipped, values below ``low`` are an error. ``None``:
        each image (each frame) is scaled by its own maximum, and values must
        be non-negative.
    gaze : {"saliency", "scan", "object_scan", "random"}, array-like or callable, \
default="saliency"
        "scan": a fixed near-square grid of positions over a ``scan_shape``
        window in the middle of the image, row by row (a boustrophedon).
        "object_scan": the same grid over the object window: centred on the
        image's centre of mass, then moved to the centre of mass of what it
        contains a few times (mean shift, which sheds clutter away from the
        object), so the path follows the object wherever it lies on a larger
        canvas.
        "random": uniformly random positions, a function of the image and
        ``random_state``. "saliency": the peaks of a saliency map, strongest
        first, with inhibition of return. An array of shape (n_glimpses, 2)
        gives fixed (row, col) positions. A callable ``gaze(frame,
        n_glimpses)`` receives one (h, w) frame scaled to [0, 1] and returns
        (n_glimpses, 2) integer (row, col) positions.
    scan_shape : int or tuple of int, default=None
        ``(h, w)`` of the window the "scan" and "object_scan" grids cover;
        ``None``: the whole image. An object-scan window that would stick out
        of the image is moved inside it.
    saliency_filter : {"dog", "lowpass"}, default="dog"
        "dog": the local energy of a difference of Gaussians (structure of
        size ~``saliency_sigma``); "lowpass": the blurred image (centres of
        bright clumps).
    saliency_sigma : float, default=2.0
        Scale of the saliency filter, in pixels; finite. The cost does not grow
        with it. A sigma beyond about a quarter of the image's size smooths the
        image into one clump: the map is almost flat, and the "dog" filter's
        black margin (4 sigma) is then capped at twice the image's size.
    inhibition_radius : float, default=None
        Inhibition of return: positions within this distance (pixels) of a
        fixation rank below all others afterwards. ``None``: half the smaller
        side of the fovea.
    allow_revisits : bool, default=False
        Whether a path may fixate the same position twice.
    location : {"coordinate", "grid", "place"} or None, default="coordinate"
        Location signal. "coordinate": Numenta's coordinate encoder (hashed
        neighbourhoods; ``location_active_bits`` of ``location_bits`` on).
        "grid": grid-cell-like modules of 6x6 cells at growing scales, 4 cells
        on per module, ``location_bits // 36`` modules. "place": one active
        cell per ``location_resolution`` x ``location_resolution`` pixels of
        the reference frame (in the "object" frame, of the object window:
        fixations beyond it take its border places; ``location_bits`` is
        unused): the code the
        :class:`ObjectLayerClassifier` binds features to. ``None``: no location.
    location_frame : {"first", "image", "object", "displacement"}, default="first"
        Reference of the location signal. "image": the position in the image;
        "first": relative to the first fixation of the sequence, which makes
        the code object-centred when the gaze path follows the object;
        "object": relative to the centre of the object window (the
        ``scan_shape`` window "object_scan" scans, kept inside the frame;
        the whole frame
        when ``scan_shape`` is None), object-centred whatever the gaze
        policy; "displacement": the movement since the previous fixation.
    location_bits : int, default=256
        Size of the location SDR.
    location_active_bits : int, default=16
        Active bits of the coordinate location SDR.
    location_resolution : float, default=2.0
        Pixels per step of the location code: positions within one step share
        (almost) all bits; "coordinate" shares no bits beyond ~10 steps.
    sensor_offsets : array-like of shape (n_sensors, 2), default=None
        Several sensors that move with the one gaze, like fingers of a hand:
        at each fixation, sensor ``k`` takes its glimpse at the fixation plus
        ``sensor_offsets[k]`` (row, col) pixels, kept on the image, with its
        own location signal. The glimpses of the sensors lie side by side
        (``n_bits_`` is ``n_sensors`` times one sensor's; :meth:`glimpse_layout`
        gives the slices of the first): the columns of an
        :class:`ObjectLayerClassifier` with ``n_columns=n_sensors``.
        ``None``: one sensor at the fixation.
    n_jobs : int, default=None
        Threads for ``transform``. Results do not depend on it.
    random_state : int, RandomState instance or None, default=None
        Seeds the random gaze policy.

    Attributes
    ----------
    n_features_in_ : int
        Pixels per sample (frames x height x width).
    image_shape_ : tuple of int
        ``(n_frames, h, w)`` seen in ``fit``; ``n_frames`` is 1 for images.
    n_bits_ : int
        Bits per glimpse (features per glimpse with ``fovea_features``).
    fovea_features_ : transformer
        The fitted clone of ``fovea_features``; only when it is set.

    See Also
    --------
    SpatialPoolerTransformer : Maps each glimpse to an SDR.
    TemporalMemoryTransformer : Learns the sequence of glimpses.
    SequencePooler : Order-free pooling over the glimpses.

    Notes
    -----
    Glimpses are concatenated as [fovea | periphery | location], pixel-major
    (the ``n_levels`` bits of a pixel are adjacent); :meth:`glimpse_layout`
    gives the slices. Pixels outside the image read as black, so with
    ``location_frame="first"`` and saliency gaze, an image translated on a
    black canvas gives the same glimpses as the original.

    References
    ----------
    .. [1] V. Mnih, N. Heess, A. Graves, K. Kavukcuoglu, "Recurrent Models of
       Visual Attention", NeurIPS 2014.
    .. [2] L. Itti, C. Koch, E. Niebur, "A Model of Saliency-Based Visual
       Attention for Rapid Scene Analysis", IEEE PAMI, 1998.
    .. [3] S. Purdy, "Encoding Data for HTM Systems", arXiv:1602.05925, 2016.
    .. [4] M. Lewis, S. Purdy, S. Ahmad, J. Hawkins, "Locations in the
       Neocortex: A Theory of Sensorimotor Object Recognition Using Cortical
       Grid Cells", Frontiers in Neural Circuits, 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from skhtm import SaccadeEncoder
    >>> images = np.zeros((2, 12, 12))
    >>> images[0, 2:5, 2:5] = 1.0          # a blob top left
    >>> images[1, 7:10, 6:9] = 1.0         # the same blob elsewhere
    >>> enc = SaccadeEncoder(n_glimpses=3, fovea_shape=4, location_bits=64)
    >>> enc.fixations(images)[:, 0].tolist()   # first fixation: on each blob
    [[3, 3], [8, 7]]
    >>> glimpses = enc.fit_transform(images)
    >>> glimpses.shape                       # 16 fovea bits + 64 location bits
    (2, 3, 80)
    >>> bool((glimpses[0] == glimpses[1]).all())   # translation-invariant
    True
    """

    _parameter_constraints = {
        "n_glimpses": [Interval(Integral, 1, None, closed="left")],
        "image_shape": ["array-like", None],
        "fovea_shape": [Interval(Integral, 1, None, closed="left"), "array-like", None],
        "periphery_shape": [Interval(Integral, 1, None, closed="left"), "array-like", None],
        "periphery_scale": [Interval(Integral, 1, None, closed="left")],
        "n_levels": [Interval(Integral, 1, 16, closed="both")],
        "fovea_features": [HasMethods(["fit", "transform"]), None],
        "grey_encoding": [StrOptions({"thermometer", "bitplanes"})],
        "value_range": ["array-like", None],
        "gaze": [StrOptions({"saliency", "scan", "object_scan", "random"}), "array-like",
                 callable],
        "scan_shape": [Interval(Integral, 1, None, closed="left"), "array-like", None],
        "saliency_filter": [StrOptions({"dog", "lowpass"})],
        "saliency_sigma": [Interval(Real, 0, None, closed="neither")],
        "inhibition_radius": [Interval(Real, 0, None, closed="left"), None],
        "allow_revisits": ["boolean"],
        "location": [StrOptions(_LOCATIONS), None],
        "location_frame": [StrOptions({"first", "image", "object", "displacement"})],
        "sensor_offsets": ["array-like", None],
        "location_bits": [Interval(Integral, 1, None, closed="left")],
        "location_active_bits": [Interval(Integral, 1, None, closed="left")],
        "location_resolution": [Interval(Real, 0, None, closed="neither")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_glimpses=6,
        *,
        image_shape=None,
        fovea_shape=(8, 8),
        periphery_shape=None,
        periphery_scale=3,
        n_levels=1,
        fovea_features=None,
        grey_encoding="thermometer",
        value_range=None,
        gaze="saliency",
        scan_shape=None,
        saliency_filter="dog",
        saliency_sigma=2.0,
        inhibition_radius=None,
        allow_revisits=False,
        location="coordinate",
        location_frame="first",
        location_bits=256,
        location_active_bits=16,
        location_resolution=2.0,
        sensor_offsets=None,
        n_jobs=None,
        random_state=None,
    ):
        self.n_glimpses = n_glimpses
        self.image_shape = image_shape
        self.fovea_shape = fovea_shape
        self.periphery_shape = periphery_shape
        self.periphery_scale = periphery_scale
        self.n_levels = n_levels
        self.fovea_features = fovea_features
        self.grey_encoding = grey_encoding
        self.value_range = value_range
        self.gaze = gaze
        self.scan_shape = scan_shape
        self.saliency_filter = saliency_filter
        self.saliency_sigma = saliency_sigma
        self.inhibition_radius = inhibition_radius
        self.allow_revisits = allow_revisits
        self.location = location
        self.location_frame = location_frame
        self.location_bits = location_bits
        self.location_active_bits = location_active_bits
        self.location_resolution = location_resolution
        self.sensor_offsets = sensor_offsets
        self.n_jobs = n_jobs
        self.random_state = random_state

    # ------------------------------------------------------------------ API

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check X and the parameters against it; fit ``fovea_features`` if set.

        Without ``fovea_features`` nothing is learned. With it, its clone is
        fitted on the fovea crops of every glimpse of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, h * w), (n_samples, h, w) or \
(n_samples, n_frames, h, w)
            Images or videos, non-negative (see ``value_range``).
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        frames, shape = self._validate_input(X, reset=True)
        if self.fovea_features is not None:
            if self._fovea() is None:
                self._fail("fovea_features needs a fovea; fovea_shape is None.")
            seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
            crops = np.concatenate([self._fovea_crops(frames[c], seed)[0] for c in
                                    (slice(i, i + _CHUNK) for i in range(0, len(frames), _CHUNK))])
            features = clone(self.fovea_features)
            if "image_shape" in features.get_params(deep=False) and \
                    features.get_params(deep=False)["image_shape"] is None:
                features.set_params(image_shape=self._fovea())
            crops = crops.reshape(-1, crops.shape[-1])
            self.fovea_features_ = features.fit(crops)
            self._n_fovea_features = int(np.asarray(features.transform(crops[:1])).shape[-1]) \
                if not hasattr(features.transform(crops[:1]), "toarray") else \
                int(features.transform(crops[:1]).shape[-1])
        elif hasattr(self, "fovea_features_"):
            del self.fovea_features_
        self.image_shape_ = shape
        self.n_bits_ = self._n_bits(shape)
        return self

    def transform(self, X):
        """Glimpse sequences of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, h * w), (n_samples, h, w) or \
(n_samples, n_frames, h, w)

        Returns
        -------
        glimpses : ndarray of uint8 of shape (n_samples, n_steps, n_bits)
            ``n_steps = n_frames * n_glimpses``; each row is one glimpse.
            float32 with ``fovea_features``.
        """
        self._validate_params()
        if self.fovea_features is not None:
            check_is_fitted(self, "fovea_features_")
        frames, shape = self._validate_input(X, reset=False)
        if hasattr(self, "n_bits_") and self._n_bits(shape) != self.n_bits_:
            # set_params after fit changed the glimpse size: the output would
            # no longer match n_bits_ nor get_feature_names_out.
            self._fail(f"the parameters now give glimpses of {self._n_bits()} bits, but the "
                       f"encoder was fit for n_bits_={self.n_bits_} (a shape, n_levels or "
                       f"location parameter changed after fit); call fit again.")
        dtype = np.uint8 if self.fovea_features is None else np.float32
        return self._map_chunks(frames, shape, self._encode_chunk, dtype)

    def fixations(self, X):
        """Where the gaze policy looks: (row, col) of every glimpse.

        Parameters
        ----------
        X : array-like, as for :meth:`transform`

        Returns
        -------
        fixations : ndarray of int64 of shape (n_samples, n_steps, 2)
            For videos the glimpses of frame ``t`` are steps
            ``t * n_glimpses`` to ``(t + 1) * n_glimpses - 1``.
        """
        self._validate_params()
        frames, shape = self._validate_input(X, reset=False)
        return self._map_chunks(frames, shape, self._fixation_chunk, np.int64)

    def saliency(self, X):
        """The saliency map the "saliency" gaze policy climbs.

        Parameters
        ----------
        X : array-like, as for :meth:`transform`

        Returns
        -------
        saliency : ndarray of shape (n_samples, h, w), or (n_samples, n_frames, h, w)
            for videos
        """
        self._validate_params()
        frames, shape = self._validate_input(X, reset=False)
        maps = K.saliency_map(frames.reshape((-1,) + shape[1:]), self.saliency_sigma,
                              self.saliency_filter)
        return maps.reshape(frames.shape if shape[0] > 1 else (len(frames),) + shape[1:])

    def glimpse_layout(self):
        """Slices of a glimpse: ``{"fovea": slice, "periphery": slice, "location": slice}``
        (empty slices for parts that are off); of the first sensor's block
        with ``sensor_offsets``."""
        n_fovea, n_periphery, n_location = self._part_sizes(getattr(self, "image_shape_", None))
        a, b = n_fovea, n_fovea + n_periphery
        return {"fovea": slice(0, a), "periphery": slice(a, b),
                "location": slice(b, b + n_location)}

    @property
    def _n_features_out(self):
        return self.n_bits_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = self.fovea_features is not None
        tags.input_tags.three_d_array = True
        tags.input_tags.positive_only = self.value_range is None
        tags.transformer_tags.preserves_dtype = []
        return tags

    # ----------------------------------------------------------- internals

    def _part_sizes(self, shape=None):
        """Sizes of the fovea, periphery and location parts of a glimpse, for
        frames of ``shape`` (n_frames, h, w); the place code's size needs it."""
        fh, fw = self._fovea() or (0, 0)
        ph, pw = self._periphery() or (0, 0)
        n_periphery = ph * pw * self.n_levels
        if self.location is None:
            n_location = 0
        elif self.location == "coordinate":
            n_location = self.location_bits
        elif self.location == "place":
            if shape is None:
                self._fail("the size of a place code depends on the images' shape; fit first.")
            rows, cols = K.place_shape(self._place_frame(shape[1:]), self.location_frame,
                                       self.location_resolution)
            n_location = rows * cols
        else:
            n_location = (self.location_bits // K.GRID_MODULE_SIDE ** 2
                          ) * K.GRID_MODULE_SIDE ** 2
        if self.fovea_features is not None and hasattr(self, "fovea_features_"):
            n_fovea = self._n_fovea_features
        else:
            n_fovea = fh * fw * self.n_levels
        return n_fovea, n_periphery, n_location

    def _n_bits(self, shape=None):
        n_sensors = 1 if self._sensor_offsets() is None else len(self._sensor_offsets())
        return n_sensors * sum(self._part_sizes(shape))

    def _place_frame(self, frame_shape):
        """The extent the place cells tile: the object window in the "object"
        frame (fixations beyond it take its border places), else the frame."""
        if self.location_frame == "object":
            return self._scan_window(frame_shape)
        return frame_shape

    def _sensor_offsets(self):
        """sensor_offsets as (n_sensors, 2) int64, or None."""
        if self.sensor_offsets is None:
            return None
        offsets = np.asarray(self.sensor_offsets)
        if offsets.ndim != 2 or offsets.shape[1] != 2 or len(offsets) == 0 or \
                offsets.dtype.kind not in "iu":
            self._fail(f"sensor_offsets must be integer (row, col) offsets of shape "
                       f"(n_sensors, 2); got {self.sensor_offsets!r}.")
        return offsets.astype(np.int64)

    def _fail(self, message):
        raise ValueError(f"{type(self).__name__}: {message}")

    def _fovea(self):
        """fovea_shape as (fh, fw), or None."""
        if self.fovea_shape is None:
            return None
        return int_shape(self, "fovea_shape", self.fovea_shape)

    def _periphery(self):
        """periphery_shape as (ph, pw), or None."""
        if self.periphery_shape is None:
            return None
        return int_shape(self, "periphery_shape", self.periphery_shape)

    def _value_range(self):
        """value_range as two finite floats (low, high), high > low."""
        try:
            bounds = np.asarray(self.value_range, dtype=np.float64)
        except (TypeError, ValueError):
            bounds = None
        if (bounds is None or bounds.shape != (2,) or not np.isfinite(bounds).all()
                or not bounds[1] > bounds[0]):
            self._fail(f"value_range must be (low, high), two finite numbers with high > low; "
                       f"got {self.value_range!r}.")
        return float(bounds[0]), float(bounds[1])

    def _check_shape_params(self, shape):
        """Errors for parameters that do not fit the images' shape."""
        n_frames, h, w = shape
        if self.fovea_shape is None and self.periphery_shape is None and self.location is None:
            self._fail("fovea_shape, periphery_shape and location are all None: a glimpse "
                       "would have no bits.")
        for name in ("n_glimpses", "periphery_scale", "n_levels", "location_bits",
                     "location_active_bits"):
            if isinstance(getattr(self, name), (bool, np.bool_)):
                self._fail(f"{name} must be an int, not a bool; got {getattr(self, name)!r}.")
        for name in ("saliency_sigma", "location_resolution"):
            if not _finite(getattr(self, name)):
                self._fail(f"{name} must be finite; got {getattr(self, name)!r}.")
        fovea = self._fovea() or (1, 1)
        periphery = self._periphery()
        if fovea[0] > h or fovea[1] > w:
            self._fail(f"the fovea {fovea} is larger than the images ({h}, {w}).")
        if periphery is not None:
            span = (periphery[0] * self.periphery_scale, periphery[1] * self.periphery_scale)
            if span[0] > 4 * h or span[1] > 4 * w:
                self._fail(f"the periphery (periphery_shape={periphery} cells of "
                           f"periphery_scale={self.periphery_scale} pixels: {span} pixels) is "
                           f"more than 4 times the images ({h}, {w}); its outer cells would "
                           f"always be black.")
        if self._n_bits(shape) >= 2 ** 31:
            self._fail(f"a glimpse of {self._n_bits(shape)} bits is too large (location_bits="
                       f"{self.location_bits}).")
        if self.location == "grid" and self.location_bits < K.GRID_MODULE_SIDE ** 2:
            self._fail(f"location='grid' needs location_bits >= {K.GRID_MODULE_SIDE ** 2} "
                       f"(one module of 6x6 cells); got {self.location_bits}.")
        if self.location == "coordinate" and self.location_active_bits > self.location_bits:
            self._fail("location_active_bits cannot exceed location_bits.")
        if self.value_range is not None:
            self._value_range()
        gaze = self.gaze
        if not isinstance(gaze, str) and not callable(gaze):
            points = np.asarray(gaze)
            if points.shape != (self.n_glimpses, 2):
                self._fail(f"a fixed gaze must have shape (n_glimpses, 2) = "
                           f"({self.n_glimpses}, 2); got {points.shape}.")
            self._check_points(points, (h, w))
        elif gaze in ("scan", "object_scan"):
            sh, sw = self._scan_window((h, w))
            if not (1 <= sh <= h and 1 <= sw <= w):
                self._fail(f"the scan window {(sh, sw)} does not fit in the images ({h}, {w}).")
            if self.n_glimpses > sh * sw:
                self._fail(f"n_glimpses={self.n_glimpses} is more than the {sh * sw} distinct "
                           f"positions of the ({sh}, {sw}) scan window.")
        elif not self.allow_revisits and self.n_glimpses > h * w:
            self._fail(f"n_glimpses={self.n_glimpses} is more than the {h * w} distinct "
                       f"positions of a ({h}, {w}) image and allow_revisits=False.")

    def _scan_window(self, frame_shape):
        if self.scan_shape is None:
            return frame_shape
        return int_shape(self, "scan_shape", self.scan_shape)

    def _check_points(self, points, frame_shape):
        """Validate a fixed or user-supplied gaze path; return it as int64."""
        points = np.asarray(points)
        if points.dtype.kind not in "iu":
            if points.dtype.kind != "f" or not np.array_equal(points, np.round(points)):
                self._fail(f"fixations must be integer (row, col) positions; got "
                           f"dtype {points.dtype}.")
        points = points.astype(np.int64)
        h, w = frame_shape
        if ((points < 0) | (points >= (h, w))).any():
            self._fail(f"a fixation lies outside the ({h}, {w}) image.")
        if not self.allow_revisits and len(np.unique(points, axis=0)) < len(points):
            self._fail("the gaze path visits a position twice and allow_revisits=False.")
        return points

    def _validate_input(self, X, *, reset):
        """X as float64 frames (n_samples, n_frames, h, w) scaled to [0, 1]."""
        flat, x_shape = validate_image_batch(
            self, X, reset=reset, ndims=(2, 3, 4),
            expects="images (n_samples, h * w) or (n_samples, h, w), or videos "
                    "(n_samples, n_frames, h, w)")
        ndim, n = len(x_shape), x_shape[0]
        if self.image_shape is not None:
            shape = int_shape(self, "image_shape", self.image_shape, lengths=(2, 3),
                              scalar=False)
            if ndim > 2 and x_shape[1:] != shape[-(ndim - 1):] and \
                    x_shape[1:] != shape:
                self._fail(f"X has samples of shape {x_shape[1:]}, which does not "
                           f"match image_shape={shape}.")
            if int(np.prod(x_shape[1:])) != int(np.prod(shape)):
                self._fail(f"X has {int(np.prod(x_shape[1:]))} features per sample, but "
                           f"image_shape={shape} has {int(np.prod(shape))}.")
            shape = shape if len(shape) == 3 else (1,) + shape
        elif ndim == 2:
            shape = _square_shape(x_shape[1])
            if shape is None:
                self._fail(f"X has {x_shape[1]} features per sample, which is not a square "
                           f"image; pass image_shape=(h, w) or X of shape (n_samples, h, w).")
        else:
            shape = tuple(int(v) for v in x_shape[1:])
            shape = shape if ndim == 4 else (1,) + shape
        if 0 in shape:
            self._fail(f"got an empty array of shape {x_shape}.")
        if not reset and hasattr(self, "image_shape_") and shape != self.image_shape_:
            self._fail(f"X has images of shape {shape}, but the encoder was fit on "
                       f"{self.image_shape_} (as (n_frames, h, w)).")
        self._check_shape_params(shape)
        frames = flat.reshape((n,) + shape)
        return self._scale(frames), shape

    def _scale(self, frames):
        if self.value_range is None:
            if frames.size and frames.min() < 0:
                self._fail("Negative values in data: images must be non-negative (or "
                           "pass value_range=(low, high)).")
            peak = frames.max(axis=(2, 3), keepdims=True)
            return np.divide(frames, peak, out=np.zeros_like(frames), where=peak > 0)
        low, high = self._value_range()
        if frames.size and frames.min() < low:
            self._fail(f"X has values below value_range[0]={low}.")
        return np.clip((frames - low) / (high - low), 0.0, 1.0)

    def _map_chunks(self, frames, shape, func, dtype):
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        chunks = [slice(i, i + _CHUNK) for i in range(0, len(frames), _CHUNK)]
        # Each chunk is written into the one output array as it is made: the
        # peak memory is the output, not the output plus its parts.
        first = func(frames[chunks[0]], seed)
        out = np.empty((len(frames),) + first.shape[1:], dtype=dtype)
        out[chunks[0]] = first
        del first

        def fill(c):
            out[c] = func(frames[c], seed)

        if len(chunks) == 1 or self.n_jobs in (None, 1):
            for c in chunks[1:]:
                fill(c)
        else:
            # Threads whatever joblib backend is active: the chunks write into
            # this process's output array.
            Parallel(n_jobs=self.n_jobs, require="sharedmem")(
                delayed(fill)(c) for c in chunks[1:])
        return out

    def _fixation_chunk(self, frames, seed):
        """Fixations (n, n_frames * n_glimpses, 2) of a chunk of frames."""
        n, n_frames, h, w = frames.shape
        flat = frames.reshape(n * n_frames, h, w)
        g = self.n_glimpses
        gaze = self.gaze
        if isinstance(gaze, str) and gaze == "scan":
            sh, sw = self._scan_window((h, w))
            points = K.scan_fixations((sh, sw), g) + [(h - sh) // 2, (w - sw) // 2]
            points = np.broadcast_to(points, (len(flat), g, 2))
        elif isinstance(gaze, str) and gaze == "object_scan":
            points = K.object_scan_fixations(flat, g, self._scan_window((h, w)))
        elif isinstance(gaze, str) and gaze == "random":
            points = K.random_fixations(K.frame_seeds(flat, seed), (h, w), g,
                                        self.allow_revisits)
        elif isinstance(gaze, str):
            radius = self.inhibition_radius
            if radius is None:
                radius = 0.5 if self.fovea_shape is None else min(self._fovea()) / 2
            # Beyond the frame's diagonal every radius inhibits the same positions
            # (and its square no longer overflows).
            radius = min(radius, float(h + w))
            saliency = K.saliency_map(flat, self.saliency_sigma, self.saliency_filter)
            points = K.saliency_fixations(saliency, g, radius, self.allow_revisits)
        elif callable(gaze):
            points = np.empty((len(flat), g, 2), dtype=np.int64)
            for i, frame in enumerate(flat):
                path = np.asarray(gaze(frame, g))
                if path.shape != (g, 2):
                    self._fail(f"the gaze callable must return an array of shape "
                               f"(n_glimpses, 2) = ({g}, 2); got {path.shape}.")
                points[i] = self._check_points(path, (h, w))
        else:
            points = np.broadcast_to(np.asarray(gaze, dtype=np.int64), (len(flat), g, 2))
        return points.reshape(n, n_frames * g, 2)

    def _fovea_crops(self, frames, seed):
        """Fovea crops (n, n_steps, fh * fw) of a chunk of frames, in [0, 1], and
        the fixations they were taken at."""
        n, n_frames, h, w = frames.shape
        fixations = self._fixation_chunk(frames, seed)
        fovea = self._fovea()
        pad = max(fovea) // 2 + 1
        padded = K.pad_frames(frames.reshape(n * n_frames, h, w), pad)
        crops = K.fovea_patches(padded, pad, fixations.reshape(n * n_frames, self.n_glimpses, 2),
                                fovea)
        return crops.reshape(n, n_frames * self.n_glimpses, -1), fixations

    def _encode_chunk(self, frames, seed):
        fixations = self._fixation_chunk(frames, seed)
        offsets = self._sensor_offsets()
        if offsets is None:
            return self._encode_at(frames, fixations)
        # Each sensor looks at the gaze point shifted by its offset (kept on the
        # image): one glimpse block per sensor, side by side.
        h, w = frames.shape[2:]
        return np.concatenate([
            self._encode_at(frames, np.clip(fixations + offset, 0, np.array([h - 1, w - 1])))
            for offset in offsets], axis=2)

    def _encode_at(self, frames, fixations):
        """Glimpses (n, n_steps, n_bits of one sensor) of a chunk at the given fixations."""
        n, n_frames, h, w = frames.shape
        g = self.n_glimpses
        flat = frames.reshape(n * n_frames, h, w)
        per_frame = fixations.reshape(n * n_frames, g, 2)
        fovea, periphery = self._fovea(), self._periphery()
        reach = 1
        if fovea is not None:
            reach = max(fovea)
        if periphery is not None:
            reach = max(reach, max(periphery) * self.periphery_scale)
        pad = reach // 2 + 1
        parts = []
        if self.fovea_shape is not None or self.periphery_shape is not None:
            padded = K.pad_frames(flat, pad)
        if self.fovea_shape is not None:
            patches = K.fovea_patches(padded, pad, per_frame, fovea)
            if self.fovea_features is None:
                parts.append(grey_bits(patches.reshape(n, n_frames * g, -1), self.n_levels,
                                       self.grey_encoding))
            else:
                seen = self.fovea_features_.transform(patches.reshape(n * n_frames * g, -1))
                seen = seen.toarray() if hasattr(seen, "toarray") else np.asarray(seen)
                parts.append(seen.astype(np.float32, copy=False).reshape(n, n_frames * g, -1))
        if self.periphery_shape is not None:
            table = K.summed_area_table(padded)
            coarse = K.periphery_patches(table, pad, per_frame, periphery, self.periphery_scale)
            parts.append(grey_bits(coarse.reshape(n, n_frames * g, -1), self.n_levels,
                                     self.grey_encoding))
        if self.location is not None:
            centres = None
            if self.location_frame == "object":
                sh, sw = self._scan_window((h, w))
                centres = K.object_window(flat, (sh, sw)) + [sh // 2, sw // 2]
                centres = np.repeat(centres.reshape(n, n_frames, 1, 2), g,
                                    axis=2).reshape(n, n_frames * g, 2)
            positions = K.relative_positions(fixations, self.location_frame,
                                             centres).reshape(-1, 2)
            if self.location == "place":
                code = K.place_sdr(positions, self._place_frame((h, w)), self.location_frame,
                                   self.location_resolution)
            elif self.location == "coordinate":
                code = K.coordinate_sdr(positions, self.location_bits,
                                        self.location_active_bits, self.location_resolution)
            else:
                code = K.grid_cell_sdr(positions, self.location_bits // K.GRID_MODULE_SIDE ** 2,
                                       self.location_resolution)
            parts.append(code.reshape(n, n_frames * g, -1))
        if len(parts) > 1 and parts[0].dtype != np.uint8:
            parts = [p.astype(np.float32, copy=False) for p in parts]
        return np.concatenate(parts, axis=2)
