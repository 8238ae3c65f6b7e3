"""Run one benchmark task in a fresh process and report that process's peak memory.

A process's peak resident set size never goes down, so a figure per pipeline
needs a process per pipeline: each task runs in a newly spawned interpreter
(not forked, so it starts without the parent's arrays) and reports its own
peak (``peak_rss_mib``). A task that the system kills for lack of memory ends that task
with an error, not the whole benchmark run.
"""

import multiprocessing
import resource
import sys
from concurrent.futures import ProcessPoolExecutor


def peak_rss_mib():
    """This process's peak resident set size so far, in MiB.

    On Linux the kernel's high-water mark of this process's own memory
    (``VmHWM``): ``getrusage``'s ``ru_maxrss`` survives ``exec``, so in a
    spawned child it starts at the parent's peak (a 250 MiB benchmark parent
    makes every child report at least 250 MiB). Elsewhere ``ru_maxrss``.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _measured(fn, args, kwargs):
    # The peak before the task is the interpreter with the task's module imported
    # (unpickling fn imported it): the floor under every figure, reported beside it.
    before = peak_rss_mib()
    result = fn(*args, **kwargs)
    return result, {"peak_rss_mib": round(peak_rss_mib(), 1),
                    "start_rss_mib": round(before, 1)}


def run_in_child(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` in a new spawned process.

    ``fn`` must be importable by name (a module-level function) and its
    arguments and result picklable. Returns ``(result, memory)`` where
    ``memory`` holds ``peak_rss_mib`` (the child's peak over its whole life)
    and ``start_rss_mib`` (its peak when the task started). An exception in
    the task is raised here; a child killed by a signal raises
    ``concurrent.futures.process.BrokenProcessPool``.
    """
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_measured, fn, args, kwargs).result()


def hold_mib(n_mib):
    """Write ``n_mib`` MiB and return its size: a known load for checking the figures."""
    # Repeating a non-zero byte writes every page (zeroed memory may stay unmapped).
    block = b"\x01" * (int(n_mib) * 2**20)
    return len(block)
