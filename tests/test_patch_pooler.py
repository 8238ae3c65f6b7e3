"""PatchSpatialPooler: patch kernels, learned features, pooling, persistence, bad input."""

import copy

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skhtm import PatchSpatialPooler, SpatialPoolerTransformer, ThermometerEncoder
from skhtm import _patches as K


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.5, random_state=0, stratify=y)


def small(**kw):
    params = dict(patch_shape=3, pool_grid=3, random_state=0)
    params.update(kw)
    return PatchSpatialPooler(SpatialPoolerTransformer(column_shape=64, local_area_density=0.1),
                              **params)


# ------------------------------------------------------------------ kernels

def test_image_patches_match_loops():
    images = np.random.RandomState(0).rand(2, 7, 9)
    patches = K.image_patches(images, (3, 2), (2, 3))
    assert patches.shape == (2, 3, 3, 6) and K.patch_grid((7, 9), (3, 2), (2, 3)) == (3, 3)
    for i in range(3):
        for j in range(3):
            np.testing.assert_array_equal(patches[:, i, j],
                                          images[:, 2 * i:2 * i + 3, 3 * j:3 * j + 2]
                                          .reshape(2, -1))


@pytest.mark.parametrize("pooling", ["sum", "max"])
def test_pool_regions_match_loops(pooling):
    activity = (np.random.RandomState(1).rand(3, 7, 5, 4) < 0.3).astype(np.uint8)
    pooled = K.pool_regions(activity, (3, 2), pooling)
    rows, cols = K.region_edges(7, 3), K.region_edges(5, 2)
    assert list(rows) == [0, 2, 5, 7] and list(cols) == [0, 2, 5]  # near-equal, covering
    for r in range(3):
        for c in range(2):
            block = activity[:, rows[r]:rows[r + 1], cols[c]:cols[c + 1]]
            expected = block.sum(axis=(1, 2)) if pooling == "sum" else block.max(axis=(1, 2))
            np.testing.assert_array_equal(pooled[:, r * 2 + c], expected)


# ------------------------------------------------------------------ behaviour

def test_shapes_names_and_batching(digits):
    X = digits[0]
    psp = small().fit(X[:300])
    F = psp.transform(X[:300])
    assert F.shape == (300, 9 * 64) and F.dtype == np.float32
    assert psp.patch_grid_ == (6, 6) and psp.image_shape_ == (8, 8)
    assert psp.get_feature_names_out()[0] == "patchspatialpooler0"
    # Each of the 36 patches activates at most 6 of 64 columns (fewer when
    # blank: no overlap, no activity); a region of 4 patches counts <= 4.
    totals = F.sum(axis=1)
    assert F.max() <= 4 and totals.max() <= 36 * 6 and totals.mean() > 0.8 * 36 * 6
    # Rows do not depend on the batch they come in, nor on the input layout.
    np.testing.assert_array_equal(psp.transform(X[130:170]), F[130:170])
    np.testing.assert_array_equal(psp.transform(X[:300].reshape(-1, 8, 8)), F)


def test_pooled_patches_beat_whole_image_pooler_and_raw_pixels(digits):
    """Local features pooled over neighbourhoods classify better than the same
    number of columns looking at the whole image, and than raw pixels."""
    Xa, Xb, ya, yb = digits
    patch = make_pipeline(small(), StandardScaler(),
                          LogisticRegression(C=0.1, max_iter=3000)).fit(Xa, ya)
    whole = make_pipeline(ThermometerEncoder(n_thresholds=2),
                          SpatialPoolerTransformer(column_shape=9 * 64, local_area_density=0.1,
                                                   random_state=0),
                          LogisticRegression(max_iter=3000)).fit(Xa, ya)
    raw = LogisticRegression(max_iter=3000).fit(Xa, ya)
    a_patch, a_whole, a_raw = patch.score(Xb, yb), whole.score(Xb, yb), raw.score(Xb, yb)
    assert a_patch >= 0.955, a_patch  # measured 0.967
    assert a_patch > a_whole + 0.05, (a_patch, a_whole)
    assert a_patch > a_raw, (a_patch, a_raw)


def test_pooling_buys_shift_tolerance(digits):
    """A one-pixel shift changes pooled features less than unpooled ones."""
    X = digits[0][:200].reshape(-1, 8, 8)
    shifted = np.zeros_like(X)
    shifted[:, :, 1:] = X[:, :, :-1]

    def similarity(psp):
        A, B = psp.transform(X), psp.transform(shifted)
        return np.mean(np.sum(A * B, 1) / np.sqrt(np.sum(A * A, 1) * np.sum(B * B, 1)))

    pooled = similarity(small(pool_grid=2).fit(X))
    unpooled = similarity(small(pool_grid=6).fit(X))  # one region per patch position
    assert pooled > unpooled + 0.1, (pooled, unpooled)


