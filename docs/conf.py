"""Sphinx configuration of einsdiff's documentation site.

Why Sphinx (autodoc, napoleon, the PyData theme) rather than MkDocs with mkdocstrings: autodoc
imports the live package, so the functions the registry builds at import time (``ed.exp``,
``ed.tanh`` and the other elementwise builders) are documented from their own docstrings;
mkdocstrings reads the sources statically and could not find them (tried: "einsdiff.arccos
could not be found"; with forced inspection it could not resolve ``einsdiff.abs``). Markdown
pages are read by MyST, so the design notes stay Markdown. Build it with warnings as errors:

    python -m sphinx -W --keep-going -b html docs docs/_build
"""

import einsdiff

project = "einsdiff"
author = "the einsdiff developers"
release = einsdiff.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "README.md"]
autodoc_typehints = "none"  # the docstrings say what each argument may be
html_theme = "pydata_sphinx_theme"
html_title = "einsdiff"
