"""
===========================================================
Sensorimotor recognition: where to look, and columns voting
===========================================================

:func:`skhtm.recipes.saccade_classifier` recognises an image from a few
glimpses. A :class:`~skhtm.SaccadeEncoder` offers candidate fixations; each
glimpse is what a small fovea sees (learned local features) together with
*where* it was taken, a place in the object's reference frame. An
:class:`~skhtm.ObjectLayerClassifier` binds each feature to its place, adds up
the evidence of the glimpses it has taken in whatever order, and chooses which
candidate to take next (its ``policy``).

This example shows, on scikit-learn's 8x8 digits:

1. the gaze path each policy takes on the same images;
2. the evidence for each class after each glimpse, and how fast each policy
   gets to the right answer;
3. several sensors moving together, like fingers on an object: each is a
   column with its own evidence, and the columns vote.
"""

# %%
# Data and the recipe pipeline
# ----------------------------
# 16 candidate fixations on a 4x4 grid over the digit, of which the object
# layer takes 4. The policy is a parameter of prediction only: the fitted
# pipeline is reused for every policy below.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skhtm import ObjectLayerClassifier, SaccadeEncoder
from skhtm.plotting import plot_evidence, plot_gaze_path
from skhtm.recipes import saccade_classifier

X, y = load_digits(return_X_y=True)
X = X * 16.0            # grey levels 0-256 (the encoder scales each image to its maximum)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0)

pipe = saccade_classifier((8, 8), n_glimpses=16, random_state=0,
                          objectlayerclassifier__n_glimpses=4)
pipe.fit(X_train, y_train)
encoder = pipe.named_steps["saccadeencoder"]
layer = pipe.named_steps["objectlayerclassifier"]
G_test = encoder.transform(X_test)              # (n_images, 16 candidates, n_values)
candidates = encoder.fixations(X_test)          # (n_images, 16, 2): (row, col) of each
fovea = encoder.fovea_shape
print(f"glimpses: {G_test.shape[1]} candidates of {G_test.shape[2]} values; "
      f"fovea {fovea[0]}x{fovea[1]}; {layer.n_glimpses} taken")

policies = ["given", "random", "hypothesis"]


def set_policy(policy, n_glimpses=4):
    layer.set_params(policy=policy, n_glimpses=n_glimpses, random_state=0)


for policy in policies:
    set_policy(policy)
    print(f"policy={policy!r:13} test accuracy after 4 glimpses: "
          f"{pipe.score(X_test, y_test):.3f}")

# %%
# Gaze paths
# ----------
# Each column of pictures is a policy, each row a test image; the numbers give
# the order of the fixations and the boxes the fovea. ``"given"`` takes the
# candidates in the encoder's scan order, so 4 glimpses only see the top row
# of the grid. ``"random"`` spreads them at random. ``"hypothesis"`` takes,
# after each glimpse, the candidate whose place best tells apart the two
# classes it currently ranks first, judged from the read-out's weights at each
# place, never from what an untaken glimpse would show: its first fixation is
# the same on every image (nothing is known yet), the following ones depend on
# what was seen. The last column is the encoder's own ``gaze="saliency"``
# (the strongest "clumps" of the image first), which looks before knowing
# anything about classes.
shown = [0, 1, 2]
saliency = SaccadeEncoder(n_glimpses=4, fovea_shape=fovea, gaze="saliency")
saliency_paths = saliency.fixations(X_test[shown])

fig, axes = plt.subplots(len(shown), len(policies) + 1, figsize=(8, 6.2),
                         layout="constrained")
for j, policy in enumerate(policies):
    set_policy(policy)
    order = layer.glimpse_order(G_test[shown])  # which candidate was taken at each step
    for r, i in enumerate(shown):
        plot_gaze_path(X_test[i].reshape(8, 8), candidates[i, order[r]], fovea_shape=fovea,
                       ax=axes[r, j])
    axes[0, j].set_title(f'policy="{policy}"', fontsize=9)
for r, i in enumerate(shown):
    plot_gaze_path(X_test[i].reshape(8, 8), saliency_paths[r], fovea_shape=fovea,
                   ax=axes[r, -1], color="tab:blue")
    axes[r, 0].set_ylabel(f"digit {y_test[i]}")
axes[0, -1].set_title('gaze="saliency"', fontsize=9)
plt.show()

