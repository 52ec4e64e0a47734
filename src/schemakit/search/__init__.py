"""Search: full text, vectors, and both at once.

Full text comes from :class:`~schemakit.mixins.searchable.SearchableMixin`, vectors from
:func:`embedding_column`, and :func:`hybrid_search` fuses both in one statement. pgvector-python gives the
vector type (``pip install 'schemakit[search]'``); on SQLite, vector distances come from sqlite-vec where it
loads, and from plain SQL otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from schemakit.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from schemakit.search.document import search_document, search_vector_type
    from schemakit.search.hybrid import EXACT_ROWS, SearchHit, hybrid_search, hybrid_search_async
    from schemakit.search.vectors import embedding_column

__all__ = [
    "EXACT_ROWS",
    "SearchHit",
    "embedding_column",
    "hybrid_search",
    "hybrid_search_async",
    "search_document",
    "search_vector_type",
]

# Loaded on first use: migrations read schemakit.search.options while Alembic starts, and must not pay for the
# ORM and the asyncio extension that hybrid search imports.
_HOMES = {
    "EXACT_ROWS": "schemakit.search.hybrid",
    "SearchHit": "schemakit.search.hybrid",
    "embedding_column": "schemakit.search.vectors",
    "hybrid_search": "schemakit.search.hybrid",
    "hybrid_search_async": "schemakit.search.hybrid",
    "search_document": "schemakit.search.document",
    "search_vector_type": "schemakit.search.document",
}


__getattr__, __dir__ = lazy_exports(globals(), _HOMES)
