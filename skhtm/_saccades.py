"""Numeric kernels of the SaccadeEncoder: gaze policies, glimpse extraction and
location codes. Plain functions over numpy arrays; no estimator state.

Conventions: a stack of frames is ``(n, h, w)`` float64 scaled to [0, 1]; a
fixation is an integer ``(row, col)`` pixel position; fixations are
``(n, n_glimpses, 2)`` int64. Everything outside a frame reads as 0, so a
glimpse near the border sees black, exactly as it would if the frame sat on a
larger black canvas. That makes glimpses, saliency and relative locations
equivariant to translation.
"""

import math
import zlib

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
# Salts keep the different hashed quantities independent of one another.
_SALT_ORDER = np.uint64(0x243F6A8885A308D3)
_SALT_BIT = np.uint64(0x13198A2E03707344)


# --------------------------------------------------------------- hashing

def splitmix64(x):
    """SplitMix64 finaliser, elementwise on uint64: a fast, well-mixed hash."""
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def frame_seeds(frames, seed):
    """One uint64 seed per frame from its content and ``seed``.

    Random gaze is a function of the frame and the seed only, never of the
    frame's position in a batch, so transform does not depend on how the
    samples are chunked.
    """
    frames = np.ascontiguousarray(frames)
    crc = np.fromiter((zlib.crc32(f.tobytes()) for f in frames), dtype=np.uint64,
                      count=len(frames))
    return splitmix64(crc ^ (np.uint64(seed) << np.uint64(32)))


# --------------------------------------------------------- gaze policies

