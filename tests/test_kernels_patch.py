"""The fused PatchSpatialPooler transform against a naive per-patch loop.

The reference cuts each patch, encodes its grey levels as thermometer bits,
runs the fitted Spatial Pooler's own ``transform`` on that one patch and adds
its active columns into the patch's region: the definition, with no shared
code. Workloads are small: CI also runs this file with NUMBA_DISABLE_JIT=1.
"""

import numpy as np
import pytest

from skhtm import PatchSpatialPooler, SpatialPoolerTransformer

# Learning off: random pools and k-winners only, as in bench_vision.
NO_LEARNING = dict(syn_perm_connected=0.5, syn_perm_active_inc=0.0, syn_perm_inactive_dec=0.0)


def naive_transform(psp, images):
    """Pooled activity by one Spatial Pooler call per patch."""
    sp = psp.spatial_pooler_
    n, h, w = images.shape
    ph, pw = np.broadcast_to(psp.patch_shape, 2)
    sr, sc = np.broadcast_to(psp.stride, 2)
    gr, gc = (h - ph) // sr + 1, (w - pw) // sc + 1
    pr, pc = np.broadcast_to(psp.pool_grid, 2)
    levels = psp.n_levels
    thresholds = [(j + 1) / (levels + 1) for j in range(levels)]
    n_columns = sp.n_columns_

    def band(position, n_positions, n_bands):
        # Bands of near-equal size covering the positions (edges rounded).
        edges = [round(b * n_positions / n_bands) for b in range(n_bands + 1)]
        return next(b for b in range(n_bands) if edges[b] <= position < edges[b + 1])

    out = np.zeros((n, pr * pc * n_columns))
    for i in range(n):
        image = images[i].astype(np.float64)
        if psp.value_range is None:
            peak = image.max()
            scaled = image / peak if peak > 0 else np.zeros_like(image)
        else:
            low, high = psp.value_range
            scaled = np.clip((image - low) / (high - low), 0, 1)
        for y in range(gr):
            for x in range(gc):
                patch = scaled[y * sr:y * sr + ph, x * sc:x * sc + pw].ravel()
                bits = np.array([[v > t for t in thresholds] for v in patch], np.uint8)
                active = np.asarray(sp.transform(bits.reshape(1, -1)))[0]
                region = band(y, gr, pr) * pc + band(x, gc, pc)
                block = out[i, region * n_columns:(region + 1) * n_columns]
                if psp.pooling == "sum":
                    block += active
                else:
                    np.maximum(block, active, out=block)
    return out


def images_with_blanks(n, shape, seed):
    """Grey images with blank (0) pixels, some saturated ones and one blank image."""
    rng = np.random.RandomState(seed)
    images = rng.rand(n, *shape) * (rng.rand(n, *shape) < 0.6)
    images[:, 0, 0] = 1.0
    images[0] = 0.0
    return images * 16


CASES = [
    # patch_shape, stride, n_levels, pool_grid, pooling, value_range, columns, sp params
    (3, 1, 2, 2, "sum", None, 32, {}),
    (3, 1, 2, 3, "max", None, 32, {}),
    ((2, 4), (2, 1), 3, (2, 3), "sum", None, 24, {}),
    ((3, 2), (1, 3), 1, (1, 2), "max", (-2.0, 12.0), 16, {}),
    (1, 1, 4, (3, 2), "sum", (0.0, 16.0), 20, dict(stimulus_threshold=0)),
    (2, 2, 3, 1, "sum", None, 32, dict(stimulus_threshold=3)),
    (4, 1, 2, (5, 4), "sum", (1.0, 15.0), 40, dict(stimulus_threshold=5.5)),
    (3, 2, 3, 2, "max", None, 32, dict(n_active_columns=7, stimulus_threshold=2)),
]


@pytest.mark.parametrize("patch_shape, stride, n_levels, pool_grid, pooling, value_range, "
                         "n_columns, sp_params", CASES)
