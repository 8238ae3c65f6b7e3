"""
=====================================================
Back-feeding SDRs: reconstructions and class averages
=====================================================

:meth:`~skhtm.SpatialPoolerTransformer.inverse_transform` maps column activity
back to input space: each input gets the mean permanence of the active
columns' synapses to it. Applied to an image's SDR it shows what the pooler
kept of the image; applied to the mean SDR of a class it shows what the class
looks like to the pooler. Nothing here is trained to reconstruct: the picture
comes from the permanences that Hebbian learning left.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skhtm import SpatialPoolerTransformer, ThermometerEncoder
from skhtm.plotting import plot_reconstructions

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, train_size=800, random_state=0,
                                                    stratify=y)
encoder = ThermometerEncoder(n_thresholds=4).fit(X_train)
sp = SpatialPoolerTransformer(
    column_shape=512, input_shape=(8, 8, 4), local_area_density=0.05, boost_strength=3.0,
    syn_perm_connected=0.5, syn_perm_active_inc=0.1, syn_perm_inactive_dec=0.1,
    batch_size=8, n_epochs=3, random_state=0).fit(encoder.transform(X_train))

# %%
# Test images (never seen in training) and their reconstructions: the SDR of
# each image (26 active columns of 512) mapped back to the 8x8x4 input bits.
sdr = sp.transform(encoder.transform(X_test[:10]))
back = sp.inverse_transform(sdr)
plot_reconstructions(X_test[:10], back, image_shape=(8, 8), labels=y_test[:10])
plt.suptitle("Test digits (top) and what their SDRs stand for (bottom)")
plt.show()

# %%
# Class averages: the mean SDR of each digit's test images, fed back. The
# pooler's columns know no labels, yet each class average is a clear digit.
sdr_test = sp.transform(encoder.transform(X_test))
mean_sdr = np.stack([sdr_test[y_test == digit].mean(axis=0) for digit in range(10)])
class_means = np.stack([X_test[y_test == digit].mean(axis=0) for digit in range(10)])
plot_reconstructions(class_means, sp.inverse_transform(mean_sdr), image_shape=(8, 8),
                     labels=range(10))
plt.suptitle("Mean image of each class (top), its mean SDR fed back (bottom)")
plt.show()