def test_seed_and_nested_pooler(digits):
    X = digits[0][:200]
    a = small(random_state=3).fit(X).transform(X)
    np.testing.assert_array_equal(a, small(random_state=3).fit(X).transform(X))
    assert not np.array_equal(a, small(random_state=4).fit(X).transform(X))
    # The given pooler is cloned, not fitted in place.
    psp = small().fit(X)
    assert not hasattr(psp.spatial_pooler, "n_columns_")
    assert psp.spatial_pooler_.n_features_in_ == 3 * 3 * 2
    # None: the documented default pooler.
    default = PatchSpatialPooler(patch_shape=3, pool_grid=2, random_state=0).fit(X)
    assert default.spatial_pooler_.n_columns_ == 256


def test_max_fit_patches_subsamples_for_learning(digits):
    X = digits[0][:100]
    learning = SpatialPoolerTransformer(column_shape=32, local_area_density=0.1)
    few = PatchSpatialPooler(learning, patch_shape=3, max_fit_patches=50, random_state=0).fit(X)
    many = PatchSpatialPooler(learning, patch_shape=3, random_state=0).fit(X)
    assert few.spatial_pooler_.n_features_in_ == many.spatial_pooler_.n_features_in_
    assert not np.array_equal(few.spatial_pooler_.permanences_.toarray()
                              if hasattr(few.spatial_pooler_.permanences_, "toarray")
                              else few.spatial_pooler_.permanences_,
                              many.spatial_pooler_.permanences_.toarray()
                              if hasattr(many.spatial_pooler_.permanences_, "toarray")
                              else many.spatial_pooler_.permanences_)


def test_partial_fit_and_persistence(tmp_path, digits):
    X = digits[0]
    psp = small().partial_fit(X[:100]).partial_fit(X[100:200])
    path = tmp_path / "psp.joblib"
    joblib.dump(psp, path)
    np.testing.assert_array_equal(joblib.load(path).transform(X[:50]), psp.transform(X[:50]))
    before = joblib.load(path)
    with pytest.raises(ValueError, match="PatchSpatialPooler is expecting 64 features"):
        psp.partial_fit(X[:10, :60])
    with pytest.raises(ValueError, match="PatchSpatialPooler: Negative values"):
        psp.partial_fit(-X[:10])
    np.testing.assert_array_equal(psp.transform(X[:50]), before.transform(X[:50]))


def test_bad_input(digits):
    X = digits[0][:20]
    cases = [
        (small(patch_shape=9), X, r"the patch \(9, 9\) is larger than the images \(8, 8\)"),
        (small(pool_grid=7), X, r"pool_grid=7 has more regions than the \(6, 6\) patch"),
        (small(), -X, "Negative values in data"),
        (small(), np.where(X > 8, np.nan, X), "NaN"),
        (small(), X[:, :60], "60 features per sample, which is not a square image"),
        (small(image_shape=(4, 4)), X, r"64 features per sample, but image_shape=\(4, 4\)"),
        (small(value_range=(1, 0)), X, "value_range must be"),
        (small(), X[0], "Reshape your data"),
    ]
    for est, data, message in cases:
        with pytest.raises(ValueError, match=message) as excinfo:
            est.fit(data)
        assert "PatchSpatialPooler" in str(excinfo.value)
    fitted = small().fit(X)
    with pytest.raises(ValueError, match="PatchSpatialPooler is expecting 64 features"):
        fitted.transform(np.zeros((2, 10, 10)))
    with pytest.raises(ValueError, match=r"PatchSpatialPooler: X has images of shape \(4, 16\), "
                                         r"but the pooler was fit on \(8, 8\)"):
        fitted.transform(np.zeros((2, 4, 16)))


def test_image_patches_which_selects_the_same_patches():
    images = np.random.RandomState(0).rand(3, 9, 7)
    every = K.image_patches(images, (3, 2), (2, 1))
    which = np.array([0, 5, 17, every[..., 0].size - 1])
    chosen = K.image_patches(images, (3, 2), (2, 1), which)
    np.testing.assert_array_equal(chosen, every.reshape(-1, every.shape[-1])[which])


