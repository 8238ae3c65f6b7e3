"""Temporal Memory speed on htm.core's sequence workload, against htm.core's figures.

2048 columns x 32 cells, 40 active columns per step, htm.core's default TM
parameters. Learning: one 100-step sequence of random SDRs repeated 20 times
as one stream, with learning and no reset (2,000 steps). Inference: the
learned sequence as a batch of ``--n-sequences`` sequences (each from a
reset, 10% of the active columns of every step replaced by random ones so
that the sequences differ), advanced in lock-step by ``transform``.

Prints and saves (benchmarks/results/tm_speed.{json,md}) medians over
``--repeats`` runs: learning us/step (mean over the whole run, and over the
last pass once learned), inference us per sequence-step (n_jobs=1 and 2),
segment and synapse counts, model size and peak memory.

    python benchmarks/bench_tm_speed.py            # ~2 minutes
    python benchmarks/bench_tm_speed.py --quick
"""

import argparse
import json
import os
import platform
import resource
import time
import tracemalloc

import numpy as np

from skhtm import TemporalMemoryTransformer

# htm.core measured on this machine kind, quiet; BrainBlocks' SequenceLearner.
HTM_CORE = {"learn_us": "59-85", "learned_us": 50, "infer_us": "23-32",
            "segments": 4160, "synapses": 83200}
BRAINBLOCKS_LEARN_US = 94
TARGETS = {"learn_us": 60, "infer_us": 5}
N_COLUMNS, N_ACTIVE, N_STEPS, N_REPEATS = 2048, 40, 100, 20


def make_sequence(rng):
    seq = np.zeros((N_STEPS, N_COLUMNS), np.uint8)
    for row in seq:
        row[rng.choice(N_COLUMNS, N_ACTIVE, replace=False)] = 1
    return seq


def noisy_copies(seq, n, rng, flip=0.1):
    """n copies of seq, each step with ``flip`` of its active columns moved."""
    batch = np.repeat(seq[None], n, axis=0)
    n_move = int(round(flip * N_ACTIVE))
    for i in range(n):
        for t in range(N_STEPS):
            on = np.flatnonzero(batch[i, t])
            off = np.flatnonzero(batch[i, t] == 0)
            batch[i, t, rng.choice(on, n_move, replace=False)] = 0
            batch[i, t, rng.choice(off, n_move, replace=False)] = 1
    return batch


def learn(seq, seed):
    """Learn the repeated stream (one fit); returns the model and us/step.

    Then continues the learned stream for 10 more passes with one
    partial_fit (which includes copying the model once, so that a failure
    could not corrupt it) and returns its us/step too.
    """
    tm = TemporalMemoryTransformer(random_state=seed)
    tic = time.perf_counter()
    tm.fit(np.tile(seq, (N_REPEATS, 1)))
    mid = time.perf_counter()
    tm.partial_fit(np.tile(seq, (10, 1)))
    end = time.perf_counter()
    total = (mid - tic) / (N_STEPS * N_REPEATS) * 1e6
    return tm, total, (end - mid) / (10 * N_STEPS) * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 repeat, 100 sequences")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n-sequences", type=int, default=256)
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    n_seq = 100 if args.quick else args.n_sequences
    rng = np.random.RandomState(0)
    seq = make_sequence(rng)
    batch = noisy_copies(seq, n_seq, rng)

    learn_runs = [learn(seq, seed) for seed in range(repeats)]
    tm = learn_runs[0][0]
    # Counts after the 20 passes htm.core was measured on.
    fitted = TemporalMemoryTransformer(random_state=0).fit(np.tile(seq, (N_REPEATS, 1)))
    counts = (fitted.n_segments_, fitted.n_synapses_)
    learn_us = float(np.median([r[1] for r in learn_runs]))
    learned_us = float(np.median([r[2] for r in learn_runs]))

    def infer(n_jobs):
        tm.set_params(output="anomaly", pooling="mean", n_jobs=n_jobs)
        times = []
        for _ in range(repeats):
            tic = time.perf_counter()
            scores = tm.transform(batch)
            times.append(time.perf_counter() - tic)
        return float(np.median(times)) / (n_seq * N_STEPS) * 1e6, scores

    infer_us_1, scores = infer(1)
    infer_us_2, _ = infer(2)
    tracemalloc.start()
    learn(seq, 0)
    learn_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.reset_peak()
    infer(1)
    infer_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()

    results = {
        "workload": f"{N_COLUMNS} columns x 32 cells, {N_ACTIVE} active, {N_STEPS}-step "
                    f"sequence x {N_REPEATS}, no reset; inference on {n_seq} noisy copies",
        "repeats": repeats,
        "learn_us_per_step": round(learn_us, 1),
        "learned_us_per_step": round(learned_us, 1),
        "infer_us_per_sequence_step_n_jobs_1": round(infer_us_1, 2),
        "infer_us_per_sequence_step_n_jobs_2": round(infer_us_2, 2),
        "mean_anomaly_of_noisy_copies": round(float(scores.mean()), 3),
        "segments": int(counts[0]), "synapses": int(counts[1]),
        "model_mib": round(tm.connections_.nbytes / 2**20, 1),
        "peak_traced_mib_learn": round(learn_peak, 1),
        "peak_traced_mib_infer": round(infer_peak, 1),
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "learn_runs_us": [round(r[1], 1) for r in learn_runs],
        "htm_core": HTM_CORE, "brainblocks_learn_us": BRAINBLOCKS_LEARN_US,
        "targets": TARGETS, "machine": platform.platform(), "cpus": os.cpu_count(),
    }
    rows = [
        ("learning, us/step (mean over the run)", learn_us, HTM_CORE["learn_us"],
         f"<= {TARGETS['learn_us']}", learn_us <= TARGETS["learn_us"]),
        ("learning, us/step (10 more passes, learned)", learned_us,
         HTM_CORE["learned_us"], "", None),
        ("inference, us/sequence-step, n_jobs=1", infer_us_1, HTM_CORE["infer_us"],
         f"<= {TARGETS['infer_us']}", infer_us_1 <= TARGETS["infer_us"]),
        ("inference, us/sequence-step, n_jobs=2", infer_us_2, HTM_CORE["infer_us"],
         f"<= {TARGETS['infer_us']}", infer_us_2 <= TARGETS["infer_us"]),
    ]
    lines = [f"Workload: {results['workload']}; medians of {repeats} run(s).", "",
             "| measure | skhtm | htm.core | target | met |", "|---|---|---|---|---|"]
    for name, ours, theirs, target, met in rows:
        ok = "" if met is None else ("yes" if met else "NO")
        lines.append(f"| {name} | {ours:.1f} | {theirs} | {target} | {ok} |")
    lines += ["", f"After the 20 passes: segments {counts[0]} (htm.core "
              f"{HTM_CORE['segments']}), synapses {counts[1]} (htm.core "
              f"{HTM_CORE['synapses']}); model "
              f"{results['model_mib']} MiB; peak traced memory: learning "
              f"{results['peak_traced_mib_learn']} MiB, inference "
              f"{results['peak_traced_mib_infer']} MiB; max RSS {results['max_rss_mib']} MiB.",
              f"Mean anomaly of the noisy copies: {results['mean_anomaly_of_noisy_copies']}."]
    table = "\n".join(lines)
    print(table)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(out, exist_ok=True)
    stem = "tm_speed_quick" if args.quick else "tm_speed"
    with open(os.path.join(out, stem + ".json"), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(out, stem + ".md"), "w") as f:
        f.write(table + "\n")


if __name__ == "__main__":
    main()
