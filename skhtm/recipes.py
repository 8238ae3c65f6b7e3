"""Recipes: the pipelines behind skhtm's published figures, as functions.

Each recipe returns an unfitted scikit-learn :class:`~sklearn.pipeline.Pipeline`,
so a user starts from the configuration that made the figure and changes it
with ``set_params`` or ``GridSearchCV`` like any other pipeline.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state

from . import _saccades
from .object_layer import ObjectLayerClassifier
from .patch_pooler import PatchSpatialPooler
from .saccades import SaccadeEncoder
from .spatial_pooler import SpatialPoolerTransformer
from .union import PooledFeatureUnion

__all__ = ["image_classifier", "saccade_classifier", "sqrt_counts"]


def sqrt_counts(X):
    """Square root of pooled activity counts, in place.

    The variance-stabilising transform for counts, which a linear read-out
    prefers. In place because the pooled features of a large training set are
    the biggest array of the pipeline, and the input is the fresh output of the
    step before.
    """
    X = np.asarray(X)
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float32)
    return np.sqrt(X, out=X)


def _image_pair(image_shape, recipe="image_classifier", name="image_shape"):
    """``image_shape`` as (h, w) of positive ints, or a ValueError naming the recipe."""
    def is_int(v):
        return isinstance(v, Integral) and not isinstance(v, bool)

    items = (image_shape, image_shape) if is_int(image_shape) else image_shape
    if isinstance(items, (tuple, list, np.ndarray)) and len(items) == 2 and all(
            is_int(v) and v >= 1 for v in items):
        return int(items[0]), int(items[1])
    raise ValueError(f"{recipe}: {name} must be (h, w) with positive ints; "
                     f"got {image_shape!r}.")


def image_classifier(image_shape, random_state=None, n_jobs=None, **overrides):
    """skhtm's best still-image pipeline, unfitted.

    Patch Spatial Poolers side by side (:class:`~skhtm.PooledFeatureUnion`),
    each over every patch of a different size, encoding each patch by its
    contrast (ON and OFF centre-surround bits) and learning its columns with
    the Spatial Pooler's published learning rule; their column activity is
    pooled over a grid of regions, square-rooted, standardised and read out by
    a :class:`~sklearn.linear_model.LogisticRegression`.

    Parameters
    ----------
    image_shape : int or tuple of int
        ``(h, w)`` of the images (an int for square ones). The pipeline takes
        images as ``(n_samples, h * w)`` or ``(n_samples, h, w)``, grey levels
        0-255 (any non-negative scale: each image is divided by its maximum).
    random_state : int, RandomState instance or None, default=None
        Seeds every Spatial Pooler of the pipeline (each its own seed drawn
        from it).
    n_jobs : int, default=None
        Threads for the patch poolers' transforms (the result does not depend
        on it).
    **overrides
        ``set_params`` of the returned pipeline, e.g.
        ``logisticregression__C=1.0`` or
        ``pooledfeatureunion__patch0__pool_grid=4``.

    Returns
    -------
    pipeline : Pipeline
        Unfitted: ``PooledFeatureUnion`` (branches ``patch0``, ``patch1``, ...)
        then ``LogisticRegression``.

    Notes
    -----
    The configuration was chosen on validation splits of the training sets
    (``benchmarks/bench_patch_learning.py`` and ``benchmarks/bench_vision.py``):
    for images of at least 16 pixels a side (Fashion-MNIST) {big}; for smaller
    ones (the 8x8 digits) {small}.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhtm.recipes import image_classifier
    >>> X, y = load_digits(return_X_y=True)
    >>> pipe = image_classifier((8, 8), random_state=0).fit(X[:500], y[:500])
    >>> float(pipe.score(X[500:700], y[500:700])) > 0.9
    True
    """
    h, w = _image_pair(image_shape)
    config = _BIG if min(h, w) >= 16 else _SMALL
    pipe = Pipeline([("pooledfeatureunion", _patch_union((h, w), config, random_state, n_jobs)),
                     ("logisticregression", LogisticRegression(C=config["C"], max_iter=1000))])
    if overrides:
        pipe.set_params(**overrides)
    return pipe


def _patch_union(image_shape, config, random_state, n_jobs):
    """The learning contrast Patch Spatial Poolers of ``config`` side by side."""
    h, w = image_shape
    rng = check_random_state(random_state)
    seeds = rng.randint(np.iinfo(np.int32).max, size=len(config["patches"]))
    branches = []
    for i, (seed, (patch_shape, n_levels)) in enumerate(zip(seeds, config["patches"])):
        sp = SpatialPoolerTransformer(column_shape=config["n_columns"],
                                      local_area_density=config["density"],
                                      **config["learning"])
        branches.append((f"patch{i}", PatchSpatialPooler(
            sp, patch_shape=patch_shape, n_levels=n_levels, encoding="contrast",
            image_shape=(h, w), pool_grid=min(config["pool_grid"], h - patch_shape + 1,
                                              w - patch_shape + 1),
            random_state=int(seed), n_jobs=n_jobs)))
    return PooledFeatureUnion(branches)


def saccade_classifier(image_shape, n_glimpses=8, random_state=None, n_jobs=None, *,
                       object_shape=None, place_resolution=None, **overrides):
    """skhtm's best pipeline that recognises images from a few glimpses, unfitted.

    A :class:`~skhtm.SaccadeEncoder` scans the object with ``n_glimpses``
    fixations: it finds the object (the window of ``object_shape`` centred on
    the image's centre of mass) and each glimpse sees, through a fovea, the
    learned local features of :func:`image_classifier` pooled over a small
    grid, with the place of the fixation in the object's reference frame. An
    :class:`~skhtm.ObjectLayerClassifier` binds each glimpse's features to its
    place, accumulates them whatever the order, and reads out the evidence for
    each class after every glimpse (``staged_predict_proba``).

    Parameters
    ----------
    image_shape : int or tuple of int
        ``(h, w)`` of the images (the canvas), e.g. 28 for Fashion-MNIST or 60
        for translated or cluttered 60x60 canvases. Images as ``(n_samples,
        h * w)`` or ``(n_samples, h, w)``, non-negative grey levels.
    n_glimpses : int, default=8
        Fixations per image.
    random_state : int, RandomState instance or None, default=None
        Seeds the Spatial Poolers.
    n_jobs : int, default=None
        Threads for the encoder's transforms (the result does not depend on
        it).
    object_shape : int or tuple of int, default=None
        ``(h, w)`` of the object window the glimpses scan. ``None``: the whole
        image when neither side exceeds 32 pixels, else 28 x 28 (an MNIST
        object on a larger canvas).
    place_resolution : float, default=None
        Pixels per place cell side in the object window. ``None``: the
        configuration's (4 for objects of 16 pixels or more, 1 below). Set it
        here, not through the encoder's ``location_resolution``: it also sets
        the object layer's ``location_bits``. Gaze that can land anywhere
        (saliency, random) needs coarse places: the object layer holds
        ``n_places x n_features`` values per image.
    **overrides
        ``set_params`` of the returned pipeline, e.g.
        ``objectlayerclassifier__policy="hypothesis"``.

    Returns
    -------
    pipeline : Pipeline
        Unfitted: ``SaccadeEncoder`` (with ``fovea_features`` a
        :class:`~skhtm.PooledFeatureUnion` of Patch Spatial Poolers) then
        ``ObjectLayerClassifier`` with ``copy=False``: fitting the pipeline
        binds the glimpses in place in the encoder's output. Fitting the
        layer alone on glimpses you keep needs
        ``objectlayerclassifier__copy=True``.

    Notes
    -----
    The configuration was chosen on a validation split of the Fashion-MNIST
    training set (``benchmarks/bench_sensorimotor.py --part select``): {big}.
    For objects under 16 pixels a side (the 8x8 digits): {small}.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhtm.recipes import saccade_classifier
    >>> X, y = load_digits(return_X_y=True)
    >>> pipe = saccade_classifier((8, 8), n_glimpses=4, random_state=0).fit(X[:500], y[:500])
    >>> float(pipe.score(X[500:700], y[500:700])) > 0.8
    True
    """
    h, w = _image_pair(image_shape, "saccade_classifier")
    if not isinstance(n_glimpses, Integral) or isinstance(n_glimpses, bool) or n_glimpses < 1:
        raise ValueError(f"saccade_classifier: n_glimpses must be a positive int; got "
                         f"{n_glimpses!r}.")
    if object_shape is None:
        object_shape = (h, w) if max(h, w) <= 32 else (min(h, 28), min(w, 28))
    oh, ow = _image_pair(object_shape, "saccade_classifier", "object_shape")
    if oh > h or ow > w:
        raise ValueError(f"saccade_classifier: object_shape {(oh, ow)} is larger than the "
                         f"images {(h, w)}.")
    if n_glimpses > oh * ow:
        raise ValueError(f"saccade_classifier: n_glimpses={n_glimpses} is more than the "
                         f"{oh * ow} positions of the {(oh, ow)} object window.")
    config = _GLIMPSE_BIG if min(oh, ow) >= 16 else _GLIMPSE_SMALL
    fovea = (min(config["fovea"], h), min(config["fovea"], w))
    features = _patch_union(fovea, config, random_state, None)
    resolution = config["place_resolution"] if place_resolution is None else place_resolution
    if not isinstance(resolution, Real) or isinstance(resolution, bool) or \
            not np.isfinite(resolution) or resolution <= 0:
        raise ValueError(f"saccade_classifier: place_resolution must be a positive number; got "
                         f"{place_resolution!r}.")
    encoder = SaccadeEncoder(
        n_glimpses, image_shape=(h, w), fovea_shape=fovea, fovea_features=features,
        gaze="object_scan", scan_shape=(oh, ow), location="place", location_frame="object",
        location_resolution=resolution, n_jobs=n_jobs)
    rows, cols = _saccades.place_shape((oh, ow), "object", resolution)
    # copy=False: the layer binds the glimpses in place, in the encoder's output,
    # which a Pipeline throws away after fit: half the memory of a fit.
    layer = ObjectLayerClassifier(rows * cols, readout=LogisticRegression(
        C=config["C"], max_iter=1000), copy=False)
    pipe = Pipeline([("saccadeencoder", encoder), ("objectlayerclassifier", layer)])
    if overrides:
        pipe.set_params(**overrides)
    return pipe


# The Spatial Pooler's published learning rule (BAMI / NuPIC defaults: connected at
# 0.1, +0.05 on active inputs and -0.008 on inactive ones) with boosting, which keeps
# every column in use: it is what makes learned contrast features beat random ones on
# a Fashion-MNIST validation split (bench_patch_learning.py: +1.28 points with
# strength 6 for one 3x3 pooler over three seeds, +0.78 with strength 3). The small
# images' strength was chosen by cross-validation on the digits demo's training split.
_PUBLISHED_RULE = dict(syn_perm_connected=0.1, syn_perm_active_inc=0.05,
                       syn_perm_inactive_dec=0.008)

_BIG = dict(patches=((3, 2), (4, 2), (5, 2)), n_columns=256, density=0.05, pool_grid=5,
            learning=dict(_PUBLISHED_RULE, boost_strength=6.0), C=0.01)
_SMALL = dict(patches=((3, 3), (3, 3), (3, 3), (3, 3)), n_columns=256, density=0.05,
              pool_grid=3, learning=dict(_PUBLISHED_RULE, boost_strength=3.0), C=1.0)


# Glimpse features: the still-image recipe's poolers over the fovea, pooled over a
# small grid inside it (tolerance to shifts within a glimpse); places of a few
# pixels in the object's frame. Fashion-MNIST validation split (10,000 / 5,000,
# bench_sensorimotor.py --part select): fovea 14 with 3x3 pooling 90.96% (C=0.01),
# with 2x2 pooling 90.26%, fovea 12 or 16 with 2x2 pooling 90.30% / 90.32%; C from
# 0.003 to 0.1 within 0.3 points.
_GLIMPSE_BIG = dict(_BIG, fovea=14, pool_grid=3, place_resolution=4.0, C=0.01)
_GLIMPSE_SMALL = dict(_SMALL, fovea=5, pool_grid=2, place_resolution=1.0, C=0.1)


def _describe(config):
    patches = ", ".join(f"{p}x{p}" for p, _ in config["patches"])
    fovea = f"a {config['fovea']}x{config['fovea']} fovea, " if "fovea" in config else ""
    places = (f", places of {config['place_resolution']:g} px"
              if "place_resolution" in config else "")
    return (f"{fovea}{len(config['patches'])} branches of {config['n_columns']} columns "
            f"({config['density']:.0%} active) over {patches} patches, "
            f"{config['pool_grid']}x{config['pool_grid']} pooling, boosting "
            f"{config['learning']['boost_strength']:g}, C={config['C']}{places}")


image_classifier.__doc__ = image_classifier.__doc__.format(big=_describe(_BIG),
                                                           small=_describe(_SMALL))
saccade_classifier.__doc__ = saccade_classifier.__doc__.format(
    big=_describe(_GLIMPSE_BIG), small=_describe(_GLIMPSE_SMALL))
