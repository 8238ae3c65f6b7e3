"""
=============================================
Temporal Memory: prediction and anomaly score
=============================================

A :class:`~skhtm.TemporalMemoryTransformer` learns a stream online and
predicts the next input. The stream here repeats the sequence
``A B C D E F G H``; each letter is a random SDR of 10 active columns out of
256 (in a real application, the output of a
:class:`~skhtm.SpatialPoolerTransformer`).

The raw anomaly score of a step is the fraction of its active columns that
were not predicted: 1 for a surprise, 0 for a fully expected input.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from skhtm import TemporalMemoryTransformer
from skhtm.plotting import plot_anomaly

rng = np.random.RandomState(0)
n_columns, n_active = 256, 10
sdr = {}
for letter in "ABCDEFGHX":
    sdr[letter] = np.zeros(n_columns, np.uint8)
    sdr[letter][rng.choice(n_columns, n_active, replace=False)] = 1


def stream_of(text):
    """The (n_steps, n_columns) stream of SDRs spelling ``text``."""
    return np.stack([sdr[letter] for letter in text])


# %%
# Learning online, chunk by chunk: ``partial_fit`` on a stream continues where
# the previous call stopped. Before learning each chunk, score it
# (``transform`` starts from a reset, so the chunk's first step, always a
# surprise, is left out): the mean anomaly falls as the memory learns.
tm = TemporalMemoryTransformer(cells_per_column=8, activation_threshold=6, min_threshold=4,
                               output="anomaly", random_state=0)
learned, mean_anomaly = [], []
for n_chunks in range(10):
    chunk = stream_of("ABCDEFGH")
    if n_chunks:
        mean_anomaly.append(tm.transform(chunk)[1:].mean())
        learned.append(tm.n_iterations_)
    tm.partial_fit(chunk)

fig, ax = plt.subplots(figsize=(6, 2.5), layout="constrained")
ax.plot(learned, mean_anomaly, "o-")
ax.set_xlabel("steps learned")
ax.set_ylabel("mean raw anomaly")
ax.set_title("Learning curve")
plt.show()

# %%
# A test stream with three kinds of anomaly: two letters swapped
# (``... C E D F ...``), an unknown input (``X`` instead of ``E``) and a
# skipped letter (``... B D ...``). The memory flags each unexpected step,
# and the step after a surprise too when it follows an input that never led
# to it.
text = "ABCDEFGH" "ABCDEFGH" "ABCEDFGH" "ABCDEFGH" "ABCDXFGH" "ABDEFGH" "ABCDEFGH"
anomaly = tm.transform(stream_of(text)).ravel()
ax = plot_anomaly(anomaly, events=[19, 36, 42])
ax.set_xticks(range(len(text)), list(text), fontsize=6)
ax.set_title("Raw anomaly on a test stream (dashed: where the anomalies start)")
ax.figure.set_layout_engine("constrained")
plt.show()

# %%
# What the memory predicts: with ``output="predictive_columns"`` each row of
# the output holds the columns predicted for the *next* step. Over the first
# 24 test steps and the columns the letters use, each step's active columns
# (grey squares) and the columns predicted one step before (red dots): the
# predictions sit on the input, except where the swapped letters come.
tm.set_params(output="predictive_columns")
window = stream_of(text[:24])
predicted = tm.transform(window)
used = np.flatnonzero(window.any(axis=0))
fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
steps, cols = np.nonzero(window[1:, used])
ax.scatter(steps + 1, cols, marker="s", s=30, color="lightgrey", label="active")
steps, cols = np.nonzero(predicted[:-1, used])
ax.scatter(steps + 1, cols, marker="o", s=8, color="tab:red", label="predicted one step before")
ax.set_xticks(range(1, 24), list(text[1:24]), fontsize=7)
ax.set_xlabel("step (input letter)")
ax.set_ylabel("column (of those used)")
ax.legend(loc="upper left", fontsize=7, framealpha=1)
plt.show()
