"""The actor of :func:`schemakit.audit.acting_as`, carried to the audit triggers of the transaction.

Installed by the first audited model (:func:`install`), never by importing schemakit:

* PostgreSQL: before a statement whose actor differs from the one its transaction already carries, the
  transaction-local setting ``schemakit.actor`` is written; it ends with the transaction (or the savepoint).
  Outside ``acting_as`` nothing is sent; inside, one ``set_config`` a transaction.
* SQLite: every connection gets two functions the triggers call, ``schemakit_actor()`` (the actor its
  transaction began or flushed with) and ``schemakit_sha256(text)``.

Both engines' sync and async forms (asyncpg, aiosqlite) are covered: the events run where the caller's
context, and so its actor, is.
"""

from __future__ import annotations

import hashlib
import sqlite3
from typing import Any

from sqlalchemy import Connection, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import TextClause

from schemakit.audit import current_actor
from schemakit.audit_log.ddl import ACTOR_SETTING

__all__ = ["install"]

_ACTOR = "schemakit.audit_actor"
_SET_ACTOR = text(f"SELECT set_config('{ACTOR_SETTING}', :actor, true)")
_installed = False


def _sha256(value: str | None) -> str | None:
    return None if value is None else hashlib.sha256(value.encode()).hexdigest()


def _on_connect(dbapi_connection: Any, record: Any) -> None:
    adapted = type(dbapi_connection).__name__ == "AsyncAdapt_aiosqlite_connection"
    if not (isinstance(dbapi_connection, sqlite3.Connection) or adapted):
        return
    info = record.info
    dbapi_connection.create_function("schemakit_actor", 0, lambda: info.get(_ACTOR), deterministic=False)
    dbapi_connection.create_function("schemakit_sha256", 1, _sha256, deterministic=True)


def _carry(connection: Connection, statement: Any, *_args: Any) -> None:
    # Before each statement that may write (DML or text): a contextvar and a dict read, and one set_config when
    # the actor changed. Transaction control (a ROLLBACK TO SAVEPOINT in an aborted transaction) is left alone.
    if not isinstance(statement, UpdateBase | TextClause):
        return
    actor = current_actor()
    info = connection.connection.info
    if info.get(_ACTOR) == actor:
        return
    info[_ACTOR] = actor
    if actor is not None and connection.dialect.name == "postgresql":
        connection.execute(_SET_ACTOR, {"actor": actor})


def _forget(connection: Connection, *_args: Any) -> None:
    # A new transaction, or a rolled-back savepoint, holds no actor any more.
    connection.connection.info.pop(_ACTOR, None)


def install() -> None:
    """Carry the actor to the audit triggers from now on (idempotent); called by the first audited model."""
    global _installed  # noqa: PLW0603 - one installation a process, made by the first audited model
    if _installed:
        return
    event.listen(Pool, "connect", _on_connect)
    event.listen(Engine, "begin", _forget)
    event.listen(Engine, "rollback_savepoint", _forget)
    event.listen(Engine, "before_execute", _carry)
    _installed = True
