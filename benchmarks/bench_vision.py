"""skhtm pipelines against CNN-free baselines on images and video.

One command runs every dataset with every pipeline and writes
benchmarks/results/vision[_quick].{md,csv,json} and vision[_quick].png:

    python benchmarks/bench_vision.py            # everything, full size: ~12 h on 2 cores
    python benchmarks/bench_vision.py --quick    # small subsets: ~45 min
    python benchmarks/bench_vision.py --datasets digits,moving --pipelines "SVC rbf,kNN"

Run times on 2 shared cores: measured, the quick digits (4.4 min) and the full
moving-digit videos (~50 min, the search and fit times in vision.json);
extrapolated from the quick rows (time linear in the training images, SVC's
quadratic), full Fashion-MNIST ~7 h and translated ~3-4 h, of which the
"saccades + SP + TM + LR" rows (the Temporal Memory learning every training
image's glimpses) take ~4.5 h and ~1.5 h. The recipe's largest peak memory is
on full Fashion-MNIST (17,343 MiB in benchmarks/results/patch_speed_full.json).

Datasets: scikit-learn's bundled ``digits``; ``fashion`` (Fashion-MNIST, 60k/10k,
from skhtm.datasets); ``translated`` (Fashion-MNIST images at random positions
on a 60x60 canvas, skhtm.datasets.make_translated); ``moving`` (moving-digit
videos labelled by digit x direction, skhtm.datasets.make_moving_digits).

Every pipeline's hyper-parameters are chosen by GridSearchCV on the training
set only (on a subset of ``search_n`` training samples where the set is large),
then the best is refit on the whole training set and scored once on the test
set. Each pipeline's search, fit and predict run in a process of their own
(spawned, benchmarks/_child.py), whose peak resident memory is reported beside
the accuracy, search and refit time and predict time per sample. A pipeline
that fails (or is killed for lack of memory) is reported as failed and the
run goes on. The still-image rows include ``skhtm.recipes.image_classifier``
(the recipe as it is, no search) and HOG + SVM baselines (scikit-image's
``hog``; without scikit-image those rows are skipped with a note).

The json keeps the whole run's wall time (``run``) and each dataset's; rows of
other datasets or pipelines from earlier runs are kept (merged at each save),
rows of pipelines this script no longer defines are dropped.
"""

import argparse
import csv
import json
import os
import platform
import shlex
import sys
import time
from datetime import datetime, timezone

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import BernoulliRBM
from sklearn.pipeline import make_pipeline, make_union
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.svm import SVC

from skhtm import (
    PatchSpatialPooler,
    SaccadeEncoder,
    SequencePooler,
    SpatialPoolerTransformer,
    TemporalMemoryTransformer,
    ThermometerEncoder,
)
from skhtm.datasets import fetch_fashion_mnist, make_moving_digits, make_translated
from skhtm.recipes import image_classifier

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _child import run_in_child  # noqa: E402
from _figures import pyplot  # noqa: E402
from _hog import SKIMAGE_MISSING, have_skimage, hog_svm_pipelines  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")

ANCHORS = [
    ("htm.core MNIST example (12,544 columns, 4 passes, softmax)", "MNIST", "97.11%",
     "htm.core README / mnist example"),
    ("htm.core MNIST example run on Fashion-MNIST", "Fashion-MNIST", "~83%", "htm.core README"),
    ("LogisticRegression on raw pixels", "Fashion-MNIST", "84.2%",
     "Xiao et al. 2017, benchmark table"),
    ("SVC, rbf kernel", "Fashion-MNIST", "89.7%", "Xiao et al. 2017, benchmark table"),
    ("HOG + SVM", "Fashion-MNIST", "92.6%", "fashion-mnist README, contributed benchmarks"),
]

# The Spatial Pooler with learning off: random pools, k-winners-take-all.
NO_LEARNING = dict(syn_perm_connected=0.5, syn_perm_active_inc=0.0, syn_perm_inactive_dec=0.0,
                   batch_size=512)

# Rows that need scikit-image (skipped with a note without it).
NEEDS_SKIMAGE = ("HOG + LinearSVC", "HOG + SVC rbf")


