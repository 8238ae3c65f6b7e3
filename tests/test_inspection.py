"""skhtm.inspection: class pictures and pixel support of fitted pipelines (the backfeed)."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, StandardScaler
from sklearn.svm import LinearSVC

from skhtm import (
    PatchSpatialPooler,
    PooledFeatureUnion,
    SpatialPoolerTransformer,
    ThermometerEncoder,
)
from skhtm import _patches as K
from skhtm.inspection import class_pictures, pixel_support
from skhtm.recipes import image_classifier, sqrt_counts

N_TRAIN = 1000


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = X * (255.0 / 16.0)  # grey levels 0-255, as the recipe expects
    means = np.array([X[:N_TRAIN][y[:N_TRAIN] == c].mean(axis=0) for c in range(10)])
    return X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:], y[N_TRAIN:], means


@pytest.fixture(scope="module")
def recipe(digits):
    X, y = digits[:2]
    return image_classifier((8, 8), random_state=0).fit(X, y)


def sp_pipeline(scaler=None):
    steps = [ThermometerEncoder(n_thresholds=4),
             SpatialPoolerTransformer(column_shape=256, input_shape=(8, 8, 4),
                                      local_area_density=0.05, boost_strength=3.0,
                                      syn_perm_connected=0.5, syn_perm_active_inc=0.1,
                                      syn_perm_inactive_dec=0.1, batch_size=8, n_epochs=2,
                                      random_state=0)]
    return make_pipeline(*steps, *([scaler] if scaler is not None else []),
                         LogisticRegression(C=1.0, max_iter=500))


@pytest.fixture(scope="module")
def sp_pipe(digits):
    X, y = digits[:2]
    return sp_pipeline().fit(X, y)


def correlations(A, B):
    """Pearson correlation of every row of A with every row of B (flattened)."""
    A = A.reshape(len(A), -1) - A.reshape(len(A), -1).mean(axis=1, keepdims=True)
    B = B.reshape(len(B), -1) - B.reshape(len(B), -1).mean(axis=1, keepdims=True)
    A = A / np.linalg.norm(A, axis=1, keepdims=True)
    B = B / np.linalg.norm(B, axis=1, keepdims=True)
    return A @ B.T


# ------------------------------------------------------------------ class pictures

@pytest.mark.parametrize("which", ["recipe", "sp_pipe"])
def test_class_pictures_look_like_their_class(which, digits, request):
    pipe = request.getfixturevalue(which)
    means = digits[4]
    pictures = class_pictures(pipe)
    assert pictures.shape == (10, 8, 8)
    nearest = correlations(pictures, means).argmax(axis=1)
    # Measured (Pearson correlation with the training class means): 10 of 10 for both
    # pipelines; 8-10 over seeds 0-3 and 600-1200 training digits for the recipe, whose
    # pictures are discriminative (class mean minus what other classes share).
    assert (nearest == np.arange(10)).sum() >= 8


def test_class_pictures_subset_and_order(recipe):
    all_pictures = class_pictures(recipe)
    np.testing.assert_allclose(class_pictures(recipe, classes=[7, 3]), all_pictures[[7, 3]])


def linear_forward_patch(psp, images):
    """The pooled features of a PatchSpatialPooler with every threshold removed:
    each column's connected synapses summed over the pixel values (each pixel
    feeding its n_levels bits; with a contrast encoding its n_levels ON bits the
    value and its n_levels OFF bits minus the value), summed over the positions
    of each region."""
    ph, pw = psp._pair("patch_shape")
    patches = K.image_patches(images, (ph, pw), psp._pair("stride"))  # (n, gr, gc, ph * pw)
    if psp.encoding == "grey":
        bits = np.repeat(patches, psp.n_levels, axis=-1)            # pixel-major bits
    else:
        signs = np.repeat([1.0, -1.0], psp.n_levels)                # [ON.., OFF..] per pixel
        bits = (patches[..., None] * signs).reshape(*patches.shape[:-1], -1)
    return linear_pool(psp, bits)


def linear_pool(psp, bits):
    """Bits (n, gr, gc, n_bits) through the connected synapses, sum-pooled by region."""
    sp = psp.spatial_pooler_
    connected = (sp.permanences_.toarray() >= np.float32(sp.syn_perm_connected)).astype(float)
    per_position = bits @ connected.T                               # (n, gr, gc, n_columns)
    gr, gc = psp.patch_grid_
    pool_grid = psp._pair("pool_grid")
    rows = K.band_of_positions(gr, pool_grid[0])
    cols = K.band_of_positions(gc, pool_grid[1])
    out = np.zeros((len(bits), pool_grid[0] * pool_grid[1], connected.shape[0]))
    for y in range(gr):
        for x in range(gc):
            out[:, rows[y] * pool_grid[1] + cols[x]] += per_position[:, y, x]
    return out.reshape(len(bits), -1)


def linear_forward_map(psp, maps):
    """The same for a pooler over channel maps (n, h, w, c): each patch's map
    values, pixel major then channel, in place of its bits."""
    ph, pw = psp._pair("patch_shape")
    gr, gc = psp.patch_grid_
    bits = np.stack([np.stack([maps[:, y:y + ph, x:x + pw].reshape(len(maps), -1)
                               for x in range(gc)], axis=1) for y in range(gr)], axis=1)
    return linear_pool(psp, bits)


def test_class_pictures_are_the_transpose_of_the_linearised_pipeline(digits):
    # <picture_c, x> == <coef_c, L(x)> for any x, L the pipeline with its thresholds
    # removed: the pictures carry weights back by exactly the transpose of each step.
    # Non-square images, strides and pool regions, a union, scalers, a transformer weight.
    X, y = digits[:2]
    images = X.reshape(-1, 8, 8)[:400, :, :7].reshape(400, -1)
    psp = PatchSpatialPooler(SpatialPoolerTransformer(column_shape=32, local_area_density=0.1),
                             patch_shape=(3, 2), stride=(2, 1), n_levels=3, pool_grid=(2, 3),
                             image_shape=(8, 7), random_state=0)
    branch = make_pipeline(psp, FunctionTransformer(sqrt_counts), StandardScaler())
    union = FeatureUnion([("patches", branch), ("pixels", MinMaxScaler())],
                         transformer_weights={"pixels": 2.0})
    pipe = make_pipeline(union, LogisticRegression(C=0.1, max_iter=300)).fit(images, y[:400])
    pictures = class_pictures(pipe)
    assert pictures.shape == (10, 8, 7)

    x = np.random.RandomState(1).rand(3, 8, 7)
    psp, scaler = pipe[0].transformer_list[0][1][0], pipe[0].transformer_list[0][1][2]
    minmax = pipe[0].transformer_list[1][1]
    features = np.hstack([linear_forward_patch(psp, x) / scaler.scale_,
                          2.0 * x.reshape(3, -1) * minmax.scale_])
    expected = features @ pipe[-1].coef_.T                           # (3 images, 10 classes)
    got = x.reshape(3, -1) @ pictures.reshape(10, -1).T
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_class_pictures_of_plain_spatial_pooler_are_the_transpose(sp_pipe):
    enc, sp, clf = sp_pipe[0], sp_pipe[1], sp_pipe[-1]
    x = np.random.RandomState(2).rand(4, 64)
    connected = (sp.permanences_.toarray() >= np.float32(sp.syn_perm_connected)).astype(float)
    expected = (np.repeat(x, enc.n_thresholds, axis=1) @ connected.T) @ clf.coef_.T
    got = x @ class_pictures(sp_pipe).reshape(10, -1).T
    np.testing.assert_allclose(got, expected, rtol=1e-9)


@pytest.mark.parametrize("classifier", [LinearSVC(), SGDClassifier(random_state=0),
                                        LogisticRegression()])
def test_binary_classifier_gives_two_opposite_pictures(classifier, digits):
    X, y = digits[:2]
    keep = np.isin(y, [3, 8])
    pipe = make_pipeline(MinMaxScaler(), classifier).fit(X[keep], np.where(y[keep] == 3, "three",
                                                                           "eight"))
    pictures = class_pictures(pipe, image_shape=(8, 8))
    assert pictures.shape == (2, 8, 8)
    np.testing.assert_allclose(pictures[0], -pictures[1])
    # classes_ is sorted: "eight" first, scored by -coef_.
    np.testing.assert_allclose(pictures[1].ravel(), pipe[-1].coef_[0] * pipe[0].scale_)
    np.testing.assert_allclose(class_pictures(pipe, classes=["three"], image_shape=(8, 8))[0],
                               pictures[1])


def test_flat_pictures_without_an_image_step(digits):
    X, y = digits[:2]
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(X, y)
    flat = class_pictures(pipe)
    assert flat.shape == (10, 64)
    np.testing.assert_allclose(flat, pipe[-1].coef_ / pipe[0].scale_)
    assert class_pictures(pipe, image_shape=(4, 16)).shape == (10, 4, 16)
    assert pixel_support(pipe, X[:3]).shape == (3, 64)


def test_inspection_leaves_the_pipeline_unchanged(recipe, sp_pipe, digits):
    # The connected-synapse matrices must never share (and prune) a pooler's arrays.
    X_test = digits[2][:100]
    before = [recipe.decision_function(X_test), sp_pipe.decision_function(X_test)]
    for pipe in (recipe, sp_pipe):
        class_pictures(pipe)
        pixel_support(pipe, X_test[:5])
    after = [recipe.decision_function(X_test), sp_pipe.decision_function(X_test)]
    for b, a in zip(before, after):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ pixel support

def test_support_adds_up_to_the_class_score(sp_pipe, digits):
    # No scaler: every feature that is zero has zero evidence, so an image's supports
    # add up to its score for the class minus the intercept.
    X_test = digits[2][:40]
    support = pixel_support(sp_pipe, X_test)
    assert support.shape == (40, 8, 8)
    predicted = np.searchsorted(sp_pipe.classes_, sp_pipe.predict(X_test))
    score = sp_pipe.decision_function(X_test) - sp_pipe[-1].intercept_
    np.testing.assert_allclose(support.sum(axis=(1, 2)), score[np.arange(40), predicted],
                               atol=1e-9)
    # Credit only reaches pixels that are on (thermometer bits on: above the lowest
    # threshold).
    on = sp_pipe[0].transform(X_test).reshape(40, 64, -1).any(axis=2).reshape(40, 8, 8)
    assert np.all(support[~on] == 0) and np.any(support[on] != 0)


def test_support_through_patch_poolers_adds_up(recipe, digits):
    # The recipe scales its pooled counts: features that were zero (a column that won
    # nowhere in a region) carry evidence w * (0 - mean) / scale that no pixel caused.
    # The supports add up to the evidence of the others.
    # The recipe's poolers encode contrast: plain evidence (contrast_sign=False) is what
    # adds up; the default signs the credit of OFF bits.
    X_test, label = digits[2][:20], 4
    support = pixel_support(recipe, X_test, classes=label, contrast_sign=False)
    union, clf = recipe[0], recipe[-1]
    evidence = union.transform(X_test) * clf.coef_[label]
    present = np.hstack([branch.transform(X_test) > 0 for _, branch in
                         union.transformer_list])
    np.testing.assert_allclose(support.sum(axis=(1, 2)), (evidence * present).sum(axis=1),
                               rtol=1e-6)


@pytest.mark.parametrize("which", ["recipe", "sp_pipe"])
def test_support_looks_like_the_class(which, digits, request):
    pipe = request.getfixturevalue(which)
    X_test, y_test, means = digits[2][:300], digits[3][:300], digits[4]
    corr = correlations(pixel_support(pipe, X_test, classes=y_test), means)
    per_class = np.array([corr[y_test == c].mean(axis=0) for c in range(10)])
    # Measured: each class's images correlate best, on average, with their own class
    # mean for 10 of 10 classes (both pipelines; 9-10 with 600 training digits).
    assert (per_class.argmax(axis=1) == np.arange(10)).sum() >= 9
    own = corr[np.arange(300), y_test]
    others = (corr.sum(axis=1) - own) / 9
    assert own.mean() > others.mean() + 0.1      # measured 0.51 vs 0.27, 0.83 vs 0.51


def test_support_does_not_depend_on_batching(recipe, digits):
    X_test = digits[2][:40]                       # crosses the 16-image chunks
    whole = pixel_support(recipe, X_test)
    np.testing.assert_allclose(pixel_support(recipe, X_test[17:23]), whole[17:23])
    np.testing.assert_allclose(pixel_support(recipe, X_test.reshape(40, 8, 8))[:5], whole[:5])


def test_support_for_a_given_class(recipe, digits):
    X_test = digits[2][:6]
    predicted = recipe.predict(X_test)
    np.testing.assert_allclose(pixel_support(recipe, X_test, classes=predicted),
                               pixel_support(recipe, X_test))
    sevens = pixel_support(recipe, X_test, classes=7)
    np.testing.assert_allclose(sevens, pixel_support(recipe, X_test, classes=[7] * 6))
    assert not np.allclose(sevens, pixel_support(recipe, X_test, classes=1))


def test_bit_pixels_match_the_patch_encoding():
    # The map the backfeed relies on: an encoded patch's on bits all belong to the
    # one lit pixel.
    psp = PatchSpatialPooler(SpatialPoolerTransformer(column_shape=16), patch_shape=(2, 3),
                             n_levels=3, pool_grid=1, random_state=0).fit(
        np.random.RandomState(0).rand(5, 4, 4))
    shapes = psp._check_params()
    bit_pixels = psp._bit_pixels()
    assert bit_pixels.shape == (18, 2)
    for r in range(2):
        for c in range(3):
            image = np.zeros((1, 2, 3))
            image[0, r, c] = 1.0
            on = psp._encoded_patches(image, shapes).reshape(-1).astype(bool)
            assert on.sum() == 3
            np.testing.assert_array_equal(bit_pixels[on], [[r, c]] * 3)


def test_bit_pixels_match_the_contrast_encoding():
    # Contrast bits, 2 * n_levels per pixel: a patch at 0.5 with one pixel at 1 and one
    # at 0 has mean 0.5, so only those two pixels have contrast: the bright one's bits
    # must be ON bits of its pixel, the dark one's OFF bits of its pixel.
    psp = PatchSpatialPooler(SpatialPoolerTransformer(column_shape=16), patch_shape=(2, 3),
                             n_levels=3, encoding="contrast", pool_grid=1, random_state=0).fit(
        np.random.RandomState(0).rand(5, 4, 4))
    shapes = psp._check_params()
    bit_pixels = psp._bit_pixels()
    assert bit_pixels.shape == (36, 2)
    is_on_bit = np.tile(np.repeat([True, False], 3), 6)
    for bright, dark in [((0, 0), (1, 2)), ((1, 1), (0, 2)), ((0, 1), (1, 0))]:
        image = np.full((1, 2, 3), 0.5)
        image[(0,) + bright], image[(0,) + dark] = 1.0, 0.0
        on = psp._encoded_patches(image, shapes).reshape(-1).astype(bool)
        assert on.sum() == 6  # |z| = 0.5 / (0.29 + 0.1) > 1.0: every level of both
        np.testing.assert_array_equal(bit_pixels[on & is_on_bit], [bright] * 3)
        np.testing.assert_array_equal(bit_pixels[on & ~is_on_bit], [dark] * 3)
    # Whitening mixes pixels' z, not the layout of the bits.
    np.testing.assert_array_equal(psp.set_params(encoding="whitened")._bit_pixels(), bit_pixels)


# ------------------------------------------------------------------ errors

def test_errors(recipe, sp_pipe, digits):
    X, y = digits[:2]
    for func in (class_pictures, lambda p, **kw: pixel_support(p, X[:2], **kw)):
        with pytest.raises(NotFittedError):
            func(image_classifier((8, 8), random_state=0))
        with pytest.raises(ValueError, match="linear classifier.*KNeighborsClassifier"):
            func(make_pipeline(MinMaxScaler(), KNeighborsClassifier()).fit(X, y))
        with pytest.raises(TypeError, match=r"'pca' \(PCA\).*supported steps: .*StandardScaler"):
            func(make_pipeline(PCA(5), LogisticRegression(max_iter=200)).fit(X / 255, y))
        with pytest.raises(ValueError, match=r"classes \['11'\] are not among"):
            func(sp_pipe, classes=[3, 11])
    with pytest.raises(ValueError, match="class_pictures expects a fitted Pipeline"):
        class_pictures(StandardScaler().fit(X))
    with pytest.raises(ValueError, match="class_pictures: image_shape must be"):
        class_pictures(sp_pipe, image_shape=(8, 9))
    with pytest.raises(ValueError, match="pixel_support: classes must be one label or one"):
        pixel_support(sp_pipe, X[:3], classes=[1, 2])
    with pytest.raises(ValueError, match="pixel_support: X must hold images"):
        pixel_support(sp_pipe, X[0])


# ------------------------------------------------------------------ PooledFeatureUnion

def contrast_union(seed=0, **kwargs):
    return PooledFeatureUnion([
        (f"patch{s}", PatchSpatialPooler(
            SpatialPoolerTransformer(column_shape=64, local_area_density=0.1), patch_shape=3,
            n_levels=2, encoding="contrast", pool_grid=3, random_state=10 * seed + s))
        for s in range(2)], **kwargs)


@pytest.fixture(scope="module")
def contrast_pipe(digits):
    X, y = digits[:2]
    return make_pipeline(contrast_union(), LogisticRegression(max_iter=500)).fit(X, y)


def test_pooled_union_pictures_are_the_transpose(digits):
    # <picture_c, x> == <coef_c, L(x)>, L the union with thresholds removed: each
    # block's linear patch features (square root as the identity) divided by scale_,
    # times the branch's weight. A grey and a contrast branch, one weighted.
    X, y = digits[:2]
    grey = PatchSpatialPooler(SpatialPoolerTransformer(column_shape=32, local_area_density=0.1),
                              patch_shape=(3, 2), stride=(1, 2), n_levels=3, pool_grid=(2, 3),
                              random_state=0)
    contrast = PatchSpatialPooler(SpatialPoolerTransformer(column_shape=32),
                                  patch_shape=3, n_levels=2, encoding="contrast", pool_grid=2,
                                  random_state=1)
    union = PooledFeatureUnion([("grey", grey), ("gone", "drop"), ("contrast", contrast)],
                               transformer_weights={"contrast": 0.5})
    pipe = make_pipeline(union, LogisticRegression(C=0.1, max_iter=300)).fit(X[:400], y[:400])
    pictures = class_pictures(pipe)
    assert pictures.shape == (10, 8, 8)
    fitted = pipe[0]
    x = np.random.RandomState(1).rand(3, 8, 8)
    features = np.hstack([linear_forward_patch(fitted.named_transformers["grey"], x),
                          0.5 * linear_forward_patch(fitted.named_transformers["contrast"], x)])
    expected = (features / fitted.scale_) @ pipe[-1].coef_.T
    got = x.reshape(3, -1) @ pictures.reshape(10, -1).T
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_pooled_union_support_adds_up(contrast_pipe, digits):
    # As through the recipe's FeatureUnion: the supports add up to the evidence of the
    # features that were non-zero before scaling; for a contrast encoding with its OFF
    # bits counted as evidence (contrast_sign=False).
    X_test, label = digits[2][:20], 4
    support = pixel_support(contrast_pipe, X_test, classes=label, contrast_sign=False)
    union, clf = contrast_pipe[0], contrast_pipe[-1]
    evidence = union.transform(X_test) * clf.coef_[label]
    present = np.hstack([branch.transform(X_test) > 0 for _, branch in union.transformer_list])
    np.testing.assert_allclose(support.sum(axis=(1, 2)), (evidence * present).sum(axis=1),
                               rtol=1e-5)


def test_pooled_union_must_be_fitted(digits):
    pipe = make_pipeline(contrast_union(), LogisticRegression())
    pipe[-1].fit(np.eye(10), np.arange(10))             # only the classifier is fitted
    with pytest.raises(NotFittedError, match="PooledFeatureUnion"):
        class_pictures(pipe)


# ------------------------------------------------------------------ contrast encodings

def test_bit_signs_match_the_contrast_encoding():
    # The bright pixel's bits count +1, the dark pixel's -1; grey bits all +1.
    psp = PatchSpatialPooler(SpatialPoolerTransformer(column_shape=16), patch_shape=(2, 3),
                             n_levels=3, encoding="contrast", pool_grid=1, random_state=0).fit(
        np.random.RandomState(0).rand(5, 4, 4))
    shapes = psp._check_params()
    signs, bit_pixels = psp._bit_signs(), psp._bit_pixels()
    assert signs.shape == (36,)
    image = np.full((1, 2, 3), 0.5)
    image[0, 0, 1], image[0, 1, 2] = 1.0, 0.0
    on = psp._encoded_patches(image, shapes).reshape(-1).astype(bool)
    np.testing.assert_array_equal(bit_pixels[on & (signs > 0)], [[0, 1]] * 3)
    np.testing.assert_array_equal(bit_pixels[on & (signs < 0)], [[1, 2]] * 3)
    np.testing.assert_array_equal(psp.set_params(encoding="whitened")._bit_signs(), signs)
    np.testing.assert_array_equal(psp.set_params(encoding="grey")._bit_signs(), np.ones(18))


def test_contrast_class_pictures_look_like_their_class(contrast_pipe, digits):
    means = digits[4]
    nearest = correlations(class_pictures(contrast_pipe), means).argmax(axis=1)
    # Measured: 10 of 10 for seeds 0-2 (94.7% accuracy); 3, 6 and 3 of 10 when OFF bits
    # counted positively (a dark surround read as stroke).
    assert (nearest == np.arange(10)).sum() >= 8


def test_contrast_support_signs(contrast_pipe, digits):
    X_test, y_test, means = digits[2][:300], digits[3][:300], digits[4]
    signed = pixel_support(contrast_pipe, X_test, classes=y_test)
    evidence = pixel_support(contrast_pipe, X_test, classes=y_test, contrast_sign=False)
    # A pixel at its image's peak is never darker than its patch (only ON bits), one at
    # 0 never brighter (only OFF bits): the two readings agree on the first and are
    # opposite on the second.
    images = X_test.reshape(-1, 8, 8)
    peak = images == images.max(axis=(1, 2), keepdims=True)
    dark = images == 0
    np.testing.assert_allclose(signed[peak], evidence[peak], atol=1e-12)
    np.testing.assert_allclose(signed[dark], -evidence[dark], atol=1e-12)
    assert np.abs(evidence[dark]).sum() > 0.1 * np.abs(evidence).sum()
    corr = correlations(signed, means)
    per_class = np.array([corr[y_test == c].mean(axis=0) for c in range(10)])
    # Measured: 10 of 10 classes' images correlate best with their own class mean
    # (seeds 0-2); as evidence (contrast_sign=False) 2 of 10: the dark surround of a
    # stroke gets as much credit as the stroke.
    assert (per_class.argmax(axis=1) == np.arange(10)).sum() >= 8


def test_contrast_sign_does_not_touch_grey_encodings(digits):
    X, y, X_test = digits[0], digits[1], digits[2][:10]
    grey = make_pipeline(
        PatchSpatialPooler(SpatialPoolerTransformer(column_shape=64, local_area_density=0.1),
                           patch_shape=3, n_levels=2, pool_grid=3, random_state=0),
        StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    np.testing.assert_array_equal(pixel_support(grey, X_test),
                                  pixel_support(grey, X_test, contrast_sign=False))
    with pytest.raises(ValueError, match="pixel_support: contrast_sign must be True or False"):
        pixel_support(grey, X_test, contrast_sign="yes")


# ------------------------------------------------------------------ two layers

@pytest.fixture(scope="module")
def two_layers(digits):
    X, y = digits[:2]
    layer1 = PatchSpatialPooler(SpatialPoolerTransformer(column_shape=64, local_area_density=0.1),
                                patch_shape=3, pool_grid=4, pooling="max", random_state=0)
    layer2 = PatchSpatialPooler(SpatialPoolerTransformer(column_shape=32, local_area_density=0.1),
                                image_shape=(4, 4, 64), patch_shape=2, pool_grid=2,
                                random_state=1)
    return make_pipeline(layer1, layer2, LogisticRegression(max_iter=500)).fit(X[:500], y[:500])


def test_two_layer_pictures_are_the_transpose(two_layers):
    # The second layer carries weights onto the first layer's map (a bit per pixel and
    # channel taken as the map value itself), the first onto the pixels.
    layer1, layer2, clf = two_layers[0], two_layers[1], two_layers[-1]
    pictures = class_pictures(two_layers)
    assert pictures.shape == (10, 8, 8)
    x = np.random.RandomState(3).rand(3, 8, 8)
    maps = linear_forward_patch(layer1, x).reshape(3, 4, 4, 64)
    expected = linear_forward_map(layer2, maps) @ clf.coef_.T
    np.testing.assert_allclose(x.reshape(3, -1) @ pictures.reshape(10, -1).T, expected,
                               rtol=1e-9)


def test_two_layer_support_adds_up(two_layers, digits):
    # Evidence reaches the pixels through both layers' winners and is conserved.
    X_test = digits[2][:20]
    support = pixel_support(two_layers, X_test)
    assert support.shape == (20, 8, 8)
    predicted = np.searchsorted(two_layers.classes_, two_layers.predict(X_test))
    score = two_layers.decision_function(X_test) - two_layers[-1].intercept_
    np.testing.assert_allclose(support.sum(axis=(1, 2)), score[np.arange(20), predicted],
                               rtol=1e-5, atol=1e-5)


def test_a_channel_map_input_is_not_an_image(two_layers, digits):
    # A pipeline that starts at the map: flat pictures, (h, w) refused.
    maps = two_layers[0].transform(digits[0][:300])
    pipe = make_pipeline(clone(two_layers[1]), LogisticRegression(max_iter=300)).fit(
        maps, digits[1][:300])
    assert class_pictures(pipe).shape == (10, 4 * 4 * 64)
    assert pixel_support(pipe, maps[:3]).shape == (3, 4 * 4 * 64)
    with pytest.raises(ValueError, match="class_pictures: image_shape must be"):
        class_pictures(pipe, image_shape=(4, 4))
