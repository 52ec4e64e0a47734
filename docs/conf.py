"""Sphinx configuration: the Markdown pages (MyST) and the API reference from the docstrings."""

import warnings
from importlib.metadata import version as _version

from sqlalchemy.exc import SAWarning

# Autodoc reads every class attribute; a mixin's declared_attr (SearchableMixin.search_vector) warns when read
# outside a mapped class, which only the documentation does.
warnings.filterwarnings("ignore", message="Unmanaged access of declarative attribute", category=SAWarning)

project = "schemakit"
author = "The schemakit authors"
release = _version("schemakit")
extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinxcontrib.mermaid",
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3
# The schema's ER diagram (docs/schema.md) is a ```mermaid fence, as GitHub renders it.
myst_fence_as_directive = ["mermaid"]
napoleon_google_docstring = True
napoleon_numpy_docstring = False
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
# The reference documents schemakit's own names; SQLAlchemy's, Alembic's and pydantic's live in their docs.
nitpicky = False
suppress_warnings = ["myst.xref_missing"]
html_theme = "alabaster"
autodoc_inherit_docstrings = False  # members inherited from SQLAlchemy point at its own docs
