"""A plain, brute-force Temporal Memory written from BAMI, to check the kernels against.

Slow on purpose: every segment's activity is recounted from scratch at each
step, segments are dicts, and each rule is written out as the pseudocode reads
("Temporal Memory Algorithm Details", Numenta 2017). Not collected as tests.

The tie-breaks the pseudocode leaves open follow skhtm's documented choices:
the best matching segment of a column has the most active potential synapses
(then the lowest id); a full cell replaces its least recently used segment
(then the lowest id); a new synapse takes a free slot (the lowest first), and
a full segment replaces its weakest synapses (lowest permanence, then lowest
slot). Random choices (the least used cell among equals, which previous winner
cells a segment grows synapses to) are drawn from a numpy generator.
"""

from dataclasses import dataclass, field

import numpy as np

F32 = np.float32
PRUNE = F32(1e-6)


@dataclass
class Segment:
    cell: int
    last_used: int
    slots: dict = field(default_factory=dict)  # slot -> [presynaptic cell, permanence]

    def synapses(self):
        return {cell: perm for cell, perm in self.slots.values()}


@dataclass
class Params:
    cells_per_column: int
    activation_threshold: int
    min_threshold: int
    initial_permanence: float
    connected_permanence: float
    permanence_increment: float
    permanence_decrement: float
    predicted_segment_decrement: float
    max_new_synapse_count: int
    max_segments_per_cell: int
    max_synapses_per_segment: int
    width: int = 10**9  # synapse slots per segment (the kernels' storage width)


