"""One migration at a time: a lock that a second ``alembic upgrade`` waits for.

On PostgreSQL it is a session-level advisory lock, taken by polling ``pg_try_advisory_lock`` outside any
transaction: on the migration's own connection, or on one of its own when the caller's connection is inside a
transaction. A waiter therefore never sits inside a transaction or holds a snapshot, so a migration that runs
``CREATE INDEX CONCURRENTLY`` (which waits for every open transaction) cannot deadlock against it. On SQLite
it is an exclusive ``flock`` on the database file, which SQLite's own locks ignore. The lock is taken before
Alembic reads the current revision, so a waiter that gets it sees what the first process applied and has
nothing left to do.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, text

from schemakit.engine import sqlite_file
from schemakit.errors import MigrationError

__all__ = ["MigrationLockTimeoutError", "advisory_lock_key", "migration_lock"]

log = logging.getLogger(__name__)

_POLL_SECONDS = 0.2


class MigrationLockTimeoutError(MigrationError):
    """Another migration held the lock for longer than the configured wait."""


def advisory_lock_key(version_table: str, schema: str | None = None) -> int:
    """The 64-bit advisory lock key for migrations recorded in ``schema.version_table``."""
    digest = hashlib.sha256(f"schemakit.migrations:{schema or ''}.{version_table}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def migration_lock(
    connection: Connection, *, wait_seconds: float, version_table: str = "alembic_version", schema: str | None = None
) -> Iterator[None]:
    """Hold the migration lock of the connection's database for the duration of the block.

    Args:
        connection: The connection the migrations will run on; the lock is taken on another one.
        wait_seconds: How long to wait for another migration to finish.
        version_table: Alembic's version table, which names the lock.
        schema: The version table's schema.

    Yields:
        Nothing; the lock is held until the block exits.

    Raises:
        MigrationLockTimeoutError: If the lock was not free within ``wait_seconds``.
    """
    if connection.dialect.name == "postgresql":
        with _advisory_lock(connection, advisory_lock_key(version_table, schema), wait_seconds):
            yield
    elif connection.dialect.name == "sqlite" and (path := sqlite_file(connection.engine.url)):
        with _file_lock(path, wait_seconds):
            yield
    else:
        yield


class _Patience:
    """Waits between attempts to take a lock, warns once, and gives up at the deadline."""

    def __init__(self, wait_seconds: float) -> None:
        self.started = time.monotonic()
        self.deadline = self.started + wait_seconds
        self.warned = False

    def wait(self, holder: str) -> None:
        if time.monotonic() >= self.deadline:
            raise MigrationLockTimeoutError(
                f"gave up waiting {time.monotonic() - self.started:.0f} s for the migration lock: another "
                f"migration is running ({holder}). Wait for it, or raise DB_MIGRATION_LOCK_WAIT_S."
            )
        if not self.warned:
            log.warning("Another migration is running (%s); waiting for it to finish", holder)
            self.warned = True
        time.sleep(_POLL_SECONDS)


@contextmanager
def _advisory_lock(connection: Connection, key: int, wait_seconds: float) -> Iterator[None]:
    # The lock is polled outside any transaction, so a waiter holds no snapshot. The migration's connection
    # serves when it is idle; a caller's connection inside a transaction would keep that transaction open while
    # waiting, so a connection of its own takes the lock then.
    separate = connection.in_transaction()
    holder = connection.engine.connect() if separate else connection

    def ask(statement: str) -> Any:
        answer = holder.scalar(text(statement), {"key": key})
        holder.commit()
        return answer

    patience = _Patience(wait_seconds)
    try:
        while not ask("SELECT pg_try_advisory_lock(:key)"):
            who = _postgres_holder(holder, key)
            holder.commit()
            patience.wait(who)
        try:
            yield
        except BaseException:
            if not separate and connection.in_transaction():
                connection.rollback()
            raise
        finally:
            if not separate and connection.in_transaction():
                connection.commit()
            ask("SELECT pg_advisory_unlock(:key)")
    finally:
        if separate:
            holder.close()


def _postgres_holder(connection: Connection, key: int) -> str:
    row = connection.execute(
        text(
            "SELECT a.pid, a.application_name FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.classid = :high AND l.objid = :low AND l.objsubid = 1"
        ),
        {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF},
    ).first()
    if row is None:
        return "holder unknown"
    return f"server pid {row.pid}, application {row.application_name or '?'}"


@contextmanager
def _file_lock(path: str, wait_seconds: float) -> Iterator[None]:
    try:
        import fcntl  # noqa: PLC0415 - POSIX only
    except ImportError:  # pragma: no cover - Windows has no flock; SQLite serialises the writes itself
        yield
        return
    patience = _Patience(wait_seconds)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                patience.wait(f"another process holds {path}")
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)
