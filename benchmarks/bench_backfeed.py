"""Backfeed on Fashion-MNIST: each class's picture in pixel space, and what supported a prediction.

    python benchmarks/bench_backfeed.py                  # recipe fit on 10,000 training images
    python benchmarks/bench_backfeed.py --n-train 60000

Fits ``skhtm.recipes.image_classifier((28, 28), random_state=0)`` on the first
``--n-train`` training images, then carries each class's LogisticRegression
weights back to the pixels (``skhtm.inspection.class_pictures``) and, for a few
test images, the evidence for the predicted class (``pixel_support``). Saved:
benchmarks/results/backfeed_fashion.png (class pictures beside the class
means of the training images, then test images with their support) and
backfeed_fashion.json (each picture's correlation with every class mean).
"""

import argparse
import json
import os
import sys

import numpy as np

from skhtm.datasets import fetch_fashion_mnist
from skhtm.inspection import class_pictures, pixel_support
from skhtm.recipes import image_classifier

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _figures import pyplot  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot"]


def correlations(pictures, means):
    a = pictures.reshape(len(pictures), -1)
    b = means.reshape(len(means), -1)
    a = (a - a.mean(1, keepdims=True)) / a.std(1, keepdims=True)
    b = (b - b.mean(1, keepdims=True)) / b.std(1, keepdims=True)
    return a @ b.T / a.shape[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=10000)
    args = parser.parse_args()
    X, y = fetch_fashion_mnist(subset="train", return_X_y=True)
    X_test, y_test = fetch_fashion_mnist(subset="test", return_X_y=True)
    X, y = X[:args.n_train], y[:args.n_train]
    pipe = image_classifier((28, 28), random_state=0, n_jobs=2).fit(X, y)
    pictures = class_pictures(pipe)
    means = np.stack([X[y == c].mean(0).reshape(28, 28) for c in range(10)])
    corr = correlations(pictures, means)
    nearest_own = int(np.sum(corr.argmax(1) == np.arange(10)))
    shown = np.array([np.flatnonzero(y_test == c)[0] for c in range(10)])
    support = pixel_support(pipe, X_test[shown])
    pred = pipe.predict(X_test[shown])
    res = dict(n_train=len(X), correlation_with_class_means=corr.round(4).tolist(),
               classes_nearest_own_mean=nearest_own,
               test_accuracy=float(pipe.score(X_test, y_test)))
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "backfeed_fashion.json"), "w") as f:
        json.dump(res, f, indent=1)
    print(f"class pictures nearest their own class mean: {nearest_own}/10; "
          f"test accuracy {res['test_accuracy']:.4f} ({len(X)} training images)")
    plt = pyplot()
    if plt is None:
        return
    fig, axes = plt.subplots(4, 10, figsize=(13, 5.8))
    for c in range(10):
        p = pictures[c]
        lim = np.abs(p).max()
        axes[0, c].imshow(p, cmap="RdBu_r", vmin=-lim, vmax=lim)
        axes[0, c].set_title(CLASSES[c], fontsize=8)
        axes[1, c].imshow(means[c], cmap="gray_r")
        axes[2, c].imshow(X_test[shown[c]].reshape(28, 28), cmap="gray_r")
        axes[2, c].set_title(f"predicted {CLASSES[pred[c]]}", fontsize=7)
        s = support[c]
        lim = max(np.abs(s).max(), 1e-12)
        axes[3, c].imshow(s, cmap="RdBu_r", vmin=-lim, vmax=lim)
    for ax in axes.ravel():
        ax.set_axis_off()
    for row, text in enumerate(("class picture", "class mean", "test image", "support")):
        axes[row, 0].text(-4, 14, text, rotation=90, va="center", ha="right", fontsize=8)
    fig.suptitle(f"Backfeed of skhtm's image recipe on Fashion-MNIST ({len(X)} training images)")
    fig.tight_layout()
    fig.savefig(os.path.join(RESULTS, "backfeed_fashion.png"), dpi=90)


if __name__ == "__main__":
    main()
