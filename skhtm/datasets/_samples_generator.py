"""Generated vision data: images moving on a canvas (video), or placed on it, bare or cluttered."""

import numbers

import numpy as np
from sklearn.datasets import load_digits
from sklearn.utils import check_random_state


def _pair(value, name, func):
    if isinstance(value, numbers.Integral):
        value = (value, value)
    value = tuple(value)
    if len(value) != 2 or not all(isinstance(v, numbers.Integral) and v >= 1 for v in value):
        raise ValueError(f"{func}: {name} must be a positive int or a pair of them, "
                         f"got {value!r}.")
    return tuple(int(v) for v in value)


def _as_images(images, image_shape, func):
    images = np.asarray(images)
    if images.ndim == 2:
        n_pixels = images.shape[1]
        if image_shape is None:
            side = int(round(np.sqrt(n_pixels)))
            if side * side != n_pixels:
                raise ValueError(f"{func}: {n_pixels} pixels per image is not square; "
                                 "pass image_shape=(height, width).")
            image_shape = (side, side)
        image_shape = _pair(image_shape, "image_shape", func)
        if image_shape[0] * image_shape[1] != n_pixels:
            raise ValueError(f"{func}: image_shape {image_shape} does not match "
                             f"{n_pixels} pixels per image.")
        images = images.reshape(len(images), *image_shape)
    elif images.ndim != 3:
        raise ValueError(f"{func}: images must be (n_images, height, width) or "
                         f"(n_images, height*width), got shape {images.shape}.")
    if len(images) == 0:
        raise ValueError(f"{func}: no images given.")
    if images.dtype.kind not in "uifb":
        raise ValueError(f"{func}: images must be numeric, got dtype {images.dtype}.")
    return images


def make_translated(images, canvas_shape=60, *, image_shape=None, random_state=None,
                    return_offsets=False):
    """Place each image at a uniformly random position on a blank canvas.

    The translated-MNIST task of Mnih et al. (2014): a classifier that needs
    the object centred loses accuracy; one that finds the object does not.

    Parameters
    ----------
    images : array-like of shape (n_images, height, width) or (n_images, height*width)
        The images; the background (0) fills the rest of the canvas.
    canvas_shape : int or (int, int), default=60
        Canvas height and width; at least the image's.
    image_shape : (int, int), default=None
        Height and width of flattened images; None means square.
    random_state : int, RandomState instance or None, default=None
        Draws the positions.
    return_offsets : bool, default=False
        Also return the positions.

    Returns
    -------
    canvases : ndarray of shape (n_images, canvas_height, canvas_width)
        Same dtype as ``images``.
    offsets : ndarray of shape (n_images, 2)
        Row and column of each image's top-left corner; only if
        ``return_offsets``.

    Examples
    --------
    >>> import numpy as np
    >>> from skhtm.datasets import make_translated
    >>> canvases, offsets = make_translated(np.ones((3, 28, 28)), 60, random_state=0,
    ...                                     return_offsets=True)
    >>> canvases.shape, int(canvases[0].sum())
    ((3, 60, 60), 784)
    """
    func = "make_translated"
    images = _as_images(images, image_shape, func)
    H, W = _pair(canvas_shape, "canvas_shape", func)
    h, w = images.shape[1:]
    if h > H or w > W:
        raise ValueError(f"{func}: images of {h}x{w} do not fit on a {H}x{W} canvas.")
    canvases, offsets = _place_at_random(images, H, W, check_random_state(random_state))
    return (canvases, offsets) if return_offsets else canvases


def _place_at_random(images, H, W, rng):
    """Blank ``(H, W)`` canvases with each image at a uniformly random position."""
    h, w = images.shape[1:]
    offsets = np.column_stack([rng.randint(0, H - h + 1, len(images)),
                               rng.randint(0, W - w + 1, len(images))])
    canvases = np.zeros((len(images), H, W), dtype=images.dtype)
    for canvas, image, (r, c) in zip(canvases, images, offsets):
        canvas[r:r + h, c:c + w] = image
    return canvases, offsets


