"""A batched backfill: ``op.backfill(table, {"column": "SQL expression"}, where=..., batch_size=...)``.

The rows are updated in batches in the order of the table's primary key (UUIDv7 keys follow insertion time,
so the batches walk the table from its oldest rows to its newest), each batch one statement that also
records the last key it reached in ``schemakit_backfill_progress``, in the same transaction. A run stopped
half way, even by ``kill -9``, resumes after the last finished batch and never updates a finished batch again.
When the revision is recorded as applied the progress table is dropped (in the same transaction).

It does not move ``updated_at`` (schemakit's trigger leaves it alone for the backfill) nor a version column,
unless asked: ``touch=True`` lets the trigger refresh ``updated_at``, ``bump_version="version"`` adds one to
that column. Progress is shown as a bar on a terminal, and as a log line every ten seconds elsewhere.

On SQLite it is the plain equivalent: the same batches, inside the migration's transaction.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from alembic.operations import MigrateOperation, Operations
from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, bindparam, inspect, text

from schemakit.engine import temporary_settings
from schemakit.errors import MigrationError
from schemakit.migrations.online.context import is_online, outside_transaction, sqlite_triggers
from schemakit.naming import qualified_name, quote_identifier
from schemakit.sql import KEEP_UPDATED_AT_SETTING, set_updated_at_function_ddl, updated_at_trigger_name
from schemakit.types import UTCDateTime, utc_now

__all__ = ["BACKFILL_PROGRESS_TABLE", "BackfillOp", "clear_finished_backfills"]

log = logging.getLogger("schemakit.migrations.online")

#: The table that records how far each unfinished backfill got.
BACKFILL_PROGRESS_TABLE = "schemakit_backfill_progress"
# The connection.info key that says a backfill ran on this connection since the last recorded step.
_RAN = "schemakit.backfill_ran"
_LOG_EVERY_S = 10.0

_progress = Table(
    BACKFILL_PROGRESS_TABLE,
    MetaData(),
    Column("name", String(255), primary_key=True),
    Column("last_key", String(255)),
    Column("rows_done", Integer, nullable=False),
    Column("finished_at", UTCDateTime()),
)


@Operations.register_operation("backfill")
class BackfillOp(MigrateOperation):
    """Update every row of a table (or those ``where`` selects) in short, resumable, key-ordered batches.

    Args:
        table_name: The table.
        values: Each column to set, with the SQL expression that gives its value (it may name the row's
            columns): ``{"number": "'SO-' || id"}``.
        where: A SQL condition that selects the rows to update (``"number IS NULL"``); all rows if omitted.
        schema: The table's schema.
        batch_size: Rows per batch; each batch is one short transaction.
        pause_s: A pause after each batch, to leave room for the table's other writers.
        touch: Let the ``updated_at`` trigger refresh ``updated_at`` (left as it is by default).
        bump_version: A version column to add one to in every updated row.
        name: The name progress is recorded under; by default the table and the columns set.

    Raises:
        ValueError: For no values, or a batch size below 1.
    """

    def __init__(
        self,
        table_name: str,
        values: Mapping[str, str],
        *,
        where: str | None = None,
        schema: str | None = None,
        batch_size: int = 5000,
        pause_s: float = 0.0,
        touch: bool = False,
        bump_version: str | None = None,
        name: str | None = None,
    ) -> None:
        if not values:
            raise ValueError("backfill needs at least one column to set")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.table_name = table_name
        self.values = dict(values)
        self.where = where
        self.schema = schema
        self.batch_size = batch_size
        self.pause_s = pause_s
        self.touch = touch
        self.bump_version = bump_version
        self.name = name or f"{qualified_name(table_name, schema)}({','.join(sorted(values))})"

    @classmethod
    def backfill(cls, operations: Operations, table_name: str, values: Mapping[str, str], **options: Any) -> Any:
        """``op.backfill(table_name, values, where=..., batch_size=..., ...)``: the arguments of :class:`BackfillOp`."""
        return operations.invoke(cls(table_name, values, **options))


@Operations.implementation_for(BackfillOp)
def _backfill(operations: Operations, operation: BackfillOp) -> None:
    context = operations.get_context()
    if context.as_sql:
        # Offline, the script shows the update a batch runs, over the whole table.
        operations.execute(
            f"UPDATE {qualified_name(operation.table_name, operation.schema)} SET {_assignments(operation)}"
        )
        return
    with outside_transaction(operations):
        connection = operations.get_bind()
        _progress.create(connection, checkfirst=True)
        connection.info[_RAN] = True
        with _keeping_updated_at(operations, operation):
            _Batches(connection, operation, online=is_online(operations)).run()


def clear_finished_backfills(connection: Connection) -> None:
    """Drop the progress of the backfills run since the last applied step (an ``on_version_apply`` hook).

    It runs in the step's transaction: the progress goes when the revision is recorded as applied, not before.
    """
    if connection.info.pop(_RAN, False):
        _progress.drop(connection, checkfirst=True)


def _assignments(operation: BackfillOp) -> str:
    sets = [f"{quote_identifier(column)} = {expression}" for column, expression in operation.values.items()]
    if operation.bump_version:
        version = quote_identifier(operation.bump_version)
        sets.append(f"{version} = {version} + 1")
    return ", ".join(sets)


@contextmanager
def _keeping_updated_at(operations: Operations, operation: BackfillOp) -> Iterator[None]:
    """Keep the ``updated_at`` trigger from moving ``updated_at`` while the backfill runs, unless ``touch``."""
    connection = operations.get_bind()
    trigger = updated_at_trigger_name(operation.table_name)
    if operation.touch:
        yield
    elif connection.dialect.name == "postgresql":
        # The trigger function of an older schemakit does not know the setting; replacing it takes no table lock.
        installed = connection.scalar(
            text("SELECT prosrc FROM pg_proc WHERE oid = to_regproc('schemakit_set_updated_at')")
        )
        if installed is not None and KEEP_UPDATED_AT_SETTING not in installed:
            connection.execute(text(set_updated_at_function_ddl()))
        with temporary_settings(connection, {KEEP_UPDATED_AT_SETTING: "on"}):
            yield
    else:
        # SQLite has one writer at a time: inside the migration's transaction no other writer sees the trigger gone.
        definition = sqlite_triggers(operations, operation.table_name, operation.schema).get(trigger)
        if definition is not None:
            operations.execute(f"DROP TRIGGER {quote_identifier(trigger)}")
        try:
            yield
        finally:
            if definition is not None:
                operations.execute(definition)


class _Batches:
    """The batches of one backfill, from where its recorded progress says it stopped."""

    def __init__(self, connection: Connection, operation: BackfillOp, *, online: bool) -> None:
        self.connection = connection
        self.operation = operation
        self.online = online
        self.target = qualified_name(operation.table_name, operation.schema)
        keys = inspect(connection).get_pk_constraint(operation.table_name, schema=operation.schema)[
            "constrained_columns"
        ]
        if len(keys) != 1:
            raise MigrationError(
                f"backfill of {self.target} needs a primary key of one column to walk the table in order; "
                f"it has {len(keys) or 'no'} key columns"
            )
        self.key = quote_identifier(keys[0])
        self.key_type = self._key_type(keys[0])
        self.filter = f" AND ({operation.where})" if operation.where else ""

    def run(self) -> None:
        row = self.connection.execute(_progress.select().where(_progress.c.name == self.operation.name)).first()
        if row is not None and row.finished_at is not None:
            log.info("backfill %s finished earlier (%d rows): nothing to do", self.operation.name, row.rows_done)
            return
        after, done = (row.last_key, row.rows_done) if row is not None else (None, 0)
        if after is not None:
            log.info("backfill %s resumes after %d rows", self.operation.name, done)
        remaining = self.connection.scalar(text(f"SELECT count(*) FROM {self._rows(after)}"), {"after": after})
        with self._progress_bar(int(remaining or 0)) as advance:
            while True:
                boundary = self.connection.scalar(
                    text(
                        f"SELECT CAST({self.key} AS VARCHAR) AS reached FROM {self._rows(after)} "
                        f"ORDER BY {self.key} LIMIT 1 OFFSET :skip"
                    ),
                    {"after": after, "skip": self.operation.batch_size - 1},
                )
                updated = self._batch(after, boundary)
                done += updated
                advance(updated)
                if boundary is None:
                    break
                after = boundary
                if self.operation.pause_s:
                    time.sleep(self.operation.pause_s)
        log.info("backfill %s updated %d rows", self.operation.name, done)

    def _rows(self, after: str | None) -> str:
        return f"{self.target} WHERE {self._after(after)}{self.filter}"

    def _key_type(self, key: str) -> str | None:
        if self.connection.dialect.name != "postgresql":
            return None
        return str(
            self.connection.scalar(
                text(
                    "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                    "WHERE attrelid = to_regclass(:table) AND attname = :key"
                ),
                {"table": self.target, "key": key},
            )
        )

    def _key(self, parameter: str) -> str:
        # Keys are carried as text (they are recorded as text); drivers that type parameters from their use,
        # as asyncpg does, then get text and PostgreSQL converts it.
        return f"CAST(CAST(:{parameter} AS VARCHAR) AS {self.key_type})" if self.key_type else f":{parameter}"

    def _after(self, after: str | None) -> str:
        return "true" if after is None else f"{self.key} > {self._key('after')}"

    def _batch(self, after: str | None, boundary: str | None) -> int:
        """Update the rows after ``after`` up to ``boundary`` (to the end if None), and record that it did."""
        upper = "" if boundary is None else f" AND {self.key} <= {self._key('boundary')}"
        update = (
            f"UPDATE {self.target} SET {_assignments(self.operation)} WHERE {self._after(after)}{upper}{self.filter}"
        )
        # The key is compared as the column's type and recorded as text: two parameters, one type each.
        parameters = {"after": after, "boundary": boundary, "name": self.operation.name, "reached": boundary}
        record = (
            f"INSERT INTO {BACKFILL_PROGRESS_TABLE} (name, last_key, rows_done, finished_at) "
            "VALUES (:name, :reached, {rows}, :finished) "
            "ON CONFLICT (name) DO UPDATE SET last_key = excluded.last_key, "
            f"rows_done = {BACKFILL_PROGRESS_TABLE}.rows_done + excluded.rows_done, finished_at = excluded.finished_at"
        )
        finished = bindparam("finished", None if boundary is not None else utc_now(), type_=UTCDateTime())
        if self.online:
            # One statement, so the batch and its record commit together or not at all.
            statement = text(
                f"WITH done AS ({update} RETURNING 1), "
                f"recorded AS ({record.format(rows='(SELECT count(*) FROM done)')} RETURNING 1) "
                "SELECT count(*) FROM done"
            ).bindparams(finished)
            return int(self.connection.scalar(statement, parameters) or 0)
        updated = int(self.connection.execute(text(update), parameters).rowcount)
        self.connection.execute(text(record.format(rows=":rows")).bindparams(finished), {**parameters, "rows": updated})
        return updated

    @contextmanager
    def _progress_bar(self, total: int) -> Iterator[Any]:
        if sys.stderr.isatty():
            # Imported for a terminal's bar alone, not when Alembic starts (every `alembic` command imports this).
            from tqdm import tqdm  # noqa: PLC0415

            with tqdm(total=total, desc=f"backfill {self.target}", unit="row", file=sys.stderr) as bar:
                yield bar.update
            return
        started = last = time.monotonic()
        count = 0

        def advance(rows: int) -> None:
            nonlocal last, count
            count += rows
            if time.monotonic() - last >= _LOG_EVERY_S:
                last = time.monotonic()
                rate = count / max(last - started, 1e-9)
                log.info("backfill %s: %d of %d rows (%.0f rows/s)", self.target, count, total, rate)

        yield advance
