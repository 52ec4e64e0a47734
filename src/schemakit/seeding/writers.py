"""Writing prepared rows: inserts (COPY on psycopg, batched ``INSERT ... RETURNING`` elsewhere) and updates.

New rows go in with ``INSERT ... ON CONFLICT`` on the natural key (``DO NOTHING`` in ``create-only`` mode,
``DO UPDATE`` in ``converge`` mode), so a row another process inserted meanwhile is not an error. Updates
change only the fields that differ and move the version counter.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import JSON, Connection, Insert, Row, Table, TableClause, and_, bindparam, select, table, text, update
from sqlalchemy import column as column_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from schemakit.mixins.versioned import version_column
from schemakit.naming import shorten_identifier
from schemakit.seeding.plan import ModelPlan
from schemakit.seeding.report import SeedMode
from schemakit.seeding.rows import batches

__all__ = ["grouped", "insert_rows", "update_statement", "write_inserts"]

_T = TypeVar("_T")


def write_inserts(
    connection: Connection,
    plan: ModelPlan,
    mode: SeedMode,
    inserts: list[dict[str, Any]],
    advance: Callable[[int], None],
    *,
    into_empty: bool = False,
) -> None:
    """Insert ``inserts`` (prepared values) for ``plan``, calling ``advance(rows)`` as they go.

    ``into_empty`` says the table held no row when the load began: on psycopg the rows are then copied straight
    into it, since nothing can conflict with them (the fixture's own keys are distinct).
    """
    if connection.dialect.driver == "psycopg":
        for group in grouped(inserts, lambda values: tuple(sorted(values))):
            if into_empty:
                _copy(connection, plan, plan.table, group, advance)
            else:
                _copy_then_upsert(connection, plan, mode, group, advance)
        return
    for batch in batches(inserts):
        for group in grouped(batch, lambda values: tuple(sorted(values))):
            insert_rows(connection, plan, mode, group)
        advance(len(batch))


def grouped(items: Sequence[_T], key: Callable[[_T], tuple[str, ...]]) -> list[list[_T]]:
    """``items`` in groups of the same ``key``, in first-seen order."""
    # One executemany per set of fields: every parameter set of a statement must name the same columns.
    groups: dict[tuple[str, ...], list[_T]] = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    return list(groups.values())


def insert_rows(connection: Connection, plan: ModelPlan, mode: SeedMode, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (naming the same columns) with one batched upsert, the way other drivers than psycopg do."""
    # RETURNING makes SQLAlchemy batch the rows into multi-row VALUES ("insertmanyvalues"), one round trip a
    # batch; a plain executemany sends one statement a row.
    statement = _upsert(connection, plan, mode, rows[0]).returning(*plan.table.primary_key.columns)
    connection.execute(statement, rows).close()


class _DefaultContext:
    """What a context-sensitive column default reads: the row being inserted.

    SQLAlchemy documents such a default as a function of the execution context that calls
    ``context.get_current_parameters()``; the COPY path runs no INSERT and so has no context, and hands in
    this stand-in with that one method. tests/test_dependency_contracts.py checks that a default reading the
    row gets the same value from it as from a real INSERT.
    """

    def __init__(self, row: Mapping[str, Any]) -> None:
        self.current_parameters = row

    def get_current_parameters(self, isolate_multiinsert_groups: bool = True) -> Mapping[str, Any]:
        del isolate_multiinsert_groups
        return self.current_parameters


def _python_defaults(plan: ModelPlan, present: Collection[str]) -> list[tuple[str, Any]]:
    """The Python-side column defaults SQLAlchemy's INSERT would fill in for the columns not ``present``.

    A column that also has a server default is left to the server (the timestamps get the transaction's time,
    the same for every row of the load), which spares a Python call and a conversion per row.
    """
    return [
        (column.name, column.default)
        for column in plan.table.columns
        if column.name not in present
        and column.default is not None
        and not column.default.is_sequence
        and column.server_default is None
    ]


def _fill_defaults(row: dict[str, Any], defaults: list[tuple[str, Any]]) -> dict[str, Any]:
    """Fill ``row`` (the loader's own copy) with ``defaults``, in place."""
    context = _DefaultContext(row)
    for name, default in defaults:
        row[name] = default.arg(context) if default.is_callable else default.arg
    return row


def _copy_then_upsert(
    connection: Connection, plan: ModelPlan, mode: SeedMode, rows: list[dict[str, Any]], advance: Callable[[int], None]
) -> None:
    """COPY the rows into a staging table, then INSERT ... SELECT ... ON CONFLICT into the real one.

    Many times faster than INSERT statements on PostgreSQL: one COPY stream and one statement for the model.
    """
    names = [*rows[0], *(name for name, _ in _python_defaults(plan, rows[0]))]
    dialect = connection.dialect
    stage = shorten_identifier(f"schemakit_seed_{plan.table.name}")
    listed = ", ".join(dialect.identifier_preparer.quote(name) for name in names)
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS SELECT {listed} "
        f"FROM {dialect.identifier_preparer.format_table(plan.table)} WITH NO DATA"
    )
    staged = table(stage, *(column_(name) for name in names))
    _copy(connection, plan, staged, rows, advance)
    connection.execute(_upsert(connection, plan, mode, rows[0]).from_select(names, select(*staged.c)))
    connection.exec_driver_sql(f"DROP TABLE {stage}")


