"""
=============================
Gaze paths of SaccadeEncoder
=============================

:class:`~skhtm.SaccadeEncoder` looks at an image through a small fovea, one
fixation after another. Where it looks is its gaze policy. Here the policies
look at digits placed at random on a larger canvas (the translated-digits
task): a fixed ``"scan"`` of the middle of the canvas, an ``"object_scan"``
that centres the same scan on the object, ``"saliency"`` (the strongest
low-frequency "clumps" first, with inhibition of return) and ``"random"``.
The boxes are the fovea patches the encoder reads.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from skhtm import SaccadeEncoder
from skhtm.datasets import make_translated
from skhtm.plotting import plot_gaze_path

X, y = load_digits(return_X_y=True)
# Digits at twice their size (16x16) somewhere on a 32x32 canvas.
large = np.kron(X[:3].reshape(-1, 8, 8), np.ones((2, 2)))
canvases = make_translated(large, canvas_shape=32, random_state=3)

policies = ["scan", "object_scan", "saliency", "random"]
fig, axes = plt.subplots(len(canvases), len(policies), figsize=(9, 7), layout="constrained")
for j, gaze in enumerate(policies):
    encoder = SaccadeEncoder(n_glimpses=6, fovea_shape=8, gaze=gaze, scan_shape=16,
                             saliency_sigma=2.0, random_state=0)
    fixations = encoder.fixations(canvases)  # (n_images, n_glimpses, 2) rows and columns
    for i, canvas in enumerate(canvases):
        plot_gaze_path(canvas, fixations[i], fovea_shape=8, ax=axes[i, j])
    axes[0, j].set_title(f'gaze="{gaze}"')
plt.show()

# %%
# The saliency map behind ``gaze="saliency"``: the energy of a difference of
# Gaussians, which peaks on the strokes of the digit wherever it is.
encoder = SaccadeEncoder(n_glimpses=6, fovea_shape=8, gaze="saliency")
saliency = encoder.saliency(canvases)
fig, axes = plt.subplots(1, 3, figsize=(8, 3), layout="constrained")
for ax, smap, path in zip(axes, saliency, encoder.fixations(canvases)):
    plot_gaze_path(smap, path, ax=ax, cmap="viridis", color="white")
plt.show()
