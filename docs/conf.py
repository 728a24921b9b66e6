"""Sphinx configuration of the biper-theory site.

Build: ``python -m sphinx -W --keep-going -n -b html docs docs/_build/html`` (what CI runs).
The generated pages (API reference, errata, performance, figures, studies, notebooks) are
written by ``_ext/biper_docs.py`` into ``docs/_generated/`` at the start of every build.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(REPO))  # the package and benchmarks/ from this checkout

import biper_theory  # noqa: E402

project = "biper-theory"
author = "biper-theory developers"
copyright = "2026, biper-theory developers"
release = biper_theory.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax 3 shipped in the wheel, copied into _static/mathjax
    "numpydoc",
    "myst_nb",
    "biper_docs",
]

# _generated/include/ holds fragments that pages include, not pages of their own
exclude_patterns = ["_generated/include/**", "_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"

# --- math: served from this site, never from a CDN -------------------------------------
# Sphinx's default mathjax_path is a CDN URL; sphinx-mathjax-offline copies MathJax 3.2.2
# into _build/html/_static/mathjax and this path points at that copy.
mathjax_path = "mathjax/tex-chtml.js"

# --- API reference -----------------------------------------------------------------------
autosummary_generate = False  # the module pages are written by biper_docs, not stub files
autodoc_typehints = "none"  # the numpydoc Parameters/Returns sections carry the types
autodoc_member_order = "bysource"
autodoc_inherit_docstrings = False  # torch.autograd.Function and nn.Module docstrings are not ours
autodoc_default_options = {"exclude-members": "__init__, __new__"}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# Nitpicky mode (-n) checks every cross-reference; references into other projects (no
# intersphinx: the build is offline) are expected to be unresolved and are ignored here,
# so a broken reference into biper_theory still fails the build.
nitpick_ignore_regex = [
    # private helpers named in docstrings are not in the reference (by design)
    (r"py:.*", r"(.*\.)?_[A-Za-z].*"),
    (r"py:.*", r"(pickle|decimal|math|functools|inspect|importlib|tempfile|shutil)(\..*)?"),
    (r"py:.*", r"(numpy|np|scipy|matplotlib|torch|optuna|sympy|mpmath|pandas|statsmodels|sklearn)(\..*)?"),
    (r"py:.*", r"(typing|collections|pathlib|os|io|json|argparse|dataclasses|enum|types)(\..*)?"),
    (r"py:.*", r"(int|float|str|bool|bytes|dict|list|tuple|set|frozenset|object|callable|None)"),
    (r"py:.*", r"(ValueError|TypeError|RuntimeError|OSError|Exception|KeyError|OverflowError)"),
]

# numpydoc turns each References section into citations; a docstring that lists a reference
# without citing it in its text is not a broken link, so that warning alone is silenced.
suppress_warnings = ["ref.citation"]

# --- notebooks (myst-nb) ---------------------------------------------------------------
# The notebooks are committed without outputs; the build executes them (about 25 s for the
# three on 2 cores) in a temporary folder, and any error in a cell fails the build.
nb_execution_mode = "force"
nb_execution_in_temp = True
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_execution_show_tb = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

# --- HTML --------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = "biper-theory"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_show_sourcelink = False
html_copy_source = False
