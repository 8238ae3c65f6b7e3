"""Backfeed: what a fitted pipeline's linear classifier looks for, in input space.

The experiment HTM users run by hand ("when the classifier says it's a 7,
feed that back down and see what pops out") as two functions:

- :func:`class_pictures`: each class's weights carried back, step by step in
  reverse, through the linear "transpose" of every layer: one picture per
  class, the same for every image.
- :func:`pixel_support`: for each image, the pixels that supported its
  (predicted or given) class, carried back only through what was active for
  that image.

Both are linear reads of a non-linear model: the k-winners-take-all
inhibition of a Spatial Pooler and the thresholds of an encoder are treated as
if they passed weights straight through. See the user guide, "Inspection".
"""

import numpy as np
import scipy.sparse as sp
from sklearn.base import is_classifier
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, StandardScaler
from sklearn.utils import gen_batches
from sklearn.utils.validation import check_is_fitted

from . import _backfeed as B
from . import _patches as K
from .encoders import ThermometerEncoder
from .patch_pooler import PatchSpatialPooler
from .spatial_pooler import SpatialPoolerTransformer
from .union import PooledFeatureUnion

__all__ = ["class_pictures", "pixel_support"]

# Images per pass of pixel_support: a patch pooler's per-position winners of a
# chunk (n x grid_rows x grid_cols x n_columns floats) stay a few tens of MB.
_CHUNK = 16

# The steps weights can be carried back through, by kind; the first match wins
# (PooledFeatureUnion is a FeatureUnion: it comes first).
_KINDS = (
    ("pipeline", Pipeline),
    ("pooled_union", PooledFeatureUnion),
    ("union", FeatureUnion),
    ("patch_pooler", PatchSpatialPooler),
    ("spatial_pooler", SpatialPoolerTransformer),
    ("thermometer", ThermometerEncoder),
    ("standard_scaler", StandardScaler),
    ("minmax_scaler", MinMaxScaler),
    ("function", FunctionTransformer),
)
_SUPPORTED = ", ".join([cls.__name__ for _, cls in _KINDS] + ["'passthrough'"])
_ELEMENTWISE = ("identity", "standard_scaler", "minmax_scaler", "function")
_UNIONS = ("union", "pooled_union")


# ---------------------------------------------------------------- public API

def class_pictures(pipeline, classes=None, *, image_shape=None):
    """The input-space picture of each class of a fitted pipeline.

    The linear classifier's weights for a class (a row of ``coef_``) are
    carried back through the pipeline's steps in reverse, each by the
    transpose of its linear part: a Spatial Pooler spreads a column's weight
    over its connected synapses, an encoder sums a feature's bits, a patch
    pooler adds each region's column weights at every patch position of the
    region (a transposed convolution), a scaler divides by its scale. With a
    contrast encoding, a weight carried back through an OFF bit (on where its
    pixel is darker than its patch) counts against its pixel's brightness.

    Parameters
    ----------
    pipeline : Pipeline
        Fitted; its steps are :class:`~skhtm.ThermometerEncoder`,
        :class:`~skhtm.SpatialPoolerTransformer`,
        :class:`~skhtm.PatchSpatialPooler`,
        :class:`~sklearn.preprocessing.StandardScaler`,
        :class:`~sklearn.preprocessing.MinMaxScaler`,
        :class:`~sklearn.preprocessing.FunctionTransformer` (taken as the
        identity: meant for monotone element-wise maps such as
        :func:`skhtm.recipes.sqrt_counts`), ``"passthrough"``, and
        :class:`~sklearn.pipeline.FeatureUnion`,
        :class:`~skhtm.PooledFeatureUnion` or inner pipelines of those;
        a PatchSpatialPooler over channel maps (the second layer of a
        hierarchy) passes weights on to the map's entries; the last step is
        a linear classifier (``coef_`` of shape (n_classes, n_features) or
        (1, n_features) for two classes, e.g.
        :class:`~sklearn.linear_model.LogisticRegression`,
        :class:`~sklearn.svm.LinearSVC`,
        :class:`~sklearn.linear_model.SGDClassifier`).
    classes : array-like, default=None
        Labels (from ``classes_``) to draw, in this order. ``None``: all.
    image_shape : tuple of int, default=None
        ``(h, w)`` of the input images. ``None``: taken from the first
        image-aware step (a grey-image patch pooler's ``image_shape_``, or the
        first two axes of a Spatial Pooler's ``input_shape_``); flat pictures
        when there is none (a pipeline whose input is a channel map).

    Returns
    -------
    pictures : ndarray of shape (n_classes, h, w) or (n_classes, n_features_in)
        Positive where input pushes the class's score up (with a contrast
        encoding: where brighter than its surroundings). A two-class
        classifier's pictures are ``-coef_[0]`` and ``+coef_[0]`` carried back.

    See Also
    --------
    pixel_support : the same, per image, through what was active for it.
    skhtm.plotting.plot_class_pictures : draws them.

    Notes
    -----
    The map is linear, so the picture of a class is its weight vector read in
    pixel space; the pipeline itself is not linear (k-winners, thresholds), so
    the picture shows what the class's weights point at, not an input the
    model would classify with certainty. Intercepts are left out.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhtm.inspection import class_pictures
    >>> from skhtm.recipes import image_classifier
    >>> X, y = load_digits(return_X_y=True)
    >>> pipe = image_classifier((8, 8), random_state=0).fit(X[:300] * 16, y[:300])
    >>> class_pictures(pipe).shape
    (10, 8, 8)
    >>> class_pictures(pipe, classes=[3, 7]).shape
    (2, 8, 8)
    """
    caller = "class_pictures"
    steps, classifier = _split(pipeline, caller)
    weights = _class_weights(classifier, caller)
    rows = _class_rows(classifier, classes, caller, per_image=None)
    W = weights[rows]
    for name, step in reversed(steps):
        W = _back(name, step, W, caller)
    return _as_pictures(W, steps, image_shape, caller)