def test_fused_transform_equals_naive_loop(patch_shape, stride, n_levels, pool_grid, pooling,
                                           value_range, n_columns, sp_params):
    images = images_with_blanks(4, (8, 9), seed=n_columns + n_levels)
    if value_range is not None:
        images = images - 1.5  # values below low and above high are clipped
    sp = SpatialPoolerTransformer(column_shape=n_columns, local_area_density=0.15,
                                  potential_pct=0.6, **NO_LEARNING, **sp_params)
    psp = PatchSpatialPooler(sp, patch_shape=patch_shape, stride=stride, n_levels=n_levels,
                             pool_grid=pool_grid, pooling=pooling, value_range=value_range,
                             random_state=0).fit(images)
    fused = psp.transform(images)
    expected = naive_transform(psp, images)
    np.testing.assert_array_equal(fused, expected)
    assert fused.dtype == np.float32 and fused[0].sum() == 0  # the blank image
    assert fused.sum() > 0


def test_ties_are_broken_by_column_rank():
    """Few bits per patch make many columns share the k-th overlap, so the tie
    rule decides most winners; the fused pass must pick the same ones."""
    images = images_with_blanks(3, (6, 6), seed=1)
    sp = SpatialPoolerTransformer(column_shape=48, local_area_density=0.1, potential_pct=0.5,
                                  **NO_LEARNING)
    psp = PatchSpatialPooler(sp, patch_shape=2, n_levels=1, pool_grid=5, random_state=2)
    psp.fit(images)
    # Count the positions whose k-th best overlap is shared with a loser.
    sp_ = psp.spatial_pooler_
    connected = (sp_.permanences_.toarray() >= sp_.syn_perm_connected).astype(int)
    k = int(round(0.1 * 48))
    scaled = images / images.max(axis=(1, 2), keepdims=True).clip(1e-12)
    tied = 0
    for i in range(1, 3):
        for y in range(5):
            for x in range(5):
                bits = (scaled[i, y:y + 2, x:x + 2].ravel() > 0.5).astype(int)
                overlaps = np.sort(connected @ bits)[::-1]
                tied += overlaps[k - 1] > 0 and overlaps[k - 1] == overlaps[k]
    assert tied >= 10, tied
    first = psp.transform(images)
    np.testing.assert_array_equal(first, naive_transform(psp, images))
    # The reversed rank breaks the ties the other way.
    sp_.column_rank_ = sp_.column_rank_[::-1].copy()
    other = psp.transform(images)
    np.testing.assert_array_equal(other, naive_transform(psp, images))
    assert not np.array_equal(other, first)


def test_local_inhibition_goes_through_the_spatial_pooler():
    """Local inhibition is not in the fused pass: the chunked path gives the same
    as the naive loop."""
    images = images_with_blanks(3, (7, 7), seed=2)
    sp = SpatialPoolerTransformer(column_shape=(4, 6), input_shape=(3, 3, 2),
                                  global_inhibition=False, local_area_density=0.2,
                                  **NO_LEARNING)
    psp = PatchSpatialPooler(sp, patch_shape=3, pool_grid=2, random_state=0).fit(images)
    np.testing.assert_array_equal(psp.transform(images), naive_transform(psp, images))


def test_results_do_not_depend_on_threads_or_batches():
    images = images_with_blanks(150, (6, 6), seed=3)
    sp = SpatialPoolerTransformer(column_shape=16, local_area_density=0.2, **NO_LEARNING)
    psp = PatchSpatialPooler(sp, patch_shape=2, pool_grid=2, random_state=0).fit(images)
    one = psp.transform(images)
    two = psp.set_params(n_jobs=2).transform(images)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(psp.transform(images[70:75]), one[70:75])
    np.testing.assert_array_equal(naive_transform(psp, images[60:70]), one[60:70])


@pytest.mark.parametrize("pooling, stride", [("sum", 1), ("max", (1, 2))])
def test_uniform_stretches_equal_naive_loop(pooling, stride):
    """Blocky images: many patches repeat their left neighbour's grey levels
    (the pass reuses its winners), at region borders too."""
    rng = np.random.RandomState(4)
    images = np.kron(rng.randint(0, 4, size=(3, 3, 4)), np.ones((5, 4))) / 3.0
    sp = SpatialPoolerTransformer(column_shape=32, local_area_density=0.15, **NO_LEARNING)
    psp = PatchSpatialPooler(sp, patch_shape=(3, 2), stride=stride, n_levels=3, pool_grid=3,
                             pooling=pooling, random_state=0).fit(images)
    np.testing.assert_array_equal(psp.transform(images), naive_transform(psp, images))


# ------------------------------------------------------------------ contrast encodings