def make_cluttered(images, canvas_shape=60, *, n_fragments=4, fragment_shape=8,
                   image_shape=None, random_state=None, return_offsets=False):
    """Place each image at a random position among fragments of other images.

    The cluttered translated-MNIST task of Mnih et al. (2014): each image is
    placed as by :func:`make_translated`, then ``n_fragments`` patches of
    ``fragment_shape`` pixels, each cut at a uniformly random position from a
    uniformly random *other* image of the batch (from the image itself when
    the batch holds only one), are pasted at uniformly random positions wholly
    on the canvas. Distractors look locally like objects, so a model must find
    the object by its whole shape, not by where the ink is.

    Parameters
    ----------
    images : array-like of shape (n_images, height, width) or (n_images, height*width)
        The images; the background (0) fills the rest of the canvas.
    canvas_shape : int or (int, int), default=60
        Canvas height and width; at least the image's.
    n_fragments : int, default=4
        Distractor fragments per canvas; 0 gives :func:`make_translated`'s
        canvases for the same ``random_state``.
    fragment_shape : int or (int, int), default=8
        Fragment height and width; at most the image's.
    image_shape : (int, int), default=None
        Height and width of flattened images; None means square.
    random_state : int, RandomState instance or None, default=None
        Draws the positions, the source images and the fragments.
    return_offsets : bool, default=False
        Also return the positions of the objects.

    Returns
    -------
    canvases : ndarray of shape (n_images, canvas_height, canvas_width)
        Same dtype as ``images``.
    offsets : ndarray of shape (n_images, 2)
        Row and column of each image's top-left corner; only if
        ``return_offsets``.

    See Also
    --------
    make_translated : The same placement without clutter.

    Notes
    -----
    Object and fragments are composited by elementwise maximum, so on a dark
    background (0, the lowest value) a fragment adds ink but never erases the
    object: within its box the canvas is ``>=`` the image everywhere and equal
    to it wherever no fragment lands. Where fragments overlap each other the
    brighter pixel shows, so the clutter covers between one fragment's area
    and ``n_fragments`` times it.

    References
    ----------
    .. [1] V. Mnih, N. Heess, A. Graves and K. Kavukcuoglu, "Recurrent Models
       of Visual Attention", Advances in Neural Information Processing Systems
       27 (NIPS 2014), section 4.1.

    Examples
    --------
    >>> import numpy as np
    >>> from skhtm.datasets import make_cluttered
    >>> images = np.ones((3, 28, 28), dtype=np.uint8)
    >>> canvases, offsets = make_cluttered(images, 60, random_state=0, return_offsets=True)
    >>> canvases.shape, canvases.dtype
    ((3, 60, 60), dtype('uint8'))
    >>> r, c = offsets[0]
    >>> bool((canvases[0, r:r + 28, c:c + 28] == 1).all())  # the object, whole
    True
    >>> int(canvases[0].sum()) - 784  # clutter around it: at most 4 * 8 * 8 pixels
    256
    """
    func = "make_cluttered"
    images = _as_images(images, image_shape, func)
    H, W = _pair(canvas_shape, "canvas_shape", func)
    fh, fw = _pair(fragment_shape, "fragment_shape", func)
    if not isinstance(n_fragments, numbers.Integral) or n_fragments < 0:
        raise ValueError(f"{func}: n_fragments must be an int >= 0, got {n_fragments!r}.")
    n, h, w = images.shape
    if h > H or w > W:
        raise ValueError(f"{func}: images of {h}x{w} do not fit on a {H}x{W} canvas.")
    if fh > h or fw > w:
        raise ValueError(f"{func}: fragments of {fh}x{fw} are larger than the {h}x{w} "
                         "images they are cut from.")
    rng = check_random_state(random_state)
    canvases, offsets = _place_at_random(images, H, W, rng)
    shape = (n, int(n_fragments))
    # Adding 1..n-1 modulo n draws uniformly among the other images.
    source = ((np.arange(n)[:, None] + rng.randint(1, n, shape)) % n if n > 1
              else np.zeros(shape, dtype=int))
    cut_r, cut_c = rng.randint(0, h - fh + 1, shape), rng.randint(0, w - fw + 1, shape)
    paste_r, paste_c = rng.randint(0, H - fh + 1, shape), rng.randint(0, W - fw + 1, shape)
    rows, cols = np.arange(fh)[:, None], np.arange(fw)[None, :]
    canvas_index = np.arange(n)[:, None, None]
    # One fragment per canvas at a time: within a pass no pixel is written twice,
    # so a fancy-indexed read-maximum-write is exact.
    for k in range(shape[1]):
        fragments = images[source[:, k, None, None], cut_r[:, k, None, None] + rows,
                           cut_c[:, k, None, None] + cols]
        where = (canvas_index, paste_r[:, k, None, None] + rows,
                 paste_c[:, k, None, None] + cols)
        canvases[where] = np.maximum(canvases[where], fragments)
    return (canvases, offsets) if return_offsets else canvases


def _bundled_digits():
    digits = load_digits()
    # 0..16 grey levels -> 0..255, the range of MNIST-like data.
    return (digits.images * (255.0 / 16.0)).round().astype(np.uint8), digits.target


