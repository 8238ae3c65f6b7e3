"""HOG + SVM baselines: scikit-image's histogram of oriented gradients into an SVM.

scikit-image is optional (the ``bench`` extra installs it): building the
pipelines needs nothing, computing the features imports it.
"""

import importlib.util

import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import SVC, LinearSVC

# Cells of about a seventh of the image side, blocks of 2 x 2 cells: the
# settings of the fashion-mnist README's contributed HOG + SVM benchmark for
# 28x28 (92.6%), scaled to the other image sizes.
HOG_SETTINGS = {
    8: dict(orientations=9, pixels_per_cell=(2, 2), cells_per_block=(2, 2)),
    28: dict(orientations=9, pixels_per_cell=(4, 4), cells_per_block=(2, 2)),
    60: dict(orientations=9, pixels_per_cell=(6, 6), cells_per_block=(2, 2)),
}

SKIMAGE_MISSING = ("scikit-image is not installed (pip install -e '.[bench]'): "
                   "the HOG + SVM rows are skipped")


def have_skimage():
    return importlib.util.find_spec("skimage") is not None


def hog_features(X, image_shape, orientations=9, pixels_per_cell=(4, 4),
                 cells_per_block=(2, 2)):
    """HOG descriptor of each image, one row per image.

    Parameters
    ----------
    X : array-like of shape (n_samples, h * w)
        Grey-level images, flattened row by row.
    image_shape : tuple of int
        ``(h, w)``.
    orientations, pixels_per_cell, cells_per_block
        Passed to :func:`skimage.feature.hog` (L2-Hys block normalisation).

    Returns
    -------
    features : ndarray of shape (n_samples, n_features), float32

    Examples
    --------
    >>> import numpy as np
    >>> from _hog import hog_features
    >>> hog_features(np.zeros((3, 64)), (8, 8), pixels_per_cell=(2, 2)).shape
    (3, 324)
    """
    X = np.asarray(X, dtype=np.float64)
    h, w = image_shape
    if X.ndim != 2 or X.shape[1] != h * w:
        raise ValueError(f"hog_features: X must be (n_samples, {h * w}) for images of shape "
                         f"{(h, w)}; got shape {X.shape}.")
    from skimage.feature import hog  # optional dependency: imported when used
    kw = dict(orientations=orientations, pixels_per_cell=pixels_per_cell,
              cells_per_block=cells_per_block, block_norm="L2-Hys")
    n_features = hog(np.zeros((h, w)), **kw).size
    out = np.empty((len(X), n_features), dtype=np.float32)
    # One call per image: hog takes one image; its cost (~0.6 ms for 28x28)
    # is small beside the SVM's.
    for i, image in enumerate(X.reshape(-1, h, w)):
        out[i] = hog(image, **kw)
    return out


def hog_transformer(side):
    """A picklable FunctionTransformer computing the HOG of ``side x side`` images."""
    if side not in HOG_SETTINGS:
        raise ValueError(f"hog_transformer: no HOG settings for {side}x{side} images; "
                         f"known sides {sorted(HOG_SETTINGS)}.")
    return FunctionTransformer(hog_features,
                               kw_args=dict(image_shape=(side, side), **HOG_SETTINGS[side]))


def hog_svm_pipelines(side):
    """name -> (estimator, param grid): HOG into LinearSVC and into SVC (rbf).

    The HOG blocks are L2-normalised already, so no scaler; C is searched.
    """
    return {
        "HOG + LinearSVC": (make_pipeline(hog_transformer(side), LinearSVC(max_iter=5000)),
                            {"linearsvc__C": [0.1, 1.0, 10.0]}),
        "HOG + SVC rbf": (make_pipeline(hog_transformer(side), SVC()),
                          {"svc__C": [1.0, 10.0]}),
    }