def scan_fixations(frame_shape, n_glimpses):
    """A fixed scan: centres of a near-square grid of cells, row by row in a
    boustrophedon (the eye does not jump back across the image).

    Returns (n_glimpses, 2) int64; distinct whenever ``n_glimpses <= h * w``.
    """
    h, w = frame_shape
    rows = int(min(h, max(1, round(np.sqrt(n_glimpses * h / w)))))
    cols = -(-n_glimpses // rows)
    if cols > w:
        cols, rows = w, -(-n_glimpses // w)
    r = ((np.arange(rows) + 0.5) * h / rows).astype(np.int64)
    c = ((np.arange(cols) + 0.5) * w / cols).astype(np.int64)
    points = [(r[i], c[j if i % 2 == 0 else cols - 1 - j])
              for i in range(rows) for j in range(cols)]
    return np.array(points[:n_glimpses], dtype=np.int64).reshape(n_glimpses, 2)


def centre_of_mass(frames):
    """Brightness-weighted centre of each frame, rounded to a pixel, (n, 2) int64.

    Exactly translation-equivariant: weights are quantised to integers, so
    the sums are exact, and positions are taken relative to the first
    non-empty row / column, so a shifted frame gives the shifted centre to the
    last bit (never a different rounding). An empty frame gives its middle.
    """
    n, h, w = frames.shape
    weights = np.round(np.asarray(frames, dtype=np.float64) * 2.0 ** 20).astype(np.int64)
    out = np.empty((n, 2), dtype=np.int64)
    total = weights.sum(axis=(1, 2))
    for axis, size in ((0, h), (1, w)):
        profile = weights.sum(axis=2 - axis)  # (n, size): mass per row / per column
        first = np.argmax(profile > 0, axis=1)
        offset = np.arange(size)[None, :] - first[:, None]
        moment = (profile * offset).sum(axis=1)
        # Round half up, in integers: floor((2 m + t) / (2 t)).
        safe = np.maximum(total, 1)
        out[:, axis] = np.where(total > 0, first + (2 * moment + safe) // (2 * safe), size // 2)
    return out


def object_scan_fixations(frames, n_glimpses, scan_shape):
    """The scan of a ``scan_shape`` window centred on each frame's centre of
    mass: a path that follows the object wherever it lies on the canvas.

    A window that would stick out of the frame is moved inside it (the path
    stays distinct); ``scan_shape`` must fit in the frame.
    """
    corner = object_window(frames, scan_shape)
    return corner[:, None, :] + scan_fixations(scan_shape, n_glimpses)[None]


# Mean-shift steps of the object window: enough for distractors away from the
# object to drop out of it; a clean object is a fixed point after the first.
_WINDOW_STEPS = 3


def object_window(frames, window_shape):
    """Top-left corner (n, 2) int64 of a ``window_shape`` window on each frame's
    object, moved inside the frame where it would stick out: the object's
    reference frame.

    The window starts centred on the frame's centre of mass and then moves to
    the centre of mass of what it contains, a few times (mean shift), so
    clutter away from the object stops pulling it. An object that fits in
    the window is a fixed point of the first step, so on a clean canvas the
    window is the one centred on the object's centre of mass, exactly
    translation-equivariant.
    """
    n, h, w = frames.shape
    sh, sw = window_shape
    half = np.array([sh // 2, sw // 2])
    limit = np.array([h - sh, w - sw])
    corner = np.clip(centre_of_mass(frames) - half, 0, limit)
    rows, cols = np.arange(h), np.arange(w)
    for _ in range(_WINDOW_STEPS):
        inside = (((rows[None, :] >= corner[:, :1]) & (rows[None, :] < corner[:, :1] + sh))
                  [:, :, None] & ((cols[None, :] >= corner[:, 1:]) &
                                  (cols[None, :] < corner[:, 1:] + sw))[:, None, :])
        seen = np.where(inside, frames, 0.0)
        empty = ~(seen > 0).any(axis=(1, 2))
        moved = np.clip(centre_of_mass(seen) - half, 0, limit)
        corner = np.where(empty[:, None], corner, moved)
    return corner


def random_fixations(seeds, frame_shape, n_glimpses, allow_revisits):
    """Uniformly random fixations, one independent path per seed.

    Without revisits the path is the ``n_glimpses`` positions with the
    smallest hashed keys: a uniform sample without replacement.
    """
    h, w = frame_shape
    n_positions = h * w
    seeds = np.asarray(seeds, dtype=np.uint64)[:, None]
    if allow_revisits:
        draws = splitmix64(seeds ^ splitmix64(np.arange(n_glimpses, dtype=np.uint64)))
        flat = (draws % np.uint64(n_positions)).astype(np.int64)
    else:
        keys = splitmix64(seeds ^ splitmix64(np.arange(n_positions, dtype=np.uint64)))
        if n_glimpses < n_positions:
            part = np.argpartition(keys, n_glimpses - 1, axis=1)[:, :n_glimpses]
        else:
            part = np.broadcast_to(np.arange(n_positions), keys.shape)
        order = np.argsort(np.take_along_axis(keys, part, axis=1), axis=1)
        flat = np.take_along_axis(part, order, axis=1)
    return np.stack(np.divmod(flat, w), axis=-1)


def gaussian_weights(sigma, out_positions, in_positions):
    """The weights of ``scipy.ndimage.gaussian_filter`` (truncate=4) as a matrix.

    Row ``i`` holds the weights with which the pixels at ``in_positions``
    contribute to the output at ``out_positions[i]``: the normalised Gaussian
    kernel at their offset, zero beyond the kernel's radius. Filtering a line
    that is black outside ``in_positions`` is then one matrix product, whose
    cost follows the positions actually used, not the kernel's length (which
    for a large ``sigma`` would be millions of taps).
    """
    radius = int(4.0 * sigma + 0.5)
    if radius <= 1_000_000:
        taps = np.arange(-radius, radius + 1, dtype=np.float64)
        total = np.exp(-0.5 / (sigma * sigma) * taps ** 2).sum()
    else:
        # The sum of so many taps is the integral plus the end correction
        # (trapezoid rule), exact to far below float precision at this sigma.
        total = (sigma * math.sqrt(2.0 * math.pi) * math.erf(radius / (sigma * math.sqrt(2.0)))
                 + math.exp(-0.5 * (radius / sigma) ** 2))
    offsets = np.subtract.outer(np.asarray(out_positions), np.asarray(in_positions))
    offsets = offsets.astype(np.float64)
    weights = np.exp(-0.5 / (sigma * sigma) * offsets ** 2) / total
    weights[np.abs(offsets) > radius] = 0.0
    return weights


def _blur(frames, sigma, rows, cols):
    """Frames (n, h, w) on an endless black canvas, blurred at ``sigma``, read at
    the pixel positions ``rows`` x ``cols`` (which may lie outside the frame)."""
    n, h, w = frames.shape
    left = gaussian_weights(sigma, rows, np.arange(h))
    right = gaussian_weights(sigma, cols, np.arange(w))
    return left @ frames @ right.T


def saliency_map(frames, sigma, kind="dog"):
    """Where the coarse "clumps" of each frame are, without learning.

    ``"lowpass"``: the frame blurred at ``sigma``, whose peaks are the centres
    of mass of bright clumps. ``"dog"``: the local energy of the difference of
    Gaussians at ``sigma`` and ``2 * sigma`` (a band-pass), which peaks on
    structure of about that size (blobs, corners, edges) rather than on the
    flat inside of large shapes.

    The filters are those of ``scipy.ndimage.gaussian_filter`` (truncated at 4
    sigma) on an endless black canvas, written as matrix products so that the
    cost does not grow with ``sigma``.
    """
    frames = np.asarray(frames, dtype=np.float64)
    n, h, w = frames.shape
    rows, cols = np.arange(h), np.arange(w)
    if kind == "lowpass":
        return _blur(frames, sigma, rows, cols)
    # The band-pass response spreads beyond the frame, and the energy at a
    # pixel near the border sums it from outside too: compute it on a margin
    # as wide as the energy filter reaches (4 sigma), so that the map equals
    # the one on an endless black canvas (translation-equivariant). Beyond
    # twice the image's size (a sigma far larger than any structure in it, so
    # an almost flat map) the margin is capped: its memory and time would
    # otherwise grow as sigma squared (47 s for one 12 x 12 image at sigma=300).
    margin = min(int(4.0 * sigma + 0.5), 2 * max(h, w, 4))
    outer_rows = np.arange(-margin, h + margin)
    outer_cols = np.arange(-margin, w + margin)
    band = (_blur(frames, sigma, outer_rows, outer_cols)
            - _blur(frames, 2.0 * sigma, outer_rows, outer_cols))
    left = gaussian_weights(sigma, rows, outer_rows)
    right = gaussian_weights(sigma, cols, outer_cols)
    return left @ (band * band) @ right.T


def saliency_fixations(saliency, n_glimpses, inhibition_radius, allow_revisits):
    """Visit the peaks of ``saliency`` (n, h, w), strongest first, with
    inhibition of return.

    After each fixation every position within ``inhibition_radius`` of it is
    inhibited: it ranks below every uninhibited position, but keeps its order
    among the inhibited ones, so a path never runs out of places to look.
    Without revisits a fixated position itself is never chosen again.
    Ties go to the first position in raster order, which a translation of
    the frame preserves.
    """
    n, h, w = saliency.shape
    flat = saliency.reshape(n, h * w).astype(np.float64)
    # Filtering the same pattern at another position differs in the last
    # bits; quantise so that such noise never decides between (symmetric)
    # equal peaks, and ties really go by raster order.
    peak = np.abs(flat).max(axis=1, keepdims=True)
    flat = np.round(flat / np.where(peak > 0, peak, 1.0) * 2.0 ** 30)
    # Inhibition lowers by more than the whole range of the map.
    drop = (flat.max(axis=1) - flat.min(axis=1) + 1.0)[:, None]
    inhibited = np.zeros((n, h * w), dtype=bool)
    visited = np.zeros((n, h * w), dtype=bool)
    rr, cc = np.divmod(np.arange(h * w), w)
    rows = np.arange(n)
    out = np.empty((n, n_glimpses, 2), dtype=np.int64)
    for g in range(n_glimpses):
        priority = np.where(inhibited, flat - drop, flat)
        if not allow_revisits:
            priority[visited] = -np.inf
        best = np.argmax(priority, axis=1)
        r, c = np.divmod(best, w)
        out[:, g, 0], out[:, g, 1] = r, c
        visited[rows, best] = True
        dist2 = (rr[None, :] - r[:, None]) ** 2 + (cc[None, :] - c[:, None]) ** 2
        inhibited |= dist2 <= inhibition_radius ** 2
    return out


# ----------------------------------------------------------- glimpses

def pad_frames(frames, pad):
    """Frames with ``pad`` black pixels on every side."""
    return np.pad(frames, ((0, 0), (pad, pad), (pad, pad)))


def fovea_patches(padded, pad, fixations, fovea_shape):
    """The full-resolution patches at the fixations.

    padded : (n, h + 2 pad, w + 2 pad); fixations : (n, g, 2) in frame
    coordinates. Returns (n, g, fh, fw); the patch spans rows
    ``r - fh // 2 .. r - fh // 2 + fh - 1``.
    """
    fh, fw = fovea_shape
    r0 = fixations[..., 0] + (pad - fh // 2)
    c0 = fixations[..., 1] + (pad - fw // 2)
    rows = r0[:, :, None, None] + np.arange(fh)[:, None]
    cols = c0[:, :, None, None] + np.arange(fw)
    sample = np.arange(len(padded))[:, None, None, None]
    return padded[sample, rows, cols]


def periphery_patches(integral, pad, fixations, periphery_shape, scale):
    """A coarse view around each fixation: ``periphery_shape`` cells, each the
    mean of a ``scale`` x ``scale`` block, centred on the fixation.

    integral : the summed-area table of the padded frames, (n, H + 1, W + 1),
    so each cell is four lookups whatever the scale.
    """
    ph, pw = periphery_shape
    r0 = fixations[..., 0] + (pad - (ph * scale) // 2)
    c0 = fixations[..., 1] + (pad - (pw * scale) // 2)
    top = r0[:, :, None, None] + scale * np.arange(ph)[:, None]
    left = c0[:, :, None, None] + scale * np.arange(pw)
    sample = np.arange(len(integral))[:, None, None, None]
    total = (integral[sample, top + scale, left + scale] - integral[sample, top, left + scale]
             - integral[sample, top + scale, left] + integral[sample, top, left])
    return total / (scale * scale)


def summed_area_table(padded):
    """Summed-area table with a zero first row and column."""
    n, h, w = padded.shape
    table = np.zeros((n, h + 1, w + 1))
    np.cumsum(np.cumsum(padded, axis=1), axis=2, out=table[:, 1:, 1:])
    return table


# ----------------------------------------------------------- locations

def coordinate_sdr(positions, n_bits, n_active, resolution):
    """SDR of 2-D positions in which nearby positions share bits.

    The coordinate encoder described by Numenta (Purdy, "Encoding Data for
    HTM Systems", 2016): a position, in units of ``resolution`` pixels, has a
    square neighbourhood of integer coordinates; each coordinate has a fixed
    hashed rank, the ``n_active`` best-ranked coordinates of the neighbourhood
    are chosen, and each chosen coordinate sets one hashed bit. Neighbouring
    positions share most of their neighbourhood, hence most bits; positions
    more than the neighbourhood's width apart share bits only by chance. The
    range is unbounded, so relative (negative) positions need no offset.

    positions : (m, 2) float, pixels. Returns (m, n_bits) uint8.
    """
    positions = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
    # A neighbourhood of about 4 n_active coordinates: one unit of movement
    # changes ~1/(2 radius + 1) of the bits.
    radius = max(1, int(np.ceil((np.sqrt(4 * n_active) - 1) / 2)))
    span = np.arange(-radius, radius + 1)
    offsets = np.stack(np.meshgrid(span, span, indexing="ij"), axis=-1).reshape(-1, 2)
    centre = np.floor(positions / resolution).astype(np.int64)
    coords = centre[:, None, :] + offsets[None]
    key = ((coords[..., 0] + (1 << 31)).astype(np.uint64) << np.uint64(32)) | (
        (coords[..., 1] + (1 << 31)).astype(np.uint64))
    rank = splitmix64(key ^ _SALT_ORDER)
    chosen = np.argpartition(rank, rank.shape[1] - n_active, axis=1)[:, -n_active:]
    bits = splitmix64(np.take_along_axis(key, chosen, axis=1) ^ _SALT_BIT) % np.uint64(n_bits)
    out = np.zeros((len(positions), n_bits), dtype=np.uint8)
    out[np.arange(len(positions))[:, None], bits.astype(np.int64)] = 1
    return out


def place_shape(frame_shape, frame, resolution):
    """(rows, cols) of the place-cell grid that covers every position a
    fixation can take in the reference ``frame``: the image itself for
    "image", the offsets -(h - 1) .. h - 1 for the relative frames."""
    h, w = frame_shape
    span = (h, w) if frame == "image" else (2 * h - 1, 2 * w - 1)
    return tuple(int(math.ceil(s / resolution)) for s in span)


def place_sdr(positions, frame_shape, frame, resolution):
    """One-hot place code of 2-D positions: one cell per ``resolution`` x
    ``resolution`` pixels of the reference frame, row-major.

    A place cell fires for one region of the object's reference frame (a grid
    module whose period exceeds the object): feature-at-location binding then
    needs one cell per feature and place, where an SDR location would need one
    per active location bit.

    positions : (m, 2) float, pixels. Returns (m, rows * cols) uint8.
    """
    rows, cols = place_shape(frame_shape, frame, resolution)
    h, w = frame_shape
    origin = np.zeros(2) if frame == "image" else np.array([h - 1, w - 1], dtype=np.float64)
    cell = np.floor((np.asarray(positions, dtype=np.float64).reshape(-1, 2) + origin)
                    / resolution).astype(np.int64)
    cell = np.clip(cell, 0, np.array([rows - 1, cols - 1]))
    out = np.zeros((len(cell), rows * cols), dtype=np.uint8)
    out[np.arange(len(cell)), cell[:, 0] * cols + cell[:, 1]] = 1
    return out


GRID_MODULE_SIDE = 6


def grid_cell_sdr(positions, n_modules, resolution):
    """Grid-cell-like SDR of 2-D positions.

    Each module is a ``6 x 6`` torus of cells tiling the plane periodically at
    its own scale and orientation; a position activates the 2 x 2 cells nearest
    to its phase in every module. Module ``i`` has cells of ``resolution *
    sqrt(2) ** i`` pixels, so nearby positions share cells in every module,
    and the combination of modules identifies a position over a range far
    larger than any one period (Hafting et al. 2005; Lewis et al., "Locations
    in the Neocortex", 2019).

    positions : (m, 2) float, pixels. Returns (m, n_modules * 36) uint8.
    """
    k = GRID_MODULE_SIDE
    positions = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
    m = len(positions)
    out = np.zeros((m, n_modules, k, k), dtype=np.uint8)
    rows = np.arange(m)
    for i in range(n_modules):
        theta = i * 0.61  # spread orientations; irrational so no two modules align
        rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        phase = positions @ rot.T / (resolution * np.sqrt(2.0) ** i)
        base = np.floor(phase - 0.5).astype(np.int64)
        for dr in (0, 1):
            for dc in (0, 1):
                out[rows, i, (base[:, 0] + dr) % k, (base[:, 1] + dc) % k] = 1
    return out.reshape(m, n_modules * k * k)


def relative_positions(fixations, frame, centres=None):
    """Fixations (n, steps, 2) expressed in a reference ``frame``.

    ``"image"``: as they are; ``"first"``: relative to the sequence's first
    fixation (object-centred once the gaze lands on the object the same way);
    ``"object"``: relative to ``centres`` (n, steps, 2), the centre of the
    object window (:func:`object_window`) of the frame each fixation looks at,
    object-centred whatever the gaze does;
    ``"displacement"``: the movement since the previous fixation (0 at first).
    """
    fixations = fixations.astype(np.float64)
    if frame == "image":
        return fixations
    if frame == "first":
        return fixations - fixations[:, :1]
    if frame == "object":
        return fixations - centres
    moves = np.zeros_like(fixations)
    moves[:, 1:] = np.diff(fixations, axis=1)
    return moves