def _copy(
    connection: Connection,
    plan: ModelPlan,
    target: TableClause,
    rows: list[dict[str, Any]],
    advance: Callable[[int], None],
) -> list[str]:
    """COPY the rows, with their Python-side defaults filled in, into ``target``; return the columns written."""
    defaults = _python_defaults(plan, rows[0])
    names = [*rows[0], *(name for name, _ in defaults)]
    columns = [plan.table.c[name] for name in names]
    dialect = connection.dialect
    # JSON goes as text that the server parses into the json/jsonb column: one json.dumps a value instead of
    # SQLAlchemy's wrapper and then psycopg's dumper.
    as_json = [isinstance(column.type.dialect_impl(dialect), JSON) for column in columns]
    processors = [
        _json_text if json_column else column.type.dialect_impl(dialect).bind_processor(dialect)
        for column, json_column in zip(columns, as_json, strict=True)
    ]
    preparer = dialect.identifier_preparer
    quoted = preparer.format_table(target) if isinstance(target, Table) else preparer.quote(target.name)
    listed = ", ".join(preparer.quote(name) for name in names)
    type_oids: dict[str, int] = dict(
        connection.execute(
            text(
                "SELECT attname, atttypid FROM pg_attribute "
                "WHERE attrelid = CAST(:target AS regclass) AND attnum > 0 AND NOT attisdropped"
            ),
            {"target": quoted},
        ).all()
    )
    types = ["text" if json_column else type_oids[name] for name, json_column in zip(names, as_json, strict=True)]
    statement = f"COPY {quoted} ({listed}) FROM STDIN"
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    driver_error = dialect.loaded_dbapi.Error
    try:
        with cursor.copy(statement) as copy:
            copy.set_types(types)  # one dumper per column, not a lookup per value
            pairs = list(zip(names, processors, strict=True))
            for batch in batches(rows):
                for row in batch:
                    _fill_defaults(row, defaults)
                    copy.write_row([process(row[name]) if process else row[name] for name, process in pairs])
                advance(len(batch))
    except driver_error as exc:
        # The cursor is the driver's own, so its error comes unwrapped; callers handle SQLAlchemy's.
        raise DBAPIError.instance(statement, None, exc, driver_error) from exc
    return names


def _json_text(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _upsert(connection: Connection, plan: ModelPlan, mode: SeedMode, sample: Mapping[str, Any]) -> Insert:
    dialect_insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = dialect_insert(plan.table)
    elements, where = list(plan.key_columns), plan.key_where
    primary_key = {column.name for column in plan.table.primary_key.columns}
    changing = [name for name in sample if name not in primary_key and name not in plan.key_columns]
    if mode is SeedMode.CREATE_ONLY or not changing:
        return statement.on_conflict_do_nothing(index_elements=elements, index_where=where)
    return statement.on_conflict_do_update(
        index_elements=elements, index_where=where, set_={name: statement.excluded[name] for name in changing}
    )


def update_statement(
    plan: ModelPlan, group: Sequence[tuple[Row[Any], dict[str, Any]]]
) -> tuple[Any, list[dict[str, Any]]]:
    """An ``UPDATE`` by primary key of the changed fields, and its parameter sets, for rows changing alike."""
    table = plan.table
    primary_key = list(table.primary_key.columns)
    names = sorted(group[0][1])
    values: dict[str, Any] = {name: bindparam(f"new_{name}") for name in names}
    version = version_column(plan.mapper)
    if version is not None:
        values[version.name] = table.c[version.name] + 1
    statement = (
        update(table).where(and_(*(column == bindparam(f"key_{column.name}") for column in primary_key))).values(values)
    )
    parameters = [
        {
            **{f"key_{column.name}": current._mapping[column.name] for column in primary_key},
            **{f"new_{name}": changes[name] for name in names},
        }
        for current, changes in group
    ]
    return statement, parameters
