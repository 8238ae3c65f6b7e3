"""The benchmark scripts' building blocks: HOG features, stratified training
prefixes, per-task peak memory, the results page written from saved json.

No benchmark is run and nothing is timed here (timings never go into tests);
the data are scikit-learn's bundled digits and small synthetic results.
"""

import json
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

import _child  # noqa: E402
import _hog  # noqa: E402
import bench_learning_curve  # noqa: E402
import bench_vision  # noqa: E402
import make_results_page  # noqa: E402

# ------------------------------------------------------------ stratified prefixes

def test_stratified_order_prefixes_keep_class_proportions():
    rng = np.random.RandomState(3)
    y = rng.permutation(np.repeat([0, 1, 2, 3], [500, 300, 150, 50]))
    order = bench_learning_curve.stratified_order(y, random_state=0)
    np.testing.assert_array_equal(np.sort(order), np.arange(len(y)))
    share = np.bincount(y) / len(y)
    for m in range(1, len(y) + 1):
        counts = np.bincount(y[order[:m]], minlength=4)
        assert np.abs(counts - m * share).max() < 2, m


def test_stratified_order_balanced_prefixes_are_exact_and_seeded():
    y = np.tile(np.arange(10), 60)
    order = bench_learning_curve.stratified_order(y, random_state=0)
    for m in (10, 100, 300):
        np.testing.assert_array_equal(np.bincount(y[order[:m]]), np.full(10, m // 10))
    np.testing.assert_array_equal(order, bench_learning_curve.stratified_order(y, 0))
    assert not np.array_equal(order, bench_learning_curve.stratified_order(y, 1))


@pytest.mark.parametrize("y", [np.array([]), np.zeros((3, 2))])
def test_stratified_order_rejects_bad_labels(y):
    with pytest.raises(ValueError, match="stratified_order: y must be"):
        bench_learning_curve.stratified_order(y)


# ------------------------------------------------------------ HOG baselines

def test_hog_features_are_skimage_hog_of_each_image():
    feature = pytest.importorskip("skimage.feature")
    X = load_digits().data[:20]
    settings = _hog.HOG_SETTINGS[8]
    F = _hog.hog_features(X, (8, 8), **settings)
    assert F.shape == (20, 324) and F.dtype == np.float32
    for i in (0, 7, 19):
        expected = feature.hog(X[i].reshape(8, 8), block_norm="L2-Hys", **settings)
        np.testing.assert_allclose(F[i], expected, rtol=1e-6, atol=1e-7)
    # One image's row does not depend on the batch it came in.
    np.testing.assert_array_equal(_hog.hog_features(X[5:9], (8, 8), **settings), F[5:9])


def test_hog_features_reject_a_wrong_image_size():
    with pytest.raises(ValueError, match=r"hog_features: X must be \(n_samples, 784\)"):
        _hog.hog_features(np.zeros((2, 64)), (28, 28))


def test_hog_transformer_rejects_an_unknown_side():
    with pytest.raises(ValueError, match="hog_transformer: no HOG settings for 13x13"):
        _hog.hog_transformer(13)


def test_hog_svm_pipeline_classifies_digits_and_pickles():
    pytest.importorskip("skimage")
    X, y = load_digits(return_X_y=True)
    estimator, grid = _hog.hog_svm_pipelines(8)["HOG + LinearSVC"]
    estimator.set_params(linearsvc__C=grid["linearsvc__C"][1])
    estimator.fit(X[:1200], y[:1200])
    predicted = estimator.predict(X[1200:])
    assert np.mean(predicted == y[1200:]) > 0.85
    restored = pickle.loads(pickle.dumps(estimator))
    np.testing.assert_array_equal(restored.predict(X[1200:]), predicted)


def test_vision_task_searches_refits_and_scores_one_pipeline():
    pytest.importorskip("skimage")
    row, sizes = bench_vision.task("digits", "HOG + LinearSVC", quick=True)
    assert sizes == dict(n_train=1257, n_test=540, search_n=2000)
    assert row["accuracy"] > 0.85 and row["family"] == "baseline"
    assert float(row["best_params"]["linearsvc__C"]) in (0.1, 1.0, 10.0)
    assert row["cv_score"] > 0.8


def test_vision_rejects_unknown_datasets_and_pipelines(capsys):
    with pytest.raises(SystemExit):
        bench_vision.main(["--datasets", "cifar"])
    assert "unknown dataset 'cifar'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench_vision.main(["--datasets", "digits", "--pipelines", "HOG + kNN"])
    assert "unknown pipelines ['HOG + kNN']" in capsys.readouterr().err


def test_vision_still_image_rows_include_the_recipe_and_hog_baselines():
    names = bench_vision.pipelines_for("fashion")
    assert {"recipe: image_classifier", "HOG + LinearSVC", "HOG + SVC rbf"} <= set(names)
    assert "4 patch SPs + pooling + LR" not in names


# ------------------------------------------------------------ child processes

def test_run_in_child_reports_the_peak_of_each_task_alone():
    size, big = _child.run_in_child(_child.hold_mib, 300)
    assert size == 300 * 2**20
    assert big["peak_rss_mib"] - big["start_rss_mib"] >= 290
    # A fresh process per task: a small task after a big one has a small peak.
    _, small = _child.run_in_child(_child.hold_mib, 1)
    assert small["peak_rss_mib"] < big["peak_rss_mib"] - 250


def test_run_in_child_raises_the_task_error():
    with pytest.raises(ValueError, match="invalid literal"):
        _child.run_in_child(_child.hold_mib, "many")


# ------------------------------------------------------------ results page

def _write(directory, name, data):
    (directory / name).write_text(json.dumps(data))


def _vision_result():
    row = dict(accuracy=0.9753, cv_score=0.97, best_params={"logisticregression__C": "1.0"},
               search_s=1.0, fit_s=2.0, predict_us=3.0, peak_rss_mib=412.6,
               start_rss_mib=250.0, family="baseline")
    failed = dict(error="BrokenProcessPool: killed", family="skhtm")
    return {"machine": "test machine",
            "run": dict(command="python benchmarks/bench_vision.py --quick", finished=True,
                        wall_s=5400.0, started="2026-01-01T00:00:00+00:00"),
            "datasets": {"digits": dict(n_train=1257, n_test=540, search_n=2000, wall_s=100.0,
                                        rows={"LR on pixels": row,
                                              "recipe: image_classifier": failed})}}


def _learning_curve_result():
    point = dict(accuracy=0.8125, fit_s=1.5, predict_us=20.0, n_test=500, params={},
                 family="skhtm", peak_rss_mib=500.0, start_rss_mib=300.0)
    return {"machine": "test machine",
            "run": dict(command="python benchmarks/bench_learning_curve.py", finished=False,
                        wall_s=60.0, started="2026-01-01T00:00:00+00:00"),
            "anchors": [dict(pipeline="LR on pixels", what="LogisticRegression on raw pixels",
                             accuracy=0.842, source="Xiao et al. 2017")],
            "selection": {"recipe: image_classifier": dict(best_params={}, n=0, cv=None,
                                                           grid={})},
            "points": {"recipe: image_classifier": {"100": point}}}


def test_results_page_comes_from_the_saved_json(tmp_path):
    _write(tmp_path, "vision_quick.json", _vision_result())
    _write(tmp_path, "learning_curve.json", _learning_curve_result())
    _write(tmp_path, "layers.json", {"two layers": {"accuracy": 0.87654321}})
    page = make_results_page.make_page(str(tmp_path))
    assert "| LR on pixels | baseline | 97.53% |" in page
    assert "| 413 | 250 | C=1.0 |" in page  # peak and start RSS, rounded
    assert "| recipe: image_classifier | skhtm | failed: BrokenProcessPool: killed |" in page
    assert "wall time 1 h 30 min (finished)" in page
    assert "| recipe: image_classifier | 81.25% |" in page  # the learning curve
    assert "| LogisticRegression on raw pixels | 84.2% | Xiao et al. 2017 |" in page
    assert page.count("Published figures") >= 2
    assert "| two layers.accuracy | 0.8765 |" in page  # any other json, value by value
    # Benchmarks without saved results say so; pictures that were not saved are left out.
    assert "No saved results (`benchmarks/results/tm_speed.json`)" in page
    assert "No saved results (`benchmarks/results/sensorimotor.json`)" in page
    assert "vision_quick.png" not in page
    (tmp_path / "vision_quick.png").write_bytes(b"")
    assert "](../benchmarks/results/vision_quick.png)" in make_results_page.make_page(
        str(tmp_path))


def test_results_page_check_tells_a_stale_page(tmp_path):
    _write(tmp_path, "vision_quick.json", _vision_result())
    out = tmp_path / "results.md"
    args = ["--results-dir", str(tmp_path), "--out", str(out)]
    assert make_results_page.main(args + ["--check"]) == 1
    assert make_results_page.main(args) == 0
    assert make_results_page.main(args + ["--check"]) == 0
    _write(tmp_path, "layers.json", {"accuracy": 0.5})
    assert make_results_page.main(args + ["--check"]) == 1


# ------------------------------------------------------------ sensorimotor report

def test_sensorimotor_report_says_pass_and_miss_from_the_figures():
    import bench_sensorimotor as bench

    images = np.arange(2 * 784).reshape(2, 784) % 251
    canvases = bench.centred(images.astype(np.uint8), 60).reshape(2, 60, 60)
    np.testing.assert_array_equal(canvases[:, 16:44, 16:44], images.reshape(2, 28, 28))
    assert canvases.sum() == images.sum()
    staged = [0.5, 0.7, 0.8]
    main = dict(accuracy=0.91, n_train=10, n_test=5, fit_s=1, predict_us=2, peak_rss_mib=3,
                staged=staged, rises_every_glimpse=True, random_order_accuracy=0.895,
                random_order_staged=staged)
    row = dict(accuracy=0.8, n_train=10, n_test=5, staged=staged)
    results = dict(machine="test", parts=dict(
        main=main,
        policy={"scan": row, "saliency": dict(row, accuracy=0.85),
                "16 candidates (trained on random 4), hypothesis": dict(row, accuracy=0.84),
                "run_s": 1.0},
        voting={"one column": row, "three columns voting": dict(row, accuracy=0.9,
                                                                sensor_offsets=[(0, 0)]),
                "three columns, each alone": [0.7, 0.6, 0.5]}))
    text = bench.markdown(results)
    assert "**91.00%** (target >= 90.5%: PASS)" in text
    assert "gap 1.50%, target <= 1 point: MISS" in text
    assert "Model-driven gaze beats scan and saliency: MISS" in text
    assert "voting beats one column: PASS" in text