def scaled_to_unit(X):
    return np.asarray(X, dtype=np.float64) / 255.0


def flat_frames(X):
    X = np.asarray(X, dtype=np.float64) / 255.0
    return X.reshape(len(X), -1)


# ------------------------------------------------------------------ data

def data_digits(quick):
    X, y = load_digits(return_X_y=True)
    X = X * (255.0 / 16.0)  # the 0-255 scale of the other datasets
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0,
                                                        stratify=y)
    return X_train, y_train, X_test, y_test


def data_fashion(quick):
    X_train, y_train = fetch_fashion_mnist(subset="train", return_X_y=True)
    X_test, y_test = fetch_fashion_mnist(subset="test", return_X_y=True)
    if quick:
        X_train, y_train, X_test, y_test = X_train[:3000], y_train[:3000], X_test[:1000], \
            y_test[:1000]
    return X_train, y_train, X_test, y_test


def data_translated(quick):
    n_train, n_test = (2000, 500) if quick else (20000, 5000)
    X_train, y_train = fetch_fashion_mnist(subset="train", return_X_y=True)
    X_test, y_test = fetch_fashion_mnist(subset="test", return_X_y=True)
    A = make_translated(X_train[:n_train], 60, image_shape=(28, 28), random_state=0)
    B = make_translated(X_test[:n_test], 60, image_shape=(28, 28), random_state=1)
    return A.reshape(n_train, -1), y_train[:n_train], B.reshape(n_test, -1), y_test[:n_test]


def data_moving(quick):
    n_train, n_test = (1000, 400) if quick else (6000, 2000)
    kw = dict(n_frames=8, canvas_shape=24, n_directions=4, speed=2.0, target="both")
    # Train and test videos move disjoint digit images (the split of data_digits), so the
    # test measures unseen digits, not memorised images at new positions.
    digits = load_digits()
    images = (digits.images * (255.0 / 16.0)).round().astype(np.uint8)
    train, test = train_test_split(np.arange(len(images)), test_size=0.3, random_state=0,
                                   stratify=digits.target)
    X_train, y_train = make_moving_digits(n_train, images=images[train],
                                          image_labels=digits.target[train], random_state=0, **kw)
    X_test, y_test = make_moving_digits(n_test, images=images[test],
                                        image_labels=digits.target[test], random_state=1, **kw)
    return X_train, y_train, X_test, y_test


# name -> (loader, what the pipelines need to know about the data)
DATASETS = {
    "digits": (data_digits, dict(kind="image", side=8)),
    "fashion": (data_fashion, dict(kind="image", side=28)),
    "translated": (data_translated, dict(kind="translated", side=60)),
    "moving": (data_moving, dict(kind="video", side=24, n_directions=4)),
}


# ------------------------------------------------------------------ pipelines

def sp(n_columns, density, seed=0, **kw):
    return SpatialPoolerTransformer(column_shape=n_columns, local_area_density=density,
                                    random_state=seed, **kw)


def lr(C=1.0):
    return LogisticRegression(C=C, max_iter=500)


