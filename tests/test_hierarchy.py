"""Two PatchSpatialPooler layers: multi-channel input, the second layer over the
first layer's column map, its errors, persistence and n_jobs invariance."""

import copy
import pickle

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skhtm import PatchSpatialPooler, SpatialPoolerTransformer


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.5, random_state=0, stratify=y)


def layer1(**kw):
    """3x3 patches of 8x8 digits: a 6x6 grid, unpooled -> a (6, 6, 32) map."""
    params = dict(patch_shape=3, pool_grid=6, pooling="max", random_state=0)
    params.update(kw)
    return PatchSpatialPooler(SpatialPoolerTransformer(column_shape=32, local_area_density=0.1),
                              **params)


def layer2(**kw):
    """3x3 patches of the (6, 6, 32) map: a 4x4 grid pooled 2x2."""
    params = dict(spatial_pooler=SpatialPoolerTransformer(column_shape=64,
                                                          local_area_density=0.1),
                  image_shape=(6, 6, 32), patch_shape=3, pool_grid=2, random_state=0)
    params.update(kw)
    return PatchSpatialPooler(**params)


@pytest.fixture(scope="module")
def maps(digits):
    """The first layer's column maps of the training digits, flattened."""
    return layer1().fit(digits[0]).transform(digits[0])


def test_two_layer_pipeline_classifies_digits(digits):
    Xa, Xb, ya, yb = digits
    pipe = make_pipeline(layer1(), layer2(), StandardScaler(),
                         LogisticRegression(C=0.1, max_iter=3000)).fit(Xa, ya)
    first, second = pipe[0], pipe[1]
    assert first.transform(Xa[:2]).shape == (2, 6 * 6 * 32)
    assert second.image_shape_ == (6, 6, 32) and second.patch_grid_ == (4, 4)
    assert second.spatial_pooler_.n_features_in_ == 3 * 3 * 32
    assert pipe.predict(Xb).shape == yb.shape
    accuracy = pipe.score(Xb, yb)
    assert accuracy >= 0.85, accuracy  # measured 0.891 (chance: 0.1)


def test_second_layer_features_and_names(maps):
    psp = layer2().fit(maps)
    F = psp.transform(maps)
    assert F.shape == (len(maps), 4 * 64) and F.dtype == np.float32
    assert psp.n_features_in_ == 6 * 6 * 32
    assert psp.get_feature_names_out()[0] == "patchspatialpooler0"
    # 16 positions in 2x2 regions of 4; each active position has <= 6 winners.
    assert F.max() <= 4 and F.sum(axis=1).max() <= 16 * 6
    assert F.sum(axis=1).mean() > 0.8 * 16 * 6


def test_four_dimensional_input_equals_flattened_with_image_shape(maps):
    flat = layer2().fit(maps)
    four = layer2(image_shape=None).fit(maps.reshape(-1, 6, 6, 32))
    assert four.image_shape_ == (6, 6, 32)
    expected = flat.transform(maps)
    np.testing.assert_array_equal(four.transform(maps.reshape(-1, 6, 6, 32)), expected)
    np.testing.assert_array_equal(flat.transform(maps.reshape(-1, 6, 6, 32)), expected)
    # float64, int and bool maps give the same bits as the layer's float32 output.
    for dtype in (np.float64, np.int64, bool):
        np.testing.assert_array_equal(flat.transform(maps.astype(dtype)), expected)


def test_counts_and_binary_maps_give_the_same_bits(maps):
    """A channel is on where its value is > 0: sum-pooled counts and max-pooled
    0/1 maps of the same first layer give the same second layer."""
    psp = layer2().fit(maps)
    counts = maps * np.random.RandomState(0).randint(1, 5, size=maps.shape)
    np.testing.assert_array_equal(psp.transform(counts), psp.transform(maps))
    # n_levels does not apply to channel input.
    np.testing.assert_array_equal(layer2(n_levels=5).fit(maps).transform(maps),
                                  psp.transform(maps))


def test_chunked_path_agrees_with_fused_pass(maps):
    """A subclass of the Spatial Pooler goes through its own transform on the
    encoded channel patches: the same winners as the fused pass."""
    class Subclassed(SpatialPoolerTransformer):
        pass

    fused = layer2().fit(maps)
    chunked = copy.deepcopy(fused)
    chunked.spatial_pooler_.__class__ = Subclassed
    assert chunked._fused_pass(chunked._check_params(), (6, 6, 32)) is None
    np.testing.assert_array_equal(chunked.transform(maps[:40]), fused.transform(maps[:40]))


