"""The searchable text of a row: a weighted ``tsvector`` on PostgreSQL, computed by the database.

:func:`search_document` is the expression of a searchable model's generated ``search_vector`` column
(``GENERATED ALWAYS AS (...) STORED``): on PostgreSQL ``setweight(to_tsvector(language, coalesce(column, '')),
weight)`` for each column, joined; on SQLite, whose search is an FTS5 table (:mod:`schemakit.search.fts`), the
columns' text joined. Autogenerate writes the call itself into a revision, so one revision serves both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Computed, Text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.types import TypeEngine

from schemakit.errors import SchemakitError

__all__ = ["WEIGHTS", "SearchComputed", "SearchDocument", "search_computed", "search_document", "search_vector_type"]

#: PostgreSQL's four weights, highest first.
WEIGHTS = ("A", "B", "C", "D")


class SearchDocument(ColumnElement[Any]):
    """The expression of a ``search_vector`` column: ``columns`` (name to weight) in ``language``."""

    inherit_cache = False  # DDL only: never part of a cached statement
    type = TSVECTOR()

    def __init__(self, columns: Mapping[str, str], language: str) -> None:
        if not columns:
            raise SchemakitError("a searchable model names at least one text column")
        for column, weight in columns.items():
            if weight not in WEIGHTS:
                raise SchemakitError(f"the search weight of {column!r} is {weight!r}; use one of A, B, C, D")
        if not language.replace("_", "").isalnum():
            raise SchemakitError(f"{language!r} is not a text search configuration name")
        self.columns = dict(columns)
        self.language = language


def search_document(columns: Mapping[str, str], language: str = "english") -> SearchDocument:
    """The generated ``search_vector`` column's expression (see :class:`SearchDocument`)."""
    return SearchDocument(columns, language)


class SearchComputed(Computed):
    """``GENERATED ALWAYS AS (<search document>)``: ``STORED`` on PostgreSQL, ``VIRTUAL`` on SQLite.

    SQLite cannot add a stored column to an existing table, and searches its FTS5 table anyway.
    """

    def __init__(self, document: SearchDocument) -> None:
        super().__init__(document, persisted=True)
        self.document = document


def search_computed(columns: Mapping[str, str], language: str = "english") -> SearchComputed:
    """The ``search_vector`` column's generation: what a revision writes for a searchable model."""
    return SearchComputed(SearchDocument(columns, language))


def search_vector_type() -> TypeEngine[Any]:
    """The ``search_vector`` column's type: ``tsvector`` on PostgreSQL, text elsewhere."""
    return TSVECTOR().with_variant(Text(), "sqlite")


@compiles(SearchDocument, "postgresql")
def _postgresql(element: SearchDocument, compiler: SQLCompiler, **_kw: Any) -> str:
    quote = compiler.preparer.quote
    return " || ".join(
        f"setweight(to_tsvector('{element.language}'::regconfig, coalesce({quote(column)}, '')), '{weight}')"
        for column, weight in element.columns.items()
    )


@compiles(SearchDocument)
def _other(element: SearchDocument, compiler: SQLCompiler, **_kw: Any) -> str:
    return " || ' ' || ".join(f"coalesce({compiler.preparer.quote(column)}, '')" for column in element.columns)


@compiles(SearchComputed, "sqlite")
def _sqlite_generated(element: SearchComputed, compiler: Any, **_kw: Any) -> str:
    return f"GENERATED ALWAYS AS ({compiler.sql_compiler.process(element.sqltext, literal_binds=True)}) VIRTUAL"
