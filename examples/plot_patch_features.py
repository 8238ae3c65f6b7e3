"""
================================================================
Local features a patch Spatial Pooler learns, beside random ones
================================================================

A :class:`~skhtm.PatchSpatialPooler` with ``encoding="contrast"`` codes each
pixel of a patch as brighter (ON bits) or darker (OFF bits) than the patch's
mean, like the centre-surround cells of the retina. Its Spatial Pooler then
learns, with the published learning rule and boosting, which ON and OFF bits
go together. A column's receptive field is drawn here as the permanences of
its ON synapses minus those of its OFF synapses, per pixel: red where the
column wants light, blue where it wants dark.

With learning off (left) the fields are the random permanences the Spatial
Pooler starts from: faint salt and pepper. After learning (right) the
permanences are pushed to 0 or 1 and grow coherent: runs of light pixels beside
runs of dark ones (pieces of strokes and their edges). They stay patchy because
each column's potential pool holds a random half of the patch's bits (the
recipe's ``potential_pct=0.5``). This runs on the bundled digits;
``benchmarks/bench_patch_learning.py`` measures what the learning buys on a
Fashion-MNIST validation split (about +0.5 to +1 point for one pooler).
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from skhtm import PatchSpatialPooler, SpatialPoolerTransformer

X, y = load_digits(return_X_y=True)
X = X * (255 / 16)

learning = dict(syn_perm_connected=0.1, syn_perm_active_inc=0.05, syn_perm_inactive_dec=0.008,
                boost_strength=3.0)
random_features = dict(syn_perm_connected=0.1, syn_perm_active_inc=0.0,
                       syn_perm_inactive_dec=0.0)


def fitted(sp_params):
    sp = SpatialPoolerTransformer(column_shape=64, local_area_density=0.05, **sp_params)
    return PatchSpatialPooler(sp, patch_shape=5, n_levels=2, encoding="contrast",
                              pool_grid=2, random_state=0).fit(X)


def fields(psp):
    """Permanences of the ON synapses minus those of the OFF synapses, per patch
    pixel and column (a synapse outside the potential pool counts 0)."""
    sp = psp.spatial_pooler_
    signed = sp.permanences_.toarray() * psp._bit_signs()
    pixels = psp._bit_pixels()
    ph, pw = pixels.max(axis=0) + 1
    out = np.zeros((sp.n_columns_, ph, pw))
    np.add.at(out, (slice(None), pixels[:, 0], pixels[:, 1]), signed)
    return out


fig, axes = plt.subplots(8, 17, figsize=(10, 5))
for side, (title, params) in enumerate((("learning off", random_features),
                                        ("learned", learning))):
    pictures = fields(fitted(params))[:64]
    for i, picture in enumerate(pictures):
        ax = axes[i // 8, side * 9 + i % 8]
        limit = max(np.abs(picture).max(), 1e-6)
        ax.imshow(picture, cmap="RdBu_r", vmin=-limit, vmax=limit)
    axes[0, side * 9 + 3].set_title(title)
for ax in axes.ravel():
    ax.set_axis_off()
fig.suptitle("5x5 receptive fields: ON minus OFF permanences (red: light, blue: dark)")
plt.show()