@dataclass
class Memory:
    params: Params
    n_columns: int
    segments: dict = field(default_factory=dict)  # id -> Segment
    active_cells: list = field(default_factory=list)
    winner_cells: list = field(default_factory=list)
    iteration: int = 0
    next_id: int = 0
    # What happened, for tests that must prove a rule was exercised.
    events: list = field(default_factory=list)

    def reset(self):
        self.active_cells, self.winner_cells = [], []

    def activity(self, active_cells):
        """Active connected and active potential synapses of every segment."""
        active = set(active_cells)
        connected, potential = {}, {}
        for sid, seg in self.segments.items():
            on = [perm for cell, perm in seg.slots.values() if cell in active]
            potential[sid] = len(on)
            connected[sid] = sum(perm >= F32(self.params.connected_permanence) for perm in on)
        return connected, potential

    def predictive_cells(self, active_cells):
        connected, _ = self.activity(active_cells)
        return sorted({self.segments[s].cell for s, n in connected.items()
                       if n >= self.params.activation_threshold})

    # ------------------------------------------------------------------ one step

    def step(self, columns, rng=None, learn=True):
        """One time step on the sorted active ``columns``; returns its outputs."""
        p = self.params
        cpc = p.cells_per_column
        self.iteration += 1
        columns = sorted(int(c) for c in columns)
        column_set = set(columns)
        connected, potential = self.activity(self.active_cells)
        active_segments = [s for s in sorted(self.segments)
                           if connected[s] >= p.activation_threshold]
        matching_segments = [s for s in sorted(self.segments)
                             if potential[s] >= p.min_threshold]

        # Activate: predicted cells of active columns, else burst.
        correct_segments = [s for s in active_segments
                            if self.segments[s].cell // cpc in column_set]
        predicted_cells = sorted({self.segments[s].cell for s in correct_segments})
        predicted_columns = {c // cpc for c in predicted_cells}
        bursting = [c for c in columns if c not in predicted_columns]
        active_cells = predicted_cells + [c * cpc + i for c in bursting for i in range(cpc)]
        winner_cells = list(predicted_cells)
        learning = [(s, p.max_new_synapse_count - potential[s]) for s in correct_segments]
        new_cells = []
        for column in bursting:
            candidates = [s for s in matching_segments if self.segments[s].cell // cpc == column]
            if candidates:
                best = max(candidates, key=lambda s: (potential[s], -s))
                learning.append((best, p.max_new_synapse_count - potential[best]))
                winner_cells.append(self.segments[best].cell)
            else:
                cells = range(column * cpc, (column + 1) * cpc)
                used = {c: sum(seg.cell == c for seg in self.segments.values()) for c in cells}
                fewest = [c for c in cells if used[c] == min(used.values())]
                cell = fewest[rng.integers(len(fewest))] if len(fewest) > 1 and learn else fewest[0]
                winner_cells.append(cell)
                new_cells.append(cell)
        anomaly = len(bursting) / len(columns) if columns else 0.0

        if learn:
            prev_active = set(self.active_cells)
            if p.predicted_segment_decrement > 0:
                for s in matching_segments:
                    if self.segments[s].cell // cpc not in column_set:
                        self.events.append(("punished", s))
                        self._adapt(s, prev_active, -F32(p.predicted_segment_decrement), F32(0))
            for s, _ in learning:
                self._adapt(s, prev_active, F32(p.permanence_increment),
                            F32(p.permanence_decrement))
            if self.winner_cells:
                for cell in new_cells:
                    s = self._create_segment(cell)
                    learning.append((s, min(p.max_new_synapse_count, len(self.winner_cells))))
                for s, n_desired in learning:
                    if n_desired > 0 and s in self.segments:
                        self._grow(s, n_desired, rng)
            # Segments active for the next step count as used now.
            connected, _ = self.activity(active_cells)
            for s, n in connected.items():
                if n >= p.activation_threshold and self.segments[s].last_used != self.iteration:
                    self.events.append(("refreshed", s))
                    self.segments[s].last_used = self.iteration
        self.active_cells, self.winner_cells = active_cells, winner_cells
        return {"active_cells": active_cells, "winner_cells": winner_cells,
                "predicted_cells": predicted_cells, "anomaly": anomaly,
                "predictive_cells": self.predictive_cells(active_cells)}

    def _adapt(self, s, prev_active, increment, decrement):
        seg = self.segments[s]
        for j in list(seg.slots):
            cell, perm = seg.slots[j]
            perm = F32(perm + increment) if cell in prev_active else F32(perm - decrement)
            perm = min(max(perm, F32(0)), F32(1))
            if perm <= PRUNE:
                del seg.slots[j]
            else:
                seg.slots[j][1] = perm
        if not seg.slots:
            del self.segments[s]

    def _create_segment(self, cell):
        mine = [s for s, seg in self.segments.items() if seg.cell == cell]
        if len(mine) >= self.params.max_segments_per_cell:
            oldest = min(mine, key=lambda s: (self.segments[s].last_used, s))
            self.events.append(("replaced", oldest, max(mine)))
            del self.segments[oldest]
        s = self.next_id
        self.next_id += 1
        self.segments[s] = Segment(cell, self.iteration)
        return s

    def _grow(self, s, n_desired, rng):
        p = self.params
        seg = self.segments[s]
        present = set(seg.synapses())
        candidates = [c for c in self.winner_cells if c not in present]
        limit = min(p.max_synapses_per_segment, p.width)
        n_new = min(n_desired, len(candidates), limit)
        if n_new <= 0:
            return
        if n_new < len(candidates):
            candidates = [candidates[i] for i in rng.choice(len(candidates), n_new,
                                                            replace=False)]
        n_replace = max(0, len(seg.slots) + n_new - limit)
        free = [j for j in range(p.width) if j not in seg.slots][:n_new - n_replace]
        weakest = sorted(seg.slots, key=lambda j: (seg.slots[j][1], j))[:n_replace]
        if n_replace:
            self.events.append(("weakest replaced", s))
        for j in weakest:
            del seg.slots[j]
        for j, cell in zip(free + weakest, candidates):
            seg.slots[j] = [cell, F32(p.initial_permanence)]

    # ------------------------------------------------------------------ views

    def segment_multiset(self):
        """The segments as sorted (cell, last_used, sorted synapses) tuples (ids apart)."""
        return sorted((seg.cell, seg.last_used, tuple(sorted(
            (int(c), float(perm)) for c, perm in seg.slots.values())))
            for seg in self.segments.values())


def from_model(model, params, n_columns):
    """A :class:`Memory` holding a fitted skhtm model's segments and stream."""
    from skhtm import _temporal_memory as K

    counts = model["counts"]
    memory = Memory(params, n_columns, iteration=int(counts[K.ITERATION]),
                    next_id=int(model["segment_cell"].size))
    for s in range(int(counts[K.N_ALLOCATED])):
        cell = int(model["segment_cell"][s])
        if cell < 0:
            continue
        seg = Segment(cell, int(model["segment_last_used"][s]))
        for j in np.flatnonzero(model["presynaptic_cell"][s] >= 0):
            seg.slots[int(j)] = [int(model["presynaptic_cell"][s, j]),
                                 F32(model["permanence"][s, j])]
        memory.segments[s] = seg
    memory.active_cells = sorted(model["stream_active_cells"][:counts[K.N_ACTIVE]].tolist())
    memory.winner_cells = model["stream_winner_cells"][:counts[K.N_WINNERS]].tolist()
    return memory


def infer(memory, X):
    """Reference inference of one sequence (from a reset, no learning): per step
    the active cells, the correctly predicted cells, the predictive cells and
    the raw anomaly."""
    memory.reset()
    out = []
    for step in X:
        out.append(memory.step(np.flatnonzero(step), learn=False))
    memory.reset()
    return out
