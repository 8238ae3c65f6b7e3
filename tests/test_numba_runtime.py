"""Running the compiled kernels for real: the on-disk cache and its fallback,
several processes compiling at once, several threads sharing one fitted
estimator, and pandas output.

The process-level tests run small scripts in fresh interpreters, each with its
own empty ``NUMBA_CACHE_DIR``, so that they see what a user's first run sees.
"""

import hashlib
import json
import os
import pickle
import subprocess
import sys
import textwrap
import types
import warnings
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import pandas as pd  # in the test extra: set_output(transform="pandas") is never skipped
import pytest
from numba.core.dispatcher import Dispatcher
from sklearn.datasets import load_digits

import skhtm._jit
from skhtm import (
    PatchSpatialPooler,
    SaccadeEncoder,
    SequencePooler,
    SpatialPoolerTransformer,
    TemporalMemoryTransformer,
    ThermometerEncoder,
)
from skhtm.exceptions import NumbaCacheWarning

if os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"):
    pytest.skip("tests numba's compilation and cache, which NUMBA_DISABLE_JIT switches off",
                allow_module_level=True)


# ------------------------------------------------------- cache fallback


def _add(a, b):
    return a + b


def _count_above(values, threshold):
    count = 0
    for v in values:
        if v > threshold:
            count += 1
    return count


def _scale(values, factor):
    out = np.empty_like(values)
    for i in range(values.shape[0]):
        out[i] = values[i] * factor
    return out


def _refusing_numba(calls):
    """A stand-in for the numba module whose njit refuses cache=True, with the
    error numba raises when no cache folder can be written."""
    def njit(*args, cache=False, **kwargs):
        calls.append(cache)
        if cache:
            raise RuntimeError("cannot cache function '_add': no locator available for file "
                               "'/read-only/skhtm/_kernels.py'")
        return numba.njit(*args, cache=cache, **kwargs)
    return types.SimpleNamespace(njit=njit)


