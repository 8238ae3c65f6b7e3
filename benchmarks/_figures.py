"""Figures of the benchmarks: matplotlib is the optional ``bench`` extra."""

import sys


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend, or None (with a note on
    stderr) where matplotlib is not installed: the tables are still written."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed (pip install -e '.[bench]'): no figure", file=sys.stderr)
        return None
    return plt
