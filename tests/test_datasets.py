"""skhtm.datasets: IDX files, the MNIST-family fetchers (never downloading), generators."""

import gzip
import os
import urllib.error
import urllib.request

import numpy as np
import pytest
from scipy import ndimage

from skhtm.datasets import (
    _mnist,
    fetch_fashion_mnist,
    fetch_mnist,
    get_data_home,
    make_cluttered,
    make_moving_digits,
    make_translated,
    read_idx,
    write_idx,
)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to download fails loudly instead of reaching the network."""
    def refuse(url, *args, **kwargs):
        raise urllib.error.URLError(f"network disabled in tests ({url})")
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


# ------------------------------------------------------------------ IDX

@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32,
                                   np.float64])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    array = (np.random.RandomState(0).randn(3, 4, 5) * 50).astype(dtype)
    path = tmp_path / f"a-idx3{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == (3, 4, 5)
    np.testing.assert_array_equal(back, array)
    with open(path, "rb") as f:
        assert (f.read(2) == b"\x1f\x8b") == (suffix == ".gz")


def test_idx_header_is_big_endian_lecun_layout(tmp_path):
    path = tmp_path / "labels-idx1-ubyte"
    write_idx(path, np.array([7, 2, 1], dtype=np.uint8))
    raw = path.read_bytes()
    assert raw == bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 2, 1])
    # Compression is detected from the content, not the name.
    gz = tmp_path / "labels-no-suffix"
    gz.write_bytes(gzip.compress(raw))
    np.testing.assert_array_equal(read_idx(gz), [7, 2, 1])


def test_idx_errors(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"PK\x03\x04rest")
    with pytest.raises(ValueError, match="read_idx: .* is not an IDX file"):
        read_idx(bad)
    bad.write_bytes(bytes([0, 0, 0x42, 1, 0, 0, 0, 1, 0]))
    with pytest.raises(ValueError, match="unknown IDX type code 0x42"):
        read_idx(bad)
    bad.write_bytes(bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"truncated: .*shape \(2, 3\)"):
        read_idx(bad)
    with pytest.raises(ValueError, match="write_idx: IDX cannot store dtype int64"):
        write_idx(tmp_path / "x", np.arange(3))


# ------------------------------------------------------------------ fetchers

def _write_mnist_like(folder, n_train=12, n_test=5, gz=True, seed=0):
    rng = np.random.RandomState(seed)
    os.makedirs(folder, exist_ok=True)
    arrays = {}
    for part, n in (("train", n_train), ("t10k", n_test)):
        images = rng.randint(0, 256, (n, 28, 28)).astype(np.uint8)
        labels = rng.randint(0, 10, n).astype(np.uint8)
        sfx = ".gz" if gz else ""
        write_idx(os.path.join(folder, f"{part}-images-idx3-ubyte{sfx}"), images)
        write_idx(os.path.join(folder, f"{part}-labels-idx1-ubyte{sfx}"), labels)
        arrays[part] = (images, labels)
    return arrays


@pytest.fixture
def no_system_copy(monkeypatch, tmp_path):
    """The fetchers see an empty system folder, whatever this machine has installed."""
    empty = tmp_path / "system"
    empty.mkdir()
    for name in _mnist.SOURCES:
        monkeypatch.setitem(_mnist.SOURCES[name], "system_dirs", (str(empty),))
    return empty


@pytest.mark.parametrize("fetch, name", [(fetch_fashion_mnist, "fashion-mnist"),
                                         (fetch_mnist, "mnist")])
def test_fetch_reads_data_home(tmp_path, no_system_copy, fetch, name):
    arrays = _write_mnist_like(tmp_path / "home" / name)
    bunch = fetch(data_home=tmp_path / "home")
    images, labels = arrays["train"]
    np.testing.assert_array_equal(bunch.images, images)
    np.testing.assert_array_equal(bunch.data, images.reshape(len(images), -1))
    np.testing.assert_array_equal(bunch.target, labels)
    assert bunch.target.dtype == np.int64 and bunch.data.dtype == np.uint8
    assert len(bunch.target_names) == 10 and len(bunch.feature_names) == 784
    assert bunch.feature_names[29] == "pixel_1_1" and bunch.DESCR
    X, y = fetch(data_home=tmp_path / "home", subset="test", return_X_y=True)
    np.testing.assert_array_equal(y, arrays["t10k"][1])
    X_all, y_all = fetch(data_home=tmp_path / "home", subset="all", return_X_y=True)
    assert X_all.shape == (17, 784)
    np.testing.assert_array_equal(y_all, np.concatenate([labels, y]))


def test_fetch_finds_the_system_copy_uncompressed(tmp_path, monkeypatch):
    system = tmp_path / "usr-share"
    arrays = _write_mnist_like(system, gz=False, seed=3)
    monkeypatch.setitem(_mnist.SOURCES["fashion-mnist"], "system_dirs", (str(system),))
    X, y = fetch_fashion_mnist(data_home=tmp_path / "home", subset="test",
                               download_if_missing=False, return_X_y=True)
    np.testing.assert_array_equal(X.reshape(-1, 28, 28), arrays["t10k"][0])
    # data_home comes first: a copy there wins over the system one.
    mine = _write_mnist_like(tmp_path / "home" / "fashion-mnist", seed=4)
    _, y2 = fetch_fashion_mnist(data_home=tmp_path / "home", subset="test", return_X_y=True)
    np.testing.assert_array_equal(y2, mine["t10k"][1])


def test_fetch_absent_without_download(tmp_path, no_system_copy):
    with pytest.raises(OSError, match=r"fetch_fashion_mnist: data not found .*"
                                      r"download_if_missing is False\. .*apt-get install "
                                      r"dataset-fashion-mnist"):
        fetch_fashion_mnist(data_home=tmp_path, download_if_missing=False)


def test_fetch_download_failure_is_clear_and_leaves_nothing(tmp_path, no_system_copy):
    with pytest.raises(OSError, match=r"fetch_mnist: could not download "
                                      r"train-images-idx3-ubyte.gz \(https://.*network "
                                      r"disabled"):
        fetch_mnist(data_home=tmp_path)
    assert os.listdir(tmp_path / "mnist") == []  # no partial files left for later calls


def test_fetch_download_checks_md5_and_caches(tmp_path, no_system_copy, monkeypatch):
    """A (fake) mirror serving the right bytes is cached; wrong bytes are refused."""
    served = {}
    for stem, key in (("train-images-idx3-ubyte", "img"), ("train-labels-idx1-ubyte", "lab")):
        path = tmp_path / "src" / (stem + ".gz")
        path.parent.mkdir(exist_ok=True)
        write_idx(path, np.full((2, 28, 28) if key == "img" else (2,), 5, np.uint8))
        served[stem + ".gz"] = path.read_bytes()
    md5 = {name: _mnist.hashlib.md5(data).hexdigest() for name, data in served.items()}
    monkeypatch.setitem(_mnist.SOURCES["mnist"], "md5", md5)
    calls = []

    class Response:
        def __init__(self, data):
            self.data = data

        def read(self, n=-1):
            out, self.data = (self.data, b"") if n < 0 else (self.data[:n], self.data[n:])
            return out

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def fake_urlopen(url, timeout=None):
        calls.append(url)
        name = url.rsplit("/", 1)[1]
        # The first mirror serves corrupt bytes, the second the right ones.
        return Response(b"corrupt" if "ossci" in url else served[name])

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    X, y = fetch_mnist(data_home=tmp_path / "home", return_X_y=True)
    assert X.shape == (2, 784) and (X == 5).all() and list(y) == [5, 5]
    assert len(calls) == 4  # two files, each refused by the first mirror
    assert sorted(os.listdir(tmp_path / "home" / "mnist")) == sorted(served)
    calls.clear()
    fetch_mnist(data_home=tmp_path / "home")  # cached: no download
    assert calls == []


def test_fetch_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="fetch_mnist: subset must be"):
        fetch_mnist(data_home=tmp_path, subset="validation")
    with pytest.raises(TypeError, match="download_if_missing must be a bool"):
        fetch_mnist(data_home=tmp_path, download_if_missing="no")


def test_get_data_home_env(tmp_path, monkeypatch):
    monkeypatch.setenv("SKHTM_DATA", str(tmp_path / "env-home"))
    assert get_data_home() == str(tmp_path / "env-home")
    assert os.path.isdir(tmp_path / "env-home")


@pytest.mark.skipif(not os.path.exists("/usr/share/datasets/fashion-mnist"),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_fetch_fashion_mnist_real_system_copy(tmp_path):
    X, y = fetch_fashion_mnist(data_home=tmp_path, subset="test", download_if_missing=False,
                               return_X_y=True)
    assert X.shape == (10000, 784) and np.bincount(y).tolist() == [1000] * 10


# ------------------------------------------------------------------ generators

def test_make_translated_places_each_image_whole():
    images = np.random.RandomState(0).randint(1, 256, (50, 28, 28)).astype(np.uint8)
    canvases, offsets = make_translated(images, 60, random_state=1, return_offsets=True)
    assert canvases.shape == (50, 60, 60) and canvases.dtype == np.uint8
    assert offsets.min() >= 0 and offsets.max() <= 32
    for canvas, image, (r, c) in zip(canvases, images, offsets):
        np.testing.assert_array_equal(canvas[r:r + 28, c:c + 28], image)
        assert canvas.sum(dtype=np.int64) == image.sum(dtype=np.int64)  # background 0
    # Positions cover the canvas: both extremes are drawn among many images.
    _, many = make_translated(np.ones((2000, 28, 28)), 60, random_state=0, return_offsets=True)
    assert many.min() == 0 and many.max() == 32
    again = make_translated(images, 60, random_state=1)
    np.testing.assert_array_equal(again, canvases)
    flat = make_translated(images.reshape(50, -1), (60, 70), random_state=1)
    assert flat.shape == (50, 60, 70)


def test_make_translated_errors():
    with pytest.raises(ValueError, match="make_translated: images of 28x28 do not fit"):
        make_translated(np.zeros((2, 28, 28)), 20)
    with pytest.raises(ValueError, match="not square; pass image_shape"):
        make_translated(np.zeros((2, 30)), 20)
    with pytest.raises(ValueError, match="image_shape .* does not match"):
        make_translated(np.zeros((2, 30)), 20, image_shape=(4, 4))
    with pytest.raises(ValueError, match="canvas_shape must be"):
        make_translated(np.zeros((2, 4, 4)), (10, 0))



def _object_layer(canvases, images, offsets):
    """The canvases as they would be with the objects alone (no clutter)."""
    layer = np.zeros_like(canvases)
    h, w = images.shape[1:]
    for canvas, image, (r, c) in zip(layer, images, offsets):
        canvas[r:r + h, c:c + w] = image
    return layer


def _constant_images(n, shape=(28, 28)):
    """Image i filled with i + 1: a canvas pixel's value names the image it came from."""
    return np.broadcast_to(np.arange(1, n + 1, dtype=np.uint8)[:, None, None],
                           (n, *shape)).copy()