@pytest.mark.parametrize("params, message", [
    (dict(stride=(0, 1)), r"stride must be at least 1 along each axis; got \(0, 1\)"),
    (dict(stride=()), r"stride must be an int or a pair of ints \(rows, cols\); got \(\)"),
    (dict(stride=(1, 1, 1)), r"stride must be an int or a pair of ints .*\(1, 1, 1\)"),
    (dict(pool_grid=(0, 2)), r"pool_grid must be at least 1 along each axis"),
    (dict(pool_grid=(-1, 2)), r"pool_grid must be at least 1 along each axis"),
    (dict(patch_shape=(0, 3)), r"patch_shape must be at least 1 along each axis"),
    (dict(patch_shape=(2.5, 3)), r"patch_shape must be an int or a pair of ints .*\(2.5, 3\)"),
    (dict(patch_shape=(3,)), r"patch_shape must be an int or a pair of ints"),
    (dict(image_shape=(8.0, 8)), r"image_shape must be an int or a pair of ints"),
    (dict(image_shape=(4, 16)), r"image_shape=\(4, 16\) does not match the images of X, "
                                r"\(8, 8\)"),
    (dict(value_range=(0, np.inf)), r"value_range must be \(low, high\), finite"),
    (dict(value_range=(np.nan, 1)), r"value_range must be \(low, high\), finite"),
    (dict(value_range=(-np.inf, 1)), r"value_range must be \(low, high\), finite"),
    (dict(value_range=(0, 1, 2)), r"value_range must be \(low, high\), finite"),
])
def test_bad_parameters_name_the_estimator_and_parameter(digits, params, message):
    images = digits[0][:10].reshape(-1, 8, 8)
    with pytest.raises(ValueError, match="PatchSpatialPooler: " + message):
        small(**params).fit(images)
    # The same parameter set after fit is refused at transform, not misread.
    fitted = small().fit(images)
    with pytest.raises(ValueError, match="PatchSpatialPooler: " + message):
        fitted.set_params(**params).transform(images)


def test_image_shape_must_match_the_images():
    """10x10 images with image_shape=(5, 20) were silently read as 5x20."""
    images = np.random.RandomState(0).rand(4, 10, 10)
    with pytest.raises(ValueError, match=r"PatchSpatialPooler: image_shape=\(5, 20\) does not "
                                         r"match the images of X, \(10, 10\)"):
        small(image_shape=(5, 20)).fit(images)
    # Flattened images are what image_shape is for.
    psp = small(image_shape=(5, 20), pool_grid=2).fit(images.reshape(4, 100))
    assert psp.image_shape_ == (5, 20) and psp.patch_grid_ == (3, 18)


def test_changed_patch_bits_after_fit_are_refused(digits):
    images = digits[0][:10]
    fitted = small().fit(images)
    for params in (dict(patch_shape=4), dict(n_levels=3)):
        with pytest.raises(ValueError, match="PatchSpatialPooler: patch_shape=.* and n_levels=.* "
                                             "give .* bits per patch, but the Spatial Pooler "
                                             "was fit on 18"):
            clone_with(fitted, **params).transform(images)
        changed = clone_with(fitted, **params)
        with pytest.raises(ValueError, match="PatchSpatialPooler: patch_shape=.* and n_levels="):
            changed.partial_fit(images)
        np.testing.assert_array_equal(changed.spatial_pooler_.permanences_.toarray(),
                                      fitted.spatial_pooler_.permanences_.toarray())
    # stride and pool_grid change only which patches are pooled where.
    assert clone_with(fitted, stride=2, pool_grid=2).transform(images).shape == (10, 4 * 64)


def clone_with(fitted, **params):
    """A fitted copy with parameters changed after fit."""
    return copy.deepcopy(fitted).set_params(**params)


def test_concurrent_transforms_agree(digits):
    """Threads calling transform on one fitted pooler at once (a web server, a
    threaded grid search) get what one thread gets."""
    from concurrent.futures import ThreadPoolExecutor

    X = digits[0][:200]
    psp = small(n_jobs=2).fit(X)
    expected = psp.transform(X)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda part: psp.transform(X[part::4]), range(4)))
    for part, result in enumerate(results):
        np.testing.assert_array_equal(result, expected[part::4])


def test_transform_memory_is_bounded_by_the_output():
    """No intermediate grows with the batch: patches are never materialised."""
    import tracemalloc

    rng = np.random.RandomState(0)
    X = (rng.rand(600, 28, 28) * 255).astype(np.float64)
    psp = PatchSpatialPooler(SpatialPoolerTransformer(column_shape=64, local_area_density=0.1),
                             patch_shape=3, n_levels=4, pool_grid=2, random_state=0).fit(X[:20])
    psp.transform(X[:2])  # compile first
    tracemalloc.start()
    out = psp.transform(X)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # Today's validated copy of X plus the output; the patches of one 64-image
    # chunk alone would be 64 * 676 * 9 * 8 bytes = 3.1 MB.
    assert peak < X.nbytes + out.nbytes + 1_000_000, (peak, X.nbytes, out.nbytes)


