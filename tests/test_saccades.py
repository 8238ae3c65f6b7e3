"""SaccadeEncoder and its kernels: glimpses, gaze policies, location codes, errors."""

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import load_digits

from skhtm import SaccadeEncoder
from skhtm import _saccades as K
from skhtm._grey_levels import grey_bits


def _blobs(shape, centres, contrasts, size=3):
    """One image with square blobs of the given contrasts."""
    image = np.zeros(shape)
    for (r, c), v in zip(centres, contrasts):
        image[r - size // 2:r - size // 2 + size, c - size // 2:c - size // 2 + size] = v
    return image


def _on_canvas(images, side, offsets):
    """Images placed with their top-left corner at ``offsets`` on black canvases."""
    h, w = images.shape[1:]
    out = np.zeros((len(images), side, side))
    for i, (r, c) in enumerate(offsets):
        out[i, r:r + h, c:c + w] = images[i]
    return out


@pytest.fixture(scope="module")
def digit_images():
    return load_digits().images  # (1797, 8, 8), values 0..16


# --------------------------------------------------------------- glimpses

def test_shapes_and_layout(digit_images):
    enc = SaccadeEncoder(n_glimpses=5, fovea_shape=(3, 4), periphery_shape=2, periphery_scale=2,
                         n_levels=3, location_bits=100)
    G = enc.fit_transform(digit_images[:7])
    layout = enc.glimpse_layout()
    assert G.shape == (7, 5, 3 * 4 * 3 + 2 * 2 * 3 + 100) and G.dtype == np.uint8
    assert enc.n_bits_ == G.shape[2] and enc.image_shape_ == (1, 8, 8)
    assert (layout["fovea"].stop, layout["periphery"].stop, layout["location"].stop) == (
        36, 48, 148)
    assert set(np.unique(G)) <= {0, 1}
    # 2-D input with image_shape, or square 2-D input, gives the same glimpses.
    flat = digit_images[:7].reshape(7, -1)
    np.testing.assert_array_equal(enc.transform(flat), G)
    np.testing.assert_array_equal(clone(enc).set_params(image_shape=(8, 8)).fit_transform(flat), G)
    assert enc.get_feature_names_out()[0] == "saccadeencoder0"


def test_fovea_holds_the_pixels_at_the_fixation():
    rng = np.random.RandomState(0)
    image = rng.rand(1, 9, 11)
    path = np.array([[4, 5], [0, 0], [8, 10]])
    enc = SaccadeEncoder(n_glimpses=3, fovea_shape=(3, 5), gaze=path, location=None,
                         value_range=(0, 1))
    fovea = enc.fit_transform(image)[0]
    padded = np.pad(image[0], 3)  # outside the image reads as black
    for g, (r, c) in enumerate(path):
        expected = padded[r + 3 - 1:r + 3 + 2, c + 3 - 2:c + 3 + 3] > 0.5
        np.testing.assert_array_equal(fovea[g], expected.ravel())


def test_periphery_is_block_means_around_the_fixation():
    image = np.zeros((1, 12, 12))
    image[0, :6, :] = 1.0     # the top half bright
    image[0, 6:9, 6:9] = 0.5  # one grey block
    enc = SaccadeEncoder(n_glimpses=1, fovea_shape=1, gaze=[[6, 6]], periphery_shape=2,
                         periphery_scale=3, n_levels=4, location=None, value_range=(0, 1))
    G = enc.fit_transform(image)[0, 0]
    periphery = G[enc.glimpse_layout()["periphery"]].reshape(2, 2, 4)
    # Cells: rows 3..5 / 6..8 by cols 3..5 / 6..8; thermometer at .2 .4 .6 .8.
    np.testing.assert_array_equal(periphery[0, 0], [1, 1, 1, 1])
    np.testing.assert_array_equal(periphery[0, 1], [1, 1, 1, 1])
    np.testing.assert_array_equal(periphery[1, 0], [0, 0, 0, 0])
    np.testing.assert_array_equal(periphery[1, 1], [1, 1, 0, 0])  # 0.5: above .2 and .4


@pytest.mark.parametrize("n_levels", [1, 3, 5])
def test_grey_encodings(n_levels):
    values = np.linspace(0, 1, 101)[None, :]
    thermo = grey_bits(values, n_levels, "thermometer").reshape(101, n_levels)
    # A thermometer: bits fill from the left, and the count grows with the value.
    counts = thermo.sum(axis=1)
    assert np.all(np.diff(counts) >= 0) and counts[0] == 0 and counts[-1] == n_levels
    np.testing.assert_array_equal(thermo, np.arange(n_levels) < counts[:, None])
    planes = grey_bits(values, n_levels, "bitplanes").reshape(101, n_levels)
    level = planes @ (1 << np.arange(n_levels - 1, -1, -1))
    expected = np.minimum((values[0] * 2 ** n_levels).astype(int), 2 ** n_levels - 1)
    np.testing.assert_array_equal(level, expected)


def test_value_range_scaling():
    X = np.array([[[0.0, 50.0], [100.0, 200.0]]])
    enc = SaccadeEncoder(n_glimpses=4, fovea_shape=1, gaze="scan", location=None,
                         value_range=(0, 100), n_levels=1).fit(X)
    # 50 is exactly the 0.5 threshold (off); 100 and 200 (clipped) are on.
    assert sorted(enc.transform(X)[0, :, 0].tolist()) == [0, 0, 1, 1]
    # Without value_range, each image is scaled by its own maximum.
    auto = SaccadeEncoder(n_glimpses=4, fovea_shape=1, gaze="scan", location=None)
    np.testing.assert_array_equal(auto.fit_transform(X), auto.transform(3 * X))


# ------------------------------------------------------------ gaze paths

def test_scan_is_a_fixed_boustrophedon_grid(digit_images):
    enc = SaccadeEncoder(n_glimpses=6, gaze="scan", fovea_shape=2)
    F = enc.fixations(digit_images[:5])
    assert (F == F[0]).all()
    assert len({tuple(p) for p in F[0]}) == 6
    # Two rows of three, the second row right to left.
    assert F[0].tolist() == [[2, 1], [2, 4], [2, 6], [6, 6], [6, 4], [6, 1]]


def test_random_gaze_is_seeded_and_independent_of_batching(digit_images):
    X = digit_images[:600]  # more than one transform chunk
    enc = SaccadeEncoder(n_glimpses=5, gaze="random", fovea_shape=3, random_state=3)
    F = enc.fixations(X)
    assert ((F >= 0) & (F < 8)).all()
    assert all(len(np.unique(f, axis=0)) == 5 for f in F)       # no revisits
    assert len({tuple(f.ravel()) for f in F[:50]}) > 40          # paths differ
    G = enc.transform(X)
    G_threads = clone(enc).set_params(n_jobs=2).transform(X)
    np.testing.assert_array_equal(G, G_threads)
    # One sample alone, or in a shuffled batch, gets the same path.
    np.testing.assert_array_equal(enc.fixations(X[417:418])[0], F[417])
    perm = np.random.RandomState(0).permutation(len(X))
    np.testing.assert_array_equal(enc.transform(X[perm]), G[perm])
    np.testing.assert_array_equal(clone(enc).fixations(X), F)
    other = clone(enc).set_params(random_state=4).fixations(X)
    assert (other != F).any(axis=(1, 2)).mean() > 0.9


def test_random_gaze_with_revisits_can_cover_more_than_the_image():
    X = np.random.RandomState(0).rand(3, 3, 3)
    enc = SaccadeEncoder(n_glimpses=20, gaze="random", fovea_shape=1, allow_revisits=True,
                         random_state=0)
    F = enc.fixations(X)
    assert F.shape == (3, 20, 2) and ((F >= 0) & (F < 3)).all()


def test_saliency_visits_clumps_strongest_first_with_inhibition_of_return():
    image = _blobs((24, 24), [(4, 18), (12, 5), (19, 16)], [0.5, 1.0, 0.75])
    enc = SaccadeEncoder(n_glimpses=3, fovea_shape=4, saliency_filter="lowpass",
                         inhibition_radius=4)
    F = enc.fixations(image[None])[0]
    # The brightest blob first, then the next brightest: inhibition of return
    # keeps the eye from lingering on the first.
    assert F.tolist() == [[12, 5], [19, 16], [4, 18]]
    S = enc.saliency(image[None])[0]
    assert S.shape == (24, 24) and np.unravel_index(S.argmax(), S.shape) == (12, 5)


def test_saliency_dog_finds_structure_not_flat_background():
    image = np.zeros((20, 20))
    image[10:13, 3:6] = 1.0
    S = K.saliency_map(image[None], 1.5, "dog")[0]
    r, c = np.unravel_index(S.argmax(), S.shape)
    assert 8 <= r <= 14 and 1 <= c <= 7
    assert S[:, 14:].max() < 0.01 * S.max()


def test_inhibition_without_revisits_never_repeats():
    image = _blobs((10, 10), [(5, 5)], [1.0])
    enc = SaccadeEncoder(n_glimpses=30, fovea_shape=2, inhibition_radius=20)
    F = enc.fixations(image[None])[0]
    assert len(np.unique(F, axis=0)) == 30  # all inhibited: still distinct


def test_saliency_with_location_relative_to_first_is_translation_invariant(digit_images):
    X = digit_images[:40]
    rng = np.random.RandomState(0)
    shifted = [_on_canvas(X, 24, rng.randint(0, 17, size=(40, 2))) for _ in range(2)]
    for location in ("coordinate", "grid"):
        enc = SaccadeEncoder(n_glimpses=6, fovea_shape=4, n_levels=2, location=location,
                             location_frame="first")
        np.testing.assert_array_equal(enc.transform(shifted[0]), enc.transform(shifted[1]))
        # In image coordinates, the location bits change with the position.
        absolute = clone(enc).set_params(location_frame="image")
        assert (absolute.transform(shifted[0]) != absolute.transform(shifted[1])).any()


def test_object_scan_follows_the_object(digit_images):
    X = digit_images[:60]
    rng = np.random.RandomState(1)
    # Margins of 4 pixels keep the 8x8 scan window inside the 28x28 canvas.
    a, b = (_on_canvas(X, 28, rng.randint(4, 17, size=(60, 2))) for _ in range(2))
    enc = SaccadeEncoder(n_glimpses=6, gaze="object_scan", scan_shape=8, fovea_shape=4,
                         n_levels=2, location_frame="first")
    np.testing.assert_array_equal(enc.transform(a), enc.transform(b))
    # The path is the scan of an 8x8 window around the centre of mass.
    F = enc.fixations(a)
    centre = K.centre_of_mass(a / a.max(axis=(1, 2), keepdims=True))
    window = K.scan_fixations((8, 8), 6)
    np.testing.assert_array_equal(F - F[:, :1], np.broadcast_to(window - window[0], F.shape))
    assert (np.abs(F.mean(axis=1) - centre) <= 2).all()
    # A plain scan of the same window stays in the middle of the canvas.
    plain = clone(enc).set_params(gaze="scan").fixations(a)
    assert (plain == window + 10).all()


def test_centre_of_mass_is_exact_under_translation():
    rng = np.random.RandomState(0)
    patch = rng.rand(50, 5, 6)
    a = _on_canvas(patch, 20, rng.randint(0, 14, size=(50, 2)))
    offsets = rng.randint(0, 14, size=(50, 2))
    b = _on_canvas(patch, 20, offsets)
    shift = K.centre_of_mass(b) - K.centre_of_mass(a)
    first = np.array([np.argwhere(x > 0).min(axis=0) for x in b]) - \
        np.array([np.argwhere(x > 0).min(axis=0) for x in a])
    np.testing.assert_array_equal(shift, first)
    np.testing.assert_array_equal(K.centre_of_mass(np.zeros((1, 5, 7))), [[2, 3]])


def test_fixed_and_callable_gaze(digit_images):
    X = digit_images[:4]
    path = [[1, 1], [6, 6], [1, 6]]
    fixed = SaccadeEncoder(n_glimpses=3, gaze=np.array(path), fovea_shape=2)
    assert (fixed.fixations(X) == path).all()
    seen = []

    def darkest_first(frame, n_glimpses):
        seen.append(frame.max())
        order = np.argsort(frame, axis=None, kind="stable")[:n_glimpses]
        return np.stack(np.unravel_index(order, frame.shape), axis=1)

    enc = SaccadeEncoder(n_glimpses=3, gaze=darkest_first, fovea_shape=2)
    F = enc.fixations(X)
    assert np.allclose(seen, 1.0)  # frames arrive scaled to [0, 1]
    for f, image in zip(F, X):
        assert (image[f[:, 0], f[:, 1]] == image.min()).all() or \
            image[f[0, 0], f[0, 1]] == image.min()
    assert enc.transform(X).shape == (4, 3, 4 + 256)


def test_video_gives_glimpses_per_frame(digit_images):
    rng = np.random.RandomState(0)
    videos = np.stack([digit_images[i:i + 3] for i in rng.randint(0, 100, 5)])  # (5, 3, 8, 8)
    enc = SaccadeEncoder(n_glimpses=2, fovea_shape=3, location_frame="image")
    G = enc.fit_transform(videos)
    assert G.shape == (5, 6, 9 + 256) and enc.image_shape_ == (3, 8, 8)
    F = enc.fixations(videos)
    single = SaccadeEncoder(n_glimpses=2, fovea_shape=3, location_frame="image")
    for t in range(3):
        np.testing.assert_array_equal(G[:, 2 * t:2 * t + 2], single.transform(videos[:, t]))
        np.testing.assert_array_equal(F[:, 2 * t:2 * t + 2], single.fixations(videos[:, t]))
    assert enc.saliency(videos).shape == (5, 3, 8, 8)
    # A flattened video with image_shape=(n_frames, h, w) is the same.
    flat = clone(enc).set_params(image_shape=(3, 8, 8))
    np.testing.assert_array_equal(flat.fit_transform(videos.reshape(5, -1)), G)


def test_no_fovea_keeps_only_the_other_parts(digit_images):
    # fovea_shape=None drops the fovea: the glimpses are the periphery and location
    # parts of the full encoder's glimpses, bit for bit, at the same fixations.
    full = SaccadeEncoder(n_glimpses=3, fovea_shape=3, periphery_shape=2, periphery_scale=2,
                          n_levels=2, gaze="object_scan", scan_shape=4, location_frame="image",
                          location_bits=64)
    G = full.fit_transform(digit_images[:6])
    layout = full.glimpse_layout()
    for params, parts in (({}, ("periphery", "location")),
                          ({"periphery_shape": None}, ("location",))):
        part = clone(full).set_params(fovea_shape=None, **params)
        Gp = part.fit_transform(digit_images[:6])
        expected = np.concatenate([G[..., layout[name]] for name in parts], axis=2)
        np.testing.assert_array_equal(Gp, expected)
        assert part.glimpse_layout()["fovea"] == slice(0, 0)
        assert part.n_bits_ == Gp.shape[2] == expected.shape[2]
        np.testing.assert_array_equal(part.fixations(digit_images[:6]),
                                      full.fixations(digit_images[:6]))
    # Saliency gaze needs no fovea either.
    assert SaccadeEncoder(n_glimpses=2, fovea_shape=None, location_bits=64).fit_transform(
        digit_images[:2]).shape == (2, 2, 64)


# -------------------------------------------------------------- locations

def _mean_overlap(code, a, b):
    return float((code(a) & code(b)).sum(axis=1).mean())


@pytest.mark.parametrize("kind", ["coordinate", "grid"])
def test_location_codes_share_bits_with_nearby_positions(kind):
    if kind == "coordinate":
        def code(p):
            return K.coordinate_sdr(p, 512, 24, 2.0)
        n_active = 24
    else:
        def code(p):
            return K.grid_cell_sdr(p, 8, 2.0)
        n_active = 8 * 4
    rng = np.random.RandomState(0)
    base = rng.uniform(-50, 50, size=(300, 2))
    assert (code(base).sum(axis=1) <= n_active).all()
    overlaps = []
    for d in (0, 1, 3, 6, 12, 40):
        angle = rng.uniform(0, 2 * np.pi, 300)
        moved = base + d * np.stack([np.cos(angle), np.sin(angle)], axis=1)
        overlaps.append(_mean_overlap(code, base, moved))
    assert overlaps[0] >= 0.95 * n_active
    assert all(a > b for a, b in zip(overlaps, overlaps[1:4])), overlaps
    assert overlaps[1] > 0.6 * n_active
    assert overlaps[-1] < 0.2 * n_active, overlaps  # far apart: little more than chance


def test_relative_location_frames():
    F = np.array([[[3, 4], [5, 4], [5, 9]]])
    np.testing.assert_array_equal(K.relative_positions(F, "image"), F)
    np.testing.assert_array_equal(K.relative_positions(F, "first"), [[[0, 0], [2, 0], [2, 5]]])
    np.testing.assert_array_equal(K.relative_positions(F, "displacement"),
                                  [[[0, 0], [2, 0], [0, 5]]])


# -------------------------------------------------------------- scikit-learn

def test_unfitted_transform_and_persistence(digit_images, tmp_path):
    X = digit_images[:20]
    enc = SaccadeEncoder(n_glimpses=4, fovea_shape=3, gaze="random", random_state=1)
    G = enc.transform(X)  # requires no fit
    fitted = clone(enc).fit(X)
    joblib.dump(fitted, tmp_path / "enc.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "enc.joblib").transform(X), G)


# ----------------------------------------------------------------- errors

@pytest.mark.parametrize("params, X, match", [
    ({"image_shape": (8, 9)}, np.zeros((2, 64)), "image_shape"),
    ({"image_shape": (8, 9)}, np.zeros((2, 8, 8)), "does not match image_shape"),
    ({}, np.zeros((2, 60)), "not a square image"),
    ({"fovea_shape": 9}, np.zeros((2, 8, 8)), "fovea .* larger than the images"),
    ({"fovea_shape": (2, 9)}, np.zeros((2, 8, 8)), "larger than the images"),
    ({"n_glimpses": 10, "fovea_shape": 1}, np.zeros((2, 3, 3)), "more than the 9 distinct"),
    ({}, np.full((2, 8, 8), np.nan), "NaN"),
    ({}, np.full((2, 8, 8), np.inf), "infinity"),
    ({}, -np.ones((2, 8, 8)), "Negative values"),
    ({"value_range": (0, 1)}, -np.ones((2, 8, 8)), "below value_range"),
    ({"value_range": (1, 0)}, np.ones((2, 8, 8)), "high > low"),
    ({"gaze": [[0, 0], [1, 1]]}, np.ones((2, 8, 8)), r"shape \(n_glimpses, 2\)"),
    ({"gaze": [[0, 0]] * 6}, np.ones((2, 8, 8)), "visits a position twice"),
    ({"gaze": [[0, 0], [1, 1], [2, 2], [3, 3], [4, 4], [8, 0]]}, np.ones((2, 8, 8)),
     "outside the"),
    ({"gaze": lambda frame, n: np.zeros((n, 3), int)}, np.ones((2, 8, 8)), "gaze callable"),
    ({"gaze": lambda frame, n: np.full((n, 2), 0.5)}, np.ones((2, 8, 8)), "integer"),
    ({"gaze": "object_scan", "scan_shape": 9}, np.ones((2, 8, 8)), "scan window"),
    ({"gaze": "scan", "scan_shape": 2, "n_glimpses": 5}, np.ones((2, 8, 8)),
     "more than the 4 distinct"),
    ({"location": "grid", "location_bits": 20}, np.ones((2, 8, 8)), "location_bits >= 36"),
    ({"fovea_shape": None, "location": None}, np.ones((2, 8, 8)), "would have no bits"),
    ({}, np.ones((2, 1, 1, 8, 8)), "dimension"),
    ({}, np.ones(64), "Reshape your data"),
    ({}, np.ones((0, 8, 8)), "0 sample"),
])
def test_bad_input_is_a_clear_error(params, X, match):
    enc = SaccadeEncoder(**params)
    with pytest.raises(ValueError, match=match) as info:
        enc.fit_transform(X)
    assert "SaccadeEncoder" in str(info.value)


def test_transform_checks_against_fit(digit_images):
    enc = SaccadeEncoder(fovea_shape=3).fit(digit_images[:5])
    with pytest.raises(ValueError, match="SaccadeEncoder.*expecting 64 features"):
        enc.transform(np.ones((2, 81)))
    with pytest.raises(ValueError, match=r"fit on \(1, 8, 8\)"):
        enc.transform(np.ones((2, 4, 16)))
    with pytest.raises(ValueError, match="SaccadeEncoder: sparse input is not supported"):
        enc.transform(sp.csr_matrix(np.ones((2, 64))))


@pytest.mark.parametrize("params, match", [
    ({"fovea_shape": (2.5, 3)}, "fovea_shape must be an int or a tuple of 2 ints"),
    ({"fovea_shape": (1, 1, 1)}, "fovea_shape must be"),
    ({"fovea_shape": (0, 3)}, "fovea_shape must be"),
    ({"fovea_shape": (True, 3)}, "fovea_shape must be"),
    ({"fovea_shape": [[2, 2]]}, "fovea_shape must be"),
    ({"periphery_shape": (2, 2.5)}, "periphery_shape must be"),
    ({"periphery_shape": "ab"}, "periphery_shape"),
    ({"gaze": "scan", "scan_shape": (4, 4, 4)}, "scan_shape must be"),
    ({"gaze": "object_scan", "scan_shape": (4.5, 4)}, "scan_shape must be"),
    ({"image_shape": (8.5, 8)}, "image_shape must be a tuple of 2 or 3 ints"),
    ({"image_shape": (1, 1, 8, 8)}, "image_shape must be"),
    ({"image_shape": 64}, "image_shape"),
    ({"value_range": (0, np.inf)}, "value_range must be .* finite"),
    ({"value_range": (-np.inf, 1)}, "value_range must be .* finite"),
    ({"value_range": (0, np.nan)}, "value_range must be .* finite"),
    ({"value_range": (0, 1, 2)}, "value_range must be"),
    ({"value_range": (1,)}, "value_range must be"),
    ({"value_range": ("a", "b")}, "value_range must be"),
    ({"saliency_sigma": np.inf}, "saliency_sigma"),
    ({"location_resolution": np.inf}, "location_resolution"),
    ({"saliency_sigma": 10 ** 400}, "saliency_sigma must be finite"),
    ({"n_glimpses": True}, "n_glimpses must be an int, not a bool"),
    ({"n_levels": True}, "n_levels must be an int"),
    ({"periphery_shape": 10 ** 20}, "periphery .* more than 4 times the images"),
    ({"periphery_shape": 3, "periphery_scale": 11}, "periphery .* more than 4 times"),
    ({"location_bits": 10 ** 30}, "too large .*location_bits"),
])
def test_bad_parameters_name_the_estimator_and_the_parameter(params, match):
    # Shapes are never truncated ((2.5, 3) read as (2, 3)) nor cut to length
    # ((1, 1, 1) read as (1, 1)); non-finite ranges never reach the scaling
    # (value_range=(0, inf) gave all-zero glimpses, an all-NaN saliency map).
    X = np.ones((2, 8, 8))
    enc = SaccadeEncoder(**params)
    for method in (enc.fit_transform, enc.fixations, enc.saliency):
        with pytest.raises(ValueError, match=match) as info:
            method(X)
        assert str(info.value).startswith("SaccadeEncoder: ") or "of SaccadeEncoder" in str(
            info.value), info.value


def test_integer_shapes_of_any_integer_type_are_accepted(digit_images):
    X = digit_images[:3]
    reference = SaccadeEncoder(fovea_shape=(3, 4), periphery_shape=2, gaze="scan",
                               scan_shape=(6, 6)).fit_transform(X)
    numpy_ints = SaccadeEncoder(fovea_shape=np.array([3, 4]), periphery_shape=np.int64(2),
                                gaze="scan", scan_shape=[np.int32(6), 6],
                                image_shape=np.array([8, 8])).fit_transform(X.reshape(3, -1))
    np.testing.assert_array_equal(numpy_ints, reference)


def _ndimage_saliency(frames, sigma, kind):
    """The saliency map as scipy.ndimage computes it on an explicitly padded canvas."""
    from scipy import ndimage

    if kind == "lowpass":
        return ndimage.gaussian_filter(frames, (0, sigma, sigma), mode="constant")
    margin = int(4.0 * sigma + 0.5)
    padded = np.pad(frames, ((0, 0), (margin, margin), (margin, margin)))
    band = (ndimage.gaussian_filter(padded, (0, sigma, sigma), mode="constant")
            - ndimage.gaussian_filter(padded, (0, 2 * sigma, 2 * sigma), mode="constant"))
    energy = ndimage.gaussian_filter(band * band, (0, sigma, sigma), mode="constant")
    return energy[:, margin:-margin, margin:-margin]


@pytest.mark.parametrize("kind", ["dog", "lowpass"])
@pytest.mark.parametrize("sigma", [0.7, 2.0, 3.5])
def test_saliency_map_equals_gaussian_filtering_on_a_black_canvas(digit_images, kind, sigma):
    frames = np.concatenate([digit_images[:4] / 16.0,
                             np.random.RandomState(0).rand(2, 8, 8)])
    frames = np.pad(frames, ((0, 0), (0, 2), (3, 0)))  # not square
    np.testing.assert_allclose(K.saliency_map(frames, sigma, kind),
                               _ndimage_saliency(frames, sigma, kind), rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("sigma", [300.0, 1e12])
def test_huge_saliency_sigma_is_cheap_and_finite(digit_images, sigma):
    # Padding by 4 sigma took 47 s and gigabytes for one 12 x 12 image at 300,
    # and asked for petabytes at 1e12: the work no longer grows with sigma.
    import tracemalloc

    X = np.pad(digit_images[:2], ((0, 0), (2, 2), (2, 2)))
    for kind in ("dog", "lowpass"):
        enc = SaccadeEncoder(n_glimpses=4, fovea_shape=3, saliency_sigma=sigma,
                             saliency_filter=kind)
        tracemalloc.start()
        try:
            maps = enc.saliency(X)
            glimpses = enc.fit_transform(X)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 20 * 2 ** 20, peak
        assert maps.shape == (2, 12, 12) and np.isfinite(maps).all()
        assert glimpses.shape == (2, 4, enc.n_bits_)
        # Still a path of distinct positions, the same for the same image.
        fixations = enc.fixations(np.concatenate([X, X]))
        np.testing.assert_array_equal(fixations[:2], fixations[2:])
        assert all(len(np.unique(path, axis=0)) == 4 for path in fixations)


@pytest.mark.parametrize("params", [{"fovea_shape": 4}, {"periphery_shape": 2},
                                    {"n_levels": 2}, {"location": None},
                                    {"location_bits": 128}])
def test_structural_parameter_changed_after_fit_is_refused(digit_images, params):
    X = digit_images[:4]
    enc = SaccadeEncoder(n_glimpses=3, fovea_shape=3).fit(X)
    n_bits = enc.n_bits_
    enc.set_params(**params)
    with pytest.raises(ValueError, match=f"SaccadeEncoder: .*fit for n_bits_={n_bits}.*fit again"):
        enc.transform(X)
    assert enc.n_bits_ == n_bits                     # nothing changed by the refusal
    # Refit: the output, n_bits_ and the feature names agree again.
    out = enc.fit(X).transform(X)
    assert out.shape[2] == enc.n_bits_ == len(enc.get_feature_names_out()) != n_bits


def test_parameter_change_that_keeps_the_glimpse_size_is_honoured(digit_images):
    X = digit_images[:4]
    enc = SaccadeEncoder(n_glimpses=3, fovea_shape=(2, 8), gaze="scan").fit(X)
    out = enc.set_params(fovea_shape=(4, 4)).transform(X)
    np.testing.assert_array_equal(out, SaccadeEncoder(n_glimpses=3, fovea_shape=(4, 4),
                                                      gaze="scan").fit_transform(X))


def test_huge_inhibition_radius_inhibits_everything_once(digit_images):
    # Its square overflowed a Python float (OverflowError); any radius beyond
    # the image's diagonal inhibits the same positions.
    X = digit_images[:5]
    huge = SaccadeEncoder(n_glimpses=5, fovea_shape=3, inhibition_radius=1e300).fixations(X)
    diagonal = SaccadeEncoder(n_glimpses=5, fovea_shape=3, inhibition_radius=16).fixations(X)
    np.testing.assert_array_equal(huge, diagonal)
    # (which is not the default radius's path: the radius matters)
    assert not np.array_equal(huge, SaccadeEncoder(n_glimpses=5, fovea_shape=3).fixations(X))
