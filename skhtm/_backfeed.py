"""Numerics of the backfeed (:mod:`skhtm.inspection`): plain functions on arrays.

Carrying weights or evidence from a layer's output back to its input: through
connected synapses, from patch bits to patch pixels, and from patch positions
into the image (a transposed convolution).
"""

import numpy as np
import scipy.sparse as sp


def connected_synapses(permanences, syn_perm_connected):
    """Connected synapses as CSR 0/1 (n_columns, n_inputs) from a Spatial Pooler's
    sparse permanences.

    The pooler's own test (float32 permanence against the threshold in
    float32), so that both agree on a permanence at the threshold.
    """
    # A copy: eliminate_zeros works in place on the index arrays, which a CSR
    # built over the pooler's own arrays would share (and corrupt its pools).
    connected = sp.csr_matrix(permanences, dtype=np.float64, copy=True)
    connected.data = (permanences.tocsr().data >= np.float32(syn_perm_connected)).astype(
        np.float64)
    connected.eliminate_zeros()
    return connected


def credit_synapses(bits, active, connected, evidence):
    """Share each active column's evidence among its connected synapses onto on bits.

    Parameters
    ----------
    bits : ndarray (n, n_inputs)
        Binary input of each row.
    active : ndarray (n, n_columns)
        Non-zero where a column won for the row.
    connected : ndarray or sparse (n_columns, n_inputs)
        Connected synapses, 0/1.
    evidence : ndarray (n, n_columns)
        Evidence of each column for the row.

    Returns
    -------
    ndarray (n, n_inputs)
        Per input bit, the sum over the active columns connected to it of the
        column's evidence divided by its overlap (its connected synapses onto
        on bits); an active column's evidence is conserved (its overlap is at
        least 1: a column with none never wins).
    """
    overlap = np.asarray((connected @ bits.T).T)
    share = np.divide(evidence, overlap, out=np.zeros(overlap.shape),
                      where=(active != 0) & (overlap > 0))
    return bits * np.asarray((connected.T @ share.T).T)


def bit_pixel_matrix(bit_pixels, patch_shape, signs=None):
    """(n_bits, ph * pw): row b marks the patch pixel of bit b with 1, or with
    ``signs[b]`` (e.g. -1 for a contrast encoding's OFF bits)."""
    bit_pixels = np.asarray(bit_pixels, dtype=np.intp)
    pw = patch_shape[1]
    matrix = np.zeros((len(bit_pixels), patch_shape[0] * pw))
    matrix[np.arange(len(bit_pixels)), bit_pixels[:, 0] * pw + bit_pixels[:, 1]] = (
        1.0 if signs is None else signs)
    return matrix


def transposed_patch_sum(patches, image_shape, stride):
    """Add patch pictures into images at their positions (a transposed convolution).

    patches (n, grid_rows, grid_cols, ph, pw, *channels), the patch at grid
    position (gy, gx) covering rows ``gy * stride[0]`` .. ``+ ph`` -> images
    (n, h, w, *channels); ``image_shape`` is ``(h, w, *channels)``.
    """
    n, gr, gc, ph, pw = patches.shape[:5]
    sy, sx = (int(v) for v in stride)
    out = np.zeros((n,) + tuple(int(v) for v in image_shape))
    # One strided add per pixel of the patch, over all positions at once.
    for dy in range(ph):
        for dx in range(pw):
            out[:, dy:dy + (gr - 1) * sy + 1:sy, dx:dx + (gc - 1) * sx + 1:sx] += \
                patches[:, :, :, dy, dx]
    return out
