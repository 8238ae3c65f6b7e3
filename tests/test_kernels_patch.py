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
