"""Fixture rows made ready to write: converted, resolved, keyed, and matched with the rows already stored.

:func:`prepare_rows` turns each fixture row into column values (converted by the column's type, references
to other fixtures' rows resolved to their keys, a :func:`~schemakit.ids.deterministic_uuid7` id when the
table has a UUID key); :func:`existing_rows` finds the stored row of each natural key; :func:`key_map` keeps a
loaded model's rows by natural key for the fixtures that refer to them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import InvalidOperation
from typing import Any

from sqlalchemy import Connection, Row, Uuid, any_, bindparam, case, literal, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY

from schemakit.ids import deterministic_uuid7
from schemakit.seeding.fixtures import FixtureError
from schemakit.seeding.plan import ModelPlan, bad_value_message, canonical

__all__ = ["BATCH", "KeyedRows", "PreparedRow", "batches", "existing_rows", "key_map", "prepare_rows"]

#: Rows a statement (or a progress step) handles at a time.
BATCH = 1000


@dataclass(frozen=True)
class KeyedRows:
    """A loaded model's rows by natural key as written in its fixture, for references to them."""

    model: str
    fields: tuple[str, ...]
    rows: Mapping[tuple[str, ...], Mapping[str, Any]]


@dataclass
class PreparedRow:
    """One fixture row ready to write.

    Attributes:
        written_key: The natural key as the fixture wrote it (text), for references and messages.
        resolved_key: The natural key as stored (column values).
        values: Column values by column name.
        number: The row's place in its fixture file, from 1, for messages.
    """

    written_key: tuple[str, ...]
    resolved_key: tuple[Any, ...]
    values: dict[str, Any]
    number: int = 0


@dataclass(frozen=True)
class _Recipe:
    """How to turn a row with one set of fields into column values, worked out once for that set."""

    columns: list[tuple[str, str, Callable[[Any], Any], bool]]  # field, column, converter, nullable
    references: list[str]


def _recipe(plan: ModelPlan, fields: tuple[str, ...], number: int) -> _Recipe:
    if missing := [name for name in plan.key_fields if name not in fields]:
        raise FixtureError(f"{plan.fixture.source} row {number}: missing natural key field(s) {', '.join(missing)}")
    recipe = _Recipe([], [])
    for name in fields:
        if (column := plan.columns.get(name)) is not None:
            recipe.columns.append((name, column.name, plan.converters[name], bool(column.nullable)))
        elif name in plan.references:
            recipe.references.append(name)
        else:
            raise FixtureError(
                f"{plan.fixture.source} row {number}: {plan.name} has no column or many-to-one relationship "
                f"{name!r} (fields: {', '.join(sorted([*plan.columns, *plan.references]))})"
            )
    return recipe


def prepare_rows(plan: ModelPlan, keys: Mapping[str, KeyedRows]) -> list[PreparedRow]:
    """Convert and check every row of ``plan``'s fixture; ``keys`` holds the models loaded so far.

    Raises:
        FixtureError: For a row that does not fit the model, repeats a key or refers to a missing row.
    """
    prepared: list[PreparedRow] = []
    seen: dict[tuple[str, ...], int] = {}
    recipes: dict[tuple[str, ...], _Recipe] = {}
    primary_key = list(plan.table.primary_key.columns)
    id_name = primary_key[0].name if len(primary_key) == 1 and isinstance(primary_key[0].type, Uuid) else None
    live_by_default = "deleted_at" in plan.table.columns
    source, table_name, key_fields, key_columns = (
        plan.fixture.source,
        plan.table.name,
        plan.key_fields,
        plan.key_columns,
    )
    for number, row in enumerate(plan.fixture.rows, start=1):
        fields = tuple(row)
        if (recipe := recipes.get(fields)) is None:
            recipe = recipes[fields] = _recipe(plan, fields, number)
        values: dict[str, Any] = {}
        for name, column_name, convert, nullable in recipe.columns:
            value = row[name]
            if value is None:
                if not nullable:
                    raise FixtureError(f"{source} row {number}, field {name!r}: {column_name} cannot be null")
                values[column_name] = None
                continue
            try:
                values[column_name] = convert(value)
            except (ValueError, TypeError, InvalidOperation):
                problem = bad_value_message(value, plan.columns[name], convert)
                raise FixtureError(f"{source} row {number}, field {name!r}: {problem}") from None
        for name in recipe.references:
            reference = plan.references[name]
            target = _referenced_row(row[name], keys[reference.target], f"{source} row {number}, field {name!r}")
            values.update({local: target[remote] for local, remote in reference.columns})
        written_key = tuple([canonical(row[name]) for name in key_fields])
        if (first := seen.setdefault(written_key, number)) != number:
            raise FixtureError(f"{source} row {number}: the same natural key as row {first} ({', '.join(written_key)})")
        if live_by_default and "deleted_at" not in values:
            values["deleted_at"] = None
        if id_name is not None and id_name not in values:
            values[id_name] = deterministic_uuid7(table_name, *written_key)
        prepared.append(PreparedRow(written_key, tuple([values[column] for column in key_columns]), values, number))
    return prepared


def _referenced_row(value: Any, target: KeyedRows, where: str) -> Mapping[str, Any]:
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


def batches(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """``items`` in slices of :data:`BATCH`."""
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


def _key_filter(connection: Connection, plan: ModelPlan, keys: Sequence[tuple[Any, ...]]) -> Any:
    columns = [plan.table.c[name] for name in plan.key_columns]
    if len(columns) > 1:
        return tuple_(*columns).in_(keys)
    values = [key[0] for key in keys]
    if connection.dialect.name == "postgresql":
        # One array parameter instead of a placeholder per key, which the driver would parse each time.
        return columns[0] == any_(bindparam("keys", values, type_=ARRAY(columns[0].type)))
    return columns[0].in_(values)


def existing_rows(
    connection: Connection, plan: ModelPlan, prepared: Sequence[PreparedRow]
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
    for batch in batches(prepared):
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


def key_map(connection: Connection, plan: ModelPlan, prepared: Sequence[PreparedRow]) -> KeyedRows:
    """The stored rows of ``prepared`` by written natural key, for fixtures that refer to them."""
    stored = existing_rows(connection, plan, prepared)
    rows = {row.written_key: dict(stored[row.resolved_key]._mapping) for row in prepared}
    return KeyedRows(plan.name, plan.key_fields, rows)
