"""Recipes: the pipelines behind skhtm's published figures, as functions.

Each recipe returns an unfitted scikit-learn :class:`~sklearn.pipeline.Pipeline`,
so a user starts from the configuration that made the figure and changes it
with ``set_params`` or ``GridSearchCV`` like any other pipeline.
"""

from numbers import Integral

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline, make_union
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from .patch_pooler import PatchSpatialPooler
from .spatial_pooler import SpatialPoolerTransformer

__all__ = ["image_classifier", "sqrt_counts"]


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


def _image_pair(image_shape):
    if isinstance(image_shape, Integral) and not isinstance(image_shape, bool):
        image_shape = (int(image_shape), int(image_shape))
    try:
        pair = tuple(int(v) for v in image_shape)
        ok = len(pair) == 2 and min(pair) >= 1 and all(
            isinstance(v, Integral) and not isinstance(v, bool) for v in image_shape)
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"image_classifier: image_shape must be (h, w) with positive ints; "
                         f"got {image_shape!r}.")
    return pair


def image_classifier(image_shape, random_state=None, n_jobs=None, **overrides):
    """skhtm's best still-image pipeline, unfitted.

    Parameters
    ----------
    image_shape : int or tuple of int
        ``(h, w)`` of the images (an int for square ones). The pipeline takes
        images as ``(n_samples, h * w)`` or ``(n_samples, h, w)``, grey levels
        0-255.
    random_state : int, RandomState instance or None, default=None
        Seeds every Spatial Pooler of the pipeline (each its own seed drawn from it).
    n_jobs : int, default=None
        Threads for the patch poolers' transforms.
    **overrides
        ``set_params`` of the returned pipeline, e.g.
        ``logisticregression__C=1.0``.

    Returns
    -------
    pipeline : Pipeline
        Unfitted.

    Examples
    --------
    >>> from skhtm.recipes import image_classifier
    >>> pipe = image_classifier((28, 28), random_state=0)
    >>> type(pipe).__name__
    'Pipeline'
    """
    h, w = _image_pair(image_shape)
    rng = np.random.RandomState(random_state) if not isinstance(
        random_state, np.random.RandomState) else random_state
    big = min(h, w) >= 16
    n_columns = 256 if big else 64
    density = 0.05 if big else 0.1
    pool_grid = 6 if big else 3
    branches = ((3, 4), (3, 4), (4, 3), (5, 3)) if big else ((3, 2), (3, 2), (4, 2), (2, 2))
    seeds = rng.randint(np.iinfo(np.int32).max, size=len(branches))
    no_learning = dict(syn_perm_connected=0.5, syn_perm_active_inc=0.0,
                       syn_perm_inactive_dec=0.0, batch_size=512)
    union = make_union(*(make_pipeline(
        PatchSpatialPooler(
            SpatialPoolerTransformer(column_shape=n_columns, local_area_density=density,
                                     **no_learning),
            patch_shape=ps, n_levels=levels, image_shape=(h, w), pool_grid=pool_grid,
            random_state=int(seed), n_jobs=n_jobs),
        FunctionTransformer(sqrt_counts), StandardScaler(copy=False))
        for seed, (ps, levels) in zip(seeds, branches)))
    pipe = make_pipeline(union, LogisticRegression(C=0.1, max_iter=500))
    if overrides:
        pipe.set_params(**overrides)
    return pipe
