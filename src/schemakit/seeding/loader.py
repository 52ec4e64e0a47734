"""Load fixtures in one transaction, idempotently: :func:`seed`.

For each model, parents first, the loader reads the rows that already exist (by natural key), then:

* inserts the new ones with ``INSERT ... ON CONFLICT`` on the natural key (``DO NOTHING`` in ``create-only``
  mode, ``DO UPDATE`` in ``converge`` mode), so a row that another process inserted meanwhile is not an error;
* in ``converge`` mode, updates the rows whose values differ from the files, and only those (their
  ``updated_at`` and ``version`` move, the others' stay); ``create-only`` never changes an existing row.

Reading first makes the report exact (inserted, updated, unchanged per model) and makes ``dry_run`` simply a
rollback at the end. Rows whose table has a UUID primary key get a :func:`~schemakit.ids.deterministic_uuid7`
id from the table name and natural key, so every machine seeding the same files gets the same ids. Fields left
out of a row keep their column defaults; a soft-deletable row is live unless its fixture says otherwise.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from sqlalchemy import Column, Connection, Row, literal, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import registry

from schemakit.audit import acting_as
from schemakit.engine import begin_or_nest
from schemakit.errors import database_error_reason
from schemakit.mixins.versioned import version_column
from schemakit.seeding.fixtures import Fixture, FixtureError
from schemakit.seeding.plan import ModelPlan, plan_fixtures
from schemakit.seeding.report import ModelReport, Progress, SeedMode, SeedReport
from schemakit.seeding.rows import KeyedRows, PreparedRow, batches, existing_rows, key_map, prepare_rows
from schemakit.seeding.writers import grouped, insert_rows, update_statement, write_inserts

__all__ = ["seed"]


def seed(
    connection: Connection,
    fixtures: Sequence[Fixture],
    *,
    mappers: registry,
    mode: SeedMode = SeedMode.CREATE_ONLY,
    dry_run: bool = False,
    actor: str = "seed",
    progress: Progress | None = None,
) -> SeedReport:
    """Load ``fixtures`` into the database in one transaction.

    Every fixture is checked against the models before anything is written.

    Args:
        connection: Where to load; a nested transaction is used if one is already open.
        fixtures: One fixture per model, in any order.
        mappers: The registry that holds the models (``Base.registry``).
        mode: ``create-only`` never changes existing rows; ``converge`` updates them to match the files.
        dry_run: Do everything, report, then roll back.
        actor: Recorded in audit columns of the rows written.
        progress: Called after each batch of rows.

    Python's cyclic garbage collector is paused while the rows are prepared and written (and resumed after, if
    it was running): a load builds objects by the hundred thousand and no cycles, and the collector's repeated
    passes over them cost almost half of the preparation.

    Returns:
        What was (or, in a dry run, would have been) inserted, updated and left unchanged.

    Raises:
        FixtureError: For a fixture that does not fit the models or refers to a missing row; nothing is written.
    """
    plans = plan_fixtures(fixtures, mappers)
    referenced = {reference.target for plan in plans for reference in plan.references.values()}
    report = SeedReport(mode=mode, dry_run=dry_run)
    keys: dict[str, KeyedRows] = {}
    transaction = begin_or_nest(connection)
    with _collector_paused(), transaction, acting_as(actor):
        for plan in plans:
            prepared = prepare_rows(plan, keys)
            report.models.append(_load(connection, plan, prepared, mode, progress))
            if plan.name in referenced:
                keys[plan.name] = key_map(connection, plan, prepared)
        if dry_run:
            transaction.rollback()
    return report


@contextmanager
def _collector_paused() -> Iterator[None]:
    running = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if running:
            gc.enable()


def _load(
    connection: Connection, plan: ModelPlan, prepared: Sequence[PreparedRow], mode: SeedMode, progress: Progress | None
) -> ModelReport:
    report = ModelReport(plan.name, plan.fixture.source)
    inserts, updates, empty = _classify(connection, plan, prepared, mode, report)
    done = report.unchanged

    def advance(rows: int, *, updated: bool = False) -> None:
        nonlocal done
        if updated:
            report.updated += rows
        else:
            report.inserted += rows
        done += rows
        if progress:
            progress(plan.name, done, len(prepared))

    try:
        with _recoverable(connection):
            write_inserts(connection, plan, mode, inserts, advance, into_empty=empty)
            for batch in batches(updates):
                for changed in grouped(batch, lambda update: tuple(sorted(update[1]))):
                    connection.execute(*update_statement(plan, changed))
                advance(len(batch), updated=True)
    except DBAPIError as exc:
        raise _refused_row(connection, plan, mode, prepared, exc) from None
    return report


def _recoverable(connection: Connection) -> AbstractContextManager[object]:
    """A scope after whose failure the transaction goes on, so a refused row can be looked for.

    PostgreSQL aborts the whole transaction on an error, so the scope is a savepoint there. SQLite undoes only
    the failing statement; a savepoint there could even end the transaction early (the sqlite3 driver's own
    transaction handling), so none is used.
    """
    return connection.begin_nested() if connection.dialect.name == "postgresql" else nullcontext()


def _new_row(values: dict[str, Any], version: Column[Any] | None) -> dict[str, Any]:
    """A new row's values, with a versioned model's counter (``version``) starting at 1."""
    return values if version is None or version.name in values else {**values, version.name: 1}


def _refused_row(
    connection: Connection, plan: ModelPlan, mode: SeedMode, prepared: Sequence[PreparedRow], error: DBAPIError
) -> FixtureError:
    """The error to report for rows the database refused: the first such row, tried one at a time."""
    source = plan.fixture.source
    for row in prepared:
        try:
            with _recoverable(connection):
                insert_rows(connection, plan, mode, [_new_row(row.values, version_column(plan.mapper))])
        except DBAPIError as exc:
            return FixtureError(f"{source} row {row.number}: the database refused it: {database_error_reason(exc)}")
    return FixtureError(f"{source}: the database refused {plan.name}'s rows: {database_error_reason(error)}")


def _classify(
    connection: Connection, plan: ModelPlan, prepared: Sequence[PreparedRow], mode: SeedMode, report: ModelReport
) -> tuple[list[dict[str, Any]], list[tuple[Row[Any], dict[str, Any]]], bool]:
    """Split the rows into new ones (to insert) and changed ones (to update, in converge mode).

    Returns:
        The inserts, the updates, and whether the table held no row.
    """
    empty = connection.scalar(select(literal(1)).select_from(plan.table).limit(1)) is None
    existing = {} if empty else existing_rows(connection, plan, prepared)
    inserts: list[dict[str, Any]] = []
    updates: list[tuple[Row[Any], dict[str, Any]]] = []
    primary_key = {column.name for column in plan.table.primary_key.columns}
    version = version_column(plan.mapper)
    for row in prepared:
        current = existing.get(row.resolved_key)
        if current is None:
            inserts.append(_new_row(row.values, version))
            continue
        mapping = current._mapping
        changes = {
            name: value for name, value in row.values.items() if name not in primary_key and mapping[name] != value
        }
        if changes and mode is SeedMode.CONVERGE:
            updates.append((current, changes))
        else:
            report.unchanged += 1
    return inserts, updates, empty
