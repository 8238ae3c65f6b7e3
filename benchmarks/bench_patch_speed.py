"""PatchSpatialPooler transform speed: bench_vision's four-pooler Fashion-MNIST configuration.

Four poolers side by side, as in bench_vision's "4 patch SPs + pooling + LR":
3x3 patches with 4 grey levels (seeds 0 and 1), 4x4 and 5x5 with 3; each a
Spatial Pooler of 256 columns at local_area_density 0.05 with learning off
(NO_LEARNING), pooled over a 6x6 grid. They are fit on ``--n-fit`` training
images, then transform ``--n-transform`` test images; the figure is the sum of
the four poolers' transform time per image (what the FeatureUnion costs),
with ``n_jobs`` 2 (the issue's target) and 1.

Prints and saves (benchmarks/results/patch_speed.{json,md}): medians of
``--repeats`` runs with each run's figure, the first call's time (compiling
the kernel into a fresh cache folder unless ``--cached``), fit time, peak
memory (process max RSS, and the traced peak of one transform), the machine's
load average beside every timing, and the figures before the fused kernel
(~16,800 us/image) and the target (<= 800 us/image on two threads).

    python benchmarks/bench_patch_speed.py               # ~1 minute
    python benchmarks/bench_patch_speed.py --full        # + the 60,000-image pipeline, long

``--full`` also fits bench_vision's four-pooler pipeline exactly as it does
(all 60,000 training images, union of four pooler + sqrt + scaler branches,
LogisticRegression), with ``n_jobs=2`` on each PatchSpatialPooler, and reports
its fit time, predict time per test image, accuracy and peak RSS.
"""

import argparse
import atexit
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc

# The first call's figure is a compilation only with an empty cache: decided
# before numba (imported by skhtm) reads NUMBA_CACHE_DIR.
if __name__ == "__main__" and "--cached" not in sys.argv:
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="skhtm-bench-numba-")
    atexit.register(shutil.rmtree, os.environ["NUMBA_CACHE_DIR"], ignore_errors=True)

import numpy as np  # noqa: E402

from skhtm import PatchSpatialPooler, SpatialPoolerTransformer  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _data import load_fashion_mnist  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
BEFORE_US = 16_800  # four poolers, materialised patches (issue 14)
TARGET_US = 800  # four poolers, two threads
NO_LEARNING = dict(syn_perm_connected=0.5, syn_perm_active_inc=0.0, syn_perm_inactive_dec=0.0,
                   batch_size=512)
POOLERS = ((0, 3, 4), (1, 3, 4), (2, 4, 3), (3, 5, 3))  # seed, patch side, grey levels


def four_poolers():
    return [PatchSpatialPooler(
        SpatialPoolerTransformer(column_shape=256, local_area_density=0.05, random_state=0,
                                 **NO_LEARNING),
        patch_shape=side, n_levels=levels, pool_grid=6, random_state=seed)
        for seed, side, levels in POOLERS]


def load():
    return [round(v, 2) for v in os.getloadavg()]


def rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_full(results):
    """bench_vision's four-pooler pipeline on all of Fashion-MNIST."""
    import bench_vision

    X_train, y_train, X_test, y_test = load_fashion_mnist()
    pipe = bench_vision.image_pipelines(dict(kind="image", side=28), quick=False)[
        "4 patch SPs + pooling + LR"][1]
    pipe.set_params(**{key: 2 for key in pipe.get_params()
                       if key.endswith("patchspatialpooler__n_jobs")})
    start = time.perf_counter()
    pipe.fit(X_train, y_train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    pred = pipe.predict(X_test)
    predict_us = (time.perf_counter() - start) / len(X_test) * 1e6
    results["full"] = dict(n_train=len(X_train), fit_s=fit_s, predict_us=predict_us,
                           accuracy=float(np.mean(pred == y_test)), max_rss_mib=rss_mib(),
                           loadavg=load())
    print(f"full pipeline: fit {fit_s:.0f} s, predict {predict_us:.0f} us/image, accuracy "
          f"{results['full']['accuracy']:.4f}, max RSS {rss_mib():.0f} MiB, load {load()}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n-fit", type=int, default=3000)
    parser.add_argument("--n-transform", type=int, default=2000)
    parser.add_argument("--cached", action="store_true",
                        help="use numba's usual cache (first call may load, not compile)")
    parser.add_argument("--full", action="store_true",
                        help="also fit bench_vision's pipeline on 60,000 images")
    args = parser.parse_args()

    X_train, _, X_test, _ = load_fashion_mnist()
    X_fit, X_tr = X_train[:args.n_fit], X_test[:args.n_transform]
    print(f"{os.cpu_count()} cores; {platform.processor() or platform.machine()}; "
          f"load {load()}")
    results = dict(n_fit=len(X_fit), n_transform=len(X_tr), repeats=args.repeats,
                   before_us=BEFORE_US, target_us=TARGET_US,
                   cache="usual" if args.cached else "fresh (compiles)")

    start = time.perf_counter()
    poolers = [p.fit(X_fit) for p in four_poolers()]
    results["fit_s"] = time.perf_counter() - start
    print(f"fit of {len(X_fit)} images, four poolers: {results['fit_s']:.1f} s")

    start = time.perf_counter()
    poolers[0].transform(X_tr[:2])
    results["first_call_s"] = time.perf_counter() - start
    for p in poolers[1:]:
        p.transform(X_tr[:2])
    print(f"first call (compile or cache load): {results['first_call_s']:.2f} s")

    for n_jobs in (2, 1):
        for p in poolers:
            p.set_params(n_jobs=n_jobs)
        runs, per_pooler, loads, cpu = [], [], [], []
        for _ in range(args.repeats):
            times = []
            cpu_start = time.process_time()
            for p in poolers:
                start = time.perf_counter()
                p.transform(X_tr)
                times.append((time.perf_counter() - start) / len(X_tr) * 1e6)
            # CPU time of all threads: what the work costs, less sensitive to other load.
            cpu.append((time.process_time() - cpu_start) / len(X_tr) * 1e6)
            runs.append(sum(times))
            per_pooler.append(times)
            loads.append(load())
        key = f"n_jobs_{n_jobs}"
        results[key] = dict(us_per_image=float(np.median(runs)), runs=[round(r) for r in runs],
                            per_pooler_us=np.median(per_pooler, axis=0).round(1).tolist(),
                            cpu_us_per_image=float(np.median(cpu)), loadavg=loads)
        print(f"transform, n_jobs={n_jobs}: {results[key]['us_per_image']:.0f} us/image "
              f"(runs {results[key]['runs']}; per pooler {results[key]['per_pooler_us']}; "
              f"CPU {results[key]['cpu_us_per_image']:.0f} us/image); load {loads[-1]}")

    tracemalloc.start()
    features = poolers[0].transform(X_tr)
    results["traced_peak_one_transform_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    results["output_mib"] = features.nbytes / 2**20
    results["max_rss_mib"] = rss_mib()

    if args.full:
        run_full(results)

    two = results["n_jobs_2"]["us_per_image"]
    lines = [
        "| four patch poolers, Fashion-MNIST, transform | us/image | before | target | met |",
        "|---|---|---|---|---|",
        f"| n_jobs=2 | {two:.0f} | ~{BEFORE_US:,} | <= {TARGET_US} | "
        f"{'yes' if two <= TARGET_US else 'NO'} |",
        f"| n_jobs=1 | {results['n_jobs_1']['us_per_image']:.0f} | ~{BEFORE_US:,} | - | - |",
        "",
        f"Medians of {args.repeats} runs over {len(X_tr)} test images (runs, n_jobs=2: "
        f"{results['n_jobs_2']['runs']}; n_jobs=1: {results['n_jobs_1']['runs']}); per pooler "
        f"(3x3/4, 3x3/4, 4x4/3, 5x5/3), n_jobs=2: {results['n_jobs_2']['per_pooler_us']} us. "
        f"Load average during the runs: {results['n_jobs_2']['loadavg'][-1]} (n_jobs=2), "
        f"{results['n_jobs_1']['loadavg'][-1]} (n_jobs=1). CPU time per image, all threads: "
        f"{results['n_jobs_2']['cpu_us_per_image']:.0f} us (n_jobs=2), "
        f"{results['n_jobs_1']['cpu_us_per_image']:.0f} us (n_jobs=1).",
        f"Fit on {len(X_fit)} images: {results['fit_s']:.1f} s. First call: "
        f"{results['first_call_s']:.2f} s (cache: {results['cache']}). Traced peak of one "
        f"pooler's transform of {len(X_tr)} images {results['traced_peak_one_transform_mib']:.0f} "
        f"MiB (its output {results['output_mib']:.0f} MiB); process max RSS "
        f"{results['max_rss_mib']:.0f} MiB.",
    ]
    if args.full:
        full = results["full"]
        lines.append(f"Full pipeline (60,000 training images, bench_vision's configuration, "
                     f"n_jobs=2 per pooler): fit {full['fit_s']:.0f} s, predict "
                     f"{full['predict_us']:.0f} us/image, accuracy {full['accuracy']:.4f}, max "
                     f"RSS {full['max_rss_mib']:.0f} MiB, load {full['loadavg']}.")
    table = "\n".join(lines)
    print(table)
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "patch_speed.json"), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(RESULTS, "patch_speed.md"), "w") as f:
        f.write(table + "\n")


if __name__ == "__main__":
    main()