class EveryColumnPooler(SpatialPoolerTransformer):
    """A Spatial Pooler whose transform activates every column."""

    def transform(self, X):
        return np.ones((X.shape[0], self.n_columns_), dtype=np.uint8)


def test_other_spatial_poolers_go_through_their_transform(digits):
    """The fused pass computes SpatialPoolerTransformer's own transform; any other
    pooler (here a subclass that changes it) is called on the patches."""
    X = digits[0][:70]
    psp = PatchSpatialPooler(EveryColumnPooler(column_shape=16), patch_shape=3, pool_grid=(2, 3),
                             random_state=0).fit(X)
    F = psp.transform(X).reshape(70, 2, 3, 16)
    # 6 x 6 patch positions in 2 x 3 regions of 3 x 2 patches, every column active.
    assert np.all(F == 6)


def test_training_patches_are_a_uniform_sample():
    """Small and huge populations (the latter drawn without permuting them all)."""
    from skhtm.patch_pooler import _draw_patches

    for n_patches, n_draw in ((1000, 300), (10**8, 2000)):
        draws = [_draw_patches(np.random.RandomState(seed), n_patches, n_draw)
                 for seed in range(40)]
        for which in draws:
            assert which.size == n_draw and np.all(np.diff(which) > 0)
            assert 0 <= which[0] and which[-1] < n_patches
        fractions = np.concatenate(draws) / n_patches
        deciles = np.histogram(fractions, bins=10, range=(0, 1))[0] / fractions.size
        assert np.all(np.abs(deciles - 0.1) < 0.012), deciles
        np.testing.assert_array_equal(draws[3], _draw_patches(np.random.RandomState(3),
                                                               n_patches, n_draw))


# ------------------------------------------------------------------ contrast encodings

@pytest.mark.parametrize("encoding", ["contrast", "whitened"])
def test_contrast_encodings_classify_digits(digits, encoding):
    Xa, Xb, ya, yb = digits
    pipe = make_pipeline(small(encoding=encoding), StandardScaler(),
                         LogisticRegression(C=0.1, max_iter=3000)).fit(Xa, ya)
    score = pipe.score(Xb, yb)
    assert score >= 0.955, score  # measured 0.972 (contrast), 0.969 (whitened); grey 0.967
    assert pipe[0].spatial_pooler_.n_features_in_ == 3 * 3 * 2 * 2  # ON and OFF per level


def test_contrast_ignores_brightness_and_uniform_patches():
    """An offset in brightness changes every grey level but no patch's contrast; a
    uniform image has no contrast anywhere, so no column wins."""
    rng = np.random.RandomState(0)
    images = rng.rand(20, 8, 8) * 0.5
    brighter = images + 0.4
    kw = dict(value_range=(0.0, 1.0), patch_shape=3, pool_grid=2)
    grey = small(**kw).fit(images)
    contrast = small(encoding="contrast", **kw).fit(images)
    whitened = small(encoding="whitened", **kw).fit(images)

    def changed(psp):
        return np.abs(psp.transform(images) - psp.transform(brighter)).sum() / \
            psp.transform(images).sum()

    # A difference in the last bit of v - mean may flip a bit at a threshold: nearly 0.
    assert changed(contrast) < 0.01 and changed(whitened) < 0.01
    assert changed(grey) > 0.5, changed(grey)
    flat = np.full((2, 8, 8), 0.7)
    assert contrast.transform(flat).sum() == 0 and whitened.transform(flat).sum() == 0
    assert grey.transform(flat).sum() > 0


@pytest.mark.parametrize("encoding", ["grey", "contrast", "whitened"])
def test_encodings_do_not_depend_on_threads_or_batches(digits, encoding):
    X = digits[0][:150]  # three chunks of 64 images
    psp = small(encoding=encoding).fit(X)
    one = psp.transform(X)
    np.testing.assert_array_equal(psp.set_params(n_jobs=2).transform(X), one)
    np.testing.assert_array_equal(psp.transform(X[60:70]), one[60:70])
    np.testing.assert_array_equal(small(encoding=encoding, n_jobs=2).fit(X).transform(X), one)


