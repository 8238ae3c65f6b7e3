"""Pictures of what skhtm's estimators learn and do (needs matplotlib).

matplotlib is an optional extra (``pip install "skhtm[plot]"``): skhtm imports
without it, and every function here raises an ``ImportError`` saying how to
install it when it is missing. Each function draws into the axes it is given
(or a new figure) and returns them, so pictures compose with your own.
"""

import numpy as np

__all__ = [
    "plot_anomaly",
    "plot_class_pictures",
    "plot_evidence",
    "plot_gaze_path",
    "plot_receptive_fields",
    "plot_reconstructions",
]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "skhtm.plotting needs matplotlib, which is not installed. Install it with "
            "pip install \"skhtm[plot]\" (or pip install matplotlib).") from exc
    return plt


def _as_images(X, image_shape):
    """Rows of X as (n, h, w) images; extra bits per pixel (grey levels) are averaged."""
    X = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)
    X = X.reshape(-1, X.shape[-1])
    if image_shape is None:
        side = int(round(np.sqrt(X.shape[1])))
        if side * side != X.shape[1]:
            raise ValueError(f"{X.shape[1]} values per image is not a square image; pass "
                             "image_shape=(h, w).")
        image_shape = (side, side)
    h, w = (int(v) for v in image_shape[:2])
    if X.shape[1] % (h * w):
        raise ValueError(f"{X.shape[1]} values per image do not fit image_shape={(h, w)}.")
    return X.reshape(len(X), h, w, X.shape[1] // (h * w)).mean(axis=3)


def _grid(n, ncols, axes, size):
    plt = _pyplot()
    if axes is None:
        nrows = -(-n // ncols)
        _, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.4),
                               squeeze=False, layout="constrained")
    axes = np.asarray(axes).ravel()
    if len(axes) < n:
        raise ValueError(f"{n} pictures need {n} axes; got {len(axes)}.")
    for ax in axes:
        ax.set_axis_off()
    return axes


