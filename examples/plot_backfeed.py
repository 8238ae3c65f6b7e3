"""
=====================================================
Backfeed: what the classifier looks for, in pixels
=====================================================

"When the classifier says it's a 7, feed that back down and see what pops
out." :func:`skhtm.inspection.class_pictures` does this for every class of a
fitted pipeline: the linear classifier's weights for the class are carried
back through each step by the transpose of its linear part (for the patch
poolers of :func:`skhtm.recipes.image_classifier`: each region's column
weights spread over the columns' connected synapses at every patch position
of the region, added into the image like a transposed convolution).

:func:`skhtm.inspection.pixel_support` asks the same question of one image:
which of its pixels supported the class, through the columns that actually
won on it.

Both are linear reads of a non-linear model: they show what the weights point
at, not an input the model would be sure of.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from skhtm.inspection import class_pictures, pixel_support
from skhtm.plotting import plot_class_pictures
from skhtm.recipes import image_classifier

X, y = load_digits(return_X_y=True)
X = X * (255.0 / 16.0)                  # grey levels 0-255, as the recipe expects
X_train, y_train, X_test, y_test = X[:1000], y[:1000], X[1000:], y[1000:]

pipe = image_classifier((8, 8), random_state=0).fit(X_train, y_train)
print(f"test accuracy: {pipe.score(X_test, y_test):.3f}")

# %%
# The picture of each class (top), beside the mean training image of the class
# (bottom). Red pixels raise the class's score, blue ones lower it; each
# picture has its own colour scale. The weights are discriminative, so a
# picture is less the class's mean than what sets the class apart (the 0 is
# ink on both sides and none in the centre). Still, each picture correlates
# best with its own class's mean (printed below).
pictures = class_pictures(pipe)
means = np.array([X_train[y_train == c].mean(axis=0) for c in range(10)]).reshape(10, 8, 8)

fig, axes = plt.subplots(2, 10, figsize=(10, 2.6), layout="constrained")
plot_class_pictures(pictures, labels=[f"class {c}" for c in range(10)], axes=axes[0])
for ax, mean in zip(axes[1], means):
    ax.imshow(mean, cmap="gray_r", interpolation="nearest")
    ax.set_axis_off()
fig.suptitle("class pictures (top) and class means (bottom)")


def corr(a, b):
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


nearest = [int(np.argmax([corr(p, m) for m in means])) for p in pictures]
print("class mean nearest each picture:", nearest)

# %%
# Pixel support of a few test images for the class the pipeline predicts:
# each pooled feature's evidence (weight times value) shared among the patch
# positions where its column won, then among that column's connected synapses
# onto the bits that were on. It only ever lands on lit pixels; blue marks
# strokes that argue against the predicted class.
images = X_test[:8]
support = pixel_support(pipe, images)
predicted = pipe.predict(images)

fig, axes = plt.subplots(2, 8, figsize=(8, 2.6), layout="constrained")
for ax, image, label in zip(axes[0], images.reshape(-1, 8, 8), y_test[:8]):
    ax.imshow(image, cmap="gray_r", interpolation="nearest")
    ax.set_title(f"true {label}", fontsize=8)
    ax.set_axis_off()
plot_class_pictures(support, labels=[f"support {p}" for p in predicted], axes=axes[1])
fig.suptitle("test images (top) and their pixel support for the predicted class")

# %%
# One image, its pixel support for each class in turn: for its own class the
# stroke is red, for most others much of it turns blue.
image = X_test[:1]
per_class = np.concatenate([pixel_support(pipe, image, classes=c) for c in range(10)])
axes = plot_class_pictures(per_class, labels=[f"for {c}" for c in range(10)])
axes[0].figure.suptitle(f"pixel support of one test image (a {y_test[0]}) for each class")
plt.show()
