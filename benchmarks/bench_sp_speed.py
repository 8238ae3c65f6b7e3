"""Spatial Pooler speed at htm.core's MNIST-example size, against htm.core's figures.

784 inputs (28x28) -> 6,241 columns (79x79), potential_radius 7,
potential_pct 0.1, ~8% active, global inhibition, htm.core's MNIST learning
parameters. Input: Fashion-MNIST binarized as htm.core's example does it
(pixel >= the image's mean).

Prints and saves (benchmarks/results/sp_speed.{json,md}) the median over
``--repeats`` runs (load average printed beside each) of: exact online fit
(batch_size=1), mini-batch fit, batched transform (n_jobs=1 and 2), a stream
learned one sample per ``partial_fit`` call against the same samples inside
one call, the first-call compile time (a fresh numba cache, in a new process)
and the load time of the cached kernels, and the process's peak memory.

    python benchmarks/bench_sp_speed.py              # full: ~2 minutes
    python benchmarks/bench_sp_speed.py --quick
"""

import argparse
import copy
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

from skhtm import SpatialPoolerTransformer

try:
    from _data import load_fashion_mnist
except ImportError:  # run from the repository root
    from benchmarks._data import load_fashion_mnist

# htm.core on this machine kind: measured 2026-12-03 (quiet), and the table.
HTM_CORE = {"learn_us": "380-480 (issue: 510)", "infer_us": "133-137 (issue: 149-169)"}
# Issue 14's targets.
TARGETS = {"online_fit_us": 100, "minibatch_fit_us": 30, "transform_us_n_jobs_1": 8,
           "stream_ratio": 2.0}

CONFIG = dict(
    column_shape=(79, 79), input_shape=(28, 28), potential_radius=7, potential_pct=0.1,
    global_inhibition=True, local_area_density=0.08, stimulus_threshold=6,
    syn_perm_connected=0.5, syn_perm_active_inc=0.14, syn_perm_inactive_dec=0.02,
    boost_strength=7.0, duty_cycle_period=1402, min_pct_overlap_duty_cycle=0.2,
    random_state=0,
)

# Run in a new process with an empty numba cache: the first calls compile.
COMPILE_SCRIPT = """
import time, numpy as np
start = time.perf_counter()
from skhtm import SpatialPoolerTransformer
imported = time.perf_counter()
X = np.random.RandomState(0).rand(40, 784) < 0.4
for batch_size in (1, 32):
    sp = SpatialPoolerTransformer(**CONFIG, batch_size=batch_size).fit(X)
sp.transform(X)
print(imported - start, time.perf_counter() - imported)
"""


def binarize(images):
    images = images.astype(np.float32)
    return images >= images.mean(axis=1, keepdims=True)


def load():
    return "load %.2f %.2f %.2f" % os.getloadavg()


def timed(fn, repeats, setup=None):
    """Median and all times of ``fn(setup())`` (setup not timed)."""
    times = []
    for _ in range(repeats):
        arg = setup() if setup else None
        start = time.perf_counter()
        fn(arg)
        times.append(time.perf_counter() - start)
    return float(np.median(times)), times


