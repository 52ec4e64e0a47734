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

import json
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    Connection,
    Insert,
    Row,
    Uuid,
    and_,
    any_,
    bindparam,
    case,
    literal,
    select,
    table,
    tuple_,
    update,
)
from sqlalchemy import column as column_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import registry

from schemakit.audit import acting_as
from schemakit.engine import begin_or_nest
from schemakit.ids import deterministic_uuid7
from schemakit.naming import shorten_identifier
from schemakit.seeding.fixtures import Fixture, FixtureError
from schemakit.seeding.plan import ModelPlan, bad_value_message, canonical, plan_fixtures

__all__ = ["ModelReport", "Progress", "SeedMode", "SeedReport", "seed"]

#: Called as ``progress(model, rows_done, rows_total)`` after each batch of rows.
Progress = Callable[[str, int, int], None]

_BATCH = 1000
_T = TypeVar("_T")


class SeedMode(StrEnum):
    """Whether loading may change rows that already exist."""

    CREATE_ONLY = "create-only"
    CONVERGE = "converge"


@dataclass
class ModelReport:
    """What loading did to one model's rows."""

    model: str
    source: str
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class SeedReport:
    """What loading did, model by model."""

    mode: SeedMode
    dry_run: bool
    models: list[ModelReport] = field(default_factory=list)

    @property
    def inserted(self) -> int:
        """Rows inserted, over all models."""
        return sum(model.inserted for model in self.models)

    @property
    def updated(self) -> int:
        """Rows updated, over all models."""
        return sum(model.updated for model in self.models)

    @property
    def unchanged(self) -> int:
        """Rows left as they were, over all models."""
        return sum(model.unchanged for model in self.models)

    def format(self) -> str:
        """The report as a small text table."""
        width = max([len("model"), *(len(model.model) for model in self.models)])
        lines = [f"{'model':<{width}}  inserted  updated  unchanged"]
        lines += [
            f"{m.model:<{width}}  {m.inserted:>8}  {m.updated:>7}  {m.unchanged:>9}  ({Path(m.source).name})"
            for m in self.models
        ]
        lines.append(f"{'total':<{width}}  {self.inserted:>8}  {self.updated:>7}  {self.unchanged:>9}")
        if self.dry_run:
            lines.append("Dry run: nothing was written.")
        return "\n".join(lines)


@dataclass(frozen=True)
class _Keys:
    """A loaded model's rows by natural key as written in its fixture, for references to them."""

    model: str
    fields: tuple[str, ...]
    rows: Mapping[tuple[str, ...], Mapping[str, Any]]