def pixel_support(pipeline, X, classes=None, *, image_shape=None, contrast_sign=True):
    """For each image, the pixels that supported its class.

    The classifier's evidence for the class, feature by feature (its weight
    times the feature's value for the image: ``w * (x - mean) / scale`` after
    a :class:`~sklearn.preprocessing.StandardScaler`), is carried back to the
    pixels through what was active for that image only: a pooled patch
    feature's evidence is shared among the patch positions of its region
    where the column won, a winner's share among its connected synapses that
    are on in that patch, and each synapse's share credited to its pixel (a
    Spatial Pooler: its active columns, their connected synapses onto the
    input bits that are on).

    Parameters
    ----------
    pipeline : Pipeline
        Fitted, of the steps :func:`class_pictures` takes.
    X : array-like of shape (n_images, n_features) or (n_images, h, w)
        Images as the pipeline takes them.
    classes : label or array-like of shape (n_images,), default=None
        The class to explain for each image (one label: the same for all).
        ``None``: the class the pipeline predicts.
    image_shape : tuple of int, default=None
        As in :func:`class_pictures`.
    contrast_sign : bool, default=True
        Only for patch poolers with a contrast encoding. ``True``: the credit
        of an OFF bit (on where its pixel is darker than its patch) lands on
        its pixel negated, as in :func:`class_pictures`: positive where the
        pixel's brightness supported the class, negative where its darkness
        did (or where brightness argued against it). ``False``: as evidence,
        positive whenever the pixel's bits supported the class, dark or
        bright; the supports then add up as in the Notes.

    Returns
    -------
    support : ndarray of shape (n_images, h, w) or (n_images, n_features_in)
        Evidence per pixel; negative where the active features argue against
        the class (see ``contrast_sign`` for contrast encodings).

    See Also
    --------
    class_pictures : the image-independent picture of a class.

    Notes
    -----
    Evidence is conserved on the way down: an image's supports add up to the
    classifier's score for the class minus its intercept and minus the
    evidence of the features that were zero before scaling (an inactive
    column, a column that won nowhere in a region), which no pixel caused.
    With a contrast encoding that holds for ``contrast_sign=False``; with
    ``True`` the OFF bits' share is subtracted instead of added.
    Element-wise steps (scalers, :class:`~sklearn.preprocessing.FunctionTransformer`)
    pass each feature's evidence through unchanged: it is measured once, at
    the classifier, on the values the classifier sees.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhtm.inspection import pixel_support
    >>> from skhtm.recipes import image_classifier
    >>> X, y = load_digits(return_X_y=True)
    >>> pipe = image_classifier((8, 8), random_state=0).fit(X[:300] * 16, y[:300])
    >>> pixel_support(pipe, X[300:303] * 16).shape
    (3, 8, 8)
    """
    caller = "pixel_support"
    if not isinstance(contrast_sign, (bool, np.bool_)):
        raise ValueError(f"{caller}: contrast_sign must be True or False; got "
                         f"{contrast_sign!r}.")
    steps, classifier = _split(pipeline, caller)
    weights = _class_weights(classifier, caller)
    if not sp.issparse(X):
        X = np.asarray(X)
    if X.ndim not in (2, 3) or X.shape[0] == 0:
        raise ValueError(f"{caller}: X must hold images as (n_images, n_features) or "
                         f"(n_images, h, w), at least one; got shape {X.shape}.")
    rows = None if classes is None else _class_rows(classifier, classes, caller,
                                                    per_image=X.shape[0])
    parts = []
    for s in gen_batches(X.shape[0], _CHUNK):
        inputs = _forward(steps, X[s])
        z = _dense(inputs[-1])
        chunk_rows = rows[s] if rows is not None else _predicted_rows(classifier, z)
        R = weights[chunk_rows] * z
        for (name, step), X_in in zip(reversed(steps), reversed(inputs[:-1])):
            R = _support(name, step, X_in, R, caller, contrast_sign)
        parts.append(R.reshape(R.shape[0], -1))
    return _as_pictures(np.concatenate(parts), steps, image_shape, caller)


