"""One PatchSpatialPooler layer against two, on a Fashion-MNIST validation split.

Layer 1 is bench_vision's patch pooler: 3x3 patches with 4 grey levels through a
Spatial Pooler of 256 columns (local_area_density 0.05, learning off). Alone, it
is pooled over a 6x6 grid (9,216 features). As the first of two layers, its 26x26
patch positions are max-pooled 2x2 into a 13x13 map of 256 channels, and a
second PatchSpatialPooler (3x3 patches of that map: 2,304 bits, ~5-20% on) pools
its own columns over a coarser grid. Also: the union of the layer-1 features and
the layer-2 features. Every read-out is sqrt + StandardScaler +
LogisticRegression(C=0.1). Training: the first ``--n-train`` training images;
validation: the next ``--n-val`` (the test set is not touched).

    python benchmarks/bench_layers.py                        # 4,000 / 2,000, ~4 min CPU
    python benchmarks/bench_layers.py --n-train 1000 --n-val 500

Single-threaded (numba, BLAS). Prints a table and saves
benchmarks/results/layers.{json,md}; the CPU seconds of each stage (fit,
transform, read-out) are what this machine took under the load printed beside
them, not a speed claim.
"""

import os

# One thread for everything: the machine is shared; set before numba and BLAS load.
for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skhtm import PatchSpatialPooler, SpatialPoolerTransformer  # noqa: E402
from skhtm.datasets import fetch_fashion_mnist  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
NO_LEARNING = dict(syn_perm_connected=0.5, syn_perm_active_inc=0.0, syn_perm_inactive_dec=0.0,
                   batch_size=512)
LEARNING = dict(syn_perm_connected=0.2, syn_perm_active_inc=0.05, syn_perm_inactive_dec=0.01,
                batch_size=64)
MAP = (13, 13, 256)  # layer 1's 26x26 patch positions max-pooled 2x2


def layer1(pool_grid, pooling, learning):
    """The same Spatial Pooler (same seed, same training patches) whatever the pooling."""
    sp = SpatialPoolerTransformer(column_shape=256, local_area_density=0.05,
                                  **(LEARNING if learning else NO_LEARNING))
    return PatchSpatialPooler(sp, patch_shape=3, n_levels=4, pool_grid=pool_grid,
                              pooling=pooling, max_fit_patches=20_000 if learning else 100_000,
                              random_state=0)


def layer2(n_columns, pool_grid, learning, potential_pct=0.5):
    sp = SpatialPoolerTransformer(column_shape=n_columns, local_area_density=0.05,
                                  potential_pct=potential_pct,
                                  **(LEARNING if learning else NO_LEARNING))
    # Learning touches every winner's ~1,150 potential synapses per patch: fewer patches.
    return PatchSpatialPooler(sp, image_shape=MAP, patch_shape=3, pool_grid=pool_grid,
                              max_fit_patches=20_000 if learning else 100_000, random_state=1)


def cpu_seconds(func, *args):
    start = time.process_time()
    result = func(*args)
    return result, time.process_time() - start


def features(pooler, X_train, X_val):
    """Fit on the training images; (train features, val features, fit s, transform s)."""
    _, fit_s = cpu_seconds(pooler.fit, X_train)
    (F_train, F_val), transform_s = cpu_seconds(
        lambda: (pooler.transform(X_train), pooler.transform(X_val)))
    return F_train, F_val, fit_s, transform_s


