"""The audit log's tables, added to a model's metadata by its first audited model.

* ``audit_logs``: one row a change: the table, the row's key (as text), the action (``insert``, ``update``,
  ``delete``, ``soft_delete``, ``restore``), the actor, the changed columns as ``{"column": [old, new]}`` (JSONB
  on PostgreSQL, JSON on SQLite), the transaction, the time, and the SHA-256 of the entry.
* ``audit_batches``: one row a statement that wrote entries (PostgreSQL; one a row on SQLite): its first and last
  entry and the link hash that chains it to the batch before.
* ``audit_chain``: one row, the chain's head: the last link and the last entry, and the link of the last batch
  pruned away. Writers lock it until they commit, so the chain follows commit order.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Connection, Index, Integer, MetaData, String, Table, event, text
from sqlalchemy.dialects import postgresql

from schemakit.audit_log.ddl import CHAIN_HEAD
from schemakit.types import UTCDateTime

__all__ = [
    "AUDITED",
    "AUDIT_BATCHES",
    "AUDIT_CHAIN",
    "AUDIT_LOGS",
    "AUDIT_TABLES",
    "audit_tables",
    "is_audited",
]

#: The ``Table.info`` key that marks an audited table.
AUDITED = "schemakit.audited"
#: The names of the audit log's tables.
AUDIT_LOGS, AUDIT_BATCHES, AUDIT_CHAIN = "audit_logs", "audit_batches", "audit_chain"
AUDIT_TABLES = frozenset({AUDIT_LOGS, AUDIT_BATCHES, AUDIT_CHAIN})

_ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite's INTEGER PRIMARY KEY is its rowid
_CHANGES = JSON().with_variant(postgresql.JSONB(), "postgresql")


def is_audited(table: Table) -> bool:
    """Whether ``table`` records its changes in the audit log."""
    return bool(table.info.get(AUDITED))


def audit_tables(metadata: MetaData) -> tuple[Table, Table, Table]:
    """The audit log's three tables on ``metadata``, added to it the first time.

    Returns:
        ``audit_logs``, ``audit_batches`` and ``audit_chain``.
    """
    schema = metadata.schema
    names = [f"{schema}.{name}" if schema else name for name in (AUDIT_LOGS, AUDIT_BATCHES, AUDIT_CHAIN)]
    if names[0] in metadata.tables:
        return metadata.tables[names[0]], metadata.tables[names[1]], metadata.tables[names[2]]
    logs = Table(
        AUDIT_LOGS,
        metadata,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("table_name", String(63), nullable=False),
        Column("row_id", String(255), nullable=False),
        Column("action", String(12), nullable=False),
        Column("actor", String(255)),
        Column("changes", _CHANGES, nullable=False),
        Column("transaction_id", BigInteger()),
        Column("changed_at", UTCDateTime(), nullable=False, server_default=text("CURRENT_TIMESTAMP")),
        Column("hash", String(64), nullable=False),
        Index(None, "row_id"),
    )
    batches = Table(
        AUDIT_BATCHES,
        metadata,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("first_entry", BigInteger(), nullable=False),
        Column("last_entry", BigInteger(), nullable=False),
        Column("link", String(64), nullable=False),
    )
    chain = Table(
        AUDIT_CHAIN,
        metadata,
        Column("id", Integer(), primary_key=True, autoincrement=False),
        Column("link", String(64), nullable=False),
        Column("last_entry", BigInteger(), nullable=False),
        # The link of the last batch pruned away: where verification starts.
        Column("pruned_link", String(64), nullable=False),
    )
    event.listen(chain, "after_create", _start_chain)
    return logs, batches, chain


def _start_chain(_table: Table, connection: Connection, **_kw: Any) -> None:
    connection.exec_driver_sql(CHAIN_HEAD)
