"""Sphinx configuration of the skhtm documentation.

Build (from the repository root):

    .venv/bin/pip install -q -e ".[docs]" && .venv/bin/sphinx-build -b html docs docs/_build/html

Fast mode, as CI runs it: ``SKHTM_DOCS_FAST=1`` before the same command. It
skips what needs the network (intersphinx inventories) and stops at the first
gallery example that fails; every example still runs, so a broken one fails
the build in either mode.
"""

import os
import sys
from pathlib import Path

from threadpoolctl import threadpool_limits

import skhtm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FAST = os.environ.get("SKHTM_DOCS_FAST", "0") not in ("", "0")

# The gallery's problems are small: one BLAS thread each is fastest, and on a
# shared machine extra threads only spin against other work.
threadpool_limits(1)

project = "skhtm"
author = "skhtm developers"
copyright = "skhtm developers, BSD-3-Clause"
release = skhtm.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.md",
                    "sg_execution_times.rst"]

html_theme = "alabaster"
html_theme_options = {"description": "HTM as scikit-learn estimators", "fixed_sidebar": True,
                      "page_width": "1100px", "sidebar_width": "230px"}
html_title = f"skhtm {release}"

autosummary_generate = True
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

myst_heading_anchors = 3

intersphinx_mapping = {} if FAST else {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable/", None),
    "scipy": ("https://docs.scipy.org/doc/scipy/", None),
    "sklearn": ("https://scikit-learn.org/stable/", None),
    "joblib": ("https://joblib.readthedocs.io/en/stable/", None),
    "matplotlib": ("https://matplotlib.org/stable/", None),
}
intersphinx_timeout = 10

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    # The README's demo is a command-line script, not a gallery example.
    "ignore_pattern": r"demo_digits\.py",
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": FAST,
    "only_warn_on_example_error": False,
    "doc_module": ("skhtm",),
    "backreferences_dir": "generated/backreferences",
    "download_all_examples": False,
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "show_memory": False,
}