# ---------------------------------------------------------------- the pipeline

def _split(pipeline, caller):
    """(named transformer steps, fitted linear classifier), or a clear error."""
    if isinstance(pipeline, Pipeline):
        check_is_fitted(pipeline)
        *steps, (_, classifier) = pipeline.steps
    elif is_classifier(pipeline):
        check_is_fitted(pipeline)
        steps, classifier = [], pipeline
    else:
        raise ValueError(f"{caller} expects a fitted Pipeline ending in a linear classifier; "
                         f"got {type(pipeline).__name__}.")
    coef = getattr(classifier, "coef_", None)
    if coef is None or not hasattr(classifier, "classes_") or np.ndim(coef) != 2:
        raise ValueError(f"{caller}: the pipeline must end in a linear classifier (coef_ of "
                         f"shape (n_classes, n_features) and classes_, e.g. "
                         f"LogisticRegression); its last step is {type(classifier).__name__}.")
    return [(name, step) for name, step in steps], classifier


def _class_weights(classifier, caller):
    """One weight row per entry of ``classes_``: (n_classes, n_features)."""
    coef = classifier.coef_
    coef = coef.toarray() if sp.issparse(coef) else np.asarray(coef, dtype=np.float64)
    n_classes = len(classifier.classes_)
    if coef.shape[0] == 1 and n_classes == 2:
        # A binary linear model scores classes_[1] by +w and classes_[0] by -w.
        return np.vstack([-coef[0], coef[0]])
    if coef.shape[0] != n_classes:
        raise ValueError(f"{caller}: {type(classifier).__name__} has {coef.shape[0]} rows of "
                         f"coef_ for {n_classes} classes; expected one per class.")
    return coef


def _class_rows(classifier, classes, caller, *, per_image):
    """Indices into ``classes_`` of the requested labels; ``per_image``: that many,
    a single label repeated."""
    known = classifier.classes_
    if classes is None:
        return np.arange(len(known))
    labels = np.asarray(classes, dtype=object if known.dtype == object else None)
    if per_image is not None and labels.ndim == 0:
        labels = np.full(per_image, labels.item(), dtype=labels.dtype)
    labels = labels.ravel() if per_image is None else labels
    if per_image is not None and labels.shape != (per_image,):
        raise ValueError(f"{caller}: classes must be one label or one per image "
                         f"({per_image}); got shape {labels.shape}.")
    index = {label: i for i, label in enumerate(known.tolist())}
    rows = [index.get(label) for label in labels.tolist()]
    missing = [label for label, row in zip(labels.tolist(), rows) if row is None]
    if missing:
        raise ValueError(f"{caller}: classes {sorted(set(map(str, missing)))} are not among "
                         f"the classifier's classes_ {known.tolist()}.")
    return np.asarray(rows, dtype=np.intp)