def plot_receptive_fields(spatial_pooler, columns=None, *, n_columns=16, image_shape=None,
                          connected=False, ncols=8, axes=None, cmap="magma"):
    """Draw the receptive fields of Spatial Pooler columns over the input image.

    Each picture is one column's permanence to every input (0 outside its
    potential pool), laid out as the input image. When the input has several
    bits per pixel (e.g. ``input_shape=(8, 8, 4)`` after a
    :class:`~skhtm.ThermometerEncoder`), the bits of a pixel are averaged.

    Parameters
    ----------
    spatial_pooler : SpatialPoolerTransformer
        A fitted Spatial Pooler.
    columns : array-like of int, default=None
        The columns to draw. ``None``: the ``n_columns`` most active ones
        (highest active duty cycle; the first columns before any learning).
    n_columns : int, default=16
        How many columns to draw when ``columns`` is None.
    image_shape : tuple of int, default=None
        ``(h, w)`` of the input image. ``None``: the first two axes of the
        pooler's ``input_shape_`` when it has two or more, else a square.
    connected : bool, default=False
        Draw connected synapses (1) instead of permanences.
    ncols : int, default=8
        Pictures per row of a new figure.
    axes : array of matplotlib Axes, default=None
        Where to draw, one per column; ``None``: a new figure.
    cmap : str, default="magma"

    Returns
    -------
    axes : ndarray of matplotlib Axes
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(spatial_pooler, "permanences_")
    if columns is None:
        order = np.argsort(-spatial_pooler.active_duty_cycles_, kind="stable")
        columns = order[:n_columns]
    columns = np.asarray(columns, dtype=np.int64).ravel()
    if image_shape is None and len(spatial_pooler.input_shape_) >= 2:
        image_shape = spatial_pooler.input_shape_[:2]
    perms = spatial_pooler.permanences_[columns].toarray()
    if connected:
        perms = (perms >= spatial_pooler.syn_perm_connected).astype(np.float64)
    images = _as_images(perms, image_shape)
    axes = _grid(len(columns), min(ncols, len(columns)), axes, 1.2)
    vmax = max(float(images.max()), 1e-12)
    for ax, image, column in zip(axes, images, columns):
        ax.imshow(image, cmap=cmap, vmin=0.0, vmax=vmax, interpolation="nearest")
        ax.set_title(f"column {column}", fontsize=7)
    return axes[:len(columns)]


def plot_reconstructions(originals, reconstructions, *, image_shape=None, labels=None,
                         axes=None, cmap="gray_r"):
    """Draw images above what a Spatial Pooler reconstructs of them.

    Typically ``reconstructions = sp.inverse_transform(sp.transform(X))``:
    the input pattern the active columns stand for. Either row may also be a
    class's mean SDR mapped back (a class average).

    Parameters
    ----------
    originals : array-like of shape (n_images, n_inputs) or None
        Top row; ``None`` draws the reconstructions only.
    reconstructions : array-like of shape (n_images, n_inputs)
        Bottom row. Several values per pixel (grey-level bits) are averaged.
    image_shape : tuple of int, default=None
        ``(h, w)``; ``None``: square images.
    labels : list of str, default=None
        A title per image.
    axes : array of matplotlib Axes, default=None
        ``(2, n_images)`` (or ``n_images`` without originals); ``None``: a new figure.
    cmap : str, default="gray_r"

    Returns
    -------
    axes : ndarray of matplotlib Axes
    """
    rows = [r for r in (originals, reconstructions) if r is not None]
    images = [_as_images(r, image_shape) for r in rows]
    n = len(images[-1])
    if any(len(im) != n for im in images):
        raise ValueError("originals and reconstructions must hold as many images.")
    axes = _grid(n * len(images), n, axes, 1.1).reshape(len(images), n)
    for r, row in enumerate(images):
        for i, image in enumerate(row):
            axes[r, i].imshow(image, cmap=cmap, interpolation="nearest")
            if r == 0 and labels is not None:
                axes[r, i].set_title(str(labels[i]), fontsize=8)
    if len(images) == 2:
        axes[0, 0].text(-0.1, 0.5, "input", transform=axes[0, 0].transAxes, ha="right",
                        va="center", fontsize=8)
        axes[1, 0].text(-0.1, 0.5, "back-fed", transform=axes[1, 0].transAxes, ha="right",
                        va="center", fontsize=8)
    return axes


def plot_gaze_path(image, fixations, *, fovea_shape=None, ax=None, cmap="gray_r",
                   color="tab:red"):
    """Draw a gaze path over an image: numbered fixations, saccades, fovea boxes.

    Parameters
    ----------
    image : array-like of shape (h, w)
        One image (or video frame).
    fixations : array-like of shape (n_glimpses, 2)
        ``(row, col)`` of each fixation, in order, e.g.
        ``SaccadeEncoder.fixations(X)[i]``.
    fovea_shape : int or tuple of int, default=None
        Draw the fovea patch seen at each fixation.
    ax : matplotlib Axes, default=None
    cmap : str, default="gray_r"
    color : str, default="tab:red"

    Returns
    -------
    ax : matplotlib Axes
    """
    plt = _pyplot()
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D (h, w); got shape {image.shape}.")
    points = np.asarray(fixations, dtype=np.float64).reshape(-1, 2)
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    ax.imshow(image, cmap=cmap, interpolation="nearest")
    ax.plot(points[:, 1], points[:, 0], "-", color=color, lw=1.2, alpha=0.8)
    ax.scatter(points[:, 1], points[:, 0], s=30, color=color, zorder=3)
    if fovea_shape is not None:
        fh, fw = (fovea_shape, fovea_shape) if np.isscalar(fovea_shape) else fovea_shape
        from matplotlib.patches import Rectangle
        for r, c in points:
            # The fovea of a fixation at (r, c) covers rows r - fh // 2 ... r - fh // 2 + fh - 1.
            ax.add_patch(Rectangle((c - fw // 2 - 0.5, r - fh // 2 - 0.5), fw, fh, fill=False,
                                   ec=color, lw=0.6, alpha=0.5))
    for i, (r, c) in enumerate(points):
        ax.annotate(str(i + 1), (c, r), xytext=(3, 3), textcoords="offset points",
                    color=color, fontsize=7, weight="bold")
    ax.set_xlim(-0.5, image.shape[1] - 0.5)
    ax.set_ylim(image.shape[0] - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def plot_evidence(proba_steps, *, classes=None, true_class=None, ax=None, cmap="Blues"):
    """Draw how the evidence for each class grows glimpse after glimpse.

    A heat map with one row per glimpse (the first at the top) and one column
    per class: the probability of the class after that many glimpses. A dot
    marks each row's most probable class; a box frames the true class.

    Parameters
    ----------
    proba_steps : array-like of shape (n_glimpses, n_classes)
        Class probabilities of one sample after each glimpse, e.g. row ``i``
        of every array :meth:`~skhtm.ObjectLayerClassifier.staged_predict_proba`
        yields: ``np.array([p[i] for p in clf.staged_predict_proba(G)])``.
    classes : array-like of shape (n_classes,), default=None
        Class labels for the columns (e.g. ``clf.classes_``). ``None``:
        ``0 ... n_classes - 1``.
    true_class : label, default=None
        The class to frame (one of ``classes``).
    ax : matplotlib Axes, default=None
    cmap : str, default="Blues"

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> from skhtm.plotting import plot_evidence
    >>> proba = np.array([[0.5, 0.3, 0.2], [0.2, 0.7, 0.1]])
    >>> ax = plot_evidence(proba, classes=["a", "b", "c"], true_class="b")
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['a', 'b', 'c']
    """
    plt = _pyplot()
    proba = np.asarray(proba_steps, dtype=np.float64)
    if proba.ndim != 2:
        raise ValueError(f"plot_evidence: proba_steps must be (n_glimpses, n_classes); got "
                         f"shape {proba.shape}.")
    n_steps, n_classes = proba.shape
    classes = np.arange(n_classes) if classes is None else np.asarray(classes)
    if classes.shape != (n_classes,):
        raise ValueError(f"plot_evidence: {len(classes)} classes for {n_classes} columns of "
                         f"proba_steps.")
    if ax is None:
        _, ax = plt.subplots(figsize=(0.35 * n_classes + 1.2, 0.3 * n_steps + 1.0))
    ax.imshow(proba, cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
    steps = np.arange(n_steps)
    ax.scatter(np.argmax(proba, axis=1), steps, s=12, color="tab:orange", zorder=3)
    ax.set_xticks(np.arange(n_classes), [str(c) for c in classes])
    ax.set_yticks(steps, [str(t + 1) for t in steps])
    ax.set_xlabel("class")
    ax.set_ylabel("glimpses")
    if true_class is not None:
        where = np.flatnonzero(classes == true_class)
        if len(where) == 0:
            raise ValueError(f"plot_evidence: true_class={true_class!r} is not one of the "
                             f"classes {list(classes)}.")
        from matplotlib.patches import Rectangle
        k = int(where[0])
        ax.add_patch(Rectangle((k - 0.5, -0.5), 1, n_steps, fill=False, ec="tab:red", lw=1.5))
        ax.get_xticklabels()[k].set_color("tab:red")
        ax.get_xticklabels()[k].set_fontweight("bold")
    return ax


def plot_anomaly(anomaly, *, events=None, window=None, threshold=None, ax=None,
                 label="raw anomaly"):
    """Draw an anomaly trace over time, with the moments something changed.

    Parameters
    ----------
    anomaly : array-like of shape (n_steps,) or (n_steps, 1)
        Scores per step, e.g. a :class:`~skhtm.TemporalMemoryTransformer`'s
        ``transform`` with ``output="anomaly"`` on a stream, or minus its
        ``score_samples``.
    events : array-like of int, default=None
        Steps to mark (e.g. where an anomaly was injected).
    window : int, default=None
        Also draw the moving average over this many steps.
    threshold : float, default=None
        Draw a horizontal line at this score.
    ax : matplotlib Axes, default=None
    label : str, default="raw anomaly"

    Returns
    -------
    ax : matplotlib Axes
    """
    plt = _pyplot()
    anomaly = np.asarray(anomaly, dtype=np.float64).reshape(-1)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 2.5))
    steps = np.arange(len(anomaly))
    ax.plot(steps, anomaly, lw=0.8, color="tab:blue", label=label)
    if window is not None and window > 1 and len(anomaly) >= window:
        smooth = np.convolve(anomaly, np.ones(window) / window, mode="valid")
        ax.plot(steps[window - 1:], smooth, lw=1.5, color="tab:orange",
                label=f"mean over {window} steps")
    if events is not None:
        for k, step in enumerate(np.asarray(events).ravel()):
            ax.axvline(step, color="tab:red", lw=1, ls="--",
                       label="event" if k == 0 else None)
    if threshold is not None:
        ax.axhline(threshold, color="grey", lw=0.8, ls=":", label=f"threshold {threshold:g}")
    ax.set_xlabel("time step")
    ax.set_ylabel("anomaly")
    ax.set_ylim(-0.05, 1.05)
    ax.legend(loc="upper right", fontsize=7)
    return ax


def plot_class_pictures(pictures, *, labels=None, image_shape=None, ncols=10, axes=None,
                        cmap="RdBu_r"):
    """Draw signed pictures: what a class looks for, or what supported it.

    Meant for :func:`skhtm.inspection.class_pictures` and
    :func:`skhtm.inspection.pixel_support`. Each picture gets a diverging colour
    map centred on zero, scaled to its own largest magnitude: red pixels push
    the class's score up, blue ones down, white ones do not matter.

    Parameters
    ----------
    pictures : array-like of shape (n_pictures, h, w) or (n_pictures, h * w)
    labels : list of str, default=None
        A title per picture.
    image_shape : tuple of int, default=None
        ``(h, w)`` for flat pictures; ``None``: square.
    ncols : int, default=10
        Pictures per row of a new figure.
    axes : array of matplotlib Axes, default=None
        Where to draw, one per picture; ``None``: a new figure.
    cmap : str, default="RdBu_r"

    Returns
    -------
    axes : ndarray of matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> from skhtm.plotting import plot_class_pictures
    >>> pictures = np.random.RandomState(0).randn(3, 8, 8)
    >>> axes = plot_class_pictures(pictures, labels=["a", "b", "c"])
    >>> [ax.get_title() for ax in axes]
    ['a', 'b', 'c']
    """
    pictures = np.asarray(pictures, dtype=np.float64)
    if pictures.ndim == 3:
        image_shape = pictures.shape[1:] if image_shape is None else image_shape
        pictures = pictures.reshape(len(pictures), -1)
    if pictures.ndim != 2:
        raise ValueError(f"plot_class_pictures: pictures must be (n_pictures, h, w) or "
                         f"(n_pictures, h * w); got shape {pictures.shape}.")
    images = _as_images(pictures, image_shape)
    n = len(images)
    if labels is not None and len(labels) != n:
        raise ValueError(f"plot_class_pictures: {len(labels)} labels for {n} pictures.")
    axes = _grid(n, min(ncols, n), axes, 1.1)
    for i, (ax, image) in enumerate(zip(axes, images)):
        # Zero stays white whatever the picture's range: the sign is the message.
        vmax = max(float(np.abs(image).max()), 1e-12)
        ax.imshow(image, cmap=cmap, vmin=-vmax, vmax=vmax, interpolation="nearest")
        if labels is not None:
            ax.set_title(str(labels[i]), fontsize=8)
    return axes[:n]
