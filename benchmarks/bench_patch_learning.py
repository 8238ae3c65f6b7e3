"""Does Spatial Pooler learning make better local features than random ones?

One PatchSpatialPooler (256 columns, 5% active, pooled over a 6x6 grid, square
root of the counts, standardised, LogisticRegression) on a validation split of
the Fashion-MNIST *training* set, for each patch encoding with learning off
(random potential pools and permanences, never updated: k-winners over random
templates) and with several learning settings. The test set is not touched.

    python benchmarks/bench_patch_learning.py                 # 5,000 + 5,000 images
    python benchmarks/bench_patch_learning.py --n-train 2000 --n-val 2000 --quick

The last encoding, "recipe: image_classifier's 3 poolers", is the recipe's whole
PooledFeatureUnion (three contrast poolers) with its learning replaced by each
setting. Writes benchmarks/results/patch_learning.{json,md}. Each row's C of the
LogisticRegression is the better of 0.01 and 0.1 on the same validation split
(for learned and random features alike).
"""

import argparse
import json
import os
import platform
import time

import numpy as np
from sklearn.linear_model import LogisticRegression

from skhtm import PatchSpatialPooler, PooledFeatureUnion, SpatialPoolerTransformer
from skhtm.datasets import fetch_fashion_mnist
from skhtm.recipes import image_classifier

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")

OFF = dict(syn_perm_connected=0.5, syn_perm_active_inc=0.0, syn_perm_inactive_dec=0.0,
           batch_size=512)
# The Spatial Pooler's published defaults (BAMI / NuPIC): connected at 0.1,
# +0.05 / -0.008, no boosting; mini-batches of 32.
DEFAULTS = dict(syn_perm_connected=0.1, syn_perm_active_inc=0.05, syn_perm_inactive_dec=0.008)

LEARNING = {
    "off": OFF,
    "defaults": DEFAULTS,
    "defaults, 3 epochs": dict(DEFAULTS, n_epochs=3),
    "defaults, boost 3": dict(DEFAULTS, boost_strength=3.0),
    "defaults, boost 6": dict(DEFAULTS, boost_strength=6.0),
    "defaults, boost 3, 2 epochs": dict(DEFAULTS, boost_strength=3.0, n_epochs=2),
    "defaults, dec 0.02": dict(DEFAULTS, syn_perm_inactive_dec=0.02),
    "inc 0.1 dec 0.02 at 0.5, boost 3, 2 epochs": dict(
        syn_perm_connected=0.5, syn_perm_active_inc=0.1, syn_perm_inactive_dec=0.02,
        boost_strength=3.0, n_epochs=2),
}

ENCODINGS = {  # name -> PatchSpatialPooler keywords
    "grey, 3x3, 4 levels": dict(encoding="grey", patch_shape=3, n_levels=4),
    "contrast, 3x3, 2 levels": dict(encoding="contrast", patch_shape=3, n_levels=2),
    "contrast, 5x5, 2 levels": dict(encoding="contrast", patch_shape=5, n_levels=2),
    "whitened, 5x5, 2 levels": dict(encoding="whitened", patch_shape=5, n_levels=2),
    "recipe: image_classifier's 3 poolers": None,
}