def test_jit_falls_back_to_uncached_kernels_with_one_warning(monkeypatch):
    calls = []
    monkeypatch.setattr(skhtm._jit, "numba", _refusing_numba(calls))
    monkeypatch.setattr(skhtm._jit, "_warned", False)
    monkeypatch.delenv("SKHTM_NUMBA_CACHE", raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        add, count_above, scale = (skhtm._jit.jit(f) for f in (_add, _count_above, _scale))
    # Each kernel asked for a cache, was refused, and was compiled without one.
    assert calls == [True, False] * 3
    cache_warnings = [w for w in caught if issubclass(w.category, NumbaCacheWarning)]
    assert len(cache_warnings) == 1, [str(w.message) for w in caught]
    message = str(cache_warnings[0].message)
    assert "no locator available" in message and "SKHTM_NUMBA_CACHE=0" in message
    # They are real compiled kernels, and they work.
    assert all(isinstance(k, Dispatcher) for k in (add, count_above, scale))
    assert add(2, 3) == 5
    assert count_above(np.array([0.5, 2.0, 3.0]), 1.0) == 2
    np.testing.assert_array_equal(scale(np.arange(3.0), 2.0), [0.0, 2.0, 4.0])


def test_caching_switched_off_asks_numba_for_no_cache_and_says_nothing(monkeypatch):
    calls = []
    monkeypatch.setattr(skhtm._jit, "numba", _refusing_numba(calls))
    monkeypatch.setattr(skhtm._jit, "_warned", False)
    monkeypatch.setenv("SKHTM_NUMBA_CACHE", "0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        add = skhtm._jit.jit(_add)
    assert calls == [False]
    assert add(1, 1) == 2


# The subprocess scripts below. Each prints one JSON line: a digest of what
# the estimators computed, the files in NUMBA_CACHE_DIR, and numba's cache
# statistics for every skhtm kernel the run compiled or loaded.
_PIPELINE = """
import hashlib, json, os, sys, warnings
import numpy as np
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline
from numba.core.dispatcher import Dispatcher

def outputs(workload):
    from skhtm import (PatchSpatialPooler, SaccadeEncoder, SpatialPoolerTransformer,
                       TemporalMemoryTransformer)
    images = load_digits().images[:40]
    binary = (images.reshape(40, -1) > 6).astype(np.uint8)
    if workload == "pipeline":    # every kernel: SP, TM and the patch pooler's
        features = make_pipeline(
            SaccadeEncoder(n_glimpses=3, fovea_shape=4, n_levels=2, gaze="scan"),
            SpatialPoolerTransformer(column_shape=128, local_area_density=0.08,
                                     random_state=0),
            TemporalMemoryTransformer(cells_per_column=4, activation_threshold=4,
                                      min_threshold=3, max_new_synapse_count=8,
                                      random_state=0))
        patches = PatchSpatialPooler(SpatialPoolerTransformer(column_shape=32, random_state=0),
                                     patch_shape=3, pool_grid=2, random_state=0)
        return [features.fit(images).transform(images), patches.fit(images).transform(images)]
    if workload == "sp":          # a small Spatial Pooler, fit and transform
        return [SpatialPoolerTransformer(column_shape=64, random_state=0).fit_transform(binary)]
    # A Spatial Pooler fitted by the test, pickled: only its transform compiles.
    import pickle
    with open(workload, "rb") as file:
        return [pickle.load(file).transform(binary)]

def run(workload):
    digest = hashlib.sha256()
    for out in outputs(workload):
        out = np.asarray(out)
        digest.update(repr((out.shape, str(out.dtype))).encode())
        digest.update(np.ascontiguousarray(out).tobytes())
    kernels = {}
    for name, module in list(sys.modules.items()):
        if name.startswith("skhtm"):
            for attr, value in list(vars(module).items()):
                if isinstance(value, Dispatcher) and value.signatures:
                    stats = value.stats
                    kernels[name + "." + attr] = [sum(stats.cache_hits.values()),
                                                  sum(stats.cache_misses.values())]
    cache_dir = os.environ["NUMBA_CACHE_DIR"]
    files = sorted(os.path.relpath(os.path.join(d, f), cache_dir)
                   for d, _, names in os.walk(cache_dir) for f in names)
    return {"digest": digest.hexdigest(), "kernels": kernels, "files": files}
"""

_REPORT = """
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    result = run(sys.argv[1])      # imports skhtm, so its import's warnings count too
result["warnings"] = [w.category.__name__ for w in caught]
print(json.dumps(result))
"""

_RUN = _PIPELINE + _REPORT

# numba refuses cache=True (as when no cache folder can be written) for every
# kernel skhtm defines, from the first import on.
_RUN_REFUSED = _PIPELINE + """
import numba
_njit = numba.njit
def njit(*args, cache=False, **kwargs):
    if cache:
        raise RuntimeError("cannot cache function: no locator available for file 'skhtm'")
    return _njit(*args, cache=cache, **kwargs)
numba.njit = njit
""" + _REPORT


def _start(script, cache_dir, *args, **env):
    environment = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir), **env}
    for name in ("NUMBA_DISABLE_JIT", "SKHTM_NUMBA_CACHE"):
        if name not in env:
            environment.pop(name, None)
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *map(str, args)],
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _result(process, timeout=600):
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def _cache_files(result):
    return [f for f in result["files"] if f.endswith((".nbi", ".nbc"))]


def _sp_digest(sp, X):
    out = np.asarray(sp.transform(X))
    digest = hashlib.sha256(repr((out.shape, str(out.dtype))).encode())
    digest.update(np.ascontiguousarray(out).tobytes())
    return digest.hexdigest()


def test_uncached_when_numba_refuses_the_cache(tmp_path):
    # Importing skhtm defines every kernel (one warning for all of them); a
    # fitted Spatial Pooler's transform then compiles uncached and computes
    # what it computes here.
    X = (load_digits().images[:40].reshape(40, -1) > 6).astype(np.uint8)
    sp = SpatialPoolerTransformer(column_shape=64, random_state=0).fit(X)
    with open(tmp_path / "sp.pkl", "wb") as file:
        pickle.dump(sp, file)
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    result = _result(_start(_RUN_REFUSED, cache_dir, tmp_path / "sp.pkl"))
    assert result["kernels"], "no skhtm kernel was compiled"
    assert result["warnings"].count("NumbaCacheWarning") == 1   # once for all the kernels
    assert _cache_files(result) == []
    # Compiled in this process, nothing loaded from a cache.
    assert all(hits == 0 for hits, _ in result["kernels"].values()), result["kernels"]
    assert result["digest"] == _sp_digest(sp, X)


def test_caching_off_writes_no_cache_files(tmp_path):
    result = _result(_start(_RUN, tmp_path, "sp", SKHTM_NUMBA_CACHE="0"))
    assert result["kernels"], "no skhtm kernel was compiled"
    assert result["files"] == []
    assert "NumbaCacheWarning" not in result["warnings"]       # off on purpose: silent
    assert all(hits == 0 for hits, _ in result["kernels"].values()), result