def compile_times(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    code = f"CONFIG = {CONFIG!r}\n" + COMPILE_SCRIPT
    out = []
    for _ in range(2):  # first: compiles into the empty cache; second: loads it
        text = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                              capture_output=True, text=True).stdout.split()
        out.append((float(text[0]), float(text[1])))
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    n_fit, n_online, n_transform, n_stream = ((2000, 300, 2000, 200) if args.quick
                                              else (10000, 1000, 10000, 500))
    repeats = max(args.repeats, 5)

    X_train, _, X_test, _ = load_fashion_mnist()
    X_fit = binarize(X_train[:n_fit])
    X_online = binarize(X_train[n_fit:n_fit + n_online])
    X_tr = binarize(X_test[:n_transform])
    print(f"input density {X_fit.mean():.3f}; {os.cpu_count()} cores; {platform.processor()}; "
          f"{load()}")
    results = {"repeats": repeats, "loadavg": {}}

    with tempfile.TemporaryDirectory() as cache:
        (import_s, compile_s), (import_cached_s, cached_s) = compile_times(cache)
    results.update(import_s=import_s, compile_s=compile_s, import_cached_s=import_cached_s,
                   first_call_cached_s=cached_s)
    print(f"import skhtm {import_s:.2f} s; first calls (fit online + mini-batch, transform) "
          f"compiling {compile_s:.1f} s, from the cache {cached_s:.2f} s; {load()}")

    def fresh(batch_size):
        # Initialised (pools drawn) on one sample, so that the timings below are
        # learning only, as htm.core's per-step figures are.
        return SpatialPoolerTransformer(**CONFIG, batch_size=batch_size).partial_fit(X_fit[:1])

    fresh(1).partial_fit(X_fit[:64])  # warm the kernels
    fresh(args.batch_size).partial_fit(X_fit[:64])

    def time_learning(key, label, batch_size, X):
        warm = fresh(batch_size)
        med, runs = timed(lambda m: m.partial_fit(X), repeats, lambda: copy.deepcopy(warm))
        results[key] = med / len(X) * 1e6
        results["loadavg"][key] = os.getloadavg()
        print(f"{label}: {results[key]:.1f} us/sample  runs(s)={np.round(runs, 3)}; {load()}")

    time_learning("online_fit_us", "exact online fit (batch_size=1)", 1, X_online)
    time_learning("minibatch_fit_us", f"mini-batch fit (batch_size={args.batch_size})",
                  args.batch_size, X_fit)

    # A stream, one sample per partial_fit call, against the same samples in one call
    # (both from the same state, interleaved so that both see the same load).
    stream_model = fresh(1).partial_fit(X_fit[:200])
    X_stream = X_online[:n_stream]
    per_call, in_call = [], []
    for _ in range(repeats):
        model = copy.deepcopy(stream_model)
        start = time.perf_counter()
        for row in X_stream:
            model.partial_fit(row[None])
        per_call.append((time.perf_counter() - start) / n_stream)
        model = copy.deepcopy(stream_model)
        start = time.perf_counter()
        model.partial_fit(X_stream)
        in_call.append((time.perf_counter() - start) / n_stream)
    results["stream_call_us"] = float(np.median(per_call)) * 1e6
    results["stream_in_call_us"] = float(np.median(in_call)) * 1e6
    results["stream_ratio"] = results["stream_call_us"] / results["stream_in_call_us"]
    results["loadavg"]["stream"] = os.getloadavg()
    print(f"stream: one sample per partial_fit call {results['stream_call_us']:.1f} us/call, "
          f"inside one call {results['stream_in_call_us']:.1f} us/sample "
          f"(x{results['stream_ratio']:.2f}); {load()}")

    model = SpatialPoolerTransformer(**CONFIG, batch_size=args.batch_size).partial_fit(X_fit)
    sdr = model.transform(X_tr)
    results["active_fraction"] = float(sdr.mean())
    for n_jobs in (1, 2):
        model.set_params(n_jobs=n_jobs)
        model.transform(X_tr[:1000])  # warm the threads
        med, runs = timed(lambda _: model.transform(X_tr), repeats)
        key = f"transform_us_n_jobs_{n_jobs}"
        results[key] = med / n_transform * 1e6
        results["loadavg"][key] = os.getloadavg()
        print(f"transform n_jobs={n_jobs}: {results[key]:.1f} us/sample  "
              f"runs(s)={np.round(runs, 3)}; {load()}")

    results["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["n_synapses"] = int(model.permanences_.nnz)

    lines = ["| measure | skhtm | htm.core | target | met |", "|---|---|---|---|---|"]
    rows = [("exact online fit (batch_size=1), us/sample", "online_fit_us", HTM_CORE["learn_us"]),
            (f"mini-batch fit (batch_size={args.batch_size}), us/sample", "minibatch_fit_us",
             "-"),
            ("transform, us/sample, one thread", "transform_us_n_jobs_1",
             HTM_CORE["infer_us"]),
            ("stream: one-sample partial_fit call / sample inside one call",
             "stream_ratio", "-")]
    for label, key, anchor in rows:
        ok = results[key] <= TARGETS[key]
        lines.append(f"| {label} | {results[key]:.2f} | {anchor} | <= {TARGETS[key]} | "
                     f"{'yes' if ok else 'NO'} |")
    lines.append(f"| transform, us/sample, two threads | "
                 f"{results['transform_us_n_jobs_2']:.2f} | - | - | - |")
    lines.append(f"| stream, us per one-sample call (inside one call) | "
                 f"{results['stream_call_us']:.1f} ({results['stream_in_call_us']:.1f}) | "
                 f"- | - | - |")
    lines.append(
        f"\nactive fraction {results['active_fraction']:.3f}; {results['n_synapses']} "
        f"potential synapses; import skhtm {import_s:.2f} s; first calls compile in "
        f"{compile_s:.1f} s ({cached_s:.2f} s from the cache); process max RSS "
        f"{results['max_rss_mib']:.0f} MiB. Medians of {repeats} runs; load averages "
        f"(1, 5, 15 min) at each measure in the json; {load()} at the end.")
    table = "\n".join(lines)
    print(table)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(out, exist_ok=True)
    suffix = "_quick" if args.quick else ""
    with open(os.path.join(out, f"sp_speed{suffix}.json"), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(out, f"sp_speed{suffix}.md"), "w") as f:
        f.write(table + "\n")


if __name__ == "__main__":
    main()
