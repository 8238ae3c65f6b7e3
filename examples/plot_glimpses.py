"""
===================================
Accuracy against number of glimpses
===================================

How much of an image must a :class:`~skhtm.SaccadeEncoder` see? Each glimpse
is a 4x4 fovea patch of an 8x8 digit (2 grey-level bits per pixel); a
:class:`~skhtm.SpatialPoolerTransformer` turns each glimpse into an SDR, the
SDRs are put side by side (:class:`~skhtm.SequencePooler` ``"concatenate"``)
and a logistic regression reads them. Accuracy rises quickly with the first
glimpses and flattens once the glimpses cover the digit.

On these small, centred digits the fixed scan wins: it reads the same part
of every digit at the same step, so each slot of the concatenation always
means the same place. Saliency-driven gaze visits the strokes, strongest
first, so a slot means a different place in different images; its strength
is elsewhere, on objects that move (see the translated-image results on the
benchmark page).

The full-size version of this experiment, on Fashion-MNIST, is in
``benchmarks/bench_saccades.py`` (see the benchmark results page).
"""

# %%
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from skhtm import SaccadeEncoder, SequencePooler, SpatialPoolerTransformer

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, train_size=1000, random_state=0,
                                                    stratify=y)

n_glimpses = [1, 2, 3, 4, 6, 8]
accuracy = {}
settings = {"scan": dict(gaze="scan", location=None),
            "saliency": dict(gaze="saliency", location=None)}
for name, setting in settings.items():
    accuracy[name] = []
    for g in n_glimpses:
        pipe = make_pipeline(
            SaccadeEncoder(n_glimpses=g, fovea_shape=4, n_levels=2, **setting),
            SpatialPoolerTransformer(column_shape=256, local_area_density=0.05, random_state=0),
            SequencePooler("concatenate"),
            LogisticRegression(C=0.1, max_iter=500),
        )
        accuracy[name].append(pipe.fit(X_train, y_train).score(X_test, y_test))
        print(f"{name:20s} {g} glimpses: {accuracy[name][-1]:.3f}")

# %%
fig, ax = plt.subplots(figsize=(5, 3.2), layout="constrained")
for name, values in accuracy.items():
    ax.plot(n_glimpses, values, "o-", label=name)
ax.set_xlabel("glimpses per image")
ax.set_ylabel("test accuracy")
ax.set_title("Digits: accuracy against glimpses")
ax.legend()
plt.show()
