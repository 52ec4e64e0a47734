"""Reading the audit log: a row's history, and who changed what between two times; sync and async.

Each function takes a ``Connection`` or a ``Session`` (the async ones an ``AsyncConnection`` or an
``AsyncSession``) and returns :class:`AuditEntry` objects, oldest first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, MetaData, Select, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

from schemakit.audit_log.tables import audit_tables

__all__ = ["AuditEntry", "changes_between", "changes_between_async", "history", "history_async"]

_LOGS = audit_tables(MetaData())[0]


@dataclass(frozen=True)
class AuditEntry:
    """One recorded change: ``changes`` maps each changed column to ``[old, new]``."""

    id: int
    table: str
    row_id: str
    action: str
    actor: str | None
    changes: dict[str, list[Any]]
    transaction_id: int | None
    changed_at: datetime


def _table_name(table: str | Table | type) -> str:
    if isinstance(table, str):
        return table
    if isinstance(table, Table):
        return table.name
    return str(table.__table__.name)  # type: ignore[attr-defined]


def _row_text(row_id: object, dialect: str) -> str:
    # PostgreSQL records a key as JSON text (a UUID with dashes); SQLite as its stored text (32 hex digits).
    if isinstance(row_id, uuid.UUID):
        return str(row_id) if dialect == "postgresql" else row_id.hex
    return str(row_id)


def _entries(rows: Any) -> list[AuditEntry]:
    return [
        AuditEntry(
            row.id, row.table_name, row.row_id, row.action, row.actor, row.changes, row.transaction_id, row.changed_at
        )
        for row in rows
    ]


def _history(connection: Connection, table: str | Table | type, row_id: object) -> list[AuditEntry]:
    query = _LOGS.select().where(
        _LOGS.c.table_name == _table_name(table), _LOGS.c.row_id == _row_text(row_id, connection.dialect.name)
    )
    return _entries(connection.execute(query.order_by(_LOGS.c.id)))


def _between(
    connection: Connection, start: datetime, end: datetime, table: str | Table | type | None, actor: str | None
) -> list[AuditEntry]:
    query: Select[Any] = select(_LOGS).where(_LOGS.c.changed_at >= start, _LOGS.c.changed_at < end)
    if table is not None:
        query = query.where(_LOGS.c.table_name == _table_name(table))
    if actor is not None:
        query = query.where(_LOGS.c.actor == actor)
    return _entries(connection.execute(query.order_by(_LOGS.c.id)))


def _connection(bind: Connection | Session) -> Connection:
    return bind.connection() if isinstance(bind, Session) else bind


def history(bind: Connection | Session, table: str | Table | type, row_id: object) -> list[AuditEntry]:
    """Every recorded change of one row, oldest first.

    Args:
        bind: A connection or a session.
        table: The table: its name, its ``Table``, or its model.
        row_id: The row's key.
    """
    return _history(_connection(bind), table, row_id)


def changes_between(
    bind: Connection | Session,
    start: datetime,
    end: datetime,
    *,
    table: str | Table | type | None = None,
    actor: str | None = None,
) -> list[AuditEntry]:
    """Every change recorded from ``start`` (included) to ``end`` (excluded), of one table or actor if given."""
    return _between(_connection(bind), start, end, table, actor)


async def history_async(
    bind: AsyncConnection | AsyncSession, table: str | Table | type, row_id: object
) -> list[AuditEntry]:
    """:func:`history`, for an async connection or session."""
    connection = await bind.connection() if isinstance(bind, AsyncSession) else bind
    return await connection.run_sync(_history, table, row_id)


async def changes_between_async(
    bind: AsyncConnection | AsyncSession,
    start: datetime,
    end: datetime,
    *,
    table: str | Table | type | None = None,
    actor: str | None = None,
) -> list[AuditEntry]:
    """:func:`changes_between`, for an async connection or session."""
    connection = await bind.connection() if isinstance(bind, AsyncSession) else bind
    return await connection.run_sync(_between, start, end, table, actor)