@dataclass
class _Prepared:
    written_key: tuple[str, ...]
    resolved_key: tuple[Any, ...]
    values: dict[str, Any]


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

    Returns:
        What was (or, in a dry run, would have been) inserted, updated and left unchanged.

    Raises:
        FixtureError: For a fixture that does not fit the models or refers to a missing row; nothing is written.
    """
    plans = plan_fixtures(fixtures, mappers)
    referenced = {reference.target for plan in plans for reference in plan.references.values()}
    report = SeedReport(mode=mode, dry_run=dry_run)
    keys: dict[str, _Keys] = {}
    transaction = begin_or_nest(connection)
    with transaction, acting_as(actor):
        for plan in plans:
            prepared = _prepare(plan, keys)
            report.models.append(_load(connection, plan, prepared, mode, progress))
            if plan.name in referenced:
                keys[plan.name] = _key_map(connection, plan, prepared)
        if dry_run:
            transaction.rollback()
    return report


def _prepare(plan: ModelPlan, keys: Mapping[str, _Keys]) -> list[_Prepared]:
    prepared: list[_Prepared] = []
    seen: dict[tuple[str, ...], int] = {}
    primary_key = list(plan.table.primary_key.columns)
    id_name = primary_key[0].name if len(primary_key) == 1 and isinstance(primary_key[0].type, Uuid) else None
    live_by_default = "deleted_at" in plan.table.columns
    columns, converters, references = plan.columns, plan.converters, plan.references
    source, table_name = plan.fixture.source, plan.table.name
    key_fields, required = plan.key_fields, frozenset(plan.key_fields)
    for number, row in enumerate(plan.fixture.rows, start=1):
        if not row.keys() >= required:
            missing = ", ".join(name for name in key_fields if name not in row)
            raise FixtureError(f"{source} row {number}: missing natural key field(s) {missing}")
        values: dict[str, Any] = {}
        for name, value in row.items():
            column = columns.get(name)
            if column is not None:
                convert = converters[name]
                # The converter alone on the common path; the message is worked out only for a bad value.
                problem = None if value is not None or column.nullable else f"{column.name} cannot be null"
                if problem is None:
                    try:
                        values[column.name] = None if value is None else convert(value)
                    except (ValueError, TypeError, InvalidOperation):
                        problem = bad_value_message(value, column, convert)
                if problem is not None:
                    raise FixtureError(f"{source} row {number}, field {name!r}: {problem}")
            elif name in references:
                reference = references[name]
                where = f"{source} row {number}, field {name!r}"
                target = _referenced_row(value, keys[reference.target], where)
                values.update({local: target[remote] for local, remote in reference.columns})
            else:
                raise FixtureError(
                    f"{source} row {number}: {plan.name} has no column or many-to-one relationship {name!r} "
                    f"(fields: {', '.join(sorted([*columns, *references]))})"
                )
        written_key = tuple([canonical(row[name]) for name in key_fields])
        if written_key in seen:
            raise FixtureError(
                f"{source} row {number}: the same natural key as row {seen[written_key]} ({', '.join(written_key)})"
            )
        seen[written_key] = number
        if live_by_default and "deleted_at" not in values:
            values["deleted_at"] = None
        if id_name is not None and id_name not in values:
            values[id_name] = deterministic_uuid7(table_name, *written_key)
        resolved_key = tuple([values[column] for column in plan.key_columns])
        prepared.append(_Prepared(written_key, resolved_key, values))
    return prepared


def _referenced_row(value: Any, target: _Keys, where: str) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        written = tuple(canonical(value.get(name)) for name in target.fields)
        shown = ", ".join(f"{name}={value.get(name)!r}" for name in target.fields)
    elif len(target.fields) == 1:
        written, shown = (canonical(value),), f"{target.fields[0]}={value!r}"
    else:
        raise FixtureError(
            f"{where}: {target.model}'s natural key has several fields; give an object with {', '.join(target.fields)}"
        )
    found = target.rows.get(written)
    if found is None:
        raise FixtureError(f"{where}: refers to no {target.model} with {shown}")
    return found


def _batches(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), _BATCH):
        yield items[start : start + _BATCH]


def _key_filter(connection: Connection, plan: ModelPlan, keys: Sequence[tuple[Any, ...]]) -> Any:
    columns = [plan.table.c[name] for name in plan.key_columns]
    if len(columns) > 1:
        return tuple_(*columns).in_(keys)
    values = [key[0] for key in keys]
    if connection.dialect.name == "postgresql":
        # One array parameter instead of a placeholder per key, which the driver would parse each time.
        return columns[0] == any_(bindparam("keys", values, type_=ARRAY(columns[0].type)))
    return columns[0].in_(values)


def _existing(
    connection: Connection, plan: ModelPlan, prepared: Sequence[_Prepared]
) -> dict[tuple[Any, ...], Row[Any]]:
    """The stored row of each prepared row's natural key, or none.

    A partial unique index (a key unique among live rows) lets several rows share a key; the one the index
    covers wins, else the one holding the row's deterministic id (a seeded row since soft-deleted).
    """
    names = sorted({name for row in prepared for name in row.values} | set(plan.key_columns))
    primary_key = list(plan.table.primary_key.columns)
    covered = literal(True) if plan.key_where is None else case((plan.key_where, True), else_=False)
    selected = [plan.table.c[name] for name in names] + primary_key + [covered.label("_covered_by_key")]
    candidates: dict[tuple[Any, ...], list[Row[Any]]] = defaultdict(list)
    for batch in _batches(prepared):
        statement = select(*selected).where(_key_filter(connection, plan, [row.resolved_key for row in batch]))
        for stored in connection.execute(statement):
            candidates[tuple(stored._mapping[name] for name in plan.key_columns)].append(stored)
    found: dict[tuple[Any, ...], Row[Any]] = {}
    for wanted in prepared:
        rows = candidates.get(wanted.resolved_key, [])
        same_id = [r for r in rows if all(r._mapping[c.name] == wanted.values.get(c.name) for c in primary_key)]
        chosen = next((r for r in rows if r._mapping["_covered_by_key"]), None) or next(iter(same_id), None)
        if chosen is not None:
            found[wanted.resolved_key] = chosen
    return found


def _load(
    connection: Connection, plan: ModelPlan, prepared: Sequence[_Prepared], mode: SeedMode, progress: Progress | None
) -> ModelReport:
    report = ModelReport(plan.name, plan.fixture.source)
    inserts, updates = _classify(connection, plan, prepared, mode, report)
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

    _write_inserts(connection, plan, mode, inserts, advance)
    for batch in _batches(updates):
        for changed in _grouped(batch, lambda update: tuple(sorted(update[1]))):
            connection.execute(*_update(plan, changed))
        advance(len(batch), updated=True)
    return report


def _classify(
    connection: Connection, plan: ModelPlan, prepared: Sequence[_Prepared], mode: SeedMode, report: ModelReport
) -> tuple[list[dict[str, Any]], list[tuple[Row[Any], dict[str, Any]]]]:
    """Split the rows into new ones (to insert) and changed ones (to update, in converge mode)."""
    empty = connection.scalar(select(literal(1)).select_from(plan.table).limit(1)) is None
    existing = {} if empty else _existing(connection, plan, prepared)
    inserts: list[dict[str, Any]] = []
    updates: list[tuple[Row[Any], dict[str, Any]]] = []
    primary_key = {column.name for column in plan.table.primary_key.columns}
    version = plan.mapper.version_id_col
    for row in prepared:
        current = existing.get(row.resolved_key)
        if current is None:
            new = row.values
            inserts.append(new if version is None or version.name in new else {**new, version.name: 1})
            continue
        mapping = current._mapping
        changes = {
            name: value for name, value in row.values.items() if name not in primary_key and mapping[name] != value
        }
        if changes and mode is SeedMode.CONVERGE:
            updates.append((current, changes))
        else:
            report.unchanged += 1
    return inserts, updates


def _write_inserts(
    connection: Connection,
    plan: ModelPlan,
    mode: SeedMode,
    inserts: list[dict[str, Any]],
    advance: Callable[[int], None],
) -> None:
    if connection.dialect.driver == "psycopg":
        for group in _grouped(inserts, lambda values: tuple(sorted(values))):
            _copy_then_upsert(connection, plan, mode, group, advance)
        return
    for batch in _batches(inserts):
        for group in _grouped(batch, lambda values: tuple(sorted(values))):
            _insert_batch(connection, plan, mode, group)
        advance(len(batch))


def _grouped(items: Sequence[_T], key: Callable[[_T], tuple[str, ...]]) -> list[list[_T]]:
    # One executemany per set of fields: every parameter set of a statement must name the same columns.
    groups: dict[tuple[str, ...], list[_T]] = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    return list(groups.values())


def _insert_batch(connection: Connection, plan: ModelPlan, mode: SeedMode, rows: list[dict[str, Any]]) -> None:
    # RETURNING makes SQLAlchemy batch the rows into multi-row VALUES ("insertmanyvalues"), one round trip a
    # batch; a plain executemany sends one statement a row.
    statement = _upsert(connection, plan, mode, rows[0]).returning(*plan.table.primary_key.columns)
    connection.execute(statement, rows).close()


class _DefaultContext:
    """What a context-sensitive column default reads: the row being inserted."""

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
    defaults = _python_defaults(plan, rows[0])
    names = [*rows[0], *(name for name, _ in defaults)]
    columns = [plan.table.c[name] for name in names]
    dialect = connection.dialect
    # JSON goes as text that the server parses into the staging table's json/jsonb column: one json.dumps a
    # value instead of SQLAlchemy's wrapper and then psycopg's dumper.
    as_json = [isinstance(column.type.dialect_impl(dialect), JSON) for column in columns]
    processors = [
        _json_text if json_column else column.type._cached_bind_processor(dialect)
        for column, json_column in zip(columns, as_json, strict=True)
    ]
    stage = shorten_identifier(f"schemakit_seed_{plan.table.name}")
    listed = ", ".join(dialect.identifier_preparer.quote(name) for name in names)
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS SELECT {listed} "
        f"FROM {dialect.identifier_preparer.format_table(plan.table)} WITH NO DATA"
    )
    type_oids = (
        connection.exec_driver_sql(
            f"SELECT atttypid FROM pg_attribute WHERE attrelid = '{stage}'::regclass AND attnum > 0 ORDER BY attnum"
        )
        .scalars()
        .all()
    )
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {stage} ({listed}) FROM STDIN") as copy:
        # One dumper per column, not a lookup per value.
        copy.set_types(["text" if json_column else oid for oid, json_column in zip(type_oids, as_json, strict=True)])
        pairs = list(zip(names, processors, strict=True))
        for batch in _batches(rows):
            for row in batch:
                _fill_defaults(row, defaults)
                copy.write_row([process(row[name]) if process else row[name] for name, process in pairs])
            advance(len(batch))
    staged = table(stage, *(column_(name) for name in names))
    connection.execute(_upsert(connection, plan, mode, rows[0]).from_select(names, select(*staged.c)))
    connection.exec_driver_sql(f"DROP TABLE {stage}")


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


def _update(plan: ModelPlan, group: Sequence[tuple[Row[Any], dict[str, Any]]]) -> tuple[Any, list[dict[str, Any]]]:
    table = plan.table
    primary_key = list(table.primary_key.columns)
    names = sorted(group[0][1])
    values: dict[str, Any] = {name: bindparam(f"new_{name}") for name in names}
    version = plan.mapper.version_id_col
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


def _key_map(connection: Connection, plan: ModelPlan, prepared: Sequence[_Prepared]) -> _Keys:
    stored = _existing(connection, plan, prepared)
    rows = {row.written_key: dict(stored[row.resolved_key]._mapping) for row in prepared}
    return _Keys(plan.name, plan.key_fields, rows)