# %%
# Evidence after each glimpse
# ---------------------------
# With ``policy="hypothesis"``, :meth:`~skhtm.ObjectLayerClassifier.staged_predict_proba`
# gives the probability of each class after 1, 2, ... glimpses. Below, two test
# images that the first glimpse gets wrong and the fourth gets right: each
# row of a heat map is one more glimpse, the dot its most probable class, the
# red box the true class.
set_policy("hypothesis")
staged = np.stack(list(layer.staged_predict_proba(G_test)), axis=1)  # (n, glimpses, classes)
predicted = layer.classes_[staged.argmax(axis=2)]
wrong_then_right = np.flatnonzero((predicted[:, 0] != y_test) & (predicted[:, -1] == y_test))
print(f"{len(wrong_then_right)} of {len(y_test)} test images are wrong after the first "
      f"glimpse and right after the fourth")
examples = wrong_then_right[:2]
order = layer.glimpse_order(G_test[examples])

fig, axes = plt.subplots(1, 4, figsize=(9, 2.8), layout="constrained",
                         gridspec_kw={"width_ratios": [1, 1.6, 1, 1.6]})
for n, i in enumerate(examples):
    plot_gaze_path(X_test[i].reshape(8, 8), candidates[i, order[n]], fovea_shape=fovea,
                   ax=axes[2 * n])
    axes[2 * n].set_title(f"test image {i}", fontsize=9)
    plot_evidence(staged[i], classes=layer.classes_, true_class=y_test[i], ax=axes[2 * n + 1])
    axes[2 * n + 1].set_title(f"true class {y_test[i]}", fontsize=9)
    print(f"test image {i} (a {y_test[i]}): predicted "
          f"{' -> '.join(str(c) for c in predicted[i])}, P(true class) "
          f"{' -> '.join(f'{p:.2f}' for p in staged[i, :, y_test[i]])}")
plt.show()

# %%
# How fast each policy gets there
# -------------------------------
# Test accuracy after each glimpse, now letting the object layer take all 16
# candidates. The evidence is a sum over the glimpses taken, whatever their
# order, so after all 16 every policy has seen the same glimpses and scores
# the same; the policies differ in how soon they get there.
steps = np.arange(1, G_test.shape[1] + 1)
fig, ax = plt.subplots(figsize=(6, 3.2), layout="constrained")
for policy in policies:
    set_policy(policy, n_glimpses=None)
    accuracy = [np.mean(p == y_test) for p in layer.staged_predict(G_test)]
    ax.plot(steps, accuracy, marker="o", ms=3, label=policy)
    print(f"policy={policy!r:13} accuracy after 1, 2, 4, 8, 16 glimpses: "
          f"{', '.join(f'{accuracy[t - 1]:.3f}' for t in (1, 2, 4, 8, 16))}")
ax.set_xlabel("glimpses taken")
ax.set_ylabel("test accuracy")
ax.set_xticks(steps)
ax.legend(title="policy")
ax.grid(alpha=0.3)
plt.show()
set_policy("hypothesis")

# %%
# Columns that vote
# -----------------
# Three sensors move with one gaze, at offsets (0, 0), (0, 3) and (3, 0)
# pixels, like three fingertips: every fixation gives three glimpses at once,
# each with its own place in the object's frame. To keep this quick, the
# sensors see grey-level bits of a 4x4 fovea instead of learned features. An
# :class:`~skhtm.ObjectLayerClassifier` with ``n_columns=3`` learns one object
# layer per sensor (a column); with ``voting="independent"`` each column also
# learns its own read-out, so each holds its own opinion (the default,
# ``"joint"``, learns one read-out that weighs the columns' votes, which is
# more accurate but leaves no column a classifier of its own);
# :meth:`~skhtm.ObjectLayerClassifier.evidence` gives each column's own
# evidence, and the prediction is their sum (the vote). The hand takes 9
# fixations, a 3x3 grid over a 5x5 window centred on the digit, in random order.
offsets = [(0, 0), (0, 3), (3, 0)]
hand = SaccadeEncoder(n_glimpses=9, fovea_shape=4, n_levels=4, gaze="object_scan",
                      scan_shape=5, location="place", location_frame="object",
                      location_resolution=1.0, sensor_offsets=offsets)
H_train = hand.fit_transform(X_train)
H_test = hand.transform(X_test)
location = hand.glimpse_layout()["location"]
columns = ObjectLayerClassifier(location.stop - location.start, n_columns=len(offsets),
                                readout=LogisticRegression(C=0.1, max_iter=1000),
                                voting="independent", policy="random",
                                random_state=0).fit(H_train, y_train)