def _predicted_rows(classifier, z):
    index = {label: i for i, label in enumerate(classifier.classes_.tolist())}
    return np.array([index[label] for label in classifier.predict(z).tolist()], dtype=np.intp)


def _forward(steps, X):
    """The input of every step and the output of the last: len(steps) + 1 arrays."""
    inputs = [X]
    for _, step in steps:
        if step is not None and not (isinstance(step, str) and step == "passthrough"):
            X = step.transform(X)
        inputs.append(X)
    return inputs


def _as_pictures(W, steps, image_shape, caller):
    n_features = W.shape[1]
    if image_shape is None:
        image_shape = _input_image_shape(steps)
        if image_shape is None or int(np.prod(image_shape)) != n_features:
            return W
    else:
        try:
            image_shape = tuple(int(v) for v in image_shape)
        except TypeError:
            image_shape = ()
        if len(image_shape) != 2 or image_shape[0] * image_shape[1] != n_features:
            raise ValueError(f"{caller}: image_shape must be (h, w) with h * w = "
                             f"{n_features} input features; got {image_shape!r}.")
    return W.reshape((len(W),) + tuple(image_shape))


def _input_image_shape(steps):
    """(h, w) from the first step that knows the input is an image, else None."""
    for name, step in steps:
        kind = _kind(name, step, None)
        if kind == "patch_pooler":
            # A pooler over channel maps (a second layer's input) is not an image.
            return tuple(step.image_shape_) if len(step.image_shape_) == 2 else None
        if kind == "spatial_pooler":
            return tuple(step.input_shape_[:2]) if len(step.input_shape_) >= 2 else None
        if kind == "pipeline":
            return _input_image_shape(step.steps)
        if kind in _UNIONS:
            for name, branch in step.transformer_list:
                if not (isinstance(branch, str) and branch == "drop"):
                    shape = _input_image_shape([(name, branch)])
                    if shape is not None:
                        return shape
            return None
        if kind not in _ELEMENTWISE and kind != "thermometer":
            return None
    return None


# ---------------------------------------------------------------- the steps

def _kind(name, step, caller):
    """The kind of a step (a key of the dispatch below), checked fitted; a
    TypeError naming it when it is not supported (``caller`` None: "other")."""
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return "identity"
    for kind, cls in _KINDS:
        if isinstance(step, cls):
            if caller is not None and kind not in ("pipeline", "union", "function"):
                check_is_fitted(step)
            return kind
    if caller is None:
        return "other"
    raise TypeError(f"{caller}: cannot carry class weights back through step {name!r} "
                    f"({type(step).__name__}); supported steps: {_SUPPORTED}.")


def _width(name, step, n_in, caller):
    """Number of output features of a fitted step that takes ``n_in``."""
    kind = _kind(name, step, caller)
    if kind == "pipeline":
        for inner_name, inner in step.steps:
            n_in = _width(f"{name}/{inner_name}", inner, n_in, caller)
        return n_in
    if kind in _UNIONS:
        n_in = getattr(step, "n_features_in_", n_in)
        return sum(_width(f"{name}/{b}", branch, n_in, caller)
                   for b, branch in step.transformer_list
                   if not (isinstance(branch, str) and branch == "drop"))
    if kind in ("spatial_pooler", "patch_pooler", "thermometer"):
        return int(step._n_features_out)
    n_in = getattr(step, "n_features_in_", n_in)   # element-wise: as many out as in
    if n_in is None:
        raise ValueError(f"{caller}: cannot tell how many features step {name!r} "
                         f"({type(step).__name__}) returns.")
    return int(n_in)


