"""What makes a table searchable and a column an embedding, kept in ``info`` (no ORM import).

Migrations read these while Alembic starts, so this module imports SQLAlchemy's Core alone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Table

__all__ = ["EMBEDDING", "POSTGRESQL_ONLY", "SEARCHABLE", "embedding_options", "searchable"]

#: The ``Table.info`` key of a searchable table's columns, weights and language.
SEARCHABLE = "schemakit.searchable"
#: The ``info`` key marking an index PostgreSQL alone has (autogenerate leaves it out elsewhere).
POSTGRESQL_ONLY = "schemakit.postgresql_only"
#: The ``Column.info`` key of an embedding column's distance and index parameters.
EMBEDDING = "schemakit.embedding"


def searchable(table: Table) -> dict[str, Any] | None:
    """What makes ``table`` searchable (``columns``, ``language``, ``key``), or ``None``."""
    found = table.info.get(SEARCHABLE)
    return dict(found) if found else None


def embedding_options(column: Column[Any]) -> dict[str, Any] | None:
    """An embedding column's ``distance``, ``m`` and ``ef_construction``, or ``None``."""
    found = column.info.get(EMBEDDING)
    return dict(found) if found else None