def read_out(parts_train, parts_val, y_train, y_val):
    """sqrt + StandardScaler + LogisticRegression on the stacked parts: accuracy, CPU s.
    StandardScaler is per feature, so scaling the union scales each part on its own."""
    start = time.process_time()
    A = np.sqrt(np.hstack(parts_train))
    B = np.sqrt(np.hstack(parts_val))
    scaler = StandardScaler(copy=False).fit(A)
    clf = LogisticRegression(C=0.1, max_iter=300).fit(scaler.transform(A), y_train)
    accuracy = float(clf.score(scaler.transform(B), y_val))
    return accuracy, time.process_time() - start, A.shape[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-train", type=int, default=4000)
    parser.add_argument("--n-val", type=int, default=2000)
    parser.add_argument("--no-learning-runs", action="store_true",
                        help="skip the settings with learning on")
    args = parser.parse_args()
    X, y = fetch_fashion_mnist(subset="train", return_X_y=True)
    X = np.asarray(X, dtype=np.float64)
    n_train, n_val = args.n_train, args.n_val
    X_train, y_train = X[:n_train], y[:n_train]
    X_val, y_val = X[n_train:n_train + n_val], y[n_train:n_train + n_val]
    print(f"Fashion-MNIST: {n_train} training / {n_val} validation images; "
          f"{platform.processor() or platform.machine()}, load {os.getloadavg()[0]:.2f}")

    rows = []

    def report(name, parts, stages):
        accuracy, readout_s, n_features = read_out([p[0] for p in parts], [p[1] for p in parts],
                                                   y_train, y_val)
        row = dict(setting=name, n_features=n_features, val_accuracy=round(accuracy, 4),
                   cpu_s=round(sum(stages) + readout_s, 1), readout_cpu_s=round(readout_s, 1),
                   stage_cpu_s=[round(v, 1) for v in stages],
                   load=round(os.getloadavg()[0], 2))
        rows.append(row)
        print(f"{name:<58} {n_features:>6} {accuracy:8.4f} {row['cpu_s']:7.1f} s "
              f"(stages {row['stage_cpu_s']}, read-out {row['readout_cpu_s']})")

    # Layer 1 alone (pool_grid 6, sum) and as a 13x13 max-pooled map: one fit each,
    # the same Spatial Pooler (same seed and patches).
    # Layer 2: (columns, pool_grid, learning, potential_pct). potential_pct 0.1: each
    # column sees ~230 of the 2,304 bits, so its overlap depends on which features
    # are on, not mostly on how many.
    plan = [(False, [(256, 6, False, 0.5), (512, 3, False, 0.5), (512, 4, False, 0.5),
                     (256, 6, False, 0.1), (256, 6, True, 0.5)])]
    if args.no_learning_runs:
        plan = [(False, plan[0][1][:4])]
    else:
        plan.append((True, [(256, 6, True, 0.5)]))
    for l1_learning, settings in plan:
        tag = ", L1 learning" if l1_learning else ""
        one = features(layer1(6, "sum", l1_learning), X_train, X_val)
        report(f"1 layer: 3x3/4 levels, 256 cols, pool 6x6{tag}", [one], one[2:])
        M_train, M_val, *map_s = features(layer1(13, "max", l1_learning), X_train, X_val)
        print(f"  layer-1 map {MAP}{tag}: {np.mean(M_train > 0):.3f} of its bits on")
        for n_columns, pool_grid, learning, potential_pct in settings:
            F_train, F_val, fit_s, transform_s = features(
                layer2(n_columns, pool_grid, learning, potential_pct), M_train, M_val)
            name = (f"2 layers: 13x13 map, 3x3 patches, {n_columns} cols, pool {pool_grid}x"
                    f"{pool_grid}{tag}" + (", L2 learning" if learning else "")
                    + (f", L2 potential_pct {potential_pct}" if potential_pct != 0.5 else ""))
            report(name, [(F_train, F_val)], map_s + [fit_s, transform_s])
            if n_columns == 256:
                report("union: 1 layer + " + name[len("2 layers: "):], [one[:2],
                       (F_train, F_val)], [])

    results = dict(n_train=n_train, n_val=n_val, machine=platform.processor() or
                   platform.machine(), rows=rows)
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "layers.json"), "w") as f:
        json.dump(results, f, indent=1)
    lines = [f"Fashion-MNIST, first {n_train} training images to fit, the next {n_val} to "
             "validate; every read-out sqrt + StandardScaler + LogisticRegression(C=0.1). "
             "Learning off unless said (L1 / L2 learning: syn_perm_connected 0.2, inc 0.05, "
             "dec 0.01, batch_size 64, 20,000 training patches). CPU seconds of fits, "
             "transforms and read-out, single-threaded (union: features reused, read-out "
             "only).", "",
             "| setting | features | val accuracy | CPU s | load |", "|---|---|---|---|---|"]
    lines += [f"| {r['setting']} | {r['n_features']} | {r['val_accuracy']:.4f} | "
              f"{r['cpu_s']} | {r['load']} |" for r in rows]
    with open(os.path.join(RESULTS, "layers.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