def test_encodings_give_different_features(digits):
    X = digits[0][:100]
    grey, contrast, whitened = (small(encoding=e).fit(X).transform(X)
                                for e in ("grey", "contrast", "whitened"))
    assert not np.array_equal(grey, contrast) and not np.array_equal(contrast, whitened)
    # Thresholds are only read by the contrast encodings.
    np.testing.assert_array_equal(small(contrast_thresholds=[5.0, 1.0]).fit(X).transform(X), grey)
    assert not np.array_equal(small(encoding="contrast", contrast_thresholds=[0.5, 1.5])
                              .fit(X).transform(X), contrast)


def test_whitened_persistence_and_partial_fit(tmp_path, digits):
    X = digits[0]
    psp = small(encoding="whitened").partial_fit(X[:100])
    # The first partial_fit fits the whitening as fit does on the same batch.
    np.testing.assert_array_equal(psp.whitening_, small(encoding="whitened").fit(X[:100])
                                  .whitening_)
    whitening = psp.whitening_.copy()
    permanences = psp.spatial_pooler_.permanences_.toarray()
    psp.partial_fit(X[100:200])
    np.testing.assert_array_equal(psp.whitening_, whitening)  # kept
    assert not np.array_equal(psp.spatial_pooler_.permanences_.toarray(), permanences)
    path = tmp_path / "psp.joblib"
    joblib.dump(psp, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.whitening_, whitening)
    np.testing.assert_array_equal(loaded.transform(X[:50]), psp.transform(X[:50]))
    # fit starts over: a new whitening from the new patches.
    refit = copy.deepcopy(psp).fit(X[300:400])
    assert not np.array_equal(refit.whitening_, whitening)
    assert not hasattr(small(encoding="contrast").fit(X[:100]), "whitening_")


def test_whitened_needs_its_fitted_whitening(digits):
    X = digits[0][:30]
    contrast = small(encoding="contrast").fit(X)
    before = contrast.spatial_pooler_.permanences_.toarray()
    switched = clone_with(contrast, encoding="whitened")
    for call in (switched.transform, switched.partial_fit):
        with pytest.raises(ValueError, match="PatchSpatialPooler: encoding='whitened' needs the "
                                             "whitening fitted with it"):
            call(X)
    np.testing.assert_array_equal(switched.spatial_pooler_.permanences_.toarray(), before)
    # Grey and contrast bits differ in number: refused as a changed patch.
    with pytest.raises(ValueError, match="encoding='grey' gives 2 bits per pixel"):
        clone_with(contrast, encoding="grey").transform(X)


@pytest.mark.parametrize("params, message", [
    (dict(contrast_thresholds=[0.5]), r"contrast_thresholds must hold n_levels=2 values, one "
                                      r"per level; got \[0.5\]"),
    (dict(contrast_thresholds=[[0.2, 0.5]]), r"contrast_thresholds must hold n_levels=2"),
    (dict(contrast_thresholds=["a", "b"]), r"contrast_thresholds must hold n_levels=2"),
    (dict(contrast_thresholds=[0.5, 0.5]), r"contrast_thresholds must be increasing; "
                                           r"got \[0.5, 0.5\]"),
    (dict(contrast_thresholds=[0.9, 0.5]), r"contrast_thresholds must be increasing"),
    (dict(contrast_thresholds=[0.0, 0.5]), r"contrast_thresholds must be positive and finite"),
    (dict(contrast_thresholds=[-1.0, 0.5]), r"contrast_thresholds must be positive"),
    (dict(contrast_thresholds=[0.5, np.inf]), r"contrast_thresholds must be positive and "
                                              r"finite"),
    (dict(n_levels=3, contrast_thresholds=(0.2, 1.0)), r"contrast_thresholds must hold n_levels=3"),
    (dict(patch_shape=1), r"encoding='contrast' measures a pixel's contrast within its patch, "
                          r"which needs at least 2 pixels; got patch_shape=1"),
])
def test_bad_contrast_parameters_name_the_estimator(digits, params, message):
    images = digits[0][:10].reshape(-1, 8, 8)
    with pytest.raises(ValueError, match="PatchSpatialPooler: " + message):
        small(encoding="contrast", **params).fit(images)
    fitted = small(encoding="contrast").fit(images)
    with pytest.raises(ValueError, match="PatchSpatialPooler: " + message):
        fitted.set_params(**params).transform(images)


def test_bad_encoding_is_refused(digits):
    images = digits[0][:10]
    with pytest.raises(ValueError, match=r"'encoding' parameter of PatchSpatialPooler must be a "
                                         r"str among .*'contrast'"):
        small(encoding="gray").fit(images)
    fitted = small().fit(images)
    with pytest.raises(ValueError, match=r"PatchSpatialPooler: encoding must be one of "
                                         r"\('grey', 'contrast', 'whitened'\); got 'gray'"):
        fitted.set_params(encoding="gray").transform(images)