def test_make_cluttered_shape_dtype_seed_and_object():
    images = np.random.RandomState(0).randint(1, 256, (50, 28, 28)).astype(np.uint8)
    canvases, offsets = make_cluttered(images, 60, random_state=1, return_offsets=True)
    assert canvases.shape == (50, 60, 60) and canvases.dtype == np.uint8
    assert offsets.shape == (50, 2) and offsets.min() >= 0 and offsets.max() <= 32
    # Clutter adds ink but never erases the object, which sits whole at its offset.
    layer = _object_layer(canvases, images, offsets)
    assert (canvases >= layer).all()
    assert (canvases != layer).any()
    # Placement is make_translated's draw; without fragments the canvases are its canvases.
    translated, translated_offsets = make_translated(images, 60, random_state=1,
                                                     return_offsets=True)
    np.testing.assert_array_equal(offsets, translated_offsets)
    bare, bare_offsets = make_cluttered(images, 60, n_fragments=0, random_state=1,
                                        return_offsets=True)
    np.testing.assert_array_equal(bare, translated)
    np.testing.assert_array_equal(bare_offsets, offsets)
    # Same seed, same canvases; another seed, other canvases.
    np.testing.assert_array_equal(make_cluttered(images, 60, random_state=1), canvases)
    assert (make_cluttered(images, 60, random_state=2) != canvases).any()
    flat = make_cluttered(images.reshape(50, -1).astype(np.float32), (60, 70),
                          fragment_shape=(5, 9), random_state=1)
    assert flat.shape == (50, 60, 70) and flat.dtype == np.float32


