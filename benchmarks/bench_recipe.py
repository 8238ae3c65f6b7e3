"""The image recipe on the full Fashion-MNIST: accuracy, fit time, predict time, peak memory.

    python benchmarks/bench_recipe.py                   # 60,000 training, 10,000 test images
    python benchmarks/bench_recipe.py --n-train 10000   # a smaller run
    python benchmarks/bench_recipe.py --select-c 0.01,0.03,0.1   # the read-out's C

``--select-c`` touches no test image: it trains on the first 50,000 training
images and scores each C of the LogisticRegression on the last 10,000 (the
features computed once), writing benchmarks/results/recipe_fashion_select_c.json.

Fits ``skhtm.recipes.image_classifier((28, 28), random_state=0, n_jobs=2)`` (the
configuration chosen on validation splits of the training set; see its Notes)
once on the training images and scores it once on the test set. Reported: test
accuracy, fit time (feature learning, feature extraction and the read-out),
predict time per test image (the whole test set in one call, median of
``--repeats`` calls), the process's peak resident memory (VmHWM: the process
runs nothing else), and the load average at each measure. Writes
benchmarks/results/recipe_fashion[_<n>].{json,md}.
"""

import argparse
import json
import os
import platform
import time

import numpy as np

from skhtm.datasets import fetch_fashion_mnist
from skhtm.recipes import image_classifier

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def peak_rss_mib():
    """The process's own peak resident set (VmHWM), in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def load():
    return [round(v, 2) for v in os.getloadavg()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=60000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--select-c", default=None,
                        help="comma-separated C values to score on a validation split")
    args = parser.parse_args()
    if args.select_c:
        return select_c([float(c) for c in args.select_c.split(",")], args.n_jobs)
    X_train, y_train = fetch_fashion_mnist(subset="train", return_X_y=True)
    X_test, y_test = fetch_fashion_mnist(subset="test", return_X_y=True)
    X_train, y_train = X_train[:args.n_train], y_train[:args.n_train]
    pipe = image_classifier((28, 28), random_state=0, n_jobs=args.n_jobs)
    res = dict(machine=f"{platform.machine()}, {os.cpu_count()} cores, "
                       f"Python {platform.python_version()}",
               n_train=len(X_train), n_test=len(X_test), n_jobs=args.n_jobs,
               load_before=load())
    t0 = time.perf_counter()
    union = pipe.named_steps["pooledfeatureunion"]
    features = union.fit_transform(X_train)
    res["features_s"] = time.perf_counter() - t0
    res["n_features"] = int(features.shape[1])
    res["features_mib"] = features.nbytes / 2**20
    t1 = time.perf_counter()
    pipe.named_steps["logisticregression"].fit(features, y_train)
    res["readout_s"] = time.perf_counter() - t1
    res["fit_s"] = time.perf_counter() - t0
    res["load_after_fit"] = load()
    del features
    print(f"fit {res['fit_s']:.0f} s (features {res['features_s']:.0f} s, read-out "
          f"{res['readout_s']:.0f} s), {res['n_features']} features, load {load()}", flush=True)
    times, pred = [], None
    for _ in range(args.repeats):
        t = time.perf_counter()
        pred = pipe.predict(X_test)
        times.append((time.perf_counter() - t) / len(X_test) * 1e6)
    res["predict_us_runs"] = times
    res["predict_us"] = float(np.median(times))
    res["accuracy"] = float(np.mean(pred == y_test))
    res["peak_rss_mib"] = peak_rss_mib()
    res["load_after_predict"] = load()
    print(f"accuracy {res['accuracy']:.4f} on {len(X_test)} test images, predict "
          f"{res['predict_us']:.0f} us/image (median of {args.repeats}), peak RSS "
          f"{res['peak_rss_mib']:.0f} MiB, load {load()}", flush=True)
    suffix = "" if args.n_train == 60000 else f"_{args.n_train}"
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, f"recipe_fashion{suffix}.json"), "w") as f:
        json.dump(res, f, indent=1)
    with open(os.path.join(RESULTS, f"recipe_fashion{suffix}.md"), "w") as f:
        f.write(
            f"# skhtm.recipes.image_classifier on Fashion-MNIST\n\n"
            f"`python benchmarks/bench_recipe.py --n-train {args.n_train}` ({res['machine']}, "
            f"n_jobs={args.n_jobs}): trained on {res['n_train']} images, tested once on "
            f"{res['n_test']}.\n\n"
            f"| test accuracy | fit (s) | of which features (s) | read-out (s) | predict "
            f"(us/image) | peak RSS (MiB) | features | load (before, after fit, after "
            f"predict) |\n|---|---|---|---|---|---|---|---|\n"
            f"| {res['accuracy']:.2%} | {res['fit_s']:.0f} | {res['features_s']:.0f} | "
            f"{res['readout_s']:.0f} | {res['predict_us']:.0f} | {res['peak_rss_mib']:.0f} | "
            f"{res['n_features']} | {res['load_before']}, {res['load_after_fit']}, "
            f"{res['load_after_predict']} |\n")


def select_c(values, n_jobs):
    """The read-out's C on a validation split of the training set (last 10,000 images)."""
    from sklearn.base import clone

    X, y = fetch_fashion_mnist(subset="train", return_X_y=True)
    pipe = image_classifier((28, 28), random_state=0, n_jobs=n_jobs)
    union = pipe.named_steps["pooledfeatureunion"]
    t0 = time.perf_counter()
    F_tr = union.fit_transform(X[:50000])
    F_va = union.transform(X[50000:])
    rows = []
    for C in values:
        t = time.perf_counter()
        clf = clone(pipe.named_steps["logisticregression"]).set_params(C=C).fit(F_tr, y[:50000])
        acc = float(np.mean(clf.predict(F_va) == y[50000:]))
        rows.append(dict(C=C, validation_accuracy=acc, fit_s=time.perf_counter() - t,
                         load=load()))
        print(f"C={C}: validation accuracy {acc:.4f} ({rows[-1]['fit_s']:.0f} s, load "
              f"{load()})", flush=True)
    res = dict(n_train=50000, n_val=10000, total_s=time.perf_counter() - t0, rows=rows,
               best_C=max(rows, key=lambda r: r["validation_accuracy"])["C"])
    with open(os.path.join(RESULTS, "recipe_fashion_select_c.json"), "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
