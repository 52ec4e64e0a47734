"""Full-text search over a model's text columns: :class:`SearchableMixin`.

The model names its text columns and their weights (``A`` highest to ``D``) in ``__searchable__``, and may pick
a text search configuration in ``__search_language__`` (``english`` by default)::

    class Product(Entity, SoftDeleteMixin, SearchableMixin):
        __tablename__ = "products"
        __searchable__ = {"name": "A", "description": "B"}
        name: Mapped[str]
        description: Mapped[str | None]

On PostgreSQL the table gets ``search_vector``, a generated ``tsvector`` column (no trigger), with a GIN index
named by the convention (``idx_products_search_vector``). On SQLite it gets an FTS5 table kept in step by
triggers (:mod:`schemakit.search.fts`); ``search_vector`` is a plain generated text column there. Query both
with :func:`schemakit.search.hybrid_search`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from sqlalchemy import Connection, Index, Table, event, text
from sqlalchemy.orm import Mapped, Mapper, declared_attr, mapped_column

from schemakit.search.document import search_computed, search_vector_type
from schemakit.search.fts import sqlite_search_ddl
from schemakit.search.options import POSTGRESQL_ONLY, SEARCHABLE

__all__ = ["SearchableMixin"]


class SearchableMixin:
    """Full-text search over ``__searchable__`` (column name to weight), in ``__search_language__``."""

    __searchable__: ClassVar[Mapping[str, str]] = {}
    __search_language__: ClassVar[str] = "english"

    @declared_attr
    def search_vector(cls) -> Mapped[Any]:  # noqa: N805 - declared_attr is called with the class
        """The generated search document; deferred, so loading a row never reads it."""
        generated = search_computed(cls.__searchable__, cls.__search_language__)
        return mapped_column(search_vector_type(), generated, deferred=True, sort_order=95)


def _searchable(mapper: Mapper[Any], cls: type) -> None:
    table = mapper.local_table
    if not isinstance(table, Table) or SEARCHABLE in table.info:
        return
    (key,) = [column.name for column in table.primary_key.columns]
    searchable_class: type[SearchableMixin] = cls
    table.info[SEARCHABLE] = {
        "columns": dict(searchable_class.__searchable__),
        "language": searchable_class.__search_language__,
        "key": key,
    }
    # The GIN index belongs to the table; SQLite searches its FTS5 table instead.
    Index(None, table.c.search_vector, postgresql_using="gin", info={POSTGRESQL_ONLY: True}).ddl_if(
        dialect="postgresql"
    )
    event.listen(table, "after_create", _create_fts)


def _create_fts(table: Table, connection: Connection, **_kw: Any) -> None:
    if connection.dialect.name != "sqlite":
        return
    found = table.info[SEARCHABLE]
    for statement in sqlite_search_ddl(table.name, found["key"], found["columns"], found["language"]):
        connection.execute(text(statement))


event.listen(SearchableMixin, "after_mapper_constructed", _searchable, propagate=True)
