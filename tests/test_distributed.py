"""Scale-out: the same results on a dask.distributed cluster as with n_jobs=1, and chunked
transforms of large inputs identical whatever the chunking or n_jobs."""

import numpy as np
import pytest
from joblib import Parallel, delayed, parallel_config
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.utils import gen_even_slices

from skhtm import (
    PatchSpatialPooler,
    SaccadeEncoder,
    SpatialPoolerTransformer,
    TemporalMemoryTransformer,
    ThermometerEncoder,
)

GRID = {"spatialpoolertransformer__local_area_density": [0.04, 0.08],
        "logisticregression__C": [0.1, 1.0]}


def _pipeline():
    return make_pipeline(ThermometerEncoder(n_thresholds=2),
                         SpatialPoolerTransformer(column_shape=128, input_shape=(8, 8, 2),
                                                  random_state=0),
                         LogisticRegression(max_iter=300))


def _features():
    """Binary glimpse SDR sequences (SaccadeEncoder + SP), then the TM on them."""
    return make_pipeline(
        SaccadeEncoder(n_glimpses=3, fovea_shape=4, n_levels=2, gaze="random", random_state=0),
        SpatialPoolerTransformer(column_shape=128, local_area_density=0.08, random_state=0),
        TemporalMemoryTransformer(cells_per_column=4, activation_threshold=4, min_threshold=3,
                                  max_new_synapse_count=8, random_state=0))


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:400], y[:400]


@pytest.fixture(scope="module")
def worker_cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("worker_numba_cache")


@pytest.fixture(scope="module")
def dask_client(worker_cache_dir):
    import dask.distributed as distributed  # in the test extra: never skipped
    # Worker processes, so that estimators really travel by pickle; with an
    # empty numba cache of their own, so that they compile the kernels at once.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None,
                                  env={"NUMBA_CACHE_DIR": str(worker_cache_dir)}) as cluster:
        with distributed.Client(cluster) as client:
            yield client


def test_grid_search_on_dask_equals_n_jobs_1(dask_client, digits):
    from dask.distributed import get_task_stream

    X, y = digits
    serial = GridSearchCV(_pipeline(), GRID, cv=3, n_jobs=1).fit(X, y)
    with get_task_stream(dask_client) as tasks, parallel_config(backend="dask"):
        distributed = GridSearchCV(_pipeline(), GRID, cv=3, n_jobs=-1).fit(X, y)
    assert len(tasks.data) >= 12                      # the fits ran on the cluster
    assert distributed.best_params_ == serial.best_params_
    for key in ("mean_test_score", "std_test_score", "split0_test_score", "rank_test_score"):
        np.testing.assert_array_equal(distributed.cv_results_[key], serial.cv_results_[key])
    np.testing.assert_array_equal(distributed.predict_proba(X), serial.predict_proba(X))


def test_chunked_transform_on_dask_equals_whole(dask_client, digits):
    X, y = digits
    features = _features().fit(X, y)
    whole = features.transform(X)
    with parallel_config(backend="dask"):
        parts = Parallel(n_jobs=-1)(delayed(features.transform)(X[s])
                                    for s in gen_even_slices(len(X), 7))
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_estimator_n_jobs_under_dask_backend_equals_n_jobs_1(dask_client, digits):
    # The estimators' own chunked transforms, sent to the cluster by the backend.
    X, y = digits
    X = np.concatenate([X] * 2)                      # more than one transform chunk each
    features = _features().fit(X)
    whole = features.transform(X)
    parallel = clone(features).set_params(saccadeencoder__n_jobs=2,
                                          spatialpoolertransformer__n_jobs=2,
                                          temporalmemorytransformer__n_jobs=2).fit(X)
    with parallel_config(backend="dask"):
        np.testing.assert_array_equal(parallel.transform(X), whole)


def test_large_transform_in_chunks_over_n_jobs_is_identical(digits):
    # No dask needed: threads (n_jobs) and process-level slices (loky) alike.
    X, _ = digits
    X = np.concatenate([X] * 3)
    features = _features().fit(X[:400])
    whole = features.transform(X)
    threaded = clone(features).set_params(saccadeencoder__n_jobs=2,
                                          spatialpoolertransformer__n_jobs=2,
                                          temporalmemorytransformer__n_jobs=2).fit(X[:400])
    np.testing.assert_array_equal(threaded.transform(X), whole)
    parts = Parallel(n_jobs=2, backend="loky")(delayed(features.transform)(X[s])
                                               for s in gen_even_slices(len(X), 5))
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_compiled_kernels_on_dask_workers_compiling_at_once(dask_client, digits,
                                                             worker_cache_dir):
    # Both workers start with an empty cache and compile the patch kernels at
    # the same time (a barrier: each task waits until both have started); the
    # results equal this process's and the workers leave their machine code in
    # the cache.
    import numba
    from dask.distributed import Event

    X, y = digits
    images = X.reshape(-1, 8, 8)
    patches = PatchSpatialPooler(SpatialPoolerTransformer(column_shape=32, random_state=0),
                                 patch_shape=3, pool_grid=2, random_state=0).fit(images)
    whole = patches.transform(images)
    cache_dirs = dask_client.run(lambda: numba.config.CACHE_DIR)
    assert set(cache_dirs.values()) == {str(worker_cache_dir)}
    workers = list(cache_dirs)

    def transform_together(estimator, part, i):
        Event(f"started-{i}").set()
        if not Event("go").wait(timeout=60):
            raise TimeoutError("the other task never started")
        return estimator.transform(part)

    halves = np.array_split(images, 2)
    futures = [dask_client.submit(transform_together, patches, part, i, workers=[worker],
                                  pure=False)
               for i, (worker, part) in enumerate(zip(workers, halves))]
    for i in range(2):
        assert Event(f"started-{i}", client=dask_client).wait(timeout=60)
    Event("go", client=dask_client).set()
    np.testing.assert_array_equal(np.concatenate(dask_client.gather(futures)), whole)
    assert list(worker_cache_dir.rglob("*.nbi")), "the workers cached no kernel"
