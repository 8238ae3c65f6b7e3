"""Fashion-MNIST learning curve: test accuracy against the number of training images.

    python benchmarks/bench_learning_curve.py            # sizes 100 ... 60,000, full test set
    python benchmarks/bench_learning_curve.py --quick    # sizes 100, 300, 1000; 2,000 test images
    python benchmarks/bench_learning_curve.py --quick --sizes 100,300 --n-test 500
    python benchmarks/bench_learning_curve.py --pipelines "LR on pixels,HOG + SVC rbf"
    python benchmarks/bench_learning_curve.py --resume   # skip the points already saved

Training sets: the first n images of one fixed stratified permutation of the
60,000 training images (``stratified_order``), so every set holds the smaller
ones and the class proportions of the whole; sizes 100, 300, 1000, 3000,
10000, 60000 by default (``--sizes``). Test set: the 10,000 test images
(``--n-test`` takes the first n of a stratified permutation of them instead).

Pipelines: ``skhtm.recipes.image_classifier((28, 28), random_state=0,
n_jobs=2)`` as it is; LogisticRegression on pixels scaled to [0, 1]; SVC (rbf)
on the same; HOG (scikit-image, 9 orientations, 4x4-pixel cells, 2x2-cell
blocks) into SVC (rbf). Without scikit-image the HOG points are skipped.

Hyper-parameters: one fixed setting per pipeline for every size, chosen before
any point is measured by a 3-fold GridSearchCV on the first ``--select-n``
(10,000) training images of the permutation (C of each read-out; the recipe
is used as built). One setting for all sizes keeps the curve about the number
of images alone; the cost is that C is tuned for 10,000 images, so the
smallest sizes, which would prefer more regularisation, are a little
pessimistic for every pipeline alike. The test set plays no part in it. The
choice is saved in the json (``selection``) and reused by later runs with the
same grid, ``--select-n`` and folds.

Each point (pipeline, size) runs in a process of its own (benchmarks/_child.py):
fit time, predict time per test image, accuracy and that process's peak
resident memory. After every point, benchmarks/results/learning_curve[_quick].
{json,md,png} are rewritten, so an interrupted run keeps the points it finished
(``--resume`` then runs only the missing ones). A point that fails or is killed
for lack of memory is saved as failed and the run goes on.
"""

import argparse
import json
import os
import platform
import shlex
import sys
import time
from datetime import datetime, timezone

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import SVC

from skhtm.datasets import fetch_fashion_mnist
from skhtm.recipes import image_classifier

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _child import run_in_child  # noqa: E402
from _figures import pyplot  # noqa: E402
from _hog import SKIMAGE_MISSING, have_skimage, hog_transformer  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
SIZES = (100, 300, 1000, 3000, 10000, 60000)
QUICK = dict(sizes=(100, 300, 1000), n_test=2000, select_n=1000, cv=2)
FULL = dict(sizes=SIZES, n_test=10000, select_n=10000, cv=3)

# Published test accuracies after training on all 60,000 images.
ANCHORS = [
    ("LR on pixels", "LogisticRegression on raw pixels", 0.842,
     "Xiao et al. 2017, benchmark table"),
    ("SVC rbf on pixels", "SVC, rbf kernel", 0.897, "Xiao et al. 2017, benchmark table"),
    ("HOG + SVC rbf", "HOG + SVM", 0.926, "fashion-mnist README, contributed benchmarks"),
]


def scaled_to_unit(X):
    return np.asarray(X, dtype=np.float64) / 255.0


def pipelines():
    """name -> (family, estimator, grid searched once on the selection images)."""
    return {
        "recipe: image_classifier": (
            "skhtm", image_classifier((28, 28), random_state=0, n_jobs=2), {}),
        "LR on pixels": ("baseline", make_pipeline(
            FunctionTransformer(scaled_to_unit), LogisticRegression(max_iter=500)),
            {"logisticregression__C": [0.01, 0.1, 1.0]}),
        "SVC rbf on pixels": ("baseline", make_pipeline(
            FunctionTransformer(scaled_to_unit), SVC()), {"svc__C": [1.0, 10.0]}),
        "HOG + SVC rbf": ("baseline", make_pipeline(hog_transformer(28), SVC()),
                          {"svc__C": [1.0, 10.0]}),
    }