def naive_pooling(psp, bits):
    """Pooled activity of encoded patches (n, grid_rows, grid_cols, n_bits) by one
    Spatial Pooler call per patch, each added into its region (the definition)."""
    sp = psp.spatial_pooler_
    n, gr, gc, _ = bits.shape
    pr, pc = np.broadcast_to(psp.pool_grid, 2)
    rows = [round(b * gr / pr) for b in range(pr + 1)]
    cols = [round(b * gc / pc) for b in range(pc + 1)]
    n_columns = sp.n_columns_
    out = np.zeros((n, pr * pc * n_columns))
    for i in range(n):
        for y in range(gr):
            for x in range(gc):
                active = np.asarray(sp.transform(bits[i, y, x].reshape(1, -1)))[0]
                band_y = next(b for b in range(pr) if rows[b] <= y < rows[b + 1])
                band_x = next(b for b in range(pc) if cols[b] <= x < cols[b + 1])
                region = band_y * pc + band_x
                block = out[i, region * n_columns:(region + 1) * n_columns]
                if psp.pooling == "sum":
                    block += active
                else:
                    np.maximum(block, active, out=block)
    return out


def encoded(psp, images):
    """The training path's bits of every patch of ``images``."""
    return psp._encoded_patches(np.asarray(images, dtype=np.float64), psp._check_params())


CONTRAST_CASES = [
    # encoding, patch_shape, stride, n_levels, thresholds, pool_grid, pooling, value_range,
    # columns, sp params
    ("contrast", 3, 1, 2, None, 2, "sum", None, 32, {}),
    ("whitened", 3, 1, 2, None, 3, "max", None, 32, {}),
    ("contrast", (2, 4), (2, 1), 3, None, (2, 3), "sum", None, 24, {}),
    ("whitened", (3, 2), (1, 3), 1, None, (1, 2), "max", (-2.0, 12.0), 16, {}),
    ("contrast", 2, 1, 1, [0.5], (3, 2), "sum", (0.0, 16.0), 20, dict(stimulus_threshold=0)),
    ("whitened", 2, 2, 3, [0.1, 0.4, 1.5], 1, "sum", None, 32, dict(stimulus_threshold=3)),
    ("contrast", 4, 1, 2, (0.3, 0.9), (5, 4), "sum", (1.0, 15.0), 40,
     dict(stimulus_threshold=5.5)),
    ("whitened", 3, 2, 3, None, 2, "max", None, 32, dict(n_active_columns=7,
                                                        stimulus_threshold=2)),
]


@pytest.mark.parametrize("encoding, patch_shape, stride, n_levels, thresholds, pool_grid, "
                         "pooling, value_range, n_columns, sp_params", CONTRAST_CASES)
def test_fused_contrast_transform_equals_naive_loop(encoding, patch_shape, stride, n_levels,
                                                    thresholds, pool_grid, pooling, value_range,
                                                    n_columns, sp_params):
    images = images_with_blanks(4, (8, 9), seed=n_columns + n_levels)
    images[1, 2:6, 3:8] = 5.0  # uniform patches: no bit on, so no winner
    if value_range is not None:
        images = images - 1.5  # values below low and above high are clipped
    sp = SpatialPoolerTransformer(column_shape=n_columns, local_area_density=0.15,
                                  potential_pct=0.6, **NO_LEARNING, **sp_params)
    psp = PatchSpatialPooler(sp, patch_shape=patch_shape, stride=stride, n_levels=n_levels,
                             encoding=encoding, contrast_thresholds=thresholds,
                             pool_grid=pool_grid, pooling=pooling, value_range=value_range,
                             random_state=0).fit(images)
    assert psp.spatial_pooler_.n_features_in_ == np.prod(np.broadcast_to(patch_shape, 2)) \
        * 2 * n_levels
    assert hasattr(psp, "whitening_") == (encoding == "whitened")
    bits = encoded(psp, images)
    fused = psp.transform(images)
    np.testing.assert_array_equal(fused, naive_pooling(psp, bits))
    assert fused.dtype == np.float32 and fused[0].sum() == 0  # the blank image
    assert fused.sum() > 0
    # Both signs occur and a pixel is never ON and OFF at once.
    per_pixel = bits.reshape(bits.shape[:3] + (-1, 2, n_levels))
    assert per_pixel[..., 0, :].any() and per_pixel[..., 1, :].any()
    assert not (per_pixel[..., 0, :].any(-1) & per_pixel[..., 1, :].any(-1)).any()