@pytest.fixture(scope="module")
def two_processes_compiling_at_once(tmp_path_factory):
    """Two fresh processes that compile every kernel at the same time, writing
    to the same empty cache folder; then a third that finds the cache."""
    cache_dir = tmp_path_factory.mktemp("numba_cache")
    first, second = _start(_RUN, cache_dir, "pipeline"), _start(_RUN, cache_dir, "pipeline")
    results = [_result(first), _result(second)]
    results.append(_result(_start(_RUN, cache_dir, "pipeline")))
    return results


def test_two_processes_compiling_at_once_agree(two_processes_compiling_at_once):
    first, second, _ = two_processes_compiling_at_once
    assert first["kernels"], "no skhtm kernel was compiled"
    assert first["digest"] == second["digest"]
    assert "NumbaCacheWarning" not in first["warnings"] + second["warnings"]
    # A process that finds a caller already cached by the other loads it and
    # never compiles the helpers inlined into it (e.g. _patches._scaled), so one
    # may list fewer kernels than the other, depending on who wrote first; never
    # different ones.
    a, b = set(first["kernels"]), set(second["kernels"])
    assert a <= b or b <= a, (a ^ b)


def test_compiled_kernels_are_cached_and_loaded_by_the_next_process(
        two_processes_compiling_at_once):
    first, _, later = two_processes_compiling_at_once
    # An index and machine code in NUMBA_CACHE_DIR for every kernel that ran
    # (numba names them after the kernel's module and function).
    files = _cache_files(later)
    for kernel in first["kernels"]:
        module, function = kernel.rsplit(".", 1)
        stem = f"{module.rsplit('.', 1)[-1]}.{function}-"
        assert any(f.rsplit("/", 1)[-1].startswith(stem) and f.endswith(".nbi")
                   for f in files), (kernel, files)
    # The later process compiled nothing: every kernel it called came from the
    # cache (kernels only called by other kernels are inside their callers'
    # machine code, so they may not show up), and computed the same.
    assert later["kernels"] and set(later["kernels"]) <= set(first["kernels"])
    for kernel, (hits, misses) in later["kernels"].items():
        assert hits >= 1 and misses == 0, (kernel, hits, misses)
    assert later["digest"] == first["digest"]


_GRID_SEARCH = """
import json
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from skhtm import SpatialPoolerTransformer, ThermometerEncoder

X, y = load_digits(return_X_y=True)
X, y = X[:240], y[:240]
pipeline = make_pipeline(
    ThermometerEncoder(n_thresholds=2),
    SpatialPoolerTransformer(column_shape=64, input_shape=(8, 8, 2), random_state=0),
    LogisticRegression(max_iter=200))
grid = {"spatialpoolertransformer__local_area_density": [0.03, 0.1]}
results = {}
# n_jobs=2 first: two loky workers compile the kernels at once into the empty
# NUMBA_CACHE_DIR; then n_jobs=1 in this process.
for n_jobs in (2, 1):
    search = GridSearchCV(pipeline, grid, cv=3, n_jobs=n_jobs).fit(X, y)
    results[n_jobs] = {"best_params": search.best_params_,
                       "mean_test_score": search.cv_results_["mean_test_score"].tolist(),
                       "split0_test_score": search.cv_results_["split0_test_score"].tolist()}
print(json.dumps(results))
"""


def test_grid_search_under_loky_equals_n_jobs_1(tmp_path):
    results = _result(_start(_GRID_SEARCH, tmp_path))
    parallel, serial = results["2"], results["1"]
    assert parallel == serial
    assert len(set(serial["mean_test_score"])) > 1    # the grid's choices make a difference


# --------------------------------------------------------------- threads


@pytest.fixture(scope="module")
def images():
    return load_digits().images[:96]


def _binary(images):
    return (images.reshape(len(images), -1) > 6).astype(np.uint8)


def _fitted(name, images):
    if name == "SpatialPoolerTransformer":
        X = _binary(images)
        return SpatialPoolerTransformer(column_shape=128, random_state=0).fit(X), X
    if name == "TemporalMemoryTransformer":
        sdrs = SpatialPoolerTransformer(column_shape=64, local_area_density=0.1,
                                        random_state=0).fit_transform(_binary(images))
        X = np.stack([np.roll(sdrs, -i, axis=0)[:6] for i in range(len(sdrs))])
        tm = TemporalMemoryTransformer(cells_per_column=4, activation_threshold=3,
                                       min_threshold=2, random_state=0).fit(X)
        return tm, X
    if name == "PatchSpatialPooler":
        patch = PatchSpatialPooler(SpatialPoolerTransformer(column_shape=32, random_state=0),
                                   patch_shape=3, pool_grid=2, random_state=0)
        return patch.fit(images), images
    return SaccadeEncoder(n_glimpses=4, fovea_shape=3, n_levels=2,
                          random_state=0).fit(images), images