def test_make_cluttered_fragments_come_from_other_images():
    n = 5
    images = _constant_images(n, (10, 10))
    canvases, offsets = make_cluttered(images, 80, n_fragments=40, fragment_shape=2,
                                       random_state=0, return_offsets=True)
    layer = _object_layer(canvases, images, offsets)
    for i, (canvas, objects) in enumerate(zip(canvases, layer)):
        outside = (objects == 0) & (canvas != 0)
        # Every other image, and only other images, shows up in the clutter.
        assert set(np.unique(canvas[outside])) == set(range(1, n + 1)) - {i + 1}
        # Over the object only brighter fragments show; elsewhere it is intact.
        inside = objects != 0
        assert set(np.unique(canvas[inside])) <= set(range(i + 1, n + 1))
    # The brightest object is never covered.
    r, c = offsets[-1]
    assert (canvases[-1, r:r + 10, c:c + 10] == n).all()
    # A batch of one image is cluttered with fragments of itself.
    coded = np.arange(1, 401, dtype=np.float64).reshape(1, 20, 20)
    alone, ((r, c),) = make_cluttered(coded, 50, random_state=0, return_offsets=True)
    clutter = alone[0].copy()
    clutter[r:r + 20, c:c + 20] = 0
    assert clutter.any() and set(np.unique(clutter)) - {0} <= set(coded.ravel())