def _union_blocks(name, union, n_out, caller):
    """(branch name, branch, slice of the union's output, weight) of each kept branch."""
    n_in = getattr(union, "n_features_in_", None)
    weights = union.transformer_weights or {}
    blocks, start = [], 0
    for b, branch in union.transformer_list:
        if isinstance(branch, str) and branch == "drop":
            continue
        width = _width(f"{name}/{b}", branch, n_in, caller)
        blocks.append((f"{name}/{b}", branch, slice(start, start + width), weights.get(b, 1.0)))
        start += width
    if start != n_out:
        raise ValueError(f"{caller}: the branches of step {name!r} return {start} features, "
                         f"but the step after it takes {n_out} (a FunctionTransformer that "
                         "changes the number of features?).")
    return blocks


def _back(name, step, W, caller):
    """Class weights on a step's output (n_classes, n_out) -> on its input."""
    kind = _kind(name, step, caller)
    if kind == "pipeline":
        for inner_name, inner in reversed(step.steps):
            W = _back(f"{name}/{inner_name}", inner, W, caller)
        return W
    if kind == "union":
        return sum(weight * _back(b, branch, W[:, block], caller)
                   for b, branch, block, weight in _union_blocks(name, step, W.shape[1], caller))
    if kind == "pooled_union":
        # Each block is sqrt (taken as the identity, as a FunctionTransformer), then
        # (x - mean_) / scale_, times the branch's weight.
        return sum(weight * _back(b, branch, W[:, block] / step.scale_[block], caller)
                   for b, branch, block, weight in _union_blocks(name, step, W.shape[1], caller))
    _check_width(name, step, kind, W.shape[1], caller)
    if kind == "spatial_pooler":
        return np.asarray((_connected(step).T @ W.T).T)
    if kind == "patch_pooler":
        return _patch_pooler_back(step, W, caller)
    if kind == "thermometer":
        return W.reshape(len(W), step.n_features_in_, -1).sum(axis=2)
    if kind == "standard_scaler" and step.scale_ is not None:
        # y = (x - mean) / scale: d y / d x = 1 / scale, the mean only shifts.
        return W / step.scale_
    if kind == "minmax_scaler":
        return W * step.scale_
    return W   # identity, or a FunctionTransformer taken as one


def _support(name, step, X_in, R, caller, signed):
    """Evidence on a step's output (n_images, n_out), for images whose input to
    the step is ``X_in`` -> evidence on its input."""
    kind = _kind(name, step, caller)
    if kind == "pipeline":
        inputs = _forward(step.steps, X_in)
        for (inner_name, inner), inner_in in zip(reversed(step.steps), reversed(inputs[:-1])):
            R = _support(f"{name}/{inner_name}", inner, inner_in, R, caller, signed)
        return R
    if kind in _UNIONS:
        # Branch weights (and a pooled union's sqrt and scaling) act element-wise on a
        # feature's value, and R already holds the evidence of the value.
        return sum(_support(b, branch, X_in, R[:, block], caller, signed)
                   for b, branch, block, _ in _union_blocks(name, step, R.shape[1], caller))
    _check_width(name, step, kind, R.shape[1], caller)
    if kind == "spatial_pooler":
        bits = _dense(X_in).reshape(len(R), -1)
        # Recomputed rather than taken from the forward pass: a later step with
        # copy=False (the recipe's scalers) may have overwritten that output.
        active = _dense(step.transform(X_in)).reshape(len(R), -1)
        return B.credit_synapses(bits, active, _connected(step), R)
    if kind == "patch_pooler":
        return _patch_pooler_support(step, X_in, R, caller, signed)
    if kind == "thermometer":
        return R.reshape(len(R), step.n_features_in_, -1).sum(axis=2)
    # Element-wise steps: a feature's evidence stays the feature's.
    return R


def _check_width(name, step, kind, n_out, caller):
    if kind in ("spatial_pooler", "patch_pooler", "thermometer"):
        expected = int(step._n_features_out)
        if n_out != expected:
            raise ValueError(f"{caller}: step {name!r} ({type(step).__name__}) returns "
                             f"{expected} features, but the step after it takes {n_out}.")


# ---------------------------------------------------------------- patch pooler