@pytest.mark.parametrize("encoding", ["contrast", "whitened"])
def test_contrast_ties_are_broken_by_column_rank(encoding):
    images = images_with_blanks(3, (6, 6), seed=1)
    sp = SpatialPoolerTransformer(column_shape=48, local_area_density=0.1, potential_pct=0.5,
                                  **NO_LEARNING)
    psp = PatchSpatialPooler(sp, patch_shape=2, n_levels=1, encoding=encoding, pool_grid=5,
                             random_state=2).fit(images)
    sp_ = psp.spatial_pooler_
    connected = (sp_.permanences_.toarray() >= sp_.syn_perm_connected).astype(int)
    k = int(round(0.1 * 48))
    bits = encoded(psp, images)
    overlaps = -np.sort(-(bits.reshape(-1, bits.shape[-1]) @ connected.T), axis=1)
    tied = np.sum((overlaps[:, k - 1] > 0) & (overlaps[:, k - 1] == overlaps[:, k]))
    assert tied >= 10, tied  # the tie rule decides many positions
    first = psp.transform(images)
    np.testing.assert_array_equal(first, naive_pooling(psp, bits))
    sp_.column_rank_ = sp_.column_rank_[::-1].copy()
    other = psp.transform(images)
    np.testing.assert_array_equal(other, naive_pooling(psp, bits))
    assert not np.array_equal(other, first)


@pytest.mark.parametrize("encoding, pooling, stride", [("contrast", "sum", 1),
                                                       ("whitened", "max", (1, 2))])
def test_contrast_repeated_codes_equal_naive_loop(encoding, pooling, stride):
    """Blocky images: along a horizontal edge consecutive patches have the same
    codes (the pass reuses their winners), at region borders too."""
    rng = np.random.RandomState(4)
    images = np.kron(rng.randint(0, 4, size=(3, 3, 4)), np.ones((5, 4))) / 3.0
    sp = SpatialPoolerTransformer(column_shape=32, local_area_density=0.15, **NO_LEARNING)
    psp = PatchSpatialPooler(sp, patch_shape=(3, 2), stride=stride, n_levels=3, pool_grid=3,
                             encoding=encoding, pooling=pooling, random_state=0).fit(images)
    bits = encoded(psp, images)
    repeats = np.all(bits[:, :, 1:] == bits[:, :, :-1], axis=-1) & bits[:, :, 1:].any(-1)
    assert repeats.sum() >= 10, repeats.sum()
    np.testing.assert_array_equal(psp.transform(images), naive_pooling(psp, bits))


def contrast_definition(scaled_patches, thresholds, whitening=None):
    """z per patch in plain numpy (population std, floor 0.1), optionally whitened."""
    mean = scaled_patches.mean(axis=-1, keepdims=True)
    z = (scaled_patches - mean) / (scaled_patches.std(axis=-1, keepdims=True) + 0.1)
    if whitening is not None:
        z = z @ whitening.T
    return z


@pytest.mark.parametrize("encoding, n_levels, thresholds, value_range", [
    ("contrast", 1, None, None), ("contrast", 3, (0.1, 0.7, 2.0), (0.0, 20.0)),
    ("whitened", 2, None, None), ("whitened", 3, (0.3, 0.6, 0.9), (-1.0, 15.0))])