NEEDS_SKIMAGE = ("HOG + SVC rbf",)


def stratified_order(y, random_state=0):
    """A permutation of ``range(len(y))`` whose every prefix keeps the class proportions.

    Each class is shuffled; its j-th sample of n_c gets the key (j + u) / n_c, u
    uniform in [0, 1), and the permutation sorts the keys: a prefix ending at key
    t holds about t * n_c samples of every class.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels.
    random_state : int, default=0
        Seeds the shuffles.

    Returns
    -------
    order : ndarray of shape (n_samples,), int64

    Examples
    --------
    >>> import numpy as np
    >>> from bench_learning_curve import stratified_order
    >>> y = np.repeat([0, 1], [60, 20])
    >>> np.bincount(y[stratified_order(y)[:40]])
    array([30, 10])
    """
    y = np.asarray(y)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"stratified_order: y must be a non-empty 1-D array of labels; got "
                         f"shape {y.shape}.")
    rng = np.random.RandomState(random_state)
    key = np.empty(len(y))
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        key[members] = (np.arange(len(members)) + rng.uniform(size=len(members))) / len(members)
    return np.argsort(key, kind="stable")


def load(n_train, n_test):
    """First n_train of the stratified training order, n_test of the test set."""
    X_train, y_train = fetch_fashion_mnist(subset="train", return_X_y=True)
    X_test, y_test = fetch_fashion_mnist(subset="test", return_X_y=True)
    train = stratified_order(y_train, random_state=0)[:n_train]
    test = (np.arange(len(y_test)) if n_test >= len(y_test)
            else np.sort(stratified_order(y_test, random_state=1)[:n_test]))
    return X_train[train], y_train[train], X_test[test], y_test[test]


def select(pipeline, n, cv):
    """GridSearchCV of one pipeline on the first n training images (in a child process)."""
    _, est, grid = pipelines()[pipeline]
    X, y, _, _ = load(n, 0)
    t0 = time.perf_counter()
    search = GridSearchCV(est, grid, cv=cv, n_jobs=1, refit=False).fit(X, y)
    return dict(best_params=search.best_params_, cv_score=float(search.best_score_),
                search_s=time.perf_counter() - t0, n=n, cv=cv, grid=grid)


