"""The fused PatchSpatialPooler transform of multi-channel images against a naive loop.

The reference cuts each (ph, pw, c) patch, takes a bit per pixel and channel
where the value is > 0, runs the fitted Spatial Pooler's own ``transform`` on
that one patch and adds its active columns into the patch's region: the
definition, sharing no code with the kernel. Workloads are small: CI also runs
this file with NUMBA_DISABLE_JIT=1.
"""

import numpy as np
import pytest

from skhtm import PatchSpatialPooler, SpatialPoolerTransformer
from skhtm import _patches as K

# Learning off: random pools and k-winners only.
NO_LEARNING = dict(syn_perm_connected=0.5, syn_perm_active_inc=0.0, syn_perm_inactive_dec=0.0)


def naive_transform(psp, maps):
    """Pooled activity by one Spatial Pooler call per patch of (n, h, w, c) maps."""
    sp = psp.spatial_pooler_
    n, h, w, _ = maps.shape
    ph, pw = np.broadcast_to(psp.patch_shape, 2)
    sr, sc = np.broadcast_to(psp.stride, 2)
    gr, gc = (h - ph) // sr + 1, (w - pw) // sc + 1
    pr, pc = np.broadcast_to(psp.pool_grid, 2)
    n_columns = sp.n_columns_

    def band(position, n_positions, n_bands):
        edges = [round(b * n_positions / n_bands) for b in range(n_bands + 1)]
        return next(b for b in range(n_bands) if edges[b] <= position < edges[b + 1])

    out = np.zeros((n, pr * pc * n_columns))
    for i in range(n):
        for y in range(gr):
            for x in range(gc):
                patch = maps[i, y * sr:y * sr + ph, x * sc:x * sc + pw, :]
                bits = (patch > 0).astype(np.uint8).reshape(1, -1)  # pixel major, channel
                active = np.asarray(sp.transform(bits))[0]
                region = band(y, gr, pr) * pc + band(x, gc, pc)
                block = out[i, region * n_columns:(region + 1) * n_columns]
                if psp.pooling == "sum":
                    block += active
                else:
                    np.maximum(block, active, out=block)
    return out


def activity_maps(n, shape, density, seed):
    """Sparse count maps (0..3), as a pooled first layer gives, with one blank map
    and one blank pixel row (all channels off)."""
    rng = np.random.RandomState(seed)
    maps = rng.randint(1, 4, size=(n,) + shape) * (rng.rand(n, *shape) < density)
    maps[0] = 0
    maps[1, 2] = 0
    return maps.astype(np.float32)


CASES = [
    # image (h, w, c), patch_shape, stride, pool_grid, pooling, columns, density, sp params
    ((6, 7, 5), 3, 1, 2, "sum", 32, 0.15, {}),
    ((6, 7, 5), 3, 1, 3, "max", 32, 0.15, {}),
    ((7, 6, 4), (2, 3), (2, 1), (2, 3), "sum", 24, 0.3, {}),
    ((5, 8, 3), (3, 2), (1, 3), (1, 2), "max", 16, 0.4, dict(stimulus_threshold=2)),
    ((4, 4, 6), 1, 1, (3, 2), "sum", 20, 0.2, dict(stimulus_threshold=0)),
    ((6, 6, 8), 2, 2, 1, "sum", 40, 0.1, dict(n_active_columns=7, stimulus_threshold=3)),
    # learning on: permanences spread by learning, not only the initial draw
    ((6, 6, 4), 2, 1, 2, "sum", 32, 0.25, dict(syn_perm_connected=0.2,
                                               syn_perm_active_inc=0.05,
                                               syn_perm_inactive_dec=0.01)),
]


@pytest.mark.parametrize("image, patch_shape, stride, pool_grid, pooling, n_columns, density, "
                         "sp_params", CASES)