def test_contrast_bits_follow_the_definition(encoding, n_levels, thresholds, value_range):
    """The training path's bits against z computed in numpy: ON bit l where z > t_l,
    OFF bit l where z < -t_l, pixel major [ON_1..ON_n, OFF_1..OFF_n]. Only a z
    within rounding of a threshold may differ (the kernel sums in pixel order)."""
    images = images_with_blanks(5, (7, 8), seed=5)
    psp = PatchSpatialPooler(SpatialPoolerTransformer(column_shape=16, **NO_LEARNING),
                             patch_shape=(3, 2), n_levels=n_levels, encoding=encoding,
                             contrast_thresholds=thresholds, value_range=value_range,
                             pool_grid=1, random_state=0).fit(images)
    if value_range is None:
        scaled = images / images.max(axis=(1, 2), keepdims=True).clip(1e-300)
    else:
        scaled = np.clip((images - value_range[0]) / (value_range[1] - value_range[0]), 0, 1)
    patches = np.lib.stride_tricks.sliding_window_view(scaled, (3, 2), axis=(1, 2))
    patches = patches.reshape(patches.shape[:3] + (6,))
    z = contrast_definition(patches, None, getattr(psp, "whitening_", None))
    t = np.linspace(0.2, 1.0, n_levels) if thresholds is None else np.asarray(thresholds)
    expected = np.concatenate([z[..., None] > t, z[..., None] < -t], axis=-1)
    got = encoded(psp, images).reshape(expected.shape).astype(bool)
    near = np.abs(np.abs(z[..., None]) - t) < 1e-9
    differ = got != expected
    assert not np.any(differ & ~np.concatenate([near, near], axis=-1))
    assert differ.sum() <= 2 and expected.sum() > 100
    # A uniform patch (the blank image, flat stretches) has no bit on.
    flat = np.ptp(patches, axis=-1) == 0
    assert flat.sum() > 0 and not got[flat].any()


def test_contrast_codes_by_hand():
    """One 2x2 patch worked by hand: values 0, 0.5, 0.5, 1 (peak 1) have mean 0.5
    and std sqrt(0.125) = 0.3536, so z = -+0.5 / 0.4536 = -+1.102, 0, 0."""
    image = np.array([[[0.0, 0.5], [0.5, 1.0]]])
    psp = PatchSpatialPooler(SpatialPoolerTransformer(column_shape=8), patch_shape=2,
                             n_levels=3, encoding="contrast", contrast_thresholds=(0.5, 1.1, 1.2),
                             pool_grid=1, random_state=0).fit(image)
    bits = encoded(psp, image).reshape(4, 2, 3)
    expected = np.zeros((4, 2, 3), bool)
    expected[0, 1, :2] = True   # darker: OFF_1, OFF_2 (1.102 > 1.1), not OFF_3
    expected[3, 0, :2] = True   # brighter: ON_1, ON_2
    np.testing.assert_array_equal(bits, expected)


def test_whitening_follows_the_definition():
    """whitening_ is V diag(1 / sqrt(ev + 0.1)) V^T of the training patches' z, scaled
    so that their whitened values have standard deviation 1."""
    # Smooth images (means of 3x3 windows of noise): neighbouring pixels correlate.
    noise = np.random.RandomState(6).rand(6, 9, 9)
    images = np.lib.stride_tricks.sliding_window_view(noise, (3, 3), axis=(1, 2)).mean((-2, -1))
    images[0] = 0.0
    psp = PatchSpatialPooler(SpatialPoolerTransformer(column_shape=16, **NO_LEARNING),
                             patch_shape=3, encoding="whitened", pool_grid=1,
                             random_state=0).fit(images)  # every patch trains: 150 < 100,000
    scaled = images / images.max(axis=(1, 2), keepdims=True).clip(1e-300)
    patches = np.lib.stride_tricks.sliding_window_view(scaled, (3, 3), axis=(1, 2))
    z = contrast_definition(patches.reshape(-1, 9), None)
    z[np.ptp(patches.reshape(-1, 9), axis=1) == 0] = 0.0
    ev, V = np.linalg.eigh(np.cov(z, rowvar=False, bias=True))
    W = V @ np.diag(1 / np.sqrt(ev + 0.1)) @ V.T
    W /= (z @ W.T).std()
    np.testing.assert_allclose(psp.whitening_, W, rtol=1e-10, atol=1e-12)
    assert psp.whitening_.shape == (9, 9) and psp.whitening_.dtype == np.float64
    np.testing.assert_allclose((z @ psp.whitening_.T).std(), 1.0, rtol=1e-12)
    # Whitening decorrelates: neighbouring pixels' z are correlated, whitened ones less
    # (measured 0.17 against 0.30; the floor 0.1 and the zero-sum of z keep some).
    def mean_abs_corr(values):
        c = np.corrcoef(values[1:], rowvar=False)  # without the blank image's zeros
        return np.abs(c[~np.eye(9, dtype=bool)]).mean()

    assert mean_abs_corr(z @ W.T) < 0.7 * mean_abs_corr(z), (mean_abs_corr(z @ W.T),
                                                            mean_abs_corr(z))
