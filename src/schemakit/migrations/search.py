"""Migrations for search: the operations, what autogenerate writes, and what it leaves alone.

* ``op.create_search_index(table, key=..., columns={...}, language=...)`` / ``op.drop_search_index(...)``:
  SQLite's FTS5 table of a searchable table and its triggers (:mod:`schemakit.search.fts`), filled from the
  rows already there; nothing on PostgreSQL, whose generated ``search_vector`` column and GIN index are
  ordinary schema that autogenerate writes as such.
* ``op.create_vector_extension()`` / ``op.drop_vector_extension()``: ``CREATE EXTENSION IF NOT EXISTS vector``
  on PostgreSQL; nothing on SQLite.

Autogenerate (through :func:`compare_search` and :func:`render_search_item`) writes ``search_computed(...)``
and ``vector_type(...)`` (with their imports) for the generated column and the embedding column, so one
revision serves both dialects; the search operation after a searchable table gains its ``search_vector``; the
extension before the first embedding column. On SQLite it leaves the
FTS5 tables (``<table>_search`` and FTS5's own ``<table>_search_*``) and PostgreSQL's GIN and HNSW indexes out of
its comparison.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from alembic.autogenerate import renderers
from alembic.autogenerate.api import AutogenContext
from alembic.operations import MigrateOperation, Operations, ops
from sqlalchemy import Connection, Table, text
from sqlalchemy.dialects.postgresql import TSVECTOR

from schemakit.search.document import SearchComputed
from schemakit.search.fts import drop_sqlite_search_ddl, sqlite_search_ddl
from schemakit.search.options import POSTGRESQL_ONLY, embedding_options, searchable

__all__ = [
    "CreateSearchIndexOp",
    "CreateVectorExtensionOp",
    "DropSearchIndexOp",
    "DropVectorExtensionOp",
    "compare_search",
    "is_search_table",
    "postgresql_only",
    "render_search_item",
]

log = logging.getLogger(__name__)
_FTS_TABLE = re.compile(r".+_search(_(data|idx|content|docsize|config))?")


def is_search_table(name: str) -> bool:
    """Whether ``name`` is an FTS5 table of a searchable table (or one of FTS5's own tables behind it)."""
    return bool(_FTS_TABLE.fullmatch(name))


def postgresql_only(obj: Any, compare_to: Any) -> bool:
    """Whether an index (from the models or the database) is one PostgreSQL alone has (GIN, HNSW)."""
    return any(bool(getattr(item, "info", {}).get(POSTGRESQL_ONLY)) for item in (obj, compare_to) if item is not None)


class _SearchIndexOperation(MigrateOperation):
    def __init__(self, table_name: str, *, key: str, columns: dict[str, str], language: str = "english") -> None:
        self.table_name = table_name
        self.key = key
        self.columns = dict(columns)
        self.language = language


@Operations.register_operation("create_search_index")
class CreateSearchIndexOp(_SearchIndexOperation):
    """SQLite's FTS5 table of a searchable table, kept in step by triggers; nothing on PostgreSQL."""

    @classmethod
    def create_search_index(
        cls, operations: Operations, table_name: str, *, key: str, columns: dict[str, str], language: str = "english"
    ) -> Any:
        """Make ``table_name`` searchable on SQLite (its FTS5 table, filled, and its triggers)."""
        return operations.invoke(cls(table_name, key=key, columns=columns, language=language))

    def reverse(self) -> DropSearchIndexOp:
        """The operation that undoes this one."""
        return DropSearchIndexOp(self.table_name, key=self.key, columns=self.columns, language=self.language)


@Operations.register_operation("drop_search_index")
class DropSearchIndexOp(_SearchIndexOperation):
    """Remove SQLite's FTS5 table of a table and its triggers; nothing on PostgreSQL."""

    @classmethod
    def drop_search_index(
        cls, operations: Operations, table_name: str, *, key: str, columns: dict[str, str], language: str = "english"
    ) -> Any:
        """Remove the FTS5 table of ``table_name`` (SQLite)."""
        return operations.invoke(cls(table_name, key=key, columns=columns, language=language))

    def reverse(self) -> CreateSearchIndexOp:
        """The operation that undoes this one."""
        return CreateSearchIndexOp(self.table_name, key=self.key, columns=self.columns, language=self.language)


@Operations.register_operation("create_vector_extension")
class CreateVectorExtensionOp(MigrateOperation):
    """``CREATE EXTENSION IF NOT EXISTS vector`` (PostgreSQL)."""

    @classmethod
    def create_vector_extension(cls, operations: Operations) -> Any:
        """Install pgvector in the database (PostgreSQL; nothing on SQLite)."""
        return operations.invoke(cls())

    def reverse(self) -> DropVectorExtensionOp:
        """The operation that undoes this one."""
        return DropVectorExtensionOp()


@Operations.register_operation("drop_vector_extension")
class DropVectorExtensionOp(MigrateOperation):
    """``DROP EXTENSION IF EXISTS vector`` (PostgreSQL)."""

    @classmethod
    def drop_vector_extension(cls, operations: Operations) -> Any:
        """Remove pgvector from the database (PostgreSQL; nothing on SQLite)."""
        return operations.invoke(cls())

    def reverse(self) -> CreateVectorExtensionOp:
        """The operation that undoes this one."""
        return CreateVectorExtensionOp()


def _on_sqlite(operations: Operations, statements: list[str]) -> None:
    if operations.get_context().dialect.name == "sqlite":
        for statement in statements:
            operations.execute(statement)


@Operations.implementation_for(CreateSearchIndexOp)
def _create_search_index(operations: Operations, operation: CreateSearchIndexOp) -> None:
    _on_sqlite(
        operations, sqlite_search_ddl(operation.table_name, operation.key, operation.columns, operation.language)
    )


@Operations.implementation_for(DropSearchIndexOp)
def _drop_search_index(operations: Operations, operation: DropSearchIndexOp) -> None:
    _on_sqlite(operations, drop_sqlite_search_ddl(operation.table_name))


@Operations.implementation_for(CreateVectorExtensionOp)
def _create_vector_extension(operations: Operations, _operation: CreateVectorExtensionOp) -> None:
    if operations.get_context().dialect.name == "postgresql":
        operations.execute("CREATE EXTENSION IF NOT EXISTS vector")


@Operations.implementation_for(DropVectorExtensionOp)
def _drop_vector_extension(operations: Operations, _operation: DropVectorExtensionOp) -> None:
    if operations.get_context().dialect.name == "postgresql":
        operations.execute("DROP EXTENSION IF EXISTS vector")


def _arguments(op: _SearchIndexOperation) -> str:
    language = f", language={op.language!r}" if op.language != "english" else ""
    return f"{op.table_name!r}, key={op.key!r}, columns={op.columns!r}{language}"


@renderers.dispatch_for(CreateSearchIndexOp)
def _render_create_search_index(_autogen_context: AutogenContext, op: CreateSearchIndexOp) -> str:
    return f"op.create_search_index({_arguments(op)})"


@renderers.dispatch_for(DropSearchIndexOp)
def _render_drop_search_index(_autogen_context: AutogenContext, op: DropSearchIndexOp) -> str:
    return f"op.drop_search_index({_arguments(op)})"


@renderers.dispatch_for(CreateVectorExtensionOp)
def _render_create_vector_extension(_autogen_context: AutogenContext, _op: CreateVectorExtensionOp) -> str:
    return "op.create_vector_extension()"


@renderers.dispatch_for(DropVectorExtensionOp)
def _render_drop_vector_extension(_autogen_context: AutogenContext, _op: DropVectorExtensionOp) -> str:
    return "op.drop_vector_extension()"


def render_search_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | None:
    """The revision code of a search column's generation or an embedding column's type, or ``None``."""
    if type_ == "server_default" and isinstance(obj, SearchComputed):
        autogen_context.imports.add("from schemakit.search.document import search_computed")
        document = obj.document
        language = f", {document.language!r}" if document.language != "english" else ""
        return f"search_computed({document.columns!r}{language})"
    if type_ == "type" and isinstance(obj, TSVECTOR):
        autogen_context.imports.add("from schemakit.search.document import search_vector_type")
        return "search_vector_type()"
    # pgvector's type, by name: pgvector is an optional dependency, and absent where no model uses it.
    if type_ == "type" and type(obj).__name__ == "VECTOR" and type(obj).__module__.startswith("pgvector."):
        autogen_context.imports.add("from schemakit.search.vectors import vector_type")
        return f"vector_type({obj.dim})"
    return None


def compare_search(
    autogen_context: AutogenContext, connection: Connection, upgrade_ops: ops.UpgradeOps, tables: list[Table]
) -> None:
    """Autogenerate's part for search, after the tables' own changes (the FTS5 table is filled from its table).

    Called by schemakit's comparator of server-side objects with the models' tables.
    """
    inspector = autogen_context.inspector
    tables = [table for table in tables if table.schema is None]
    existing = set(inspector.get_table_names())
    for table in tables:
        found = searchable(table)
        if not found:
            continue
        present = table.name in existing and "search_vector" in {c["name"] for c in inspector.get_columns(table.name)}
        if not present:
            upgrade_ops.ops.append(
                CreateSearchIndexOp(table.name, key=found["key"], columns=found["columns"], language=found["language"])
            )
            log.info("Detected a new searchable table %r", table.name)
    wants_vectors = any(embedding_options(column) for table in tables for column in table.columns)
    if wants_vectors and connection.dialect.name == "postgresql":
        installed = connection.scalar(text("SELECT count(*) FROM pg_extension WHERE extname = 'vector'"))
        if not installed:
            upgrade_ops.ops.insert(0, CreateVectorExtensionOp())
            log.info("Detected embedding columns without pgvector installed")