def _patch_geometry(psp, caller, *, signed):
    """Shapes, the region of each patch position, the connected synapses (dense),
    the bit -> patch-input matrix and the shape of a patch's picture, of a fitted
    PatchSpatialPooler.

    Grey images: bits map to the patch's pixels, a picture (ph, pw); ``signed``:
    a contrast encoding's OFF bits with -1. Channel maps (a second layer): each
    bit is one (pixel, channel) of the map, a picture (ph, pw, c), and the
    matrix is None (the identity).
    """
    sp_ = psp.spatial_pooler_
    if not isinstance(sp_, SpatialPoolerTransformer):
        raise TypeError(f"{caller}: a PatchSpatialPooler with a {type(sp_).__name__} as its "
                        "spatial_pooler_ is not supported: "
                        "only a SpatialPoolerTransformer's connected synapses can be carried "
                        "back to pixels.")
    shapes = psp._check_params()
    grid = tuple(psp.patch_grid_)
    pool_grid = shapes["pool_grid"]
    region = (K.band_of_positions(grid[0], pool_grid[0])[:, None] * pool_grid[1]
              + K.band_of_positions(grid[1], pool_grid[1])[None, :])
    connected = _connected(sp_).toarray()
    if len(psp.image_shape_) == 3:
        # Bits are pixel major then channel: the layout of the map itself.
        return (shapes, grid, region, connected, None,
                tuple(shapes["patch_shape"]) + (psp.image_shape_[2],))
    signs = psp._bit_signs() if signed else None
    pixel_of_bit = B.bit_pixel_matrix(psp._bit_pixels(), shapes["patch_shape"], signs)
    return shapes, grid, region, connected, pixel_of_bit, tuple(shapes["patch_shape"])


def _patch_pooler_back(psp, W, caller):
    shapes, grid, region, connected, pixel_of_bit, patch = _patch_geometry(psp, caller,
                                                                           signed=True)
    n_columns = connected.shape[0]
    # Sum pooling: a region's feature counts the positions where the column won,
    # so its weight reaches every position of the region.
    per_region = W.reshape(len(W), -1, n_columns) @ connected
    if pixel_of_bit is not None:
        per_region = per_region @ pixel_of_bit
    patches = per_region[:, region].reshape(len(W), *grid, *patch)
    image = B.transposed_patch_sum(patches, psp.image_shape_, shapes["stride"])
    return image.reshape(len(W), -1)


def _patch_pooler_support(psp, X_in, R, caller, signed):
    # signed: an OFF bit's credit lands on its pixel negated, in brightness terms as
    # in the class pictures; unsigned: as evidence, which then adds up to the score.
    shapes, grid, region, connected, pixel_of_bit, patch = _patch_geometry(psp, caller,
                                                                           signed=signed)
    n_columns = connected.shape[0]
    images = psp._validate_images(X_in, shapes, reset=False)
    n = len(images)
    # The winners of every position, recomputed as the pooler's transform finds them.
    bits = psp._encoded_patches(images, shapes).reshape(n * grid[0] * grid[1], -1)
    active = _dense(psp.spatial_pooler_.transform(bits)).reshape(n, *grid, n_columns)
    counts = K.pool_regions(active.astype(np.uint8), shapes["pool_grid"], "sum")
    # A region's evidence for a column, shared equally among the positions where it won.
    share = np.divide(R.reshape(n, -1, n_columns), counts, out=np.zeros(counts.shape),
                      where=counts > 0)
    per_position = (share[:, region] * active).reshape(-1, n_columns)
    credit = B.credit_synapses(bits.astype(np.float64), active.reshape(-1, n_columns), connected,
                               per_position)
    if pixel_of_bit is not None:
        credit = credit @ pixel_of_bit
    patches = credit.reshape(n, *grid, *patch)
    return B.transposed_patch_sum(patches, psp.image_shape_, shapes["stride"]).reshape(n, -1)


def _connected(spatial_pooler):
    """A fitted Spatial Pooler's connected synapses, CSR 0/1 (n_columns, n_inputs)."""
    return B.connected_synapses(spatial_pooler.permanences_, spatial_pooler.syn_perm_connected)


def _dense(X):
    if sp.issparse(X):
        return X.toarray().astype(np.float64)
    return np.asarray(X, dtype=np.float64)
