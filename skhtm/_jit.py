"""The one decorator every skhtm kernel is compiled with.

``@jit`` is ``numba.njit(cache=True, nogil=True)``: lazily compiled (no
signatures), without fastmath (permanence thresholds must compare exactly),
releasing the GIL so that estimators can thread over chunks of samples.

Caching: the first call of a kernel compiles it and writes the machine code
next to the module (``__pycache__``) or, where that folder cannot be written,
in numba's user-wide cache; later processes load it. When no cache folder can
be written at all, numba refuses ``cache=True`` when the kernel is defined;
skhtm then compiles without a cache (every process compiles again) and says so
once with a :class:`~skhtm.exceptions.NumbaCacheWarning`. ``SKHTM_NUMBA_CACHE=0``
turns caching off on purpose (no warning).

This module holds no kernel: numba's cache does not notice a change in a
jitted helper imported from another module, so each algorithm keeps all its
kernels in its own module.
"""

import os
import warnings

import numba

from .exceptions import NumbaCacheWarning

__all__ = ["jit", "caching_enabled"]

_warned = False


def caching_enabled():
    """Whether kernels are asked to cache (``SKHTM_NUMBA_CACHE`` is not 0/false/off/no)."""
    value = os.environ.get("SKHTM_NUMBA_CACHE", "1").strip().lower()
    return value not in ("0", "false", "off", "no")


def jit(func):
    """Compile ``func`` with numba: ``njit(cache=True, nogil=True)``, lazily."""
    global _warned
    if caching_enabled():
        try:
            return numba.njit(cache=True, nogil=True)(func)
        except RuntimeError as exc:  # "cannot cache function ...: no locator available"
            if not _warned:
                _warned = True
                warnings.warn(NumbaCacheWarning(
                    f"skhtm: numba cannot write a cache for its compiled kernels ({exc}); "
                    "they are compiled again in every process. Set NUMBA_CACHE_DIR to a "
                    "writable folder to cache them, or SKHTM_NUMBA_CACHE=0 to silence this."),
                    stacklevel=2)
    return numba.njit(cache=False, nogil=True)(func)
