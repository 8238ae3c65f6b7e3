"""
=============================================
Spatial Pooler receptive fields, before/after
=============================================

Each column of a :class:`~skhtm.SpatialPoolerTransformer` has a potential pool
of inputs and a permanence per synapse. Before learning the permanences are
random around the connection threshold, so a column's receptive field is
noise. Hebbian learning on the digits raises the permanences to the pixels
that are on when the column wins and lowers the others: the receptive fields
become strokes and parts of digits.

Grey pixels are coded by a :class:`~skhtm.ThermometerEncoder` (4 bits per
pixel); the pictures average a pixel's 4 bits.
"""

# %%
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits

from skhtm import SpatialPoolerTransformer, ThermometerEncoder
from skhtm.plotting import plot_receptive_fields

X, y = load_digits(return_X_y=True)
bits = ThermometerEncoder(n_thresholds=4).fit_transform(X[:600])

params = dict(column_shape=256, input_shape=(8, 8, 4), local_area_density=0.05,
              boost_strength=3.0, potential_pct=0.5, syn_perm_connected=0.5,
              syn_perm_active_inc=0.1, syn_perm_inactive_dec=0.1, batch_size=8,
              random_state=0)

# %%
# The same pooler (same ``random_state``: same potential pools and initial
# permanences) after one sample, and after 3 epochs over 600 digits.
before = SpatialPoolerTransformer(**params).partial_fit(bits[:1])
after = SpatialPoolerTransformer(**params, n_epochs=3, verbose=1).fit(bits)

# %%
# The 16 columns most used after learning, in both states.
columns = after.active_duty_cycles_.argsort()[::-1][:16]
fig, axes = plt.subplots(4, 8, figsize=(9, 5))
plot_receptive_fields(before, columns, axes=axes[:2])
plot_receptive_fields(after, columns, axes=axes[2:])
fig.text(0.01, 0.75, "before", rotation=90, va="center")
fig.text(0.01, 0.27, "after", rotation=90, va="center")
fig.suptitle("Permanences of 16 columns over the 8x8 image")
plt.show()
