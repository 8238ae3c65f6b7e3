"""Warnings and errors specific to skhtm."""

__all__ = ["InconsistentVersionWarning", "NumbaCacheWarning"]


class InconsistentVersionWarning(UserWarning):
    """An estimator was saved by one version of skhtm and loaded by another.

    Raised (as a warning) when a pickled or ``skops``-saved estimator is
    loaded. Its fitted state may not mean the same to this version: refit it,
    or load it with the version named in :attr:`original_version`.

    Parameters
    ----------
    estimator_name : str
        Class name of the loaded estimator.
    current_version : str
        The skhtm version loading it.
    original_version : str
        The skhtm version that saved it (``"unknown"`` for a model saved
        before versions were stored).
    """

    def __init__(self, *, estimator_name, current_version, original_version):
        self.estimator_name = estimator_name
        self.current_version = current_version
        self.original_version = original_version
        super().__init__(str(self))

    def __str__(self):
        return (f"Trying to unpickle estimator {self.estimator_name} from skhtm version "
                f"{self.original_version} when using version {self.current_version}. This "
                "might lead to breaking code or invalid results. Use at your own risk; refit "
                "the model with this version to be safe.")


class NumbaCacheWarning(UserWarning):
    """numba cannot write a cache for skhtm's compiled kernels.

    skhtm still imports and runs; its kernels are compiled again in every
    process (a few seconds each time). Point ``NUMBA_CACHE_DIR`` to a writable
    folder to cache them, or set ``SKHTM_NUMBA_CACHE=0`` to turn caching off
    without this warning.
    """