def image_pipelines(meta, quick):
    """name -> (family, estimator, param grid), for still images."""
    big = meta["side"] >= 28
    cols = 4096 if big else 1024
    glimpse = dict(n_glimpses=8, fovea_shape=16, n_levels=4, gaze="scan", location=None) \
        if meta["kind"] == "image" and big else \
        dict(n_glimpses=8, fovea_shape=16, n_levels=4, gaze="object_scan", scan_shape=28,
             location=None) if big else \
        dict(n_glimpses=4, fovea_shape=4, n_levels=2, gaze="scan", location=None)
    patch_cols = 256 if big else 64
    P = {
        "SP + LR": ("skhtm", make_pipeline(
            FunctionTransformer(scaled_to_unit), ThermometerEncoder(n_thresholds=2),
            sp(cols, 0.05, **NO_LEARNING), lr(0.1)),
            {"spatialpoolertransformer__local_area_density": [0.02, 0.05]}),
        "concatenated SPs + LR": ("skhtm", make_pipeline(
            FunctionTransformer(scaled_to_unit), ThermometerEncoder(n_thresholds=2),
            make_union(*(sp(cols // 2, 0.05, seed=s, **NO_LEARNING) for s in range(4))),
            lr(0.1)), {"logisticregression__C": [0.03, 0.1]}),
        "stacked SPs + LR": ("skhtm", make_pipeline(
            FunctionTransformer(scaled_to_unit), ThermometerEncoder(n_thresholds=2),
            sp(cols, 0.05, **NO_LEARNING), sp(cols // 2, 0.05, seed=1), lr(0.1)),
            {"spatialpoolertransformer-2__local_area_density": [0.05, 0.1]}),
        "patch SP + pooling + LR": ("skhtm", make_pipeline(
            PatchSpatialPooler(sp(patch_cols, 0.05 if big else 0.1, **NO_LEARNING),
                               patch_shape=3, n_levels=4 if big else 2,
                               pool_grid=6 if big else 3, random_state=0),
            StandardScaler(), lr(0.1)),
            {"patchspatialpooler__pool_grid": [4, 6] if big else [2, 3]}),
        # skhtm's still-image recipe as it is: its configuration was chosen on validation
        # splits of the training set (skhtm/recipes.py), so nothing is searched here.
        "recipe: image_classifier": ("skhtm", image_classifier(
            (meta["side"], meta["side"]), random_state=0, n_jobs=2), {}),
        "saccades + SP + TM + LR": ("skhtm", make_pipeline(
            SaccadeEncoder(**glimpse, image_shape=(meta["side"], meta["side"])),
            sp(cols if big else 128, 0.05 if big else 0.08, **NO_LEARNING),
            TemporalMemoryTransformer(cells_per_column=4, activation_threshold=8 if big else 4,
                                      min_threshold=6 if big else 3,
                                      max_new_synapse_count=16 if big else 8, random_state=0),
            lr(0.1)), {"logisticregression__C": [0.1]}),
        "LR on pixels": ("baseline", make_pipeline(FunctionTransformer(scaled_to_unit), lr()),
                         {"logisticregression__C": [0.1, 1.0]}),
        "BernoulliRBM + LR": ("baseline", make_pipeline(
            FunctionTransformer(scaled_to_unit),
            BernoulliRBM(n_components=256, learning_rate=0.05, n_iter=10, random_state=0),
            lr()), {"logisticregression__C": [1.0, 10.0]}),
        "RandomForest": ("baseline", RandomForestClassifier(n_estimators=200, random_state=0,
                                                            n_jobs=2),
                         {"max_features": ["sqrt", 0.1]}),
        "SVC rbf": ("baseline", make_pipeline(FunctionTransformer(scaled_to_unit), SVC()),
                    {"svc__C": [1.0, 10.0]}),
        "kNN": ("baseline", make_pipeline(FunctionTransformer(scaled_to_unit),
                                          KNeighborsClassifier()),
                {"kneighborsclassifier__n_neighbors": [1, 5]}),
        "PCA + SVC rbf": ("baseline", make_pipeline(
            FunctionTransformer(scaled_to_unit), PCA(n_components=50, random_state=0), SVC()),
            {"svc__C": [1.0, 10.0]}),
    }
    for name, (est, grid) in hog_svm_pipelines(meta["side"]).items():
        P[name] = ("baseline", est, grid)
    return P


def moving_eye(**kw):
    """One glimpse per frame, the fovea on the object's centre of mass (it follows the
    digit), the location signal in image coordinates (where the eye points)."""
    return SaccadeEncoder(n_glimpses=1, gaze="object_scan", scan_shape=1,
                          location_frame="image", **kw)


def video_pipelines(meta, quick):
    """name -> (family, estimator, param grid), for videos labelled digit x direction.

    Sensorimotor: the fovea sees the digit wherever it is; the sequence of
    locations is the movement. Two branches side by side (FeatureUnion): a
    Spatial Pooler on the fovea, pooled over the frames (the digit), and the
    location SDR (the eye's position) learned by a Temporal Memory (the movement),
    or pooled without order (the baseline: the set of positions shows the axis of
    motion, not its sense). One SP over fovea + location bits mixes both into one
    SDR, whose fovea-driven columns dilute the transitions the TM must learn: it
    needs far more videos (validation below) and stays behind on the full set.

    Chosen on a validation split of the *training* digit images (880 / 377 images,
    1500 / 400 videos): fovea 10x10 with 4 grey levels (digit 91.5%; 12x12 or a
    periphery: within 0.5%; LR on the fovea bits alone: 91.7%); SP 8192 columns at 5%
    (94.3%; 4096 at 2% / 5% / 10%: 91.5 / 92.8 / 91.8%, 8192 at 2% / 10%: 91.8 / 93.3%,
    16384 at 5%: 94.8% but twice the memory and time, 2 or 4 concatenated SPs: 93%,
    local receptive fields: 88-91.5%); coordinate location at 1 px resolution
    (0.5, 2 px and grid cells: same direction accuracy); TM 8 cells per column,
    thresholds 6 / 4 and 12 new synapses for the 16-bit location SDR: held-out
    anomaly 1.0 -> 0.03 after 1500 videos, direction 100% against 47.5% for union
    pooling of the same SDRs. One SP (1024 columns) over fovea (12x12, 2 levels) +
    location (2 px) + TM, 600 / 300 videos: 36% (direction 53%), union pooling 23%
    (on the full 6000 / 2000: 84%, direction 97%, digit 87%).
    """
    digit = make_pipeline(moving_eye(fovea_shape=10, n_levels=4, location=None),
                          sp(8192, 0.05, **NO_LEARNING), SequencePooler("union"))

    def where(last):
        return make_pipeline(moving_eye(fovea_shape=None, location="coordinate",
                                        location_resolution=1.0), last)

    tm = TemporalMemoryTransformer(cells_per_column=8, activation_threshold=6, min_threshold=4,
                                   max_new_synapse_count=12, random_state=0)
    grid = {"logisticregression__C": [0.1, 1.0]}
    return {
        "saccades: SP (fovea) + TM (location) + LR": ("skhtm", make_pipeline(
            make_union(digit, where(tm)), lr(1.0)), grid),
        "saccades: SP (fovea) + union pooling (location) + LR": ("skhtm", make_pipeline(
            make_union(digit, where(SequencePooler("union"))), lr(1.0)), grid),
        "saccades: one SP (fovea + location) + TM + LR": ("skhtm", make_pipeline(
            moving_eye(fovea_shape=12, n_levels=2, location="coordinate",
                       location_resolution=2.0),
            sp(1024, 0.04, **NO_LEARNING),
            TemporalMemoryTransformer(cells_per_column=8, activation_threshold=8,
                                      min_threshold=6, max_new_synapse_count=20,
                                      random_state=0), lr(1.0)),
            {"logisticregression__C": [1.0]}),
        "LR on all frames": ("baseline", make_pipeline(FunctionTransformer(flat_frames), lr()),
                             {"logisticregression__C": [0.1, 1.0]}),
        "RandomForest on all frames": ("baseline", make_pipeline(
            FunctionTransformer(flat_frames),
            RandomForestClassifier(n_estimators=200, random_state=0, n_jobs=2)),
            {"randomforestclassifier__max_features": ["sqrt"]}),
        "SVC rbf on all frames": ("baseline", make_pipeline(FunctionTransformer(flat_frames),
                                                            SVC()), {"svc__C": [1.0, 10.0]}),
    }


# ------------------------------------------------------------------ running

def pipelines_for(dataset, quick=False):
    """name -> (family, estimator, param grid) of one dataset."""
    meta = DATASETS[dataset][1]
    return (video_pipelines if meta["kind"] == "video" else image_pipelines)(meta, quick)


def search_settings(quick):
    """(samples the grid search sees at most, folds)."""
    return (2000, 2) if quick else (10000, 3)


def run_one(estimator, grid, data, search_n, cv):
    X_train, y_train, X_test, y_test = data
    n = min(search_n, len(X_train))
    t0 = time.perf_counter()
    if sum(len(values) for values in grid.values()) > len(grid):
        search = GridSearchCV(estimator, grid, cv=cv, n_jobs=1, refit=False).fit(
            X_train[:n], y_train[:n])
        best_params, cv_score = search.best_params_, float(search.best_score_)
    else:  # one candidate (chosen beforehand on a validation split): nothing to search
        best_params, cv_score = {k: v[0] for k, v in grid.items()}, None
    search_s = time.perf_counter() - t0
    best = estimator.set_params(**best_params)
    t0 = time.perf_counter()
    best.fit(X_train, y_train)
    fit_s = time.perf_counter() - t0
    # One image first: a new process loads the compiled kernels on its first call
    # (~1 s), which is not the per-image cost.
    best.predict(X_test[:1])
    t0 = time.perf_counter()
    pred = best.predict(X_test)
    predict_us = (time.perf_counter() - t0) / len(X_test) * 1e6
    return dict(accuracy=float(np.mean(pred == y_test)), cv_score=cv_score,
                best_params={k: repr(v) for k, v in best_params.items()},
                search_s=search_s, fit_s=fit_s, predict_us=predict_us,
                pred=pred)


def task(dataset, pipeline, quick):
    """One row: load the data, search, refit and score one pipeline (in a child process)."""
    loader, meta = DATASETS[dataset]
    X_train, y_train, X_test, y_test = loader(quick)
    family, est, grid = pipelines_for(dataset, quick)[pipeline]
    search_n, cv = search_settings(quick)
    r = run_one(est, grid, (X_train, y_train, X_test, y_test), search_n, cv)
    pred = r.pop("pred")
    if meta["kind"] == "video":
        k = meta["n_directions"]
        r["digit_accuracy"] = float(np.mean(pred // k == y_test // k))
        r["direction_accuracy"] = float(np.mean(pred % k == y_test % k))
        # With 4 directions, the axis (horizontal / vertical) and, where the axis is
        # right, the sense along it: order-free features can only guess the sense.
        axis_ok = (pred % k) % (k // 2) == (y_test % k) % (k // 2)
        r["axis_accuracy"] = float(np.mean(axis_ok))
        r["sense_given_axis_accuracy"] = float(np.mean(pred[axis_ok] % k
                                                       == y_test[axis_ok] % k))
    r["family"] = family
    r["loadavg"] = [round(v, 2) for v in os.getloadavg()]
    return r, dict(n_train=len(X_train), n_test=len(X_test), search_n=search_n)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small subsets")
    parser.add_argument("--datasets", default=",".join(DATASETS),
                        help="comma-separated, from " + ", ".join(DATASETS))
    parser.add_argument("--pipelines", default=None,
                        help="comma-separated names (default: all that apply)")
    parser.add_argument("--results-dir", default=RESULTS,
                        help="where the results are written (default: benchmarks/results)")
    args = parser.parse_args(argv)
    datasets = args.datasets.split(",")
    for name in datasets:
        if name not in DATASETS:
            parser.error(f"unknown dataset {name!r}; choose from {sorted(DATASETS)}")
    wanted = args.pipelines.split(",") if args.pipelines else None
    if wanted:
        known = {p for d in datasets for p in pipelines_for(d, args.quick)}
        unknown = [p for p in wanted if p not in known]
        if unknown:
            parser.error(f"unknown pipelines {unknown} for datasets {datasets}; "
                         f"choose from {sorted(known)}")
    suffix = "_quick" if args.quick else ""
    command = shlex.join(["python", "benchmarks/bench_vision.py",
                          *(sys.argv[1:] if argv is None else argv)])
    started = time.perf_counter()
    # This run's results, merged into the saved ones by save().
    res = {"datasets": {}, "run": dict(command=command, finished=False, wall_s=0.0,
                                       started=datetime.now(timezone.utc).isoformat(
                                           timespec="seconds"))}
    if not have_skimage():
        print(SKIMAGE_MISSING, file=sys.stderr)
    for name in datasets:
        entry = res["datasets"].setdefault(name, {"rows": {}})
        dataset_started = time.perf_counter()
        for pname in pipelines_for(name, args.quick):
            if wanted and pname not in wanted:
                continue
            if pname in NEEDS_SKIMAGE and not have_skimage():
                print(f"{name:10s} {pname:28s} skipped: scikit-image not installed", flush=True)
                continue
            try:
                (r, sizes), memory = run_in_child(task, name, pname, args.quick)
                r.update(memory)
                entry.update(sizes)
                print(f"{name:10s} {pname:28s} {r['accuracy']:.4f}  (search "
                      f"{r['search_s']:.0f} s, fit {r['fit_s']:.0f} s, peak "
                      f"{r['peak_rss_mib']:.0f} MiB)", flush=True)
            except Exception as exc:  # a failed or killed pipeline is a result too
                r = {"error": f"{type(exc).__name__}: {exc}"[:300],
                     "family": pipelines_for(name, args.quick)[pname][0]}
                print(f"{name:10s} {pname:28s} FAILED {r['error']}", flush=True)
            entry["rows"][pname] = r
            entry["wall_s"] = time.perf_counter() - dataset_started
            res["run"]["wall_s"] = time.perf_counter() - started
            save(res, args.results_dir, suffix, args.quick)
    res["run"].update(finished=True, wall_s=time.perf_counter() - started)
    save(res, args.results_dir, suffix, args.quick)
    print(f"wall time {format_duration(res['run']['wall_s'])}")


def save(new, results_dir, suffix, quick):
    """Merge this run's rows into the saved results and rewrite every output.

    The saved json is read again at each save, so runs of different datasets or
    pipelines (even at the same time) keep each other's rows.
    """
    os.makedirs(results_dir, exist_ok=True)
    path_json = os.path.join(results_dir, f"vision{suffix}.json")
    res = {}
    if os.path.exists(path_json):
        with open(path_json) as f:
            res = json.load(f)
    res["machine"] = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                      f"Python {platform.python_version()}")
    res["run"] = new["run"]
    res["anchors"] = [dict(zip(("what", "dataset", "accuracy", "source"), a)) for a in ANCHORS]
    for d, entry in new["datasets"].items():
        if not entry["rows"]:
            continue
        saved = res.setdefault("datasets", {}).setdefault(d, {})
        rows = {**saved.get("rows", {}), **entry["rows"]}
        saved.update(entry)
        saved["rows"] = rows
    for d, entry in res.get("datasets", {}).items():
        # Rows of pipelines this script no longer defines would be read as results
        # of the current code.
        current = pipelines_for(d, quick) if d in DATASETS else {}
        for p in [p for p in entry["rows"] if p not in current]:
            print(f"dropping the saved row {d} / {p!r}: no longer a pipeline of this script",
                  file=sys.stderr)
            del entry["rows"][p]
    with open(path_json, "w") as f:
        json.dump(res, f, indent=1)
    fields = ["dataset", "pipeline", "family", "accuracy", "digit_accuracy",
              "direction_accuracy", "axis_accuracy", "sense_given_axis_accuracy", "cv_score",
              "search_s", "fit_s", "predict_us", "peak_rss_mib", "start_rss_mib", "best_params",
              "error"]
    with open(os.path.join(results_dir, f"vision{suffix}.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for d, entry in res["datasets"].items():
            for p, r in entry["rows"].items():
                w.writerow({"dataset": d, "pipeline": p,
                            **{k: (json.dumps(v) if k == "best_params" else v)
                               for k, v in r.items() if k in fields}})
    with open(os.path.join(results_dir, f"vision{suffix}.md"), "w") as f:
        f.write(markdown(res, quick))
    figure(res, os.path.join(results_dir, f"vision{suffix}.png"))


def format_duration(seconds):
    seconds = float(seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{int(seconds // 3600)} h {seconds % 3600 / 60:02.0f} min"


def _fmt(r, key, spec, missing="-"):
    v = r.get(key)
    return missing if v is None else format(v, spec)


def markdown(res, quick):
    suffix = "_quick" if quick else ""
    run = res.get("run", {})
    state = "finished" if run.get("finished") else "interrupted or still running"
    L = [f"# skhtm against CNN-free baselines{' (quick)' if quick else ''}", "",
         f"{res['machine']}. Hyper-parameters by GridSearchCV on (a subset of) the training "
         "set; test accuracy of the refit best. Each pipeline ran in its own process: "
         "*peak RSS* is that process's peak resident memory (the data, the model and the "
         "interpreter: *start* is its peak before the pipeline began). Predict time after one "
         "warm-up image.", ""]
    if run:
        L += [f"Last run: `{run['command']}`, started {run['started']}, wall time "
              f"{format_duration(run['wall_s'])} ({state}). Rows of datasets or pipelines "
              "it did not run come from earlier runs: each dataset's heading gives the wall "
              "time of its last run.", ""]
    for d, entry in res["datasets"].items():
        rows = entry["rows"]
        video = any("direction_accuracy" in r for r in rows.values())
        wall = f", wall time {format_duration(entry['wall_s'])}" if "wall_s" in entry else ""
        L += [f"## {d} (train {entry.get('n_train', '?')}, test {entry.get('n_test', '?')}, "
              f"search on {min(entry.get('search_n', 0), entry.get('n_train', 0))}{wall})", ""]
        head = "| pipeline | | test accuracy |" + (
            " digit | direction | axis | sense given axis |" if video else "")
        L += [head + " search (s) | fit (s) | predict (us/sample) | peak RSS (MiB) | start "
              "(MiB) | best parameters |",
              "|---|---|---|" + ("---|---|---|---|" if video else "") + "---|---|---|---|---|---|"]
        for p, r in sorted(rows.items(), key=lambda kv: -kv[1].get("accuracy", -1.0)):
            if "error" in r:
                L.append(f"| {p} | {r['family']} | failed: {r['error']} |")
                continue
            extra = (f" {r['digit_accuracy']:.2%} | {r['direction_accuracy']:.2%} |"
                     f" {r.get('axis_accuracy', float('nan')):.2%} |"
                     f" {r.get('sense_given_axis_accuracy', float('nan')):.2%} |"
                     if video else "")
            params = ", ".join(f"{k.split('__')[-1]}={v}" for k, v in r["best_params"].items())
            L.append(f"| {p} | {r['family']} | {r['accuracy']:.2%} |{extra} "
                     f"{r['search_s']:.0f} | {r['fit_s']:.0f} | {r['predict_us']:.0f} | "
                     f"{_fmt(r, 'peak_rss_mib', ',.0f')} | {_fmt(r, 'start_rss_mib', ',.0f')} | "
                     f"{params or '(as built)'} |")
        L.append("")
        if any("accuracy" in r and "peak_rss_mib" not in r for r in rows.values()):
            L += ["Rows without a peak RSS come from a run before each pipeline had a process "
                  "of its own (and their predict time includes the first call's loading of "
                  "the compiled kernels).", ""]
        if video:
            L += ["Labels are digit x direction (40 classes; chance 2.5%). Train and test videos "
                  "move disjoint digit images. Direction has 4 values (right, up, left, down): "
                  "the set of positions a digit passes through shows the axis of motion "
                  "(horizontal or vertical) but not its sense, so order-free features reach "
                  "the axis and then guess the sense: chance on direction is 50% for them, "
                  "and \"sense given axis\" (direction accuracy among videos whose axis is "
                  "right) is the part only order can tell, chance 50%.", ""]
    L += ["## Published anchors", "", "Published figures, not measured here.", "",
          "| | dataset | accuracy | source |", "|---|---|---|---|"]
    L += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in ANCHORS]
    L += ["", f"![accuracy per dataset](vision{suffix}.png)", ""]
    return "\n".join(L)


def figure(res, path):
    plt = pyplot()
    if plt is None:
        return
    names = list(res["datasets"])
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.6), squeeze=False)
    for ax, d in zip(axes[0], names):
        rows = sorted(((p, r) for p, r in res["datasets"][d]["rows"].items() if "accuracy" in r),
                      key=lambda kv: kv[1]["accuracy"])
        colours = ["tab:blue" if r["family"] == "skhtm" else "tab:grey" for _, r in rows]
        ax.barh([p for p, _ in rows], [100 * r["accuracy"] for _, r in rows], color=colours)
        ax.set_title(d)
        ax.set_xlabel("test accuracy (%)")
        ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