def point(pipeline, params, n_train, n_test):
    """Fit one pipeline on n_train images and score it (in a child process)."""
    family, est, _ = pipelines()[pipeline]
    X_train, y_train, X_test, y_test = load(n_train, n_test)
    est.set_params(**params)
    t0 = time.perf_counter()
    est.fit(X_train, y_train)
    fit_s = time.perf_counter() - t0
    # One image first: a new process loads the compiled kernels on its first call
    # (~1 s), which is not the per-image cost.
    est.predict(X_test[:1])
    t0 = time.perf_counter()
    pred = est.predict(X_test)
    predict_us = (time.perf_counter() - t0) / len(X_test) * 1e6
    return dict(accuracy=float(np.mean(pred == y_test)), fit_s=fit_s, predict_us=predict_us,
                n_test=len(X_test), params=params, family=family,
                loadavg=[round(v, 2) for v in os.getloadavg()])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: sizes {QUICK['sizes']}, {QUICK['n_test']} test "
                             f"images, selection on {QUICK['select_n']} with {QUICK['cv']} folds")
    parser.add_argument("--sizes", default=None, help="comma-separated training sizes")
    parser.add_argument("--n-test", type=int, default=None, help="test images (default all)")
    parser.add_argument("--select-n", type=int, default=None,
                        help="training images the hyper-parameters are chosen on")
    parser.add_argument("--pipelines", default=None,
                        help="comma-separated, from: " + ", ".join(pipelines()))
    parser.add_argument("--resume", action="store_true",
                        help="skip points already saved with the same number of test images")
    parser.add_argument("--results-dir", default=RESULTS)
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL
    try:
        sizes = ([int(s) for s in args.sizes.split(",")] if args.sizes else list(mode["sizes"]))
    except ValueError:
        parser.error(f"--sizes must be comma-separated integers; got {args.sizes!r}")
    n_test = mode["n_test"] if args.n_test is None else args.n_test
    select_n = mode["select_n"] if args.select_n is None else args.select_n
    if min(sizes) < 10 or max(sizes) > 60000:
        parser.error(f"--sizes must lie in [10, 60000]; got {sizes}")
    if not 10 <= n_test <= 10000 or not 10 <= select_n <= 60000:
        parser.error("--n-test must lie in [10, 10000] and --select-n in [10, 60000]")
    wanted = args.pipelines.split(",") if args.pipelines else list(pipelines())
    unknown = [p for p in wanted if p not in pipelines()]
    if unknown:
        parser.error(f"unknown pipelines {unknown}; choose from {list(pipelines())}")
    if not have_skimage():
        print(SKIMAGE_MISSING, file=sys.stderr)
        wanted = [p for p in wanted if p not in NEEDS_SKIMAGE]

    stem = "learning_curve_quick" if args.quick else "learning_curve"
    os.makedirs(args.results_dir, exist_ok=True)
    path = os.path.join(args.results_dir, stem + ".json")
    res = {}
    if os.path.exists(path):
        with open(path) as f:
            res = json.load(f)
    res["machine"] = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                      f"Python {platform.python_version()}")
    started = time.perf_counter()
    res["run"] = dict(command=shlex.join(["python", "benchmarks/bench_learning_curve.py",
                                          *(sys.argv[1:] if argv is None else argv)]),
                      started=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                      wall_s=0.0, finished=False)
    res["anchors"] = [dict(pipeline=p, what=w, accuracy=a, source=s) for p, w, a, s in ANCHORS]
    res.setdefault("selection", {})
    res.setdefault("points", {})

    def save():
        res["run"]["wall_s"] = time.perf_counter() - started
        with open(path + ".tmp", "w") as f:
            json.dump(res, f, indent=1)
        os.replace(path + ".tmp", path)  # never a half-written json
        with open(os.path.join(args.results_dir, stem + ".md"), "w") as f:
            f.write(markdown(res, stem))
        figure(res, os.path.join(args.results_dir, stem + ".png"))

    for name in wanted:
        _, _, grid = pipelines()[name]
        saved = res["selection"].get(name)
        if not grid:
            res["selection"][name] = dict(best_params={}, n=0, cv=None, grid={})
        elif saved and saved["n"] == select_n and saved["cv"] == mode["cv"] \
                and saved["grid"] == grid:
            print(f"selection {name}: {saved['best_params']} (saved)", flush=True)
        else:
            sel, memory = run_in_child(select, name, select_n, mode["cv"])
            res["selection"][name] = {**sel, **memory}
            print(f"selection {name}: {sel['best_params']} (cv {sel['cv_score']:.4f}, "
                  f"{sel['search_s']:.0f} s)", flush=True)
            save()

    for n in sorted(sizes):
        for name in wanted:
            points = res["points"].setdefault(name, {})
            done = points.get(str(n), {})
            params = res["selection"][name]["best_params"]
            if args.resume and "accuracy" in done and done["n_test"] == n_test \
                    and done["params"] == params:
                continue
            try:
                r, memory = run_in_child(point, name, params, n, n_test)
                r.update(memory)
                print(f"{name:26s} {n:6d}  {r['accuracy']:.4f}  fit {r['fit_s']:.1f} s, "
                      f"predict {r['predict_us']:.0f} us/image, peak {r['peak_rss_mib']:.0f} "
                      "MiB", flush=True)
            except Exception as exc:  # a failed or killed point is a result too
                r = dict(error=f"{type(exc).__name__}: {exc}"[:300], n_test=n_test,
                         params=params)
                print(f"{name:26s} {n:6d}  FAILED {r['error']}", flush=True)
            points[str(n)] = r
            save()
    res["run"]["finished"] = True
    save()