def make_moving_digits(n_samples=1000, *, n_frames=8, canvas_shape=24, n_directions=4,
                       speed=2.0, target="both", images=None, image_labels=None,
                       random_state=None):
    """Videos of images moving in a straight line across a canvas.

    Each video shows one image (by default one of scikit-learn's bundled 8x8
    digits, grey levels scaled to 0-255) moving at ``speed`` pixels per frame
    in one of ``n_directions`` directions, from a random start chosen so that
    it stays whole on the canvas. A single frame shows the digit but not the
    direction; a set of frames without their order shows the direction only
    up to its reverse, so telling opposite directions apart needs order.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of videos.
    n_frames : int, default=8
        Frames per video.
    canvas_shape : int or (int, int), default=24
        Canvas height and width.
    n_directions : int, default=4
        Directions evenly spaced round the circle: direction ``k`` moves at
        ``2*pi*k/n_directions`` radians counter-clockwise from rightwards
        (with 4: right, up, left, down).
    speed : float, default=2.0
        Pixels per frame; positions are rounded to whole pixels.
    target : {'both', 'digit', 'direction'}, default='both'
        The label: the image's label, the direction index, or both as one
        class ``label * n_directions + direction``.
    images : array-like of shape (n_images, height, width), default=None
        Images to move instead of the bundled digits.
    image_labels : array-like of int of shape (n_images,), default=None
        Their labels; required with ``images`` unless ``target='direction'``.
    random_state : int, RandomState instance or None, default=None
        Draws the images, directions and starts.

    Returns
    -------
    X : ndarray of shape (n_samples, n_frames, canvas_height, canvas_width)
        The videos, dtype of the images (uint8 for the bundled digits).
    y : ndarray of int of shape (n_samples,)
        The labels chosen by ``target``.

    Examples
    --------
    >>> from skhtm.datasets import make_moving_digits
    >>> X, y = make_moving_digits(20, n_frames=6, random_state=0)
    >>> X.shape, int(y.max()) < 10 * 4
    ((20, 6, 24, 24), True)
    """
    func = "make_moving_digits"
    for name, value, low in (("n_samples", n_samples, 1), ("n_frames", n_frames, 1),
                             ("n_directions", n_directions, 1)):
        if not isinstance(value, numbers.Integral) or value < low:
            raise ValueError(f"{func}: {name} must be an int >= {low}, got {value!r}.")
    if not isinstance(speed, numbers.Real) or not np.isfinite(speed) or speed < 0:
        raise ValueError(f"{func}: speed must be a finite number >= 0, got {speed!r}.")
    if target not in ("both", "digit", "direction"):
        raise ValueError(f"{func}: target must be 'both', 'digit' or 'direction', "
                         f"got {target!r}.")
    if images is None:
        if image_labels is not None:
            raise ValueError(f"{func}: image_labels given without images.")
        images, image_labels = _bundled_digits()
    else:
        images = _as_images(images, None, func)
        if image_labels is None:
            if target != "direction":
                raise ValueError(f"{func}: target={target!r} needs image_labels "
                                 "for the given images.")
        else:
            image_labels = np.asarray(image_labels)
            if image_labels.shape != (len(images),) or image_labels.dtype.kind not in "iu":
                raise ValueError(f"{func}: image_labels must be {len(images)} ints, got "
                                 f"shape {image_labels.shape} dtype {image_labels.dtype}.")
    H, W = _pair(canvas_shape, "canvas_shape", func)
    h, w = images.shape[1:]
    angles = 2 * np.pi * np.arange(n_directions) / n_directions
    # Per-frame displacement in (row, col); rows grow downwards, so "up" is -row.
    step = np.column_stack([-np.sin(angles), np.cos(angles)]) * speed
    t = np.arange(n_frames)
    paths = np.rint(t[None, :, None] * step[:, None, :]).astype(int)  # (dir, frame, 2)
    low, high = paths.min(axis=1), paths.max(axis=1)  # extent of each path
    room = np.array([H - h, W - w])[None, :] - (high - low)
    if (room < 0).any():
        raise ValueError(f"{func}: a {h}x{w} image moving {n_frames - 1} frames at speed "
                         f"{speed} does not stay on a {H}x{W} canvas; enlarge canvas_shape "
                         "or lower speed or n_frames.")
    rng = check_random_state(random_state)
    which = rng.randint(0, len(images), n_samples)
    direction = rng.randint(0, n_directions, n_samples)
    start = (rng.randint(0, room[direction] + 1) - low[direction])  # (n_samples, 2)
    X = np.zeros((n_samples, n_frames, H, W), dtype=images.dtype)
    for i in range(n_samples):
        for f, (r, c) in enumerate(start[i] + paths[direction[i]]):
            X[i, f, r:r + h, c:c + w] = images[which[i]]
    if target == "direction":
        y = direction.astype(np.int64)
    else:
        labels = np.asarray(image_labels)[which].astype(np.int64)
        y = labels if target == "digit" else labels * n_directions + direction
    return X, y
