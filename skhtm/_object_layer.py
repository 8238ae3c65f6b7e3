"""Numeric kernels of the object layer: features bound to places, per-glimpse
votes, and the hypothesis-driven choice of the next glimpse.

Plain functions over numpy arrays; no estimator state.

Vocabulary (Hawkins, Ahmad & Cui 2017, "A Theory of How Columns in the
Neocortex Enable Learning the Structure of the World"): each glimpse of a
cortical column is a *feature at a location*. The input layer represents it as
the feature's activity in the cells of the glimpse's *place*; the output
(object) layer accumulates that activity over the glimpses of one object,
whatever their order, and its read-out gives the evidence for each object.
Because the accumulation is a sum, every glimpse contributes one *vote*
vector to the evidence, and columns that see the same object at once add
their votes (lateral voting).
"""

import numpy as np

from ._jit import jit


def place_indices(codes, places):
    """The known place of each location code: the one it overlaps most
    (ties: the lowest index), so an exact code finds itself and an SDR code
    not seen in training finds its nearest neighbour.

    codes : (m, n_location_bits); places : (n_places, n_location_bits).
    Returns (m,) int64.
    """
    overlap = np.asarray(codes, dtype=np.float32) @ np.asarray(places, dtype=np.float32).T
    return np.argmax(overlap, axis=1).astype(np.int64)


@jit
def bind_features(features, place, mean, scale, n_places, out):
    """The input layer, summed over the glimpses of each sample.

    ``out[i, p, :] = sum over glimpses g of sample i at place p of
    (features[i, g] - mean[p]) / scale[p]``: the feature's deviation from what
    that place usually shows, so a place not looked at contributes 0 (no
    evidence) rather than its absence.

    features : (n, n_steps, n_features) float32; place : (n, n_steps) int64;
    mean, scale : (n_places, n_features) float32; out : (n, n_places,
    n_features) float32, zeroed by the caller.
    """
    n, n_steps, n_features = features.shape
    for i in range(n):
        for g in range(n_steps):
            p = place[i, g]
            if p < 0 or p >= n_places:
                continue
            for f in range(n_features):
                out[i, p, f] += (features[i, g, f] - mean[p, f]) / scale[p, f]


@jit
def bind_columns(glimpses, place, mean, scale, first_place, n_features, out):
    """The input layer of every column, summed over each sample's glimpses, side
    by side: ``out[i]`` holds column 0's places, then column 1's, ... each
    place's ``n_features`` bound features as in :func:`bind_features`.

    ``out`` may share memory with ``glimpses`` (binding in place): each sample's
    glimpses are copied before its row of ``out`` is written, and that row
    ends no later than the sample's own glimpses in the shared buffer, since
    it holds no more values (the caller checks), so later samples are never
    overwritten before they are read.

    glimpses : (n, n_steps, n_columns * width) float32; place : (n, n_steps,
    n_columns) int64, each column's own place index (-1: leave the glimpse
    out); mean, scale :
    (total_places, n_features) float32, the columns' places one after the
    other from ``first_place[k]``; out : (n, total_places * n_features) float32.
    """
    n, n_steps, n_values = glimpses.shape
    n_columns = place.shape[2]
    width = n_values // n_columns
    row = np.empty((n_steps, n_values), dtype=np.float32)
    size = out.shape[1]
    for i in range(n):
        for g in range(n_steps):
            for v in range(n_values):
                row[g, v] = glimpses[i, g, v]
        for d in range(size):
            out[i, d] = 0.0
        for g in range(n_steps):
            for k in range(n_columns):
                if place[i, g, k] < 0:
                    continue
                q = first_place[k] + place[i, g, k]
                base = q * n_features
                for f in range(n_features):
                    out[i, base + f] += (row[g, k * width + f] - mean[q, f]) / scale[q, f]