def _duration(seconds):
    return f"{seconds:.0f} s" if seconds < 90 else (
        f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h")


def markdown(res, stem):
    run = res["run"]
    sizes = sorted({int(n) for pts in res["points"].values() for n in pts})
    state = "finished" if run["finished"] else "interrupted or still running"
    L = ["# Fashion-MNIST learning curve" + (" (quick)" if stem.endswith("quick") else ""), "",
         f"{res['machine']}. Last run: `{run['command']}`, started {run['started']}, wall "
         f"time {_duration(run['wall_s'])} ({state}). Training sets: the first "
         "n images of a fixed stratified permutation of the 60,000 training images; "
         "hyper-parameters fixed for all sizes (see *Selection*). Each point ran in its own "
         "process; *peak RSS* is that process's peak resident memory (data, model and interpreter; "
         "*start*: its peak before the point began). Predict time after one warm-up image.", "",
         "## Test accuracy", "",
         "| pipeline | " + " | ".join(f"{n:,}" for n in sizes) + " |",
         "|---|" + "---|" * len(sizes)]
    for name, pts in res["points"].items():
        cells = []
        for n in sizes:
            r = pts.get(str(n))
            cells.append("" if r is None else "failed" if "error" in r
                         else f"{r['accuracy']:.2%}")
        L.append(f"| {name} | " + " | ".join(cells) + " |")
    L += ["", "## Every point", "",
          "| pipeline | training images | test images | test accuracy | fit (s) | "
          "predict (us/image) | peak RSS (MiB) | start (MiB) |",
          "|---|---|---|---|---|---|---|---|"]
    for name, pts in res["points"].items():
        for n in sorted(pts, key=int):
            r = pts[n]
            if "error" in r:
                L.append(f"| {name} | {int(n):,} | {r['n_test']:,} | failed: {r['error']} | "
                         "| | | |")
            else:
                L.append(f"| {name} | {int(n):,} | {r['n_test']:,} | {r['accuracy']:.2%} | "
                         f"{r['fit_s']:.1f} | {r['predict_us']:.0f} | "
                         f"{r['peak_rss_mib']:,.0f} | {r['start_rss_mib']:,.0f} |")
    L += ["", "## Selection", "",
          "| pipeline | chosen | on training images | folds | cv accuracy | grid |",
          "|---|---|---|---|---|---|"]
    for name, s in res["selection"].items():
        chosen = ", ".join(f"{k.split('__')[-1]}={v}" for k, v in s["best_params"].items())
        grid = "; ".join(f"{k.split('__')[-1]}: {v}" for k, v in s["grid"].items())
        cv = f"{s['cv_score']:.2%}" if s.get("cv_score") is not None else "-"
        L.append(f"| {name} | {chosen or '(as built)'} | {s['n'] or '-'} | {s['cv'] or '-'} | "
                 f"{cv} | {grid or 'none'} |")
    L += ["", "## Published anchors", "",
          "Published figures after training on all 60,000 images, not measured here.", "",
          "| | accuracy | source |", "|---|---|---|"]
    L += [f"| {a['what']} | {a['accuracy']:.1%} | {a['source']} |" for a in res["anchors"]]
    L += ["", f"![accuracy against training images]({stem}.png)", ""]
    return "\n".join(L)


def figure(res, path):
    plt = pyplot()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    colours = {}
    for name, pts in res["points"].items():
        ok = sorted((int(n), r["accuracy"]) for n, r in pts.items() if "accuracy" in r)
        if ok:
            line, = ax.plot([n for n, _ in ok], [100 * a for _, a in ok], "o-", label=name)
            colours[name] = line.get_color()
    for a in res["anchors"]:
        ax.plot([60000], [100 * a["accuracy"]], marker="*", markersize=11, linestyle="none",
                color=colours.get(a["pipeline"], "black"),
                label=f"{a['what']} (published)")
    ax.set_xscale("log")
    ax.set_xlabel("training images")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Fashion-MNIST learning curve")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