evidence = columns.evidence(H_test)             # (n, glimpses, columns, classes)


def softmax(scores):
    scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return scores / scores.sum(axis=-1, keepdims=True)


column_proba = softmax(evidence)                # each column on its own
voted_proba = softmax(evidence.sum(axis=2))     # the columns' evidence summed
column_guess = columns.classes_[column_proba.argmax(axis=3)]
voted_guess = columns.classes_[voted_proba.argmax(axis=2)]

# %%
# For one test image where the three columns' first guesses all differ and the
# vote ends right: the probability each column gives the true class after
# each fixation (from its own evidence), and the voted probability (from the
# summed evidence). The left picture shows the hand at its first fixation:
# the three sensors' foveas, one colour each, with the numbered path the
# hand then follows (the first sensor's positions).
disagree = np.flatnonzero((np.array([len(set(g)) for g in column_guess[:, 0]]) == 3)
                          & (voted_guess[:, -1] == y_test))
print(f"{len(disagree)} of {len(y_test)} test images have three different first guesses "
      f"and a right final vote")
i = disagree[0]
truth = np.searchsorted(columns.classes_, y_test[i])
order = columns.glimpse_order(H_test[[i]])[0]
gaze = hand.fixations(X_test[[i]])[0, order]
colours = ["tab:red", "tab:green", "tab:purple"]
fixation_steps = np.arange(1, len(order) + 1)

fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.2), layout="constrained",
                         gridspec_kw={"width_ratios": [1, 2]})
plot_gaze_path(X_test[i].reshape(8, 8), gaze, ax=axes[0], color="tab:orange")
for k, (offset, colour) in enumerate(zip(offsets, colours)):
    sensor = np.clip(gaze[0] + offset, 0, 7)    # a sensor is kept on the image
    axes[0].add_patch(plt.Rectangle((sensor[1] - 2.5, sensor[0] - 2.5), 4, 4, fill=False,
                                    ec=colour, lw=2))
    axes[1].plot(fixation_steps, column_proba[i, :, k, truth], marker="o", ms=3,
                 color=colour, label=f"column {k} (offset {offset})")
axes[1].plot(fixation_steps, voted_proba[i, :, truth], marker="s", ms=4, lw=2.5,
             color="black", label="vote (summed evidence)")
axes[0].set_title(f"test image {i}, a {y_test[i]}", fontsize=9)
axes[1].set_xlabel("fixations")
axes[1].set_ylabel(f"P(class {y_test[i]})")
axes[1].set_ylim(-0.02, 1.02)
axes[1].legend(fontsize=7, loc="lower right")
plt.show()
for t in range(len(order)):
    print(f"after {t + 1} fixation(s): columns guess "
          f"{', '.join(str(c) for c in column_guess[i, t])}; vote {voted_guess[i, t]}")

# %%
# Over the whole test split: the accuracy of each column alone after each
# fixation, and of the vote. After one fixation each column sees a single
# patch and the vote is no better than a column (printed below); from then on
# the vote is ahead of the columns, most while they are still unsure, and the
# gap closes as each column's own glimpses come to cover the digit.
fig, ax = plt.subplots(figsize=(6, 3.2), layout="constrained")
column_accuracy = (column_guess == y_test[:, None, None]).mean(axis=0)  # (glimpses, columns)
voted_accuracy = (voted_guess == y_test[:, None]).mean(axis=0)
for k, colour in enumerate(colours):
    ax.plot(fixation_steps, column_accuracy[:, k], marker="o", ms=3, color=colour,
            label=f"column {k}")
    print(f"column {k}: accuracy after each fixation "
          f"{', '.join(f'{a:.3f}' for a in column_accuracy[:, k])}")
ax.plot(fixation_steps, voted_accuracy, marker="s", ms=4, lw=2.5, color="black", label="vote")
print(f"vote:     accuracy after each fixation {', '.join(f'{a:.3f}' for a in voted_accuracy)}")
print(f"vote minus the best column:          "
      f"{', '.join(f'{d:+.3f}' for d in voted_accuracy - column_accuracy.max(axis=1))}")
ax.set_xlabel("fixations")
ax.set_ylabel("test accuracy")
ax.set_xticks(fixation_steps)
ax.legend()
ax.grid(alpha=0.3)
plt.show()