def test_make_cluttered_fragments_are_whole_patches():
    n, h, w, fh, fw, n_fragments = 60, 20, 20, 5, 7, 3
    index, row, col = np.meshgrid(np.arange(n), np.arange(h), np.arange(w), indexing="ij")
    # Each pixel's value encodes its image, row and column.
    coded = (1 + index * 10000 + row * 100 + col).astype(np.float64)
    canvases, offsets = make_cluttered(coded, 50, n_fragments=n_fragments,
                                       fragment_shape=(fh, fw), random_state=3,
                                       return_offsets=True)
    layer = _object_layer(canvases, coded, offsets)
    cut_rows, cut_cols, whole = set(), set(), 0
    for i, (canvas, objects) in enumerate(zip(canvases, layer)):
        R, C = np.nonzero(canvas != objects)
        value = canvas[R, C].astype(np.int64) - 1
        source, src_r, src_c = value // 10000, value // 100 % 100, value % 100
        assert (source != i).all()
        cut_rows |= set(src_r)
        cut_cols |= set(src_c)
        # A fragment is a translated copy: its pixels share a source and a shift.
        patches = {}
        for key in zip(source, R - src_r, C - src_c, R, C):
            patches.setdefault(key[:3], []).append(key[3:])
        assert 1 <= len(patches) <= n_fragments
        for pixels in patches.values():
            rows, cols = np.array(pixels).T
            assert np.ptp(rows) < fh and np.ptp(cols) < fw
            whole += len(pixels) == fh * fw
    assert whole > 0
    # Cuts reach every row and column of the source images.
    assert cut_rows == set(range(h)) and cut_cols == set(range(w))


def test_make_cluttered_clutter_area_matches_n_fragments():
    n, area = 30, 8 * 8
    images = _constant_images(n)
    for n_fragments in (1, 4):
        canvases, offsets = make_cluttered(images, 60, n_fragments=n_fragments,
                                           random_state=0, return_offsets=True)
        clutter = (canvases > _object_layer(canvases, images, offsets)).sum(axis=(1, 2))
        assert (clutter <= n_fragments * area).all()
        # On the darkest object every fragment pixel shows: at least one fragment's area.
        assert area <= clutter[0] <= n_fragments * area
        assert clutter.max() == n_fragments * area
        assert ((canvases != 0).sum(axis=(1, 2)) >= 28 * 28).all()
    # Fragments are pasted wholly on the canvas, reaching every pixel of it.
    ones = np.ones((2000, 8, 8), np.uint8)
    canvases, offsets = make_cluttered(ones, 20, n_fragments=1, random_state=0,
                                       return_offsets=True)
    clutter = canvases > _object_layer(canvases, ones, offsets)
    assert clutter.any(axis=0).all()


