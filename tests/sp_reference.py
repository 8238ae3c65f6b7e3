"""A plain, brute-force Spatial Pooler written from BAMI, for differential tests.

Slow Python loops over columns, synapses and samples; no numba, no vectorised
tricks, and none of the kernels' data structures (neighbourhoods are found by
testing every column's distance, winners by sorting). Permanence arithmetic is
float32 like the estimator's, so the results compare exactly.

Numenta, "Biological and Machine Intelligence (BAMI)", Spatial Pooling
Algorithm Details; Cui, Ahmad & Hawkins (2017).
"""

import math

import numpy as np

UPDATE_PERIOD = 50
F32 = np.float32


def pools_of(est):
    """The estimator's potential pools and permanences as lists, one per column."""
    pm = est.permanences_
    inputs = [list(pm.indices[pm.indptr[c]:pm.indptr[c + 1]]) for c in range(est.n_columns_)]
    perms = [[F32(p) for p in pm.data[pm.indptr[c]:pm.indptr[c + 1]]]
             for c in range(est.n_columns_)]
    return inputs, perms


def overlap(inputs, perms, connected, x):
    """Number of connected synapses to active inputs."""
    return sum(1 for i, p in zip(inputs, perms) if p >= F32(connected) and x[i])


def neighbourhood(c, column_shape, radius, wrap_around):
    """Every column within ``radius`` of c along every axis (c included);
    with wrap-around the distance is measured round the torus."""
    me = np.unravel_index(c, column_shape)
    out = []
    for other in range(int(np.prod(column_shape))):
        there = np.unravel_index(other, column_shape)
        inside = True
        for a, b, side in zip(me, there, column_shape):
            d = abs(int(a) - int(b))
            if wrap_around:
                d = min(d, side - d)
            inside &= d <= radius
        if inside:
            out.append(other)
    return out


def n_active_of(size, density, n_active_columns):
    if n_active_columns is not None:
        return min(n_active_columns, size)
    return max(1, int(0.5 + density * size))


def winners(scores, overlaps, rank, min_overlap, *, global_inhibition, k=None,
            column_shape=None, radius=None, wrap_around=None, density=None,
            n_active_columns=None):
    """BAMI inhibition: a column is active if its overlap reaches the stimulus
    threshold and its (score, rank) is among the top k of the layer (global) or
    the top n_active of its neighbourhood (local). Scores must be positive."""
    n = len(scores)
    eligible = [c for c in range(n) if overlaps[c] >= min_overlap and scores[c] > 0]
    won = np.zeros(n, dtype=bool)
    if global_inhibition:
        best = sorted(eligible, key=lambda c: (scores[c], rank[c]), reverse=True)[:k]
        won[best] = True
        return won
    for c in eligible:
        hood = neighbourhood(c, column_shape, radius, wrap_around)
        beaten_by = sum(1 for o in hood if o != c and o in eligible
                        and (scores[o], rank[o]) > (scores[c], rank[c]))
        won[c] = beaten_by < n_active_of(len(hood), density, n_active_columns)
    return won


def neighbourhood_mean(values, column_shape, radius, wrap_around):
    return np.array([np.mean([values[o] for o in neighbourhood(c, column_shape, radius,
                                                                wrap_around)])
                     for c in range(len(values))])


def neighbourhood_max(values, column_shape, radius, wrap_around):
    return np.array([max(values[o] for o in neighbourhood(c, column_shape, radius, wrap_around))
                     for c in range(len(values))])


def inhibition_radius(inputs, perms, connected, input_shape, columns_per_input):
    """Mean extent of the connected receptive fields, in columns (BAMI)."""
    spans = []
    for pool, perm in zip(inputs, perms):
        on = [i for i, p in zip(pool, perm) if p >= F32(connected)]
        if on:
            coords = np.array(np.unravel_index(on, input_shape))
            spans.append(sum(int(ax.max() - ax.min() + 1) for ax in coords) / len(input_shape))
    span = sum(spans) / len(spans) if spans else 0.0
    diameter = span * columns_per_input
    return int(max(1.0, (diameter - 1.0) / 2.0) + 0.5)