def test_max_fit_patches_samples_channel_patches(maps):
    few = layer2(max_fit_patches=50,
                 spatial_pooler=SpatialPoolerTransformer(column_shape=32, batch_size=1))
    many = layer2(spatial_pooler=SpatialPoolerTransformer(column_shape=32, batch_size=1))
    few.fit(maps[:100])
    many.fit(maps[:100])
    assert few.spatial_pooler_.n_iterations_ == 50
    assert many.spatial_pooler_.n_iterations_ == 100 * 16


def test_partial_fit_persistence_and_n_jobs(maps):
    psp = layer2().partial_fit(maps[:200]).partial_fit(maps[200:400])
    expected = psp.transform(maps)
    restored = pickle.loads(pickle.dumps(psp))
    assert restored.image_shape_ == (6, 6, 32)
    np.testing.assert_array_equal(restored.transform(maps), expected)
    # Threads over fixed chunks of 64 images; any batch gives the same rows.
    np.testing.assert_array_equal(psp.set_params(n_jobs=2).transform(maps), expected)
    np.testing.assert_array_equal(psp.transform(maps[100:130]), expected[100:130])
    # Same random_state, same fitted layer whatever n_jobs.
    np.testing.assert_array_equal(layer2(n_jobs=2).fit(maps).transform(maps),
                                  layer2().fit(maps).transform(maps))


def test_bad_channel_input(maps):
    four = maps.reshape(-1, 6, 6, 32)
    cases = [
        (layer2(image_shape=(6, 6, 16)), maps,
         r"X has 1152 features per sample, but image_shape=\(6, 6, 16\) has 576"),
        (layer2(image_shape=(6, 6, 16)), four,
         r"image_shape=\(6, 6, 16\) does not match the images of X, \(6, 6, 32\)"),
        (layer2(image_shape=(6, 6)), four,
         r"image_shape=\(6, 6\) does not match the images of X, \(6, 6, 32\)"),
        (layer2(image_shape=(6, 6, 32)), maps.reshape(-1, 36, 32),
         r"image_shape=\(6, 6, 32\) does not match the images of X, \(36, 32\)"),
        (layer2(image_shape=(6, 6, 0)), maps, r"image_shape must be at least 1 along each axis"),
        (layer2(image_shape=(6, 6, 2.0)), maps,
         r"image_shape must be an int or a pair of ints \(h, w\), or \(h, w, channels\)"),
        (layer2(), -maps, "Negative values in data: multi-channel images are activity maps"),
        (layer2(value_range=(0, 1)), maps,
         r"value_range=\(0, 1\) does not apply to multi-channel images"),
        (layer2(patch_shape=7), maps, r"the patch \(7, 7\) is larger than the images \(6, 6\)"),
        (layer2(), four[:, :, :, :, None],
         r"expects .* or \(n_samples, h, w, channels\); got an array with 5 dimension"),
    ]
    for est, data, message in cases:
        with pytest.raises(ValueError, match="PatchSpatialPooler: " + message):
            est.fit(data)


def test_changed_channels_after_fit_are_refused(maps):
    fitted = layer2().fit(maps)
    fewer = maps.reshape(-1, 6, 6, 32)[..., :16]
    message = r"PatchSpatialPooler: X has 16 channels per pixel, but the pooler was fit on 32"
    with pytest.raises(ValueError, match=message):
        fitted.transform(fewer)
    with pytest.raises(ValueError, match=message):
        copy.deepcopy(fitted).set_params(image_shape=(6, 6, 16)).transform(
            fewer.reshape(len(fewer), -1))
    with pytest.raises(ValueError, match=message):
        fitted.partial_fit(fewer)
    # Grey images after a channel fit, and channels after a grey fit.
    with pytest.raises(ValueError, match=r"X has images of shape \(48, 24\), but the pooler "
                                         r"was fit on \(6, 6, 32\)"):
        fitted.set_params(image_shape=None).transform(maps.reshape(-1, 48, 24))
    grey = layer1().fit(np.random.RandomState(0).rand(5, 8, 8))
    with pytest.raises(ValueError, match=r"X has images of shape \(8, 8, 1\), but the pooler "
                                         r"was fit on \(8, 8\)"):
        grey.transform(np.ones((2, 8, 8, 1)))
    with pytest.raises(ValueError, match=r"patch_shape=2 over 32 channels gives 128 bits per "
                                         r"patch, but the Spatial Pooler was fit on 288"):
        copy.deepcopy(fitted).set_params(patch_shape=2, image_shape=(6, 6, 32)).transform(maps)