def test_make_cluttered_errors():
    images = np.zeros((2, 28, 28))
    with pytest.raises(ValueError, match="make_cluttered: n_fragments must be an int >= 0"):
        make_cluttered(images, n_fragments=-1)
    with pytest.raises(ValueError, match="make_cluttered: n_fragments must be an int >= 0"):
        make_cluttered(images, n_fragments=2.5)
    with pytest.raises(ValueError, match=r"make_cluttered: fragments of 30x4 are larger "
                                         r"than the 28x28 images"):
        make_cluttered(images, fragment_shape=(30, 4))
    with pytest.raises(ValueError, match="make_cluttered: fragment_shape must be"):
        make_cluttered(images, fragment_shape=0)
    with pytest.raises(ValueError, match="make_cluttered: images of 28x28 do not fit on "
                                         "a 20x20 canvas"):
        make_cluttered(images, 20)
    with pytest.raises(ValueError, match="make_cluttered: canvas_shape must be"):
        make_cluttered(images, (60, 0))
    with pytest.raises(ValueError, match="make_cluttered: 30 pixels per image is not square"):
        make_cluttered(np.zeros((2, 30)))
    with pytest.raises(ValueError, match="make_cluttered: images must be"):
        make_cluttered(np.zeros((2, 2, 28, 28)))
    with pytest.raises(ValueError, match="make_cluttered: no images given"):
        make_cluttered(np.zeros((0, 28, 28)))

@pytest.mark.parametrize("n_directions", [4, 8])
def test_moving_digits_move_in_their_direction(n_directions):
    X, y = make_moving_digits(60, n_frames=6, canvas_shape=32, n_directions=n_directions,
                              speed=2.0, random_state=0)
    digit, direction = y // n_directions, y % n_directions
    assert X.shape == (60, 6, 32, 32) and X.dtype == np.uint8
    assert digit.max() <= 9 and set(direction) == set(range(n_directions))
    angles = 2 * np.pi * direction / n_directions
    for video, a in zip(X, angles):
        centres = np.array([ndimage.center_of_mass(frame.astype(float)) for frame in video])
        step = np.diff(centres, axis=0).mean(axis=0)
        # The whole digit stays on the canvas and moves ~speed px per frame that way.
        assert len({int(f.sum(dtype=np.int64)) for f in video}) == 1
        np.testing.assert_allclose(step, [-2 * np.sin(a), 2 * np.cos(a)], atol=0.3)


def test_moving_digits_targets_and_seed():
    X, y = make_moving_digits(30, random_state=5)
    X2, d = make_moving_digits(30, target="digit", random_state=5)
    _, r = make_moving_digits(30, target="direction", random_state=5)
    np.testing.assert_array_equal(X, X2)  # target does not change the draw
    np.testing.assert_array_equal(y, d * 4 + r)
    # The frame shows the bundled digit of that label (scaled to 0-255).
    from sklearn.datasets import load_digits
    digits = load_digits()
    scaled = np.rint(digits.images * 255 / 16).astype(np.uint8).reshape(len(digits.images), -1)
    for video, label in zip(X[:5], d[:5]):
        windows = np.lib.stride_tricks.sliding_window_view(video[0], (8, 8)).reshape(-1, 64)
        shown = {digits.target[k] for k in range(len(scaled))
                 if (windows == scaled[k]).all(axis=1).any()}
        assert label in shown


def test_moving_digits_own_images_and_errors():
    images = np.zeros((3, 4, 4), np.uint8)
    images[:, 1:3, 1:3] = 200
    X, y = make_moving_digits(10, images=images, target="direction", canvas_shape=12,
                              n_frames=3, random_state=0)
    assert X.shape == (10, 3, 12, 12) and y.max() < 4
    with pytest.raises(ValueError, match="does not stay on a 10x10 canvas"):
        make_moving_digits(5, canvas_shape=10, n_frames=8, speed=2)
    with pytest.raises(ValueError, match="target='both' needs image_labels"):
        make_moving_digits(5, images=images, canvas_shape=12)
    with pytest.raises(ValueError, match="image_labels must be 3 ints"):
        make_moving_digits(5, images=images, image_labels=[1, 2], canvas_shape=12)
    with pytest.raises(ValueError, match="target must be"):
        make_moving_digits(5, target="speed")
    with pytest.raises(ValueError, match="n_frames must be an int >= 1"):
        make_moving_digits(5, n_frames=0)
    with pytest.raises(ValueError, match="speed must be a finite number"):
        make_moving_digits(5, speed=np.nan)