class ReferenceSP:
    """The learning state of a fitted SpatialPoolerTransformer, learned further
    sample by sample (batch_size=1) or batch by batch, the BAMI way."""

    def __init__(self, est):
        self.p = est.get_params()
        self.inputs, self.perms = pools_of(est)
        self.rank = list(est.column_rank_)
        self.n = est.n_columns_
        self.column_shape = est.column_shape_
        self.input_shape = est.input_shape_
        shape = est.column_shape_ + (1,) * (len(est.input_shape_) - len(est.column_shape_))
        self.columns_per_input = float(np.mean(np.asarray(shape) / np.asarray(est.input_shape_)))
        self.active = list(est.active_duty_cycles_)
        self.overlap = list(est.overlap_duty_cycles_)
        self.min_overlap_duty = list(est.min_overlap_duty_cycles_)
        self.boost = list(est.boost_factors_)
        self.iteration = est.n_iterations_
        self.radius = est.inhibition_radius_
        self.min_overlap = max(int(self.p["stimulus_threshold"]), 1)
        self.events = {"clipped_high": 0, "clipped_low": 0, "trimmed": 0, "bumped": 0,
                       "raised": 0}

    def k(self):
        p = self.p
        if p["n_active_columns"] is not None:
            return min(p["n_active_columns"], self.n)
        return max(1, int(round(p["local_area_density"] * self.n)))

    def active_columns(self, x, scores=None):
        ov = [overlap(i, q, self.p["syn_perm_connected"], x)
              for i, q in zip(self.inputs, self.perms)]
        if scores is None:
            scores = [F32(o) for o in ov]
        p = self.p
        return ov, winners(scores, ov, self.rank, self.min_overlap,
                           global_inhibition=p["global_inhibition"], k=self.k(),
                           column_shape=self.column_shape, radius=self.radius,
                           wrap_around=p["wrap_around"], density=p["local_area_density"],
                           n_active_columns=p["n_active_columns"])

    def learn(self, X):
        for start in range(0, len(X), self.p["batch_size"]):
            self.learn_batch(X[start:start + self.p["batch_size"]])

    def learn_batch(self, rows):
        p = self.p
        inc, dec = F32(p["syn_perm_active_inc"]), F32(p["syn_perm_inactive_dec"])
        trim = F32(p["syn_perm_active_inc"] / 2.0)
        below = p["syn_perm_connected"] / 10.0
        boost = [F32(b) if p["boost_strength"] > 0 else F32(1.0) for b in self.boost]
        wins = [0] * self.n
        hits = [[0] * len(pool) for pool in self.inputs]
        for j, x in enumerate(rows):
            ov = [overlap(i, q, p["syn_perm_connected"], x)
                  for i, q in zip(self.inputs, self.perms)]
            scores = [F32(o) * boost[c] for c, o in enumerate(ov)]
            _, won = self.active_columns(x, scores)
            for c in np.flatnonzero(won):
                wins[c] += 1
                for s, i in enumerate(self.inputs[c]):
                    hits[c][s] += int(x[i])
            period = min(self.iteration + j + 1, p["duty_cycle_period"])
            for c in range(self.n):
                self.overlap[c] = (self.overlap[c] * (period - 1) + (ov[c] >= self.min_overlap)
                                   ) / period
                self.active[c] = (self.active[c] * (period - 1) + bool(won[c])) / period
        for c in range(self.n):
            if not wins[c]:
                continue
            for s in range(len(self.inputs[c])):
                delta = F32(hits[c][s]) * inc - F32(wins[c] - hits[c][s]) * dec
                q = F32(self.perms[c][s] + delta)
                self.events["clipped_high"] += q > 1
                self.events["clipped_low"] += q < 0
                q = min(max(q, F32(0.0)), F32(1.0))
                if q < trim:
                    self.events["trimmed"] += q > 0
                    q = F32(0.0)
                self.perms[c][s] = q
            self.raise_to_threshold(c, F32(below))
        bump = F32(len(rows) * below)
        for c in range(self.n):
            if self.overlap[c] < self.min_overlap_duty[c]:
                self.events["bumped"] += 1
                self.perms[c] = [min(F32(q + bump), F32(1.0)) for q in self.perms[c]]
        if p["global_inhibition"]:
            target = [self.k() / self.n] * self.n
        else:
            target = neighbourhood_mean(self.active, self.column_shape, self.radius,
                                        p["wrap_around"])
        self.boost = [math.exp((target[c] - self.active[c]) * p["boost_strength"])
                      for c in range(self.n)]
        if (self.iteration + len(rows)) // UPDATE_PERIOD > self.iteration // UPDATE_PERIOD:
            if p["global_inhibition"]:
                self.min_overlap_duty = [p["min_pct_overlap_duty_cycle"] * max(self.overlap)
                                         ] * self.n
            else:
                self.radius = inhibition_radius(self.inputs, self.perms, p["syn_perm_connected"],
                                                self.input_shape, self.columns_per_input)
                top = neighbourhood_max(self.overlap, self.column_shape, self.radius,
                                        p["wrap_around"])
                self.min_overlap_duty = [p["min_pct_overlap_duty_cycle"] * t for t in top]
        self.iteration += len(rows)

    def raise_to_threshold(self, c, increment):
        """Raise the whole pool until min(stimulus_threshold, pool size) synapses connect."""
        target = min(self.p["stimulus_threshold"], len(self.perms[c]))
        for _ in range(int(math.ceil(1.0 / float(increment))) + 1):
            connected = sum(q >= F32(self.p["syn_perm_connected"]) for q in self.perms[c])
            if connected >= target:
                return
            self.events["raised"] += 1
            self.perms[c] = [min(F32(q + increment), F32(1.0)) for q in self.perms[c]]