def features(enc_kw, sp_kw, seed, potential_pct=0.5):
    if enc_kw is None:  # the recipe's union, its Spatial Poolers' learning replaced
        union = image_classifier((28, 28), random_state=seed, n_jobs=2).named_steps[
            "pooledfeatureunion"]
        for name, _ in union.transformer_list:
            union.set_params(**{f"{name}__spatial_pooler__{k}": v for k, v in {
                "boost_strength": 0.0, **sp_kw}.items()})
        return union
    sp = SpatialPoolerTransformer(column_shape=256, local_area_density=0.05,
                                  potential_pct=potential_pct, **sp_kw)
    return PooledFeatureUnion([("patch", PatchSpatialPooler(
        sp, pool_grid=6, random_state=seed, n_jobs=2, **enc_kw))])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=5000)
    parser.add_argument("--n-val", type=int, default=5000)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--quick", action="store_true", help="fewer rows")
    parser.add_argument("--encodings", default=None, help="'|'-separated names")
    parser.add_argument("--learning", default=None, help="'|'-separated names")
    args = parser.parse_args()
    X, y = fetch_fashion_mnist(subset="train", return_X_y=True)
    # Validation images from the end of the training set; training from its start.
    X_tr, y_tr = X[:args.n_train], y[:args.n_train]
    X_va, y_va = X[-args.n_val:], y[-args.n_val:]
    encodings = args.encodings.split("|") if args.encodings else list(ENCODINGS)
    learning = args.learning.split("|") if args.learning else list(LEARNING)
    if args.quick:
        learning = learning[:2]
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    path = os.path.join(RESULTS, "patch_learning.json")
    for enc in encodings:
        for learn in learning:
            accs, t0 = [], time.perf_counter()
            for seed in seeds:
                union = features(ENCODINGS[enc], LEARNING[learn], seed)
                F_tr = union.fit_transform(X_tr)
                F_va = union.transform(X_va)
                best = 0.0
                for C in (0.01, 0.1):
                    clf = LogisticRegression(C=C, max_iter=300).fit(F_tr, y_tr)
                    best = max(best, float(np.mean(clf.predict(F_va) == y_va)))
                accs.append(best)
            row = dict(encoding=enc, learning=learn, seeds=seeds, accuracy=float(np.mean(accs)),
                       per_seed=accs, seconds=time.perf_counter() - t0)
            rows.append(row)
            print(f"{enc:28s} {learn:45s} {row['accuracy']:.4f}  ({row['seconds']:.0f} s)",
                  flush=True)
            save(rows, args, path)
    save(rows, args, path)


def save(new_rows, args, path):
    """Merge this run's rows into the saved ones (a row per encoding, learning and
    seeds; a rerun replaces its row) and rewrite the json and the table."""
    os.makedirs(RESULTS, exist_ok=True)
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            saved = json.load(f)
        if (saved.get("n_train"), saved.get("n_val")) == (args.n_train, args.n_val):
            rows = saved["rows"]
    for r in new_rows:
        key = (r["encoding"], r["learning"], r["seeds"])
        rows = [o for o in rows if (o["encoding"], o["learning"], o.get("seeds", [0])) != key]
        rows.append(r)
    res = dict(machine=f"{platform.machine()}, {os.cpu_count()} cores, "
                       f"Python {platform.python_version()}",
               n_train=args.n_train, n_val=args.n_val, rows=rows)
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
    L = ["# Spatial Pooler learning against random features (Fashion-MNIST validation split)", "",
         f"`python benchmarks/bench_patch_learning.py --n-train {args.n_train} --n-val "
         f"{args.n_val} [--seeds ...]`: training images 0..{args.n_train - 1}, "
         f"validation the last {args.n_val} of the training set; one PatchSpatialPooler "
         "(256 columns, 5% active, 6x6 pooling, sqrt, standardised) + LogisticRegression "
         "(C the better of 0.01 and 0.1).", "",
         "| encoding | learning | seeds | validation accuracy (mean) | per seed | gain over "
         "learning off (same seeds) | time (s) |", "|---|---|---|---|---|---|---|"]
    off = {(r["encoding"], tuple(r.get("seeds", [0]))): r["accuracy"] for r in rows
           if r["learning"] == "off"}
    for r in rows:
        seeds = tuple(r.get("seeds", [0]))
        base = off.get((r["encoding"], seeds))
        gain = f"{100 * (r['accuracy'] - base):+.2f} pt" if base is not None else "-"
        per_seed = ", ".join(f"{a:.2%}" for a in r["per_seed"])
        L.append(f"| {r['encoding']} | {r['learning']} | {', '.join(map(str, seeds))} | "
                 f"{r['accuracy']:.2%} | {per_seed} | {gain} | {r['seconds']:.0f} |")
    with open(path.replace(".json", ".md"), "w") as f:
        f.write("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