def test_fused_channel_transform_equals_naive_loop(image, patch_shape, stride, pool_grid,
                                                   pooling, n_columns, density, sp_params):
    maps = activity_maps(4, image, density, seed=n_columns + image[2])
    params = dict(NO_LEARNING)
    params.update(sp_params)
    sp = SpatialPoolerTransformer(column_shape=n_columns, local_area_density=0.15,
                                  potential_pct=0.6, **params)
    psp = PatchSpatialPooler(sp, patch_shape=patch_shape, stride=stride, pool_grid=pool_grid,
                             pooling=pooling, random_state=0).fit(maps)
    fused = psp.transform(maps)
    expected = naive_transform(psp, maps)
    np.testing.assert_array_equal(fused, expected)
    assert fused.dtype == np.float32 and fused[0].sum() == 0  # the blank map
    assert fused.sum() > 0


def test_channel_ties_are_broken_by_column_rank():
    """One channel and 2x2 patches: at most 4 bits, so many columns share the
    k-th overlap and the tie rule decides most winners."""
    maps = activity_maps(3, (6, 6, 1), 0.5, seed=1)
    sp = SpatialPoolerTransformer(column_shape=48, local_area_density=0.1, potential_pct=0.5,
                                  **NO_LEARNING)
    psp = PatchSpatialPooler(sp, patch_shape=2, pool_grid=5, random_state=2).fit(maps)
    sp_ = psp.spatial_pooler_
    connected = (sp_.permanences_.toarray() >= sp_.syn_perm_connected).astype(int)
    k = int(round(0.1 * 48))
    tied = 0
    for i in range(1, 3):
        for y in range(5):
            for x in range(5):
                bits = (maps[i, y:y + 2, x:x + 2].ravel() > 0).astype(int)
                overlaps = np.sort(connected @ bits)[::-1]
                tied += overlaps[k - 1] > 0 and overlaps[k - 1] == overlaps[k]
    assert tied >= 10, tied
    first = psp.transform(maps)
    np.testing.assert_array_equal(first, naive_transform(psp, maps))
    # The reversed rank breaks the ties the other way.
    sp_.column_rank_ = sp_.column_rank_[::-1].copy()
    other = psp.transform(maps)
    np.testing.assert_array_equal(other, naive_transform(psp, maps))
    assert not np.array_equal(other, first)


def test_channel_local_inhibition_goes_through_the_spatial_pooler():
    """Local inhibition is not in the fused pass: the chunked path over the
    encoded channel patches gives the naive loop's result."""
    maps = activity_maps(3, (5, 5, 3), 0.3, seed=2)
    sp = SpatialPoolerTransformer(column_shape=(4, 6), input_shape=(2, 2, 3),
                                  global_inhibition=False, local_area_density=0.2,
                                  **NO_LEARNING)
    psp = PatchSpatialPooler(sp, patch_shape=2, pool_grid=2, random_state=0).fit(maps)
    result = psp.transform(maps)
    np.testing.assert_array_equal(result, naive_transform(psp, maps))
    assert result.sum() > 0


def test_channel_patches_match_loops_and_which():
    maps = activity_maps(2, (7, 9, 3), 0.4, seed=3)
    patches = K.channel_patches(maps, (3, 2), (2, 3))
    assert patches.shape == (2, 3, 3, 3 * 2 * 3) and patches.dtype == np.uint8
    for i in range(3):
        for j in range(3):
            window = maps[:, 2 * i:2 * i + 3, 3 * j:3 * j + 2, :]
            np.testing.assert_array_equal(patches[:, i, j], (window > 0).reshape(2, -1))
    which = np.array([0, 4, 11, 17])
    np.testing.assert_array_equal(K.channel_patches(maps, (3, 2), (2, 3), which),
                                  patches.reshape(-1, patches.shape[-1])[which])


def test_bit_tables_put_columns_in_rank_order():
    rng = np.random.RandomState(4)
    connected = rng.rand(6, 10) < 0.4
    rank = np.array([2, 5, 0, 4, 1, 3])
    tables, slot_column = K.bit_tables(connected, rank, np.int16)
    assert list(slot_column) == [1, 3, 5, 0, 4, 2]  # decreasing rank
    assert tables.shape == (10, 6) and tables.dtype == np.int16
    np.testing.assert_array_equal(tables, connected[slot_column].T)
