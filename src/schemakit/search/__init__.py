"""Search: full text, vectors, and both at once.

Full text comes from :class:`~schemakit.mixins.searchable.SearchableMixin`, vectors from
:func:`embedding_column`, and :func:`hybrid_search` fuses both in one statement. pgvector-python gives the
vector type (``pip install 'schemakit[search]'``); on SQLite, vector distances come from sqlite-vec where it
loads, and from plain SQL otherwise.
"""

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