@jit
def glimpse_votes(features, place, mean, scale, coef, out):
    """Each glimpse's vote: the read-out's weights of its place applied to its
    bound features. The evidence after any set of glimpses is the intercept
    plus the sum of their votes.

    features : (n, n_steps, n_features) float32; place : (n, n_steps) int64;
    mean, scale : (n_places, n_features) float32; coef : (n_classes,
    n_places, n_features) float64; out : (n, n_steps, n_classes) float64.
    """
    n, n_steps, n_features = features.shape
    n_classes = coef.shape[0]
    n_places = coef.shape[1]
    for i in range(n):
        for g in range(n_steps):
            p = place[i, g]
            for c in range(n_classes):
                out[i, g, c] = 0.0
            if p < 0 or p >= n_places:
                continue
            for f in range(n_features):
                x = (features[i, g, f] - mean[p, f]) / scale[p, f]
                if x != 0.0:
                    for c in range(n_classes):
                        out[i, g, c] += coef[c, p, f] * x


def place_disagreement(coef):
    """How much looking at each place can separate each pair of classes:
    ``disagreement[p, a, b] = || coef[a, p] - coef[b, p] ||`` over the bound
    features, which have unit variance, so it is the spread of the vote
    difference between ``a`` and ``b`` that a glimpse at ``p`` brings.

    coef : (n_classes, n_places, n_features). Returns (n_places, n_classes,
    n_classes) float64.
    """
    n_classes, n_places, _ = coef.shape
    out = np.empty((n_places, n_classes, n_classes))
    for a in range(n_classes):
        out[:, a, :] = np.sqrt(((coef[a][None] - coef) ** 2).sum(axis=2)).T
    return out


@jit
def _next_uniform(state):
    """SplitMix64 step on a one-element uint64 state; a float in [0, 1).

    Compiled, the uint64 products wrap silently; run as Python
    (NUMBA_DISABLE_JIT=1) numpy wraps them the same way and warns of the
    overflow, which is the arithmetic intended.
    """
    state[0] += np.uint64(0x9E3779B97F4A7C15)
    z = state[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@jit
def choose_glimpses(votes, intercept, place, disagreement, n_glimpses, policy, curiosity,
                    seeds, order):
    """The order in which each sample's candidate glimpses are consumed.

    Every column's sensor moves with the one gaze, so a step is chosen for all
    columns at once. policy 0 ("given"): the candidates' own order; 1
    ("random"): uniformly random; 2 ("hypothesis"): the candidate whose place
    best separates the two classes the columns' summed evidence ranks first
    so far (Monty's hypothesis-testing policy), with probability
    ``curiosity`` a random candidate instead. Only the votes of glimpses
    already taken and the places of the candidates (where the eye can go)
    are read, never what an untaken glimpse would show.

    votes : (n, n_steps, n_columns, n_classes); intercept : (n_columns,
    n_classes); place : (n, n_steps, n_columns) int64; disagreement :
    (n_columns, n_places, n_classes, n_classes); seeds : (n,) uint64;
    order : (n, n_glimpses) int64, written.
    """
    n, n_steps, n_columns, n_classes = votes.shape
    n_places = disagreement.shape[1]
    taken = np.zeros(n_steps, dtype=np.bool_)
    evidence = np.zeros(n_classes)
    state = np.zeros(1, dtype=np.uint64)
    for i in range(n):
        taken[:] = False
        state[0] = seeds[i]
        for c in range(n_classes):
            evidence[c] = 0.0
            for k in range(n_columns):
                evidence[c] += intercept[k, c]
        for t in range(n_glimpses):
            pick = -1
            if policy == 0:
                pick = t
            elif policy == 1 or (curiosity > 0.0 and _next_uniform(state) < curiosity):
                # The r-th untaken candidate, r uniform.
                r = int(_next_uniform(state) * (n_steps - t))
                for s in range(n_steps):
                    if not taken[s]:
                        if r == 0:
                            pick = s
                            break
                        r -= 1
            else:
                first, second = 0, 1
                if evidence[1] > evidence[0]:
                    first, second = 1, 0
                for c in range(2, n_classes):
                    if evidence[c] > evidence[first]:
                        second = first
                        first = c
                    elif evidence[c] > evidence[second]:
                        second = c
                best = -1.0
                for s in range(n_steps):
                    if taken[s]:
                        continue
                    score = 0.0
                    for k in range(n_columns):
                        p = place[i, s, k]
                        if p >= 0 and p < n_places:
                            score += disagreement[k, p, first, second]
                    if score > best:
                        best = score
                        pick = s
            taken[pick] = True
            order[i, t] = pick
            for c in range(n_classes):
                for k in range(n_columns):
                    evidence[c] += votes[i, pick, k, c]