@pytest.mark.parametrize("name", ["SpatialPoolerTransformer", "TemporalMemoryTransformer",
                                  "PatchSpatialPooler", "SaccadeEncoder"])
def test_threads_sharing_one_fitted_estimator_agree_with_one_thread(images, name):
    estimator, X = _fitted(name, images)
    # Different and overlapping batches, each several times, in scrambled order.
    batches = [slice(0, 96), slice(0, 40), slice(20, 60), slice(50, 96), slice(7, 8),
               slice(30, 90), slice(0, 1), slice(60, 96)]
    expected = [np.asarray(estimator.transform(X[s])) for s in batches]
    assert any(e.any() for e in expected)
    order = np.random.RandomState(0).permutation(np.repeat(np.arange(len(batches)), 4))
    with ThreadPoolExecutor(max_workers=4) as pool:
        outputs = list(pool.map(lambda i: estimator.transform(X[batches[i]]), order))
    for i, out in zip(order, outputs):
        np.testing.assert_array_equal(np.asarray(out), expected[i])


@pytest.mark.parametrize("name", ["SpatialPoolerTransformer", "TemporalMemoryTransformer",
                                  "PatchSpatialPooler", "SaccadeEncoder"])
@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_n_jobs_threads_under_any_active_joblib_backend(images, name, backend):
    # An estimator's chunks are threads sharing its output, whatever joblib
    # backend the caller made active (parallel_config(backend="loky" or "dask")
    # around a grid search): a chunk sent to another process would write its
    # rows into a copy, and they would come back as zeros.
    from joblib import parallel_config

    estimator, X = _fitted(name, images)
    X = np.concatenate([X] * (7 if name in ("SpatialPoolerTransformer", "SaccadeEncoder")
                              else 2))                 # several transform chunks
    expected = np.asarray(estimator.set_params(n_jobs=1).transform(X))
    with parallel_config(backend=backend):
        out = np.asarray(estimator.set_params(n_jobs=2).transform(X))
    np.testing.assert_array_equal(out, expected)


# ----------------------------------------------------------------- pandas


def _pandas_cases(images):
    binary = _binary(images)
    sdrs = SpatialPoolerTransformer(column_shape=64, local_area_density=0.1,
                                    random_state=0).fit_transform(binary)
    sequences = np.stack([np.roll(sdrs, -i, axis=0)[:5] for i in range(20)])
    tm = dict(cells_per_column=4, activation_threshold=3, min_threshold=2, random_state=0)
    return {
        "sp": (SpatialPoolerTransformer(column_shape=32, random_state=0), binary),
        "sp_sequences_pooled_by_sequence_pooler": (SequencePooler(pooling="count"),
                                                   sequences),
        "tm_pooled": (TemporalMemoryTransformer(**tm), sequences),
        "tm_stream": (TemporalMemoryTransformer(**tm), sdrs[:30]),
        "patch": (PatchSpatialPooler(SpatialPoolerTransformer(column_shape=16, random_state=0),
                                     patch_shape=3, pool_grid=2, random_state=0), images),
        "thermometer": (ThermometerEncoder(n_thresholds=3), images.reshape(len(images), -1)),
    }


@pytest.mark.parametrize("case", ["sp", "sp_sequences_pooled_by_sequence_pooler", "tm_pooled",
                                  "tm_stream", "patch", "thermometer"])
def test_set_output_pandas(images, case):
    estimator, X = _pandas_cases(images[:40])[case]
    plain = estimator.fit(X).transform(X)
    plain = plain.toarray() if hasattr(plain, "toarray") else plain
    frame = estimator.set_output(transform="pandas").transform(X)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == list(estimator.get_feature_names_out())
    assert frame.shape == plain.shape
    np.testing.assert_array_equal(frame.to_numpy(), plain)
    # fit_transform too, and from a DataFrame whose index it keeps.
    if X.ndim == 2:
        index = pd.RangeIndex(100, 100 + len(X))
        again = estimator.fit_transform(pd.DataFrame(X.reshape(len(X), -1), index=index))
        assert again.index.equals(index)
        np.testing.assert_array_equal(again.to_numpy(), plain)
