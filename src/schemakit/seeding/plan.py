"""How fixtures map onto tables: models, natural keys, references, load order and value types."""

from __future__ import annotations

import enum
import json
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Column, ColumnElement, Enum, Index, Table, UniqueConstraint
from sqlalchemy.orm import Mapper, RelationshipProperty, registry
from sqlalchemy.orm.interfaces import MANYTOONE

from schemakit.seeding.fixtures import Fixture, FixtureError

__all__ = ["ModelPlan", "Reference", "plan_fixtures"]


@dataclass(frozen=True)
class Reference:
    """A many-to-one relationship used in fixture rows: ``field`` names rows of ``target`` by natural key."""

    field: str
    target: str
    columns: tuple[tuple[str, str], ...]  # (local column, referenced column) pairs


@dataclass(frozen=True)
class ModelPlan:
    """Everything the loader needs to know about one fixture's model and table."""

    fixture: Fixture
    mapper: Mapper[Any]
    table: Table
    key_fields: tuple[str, ...]
    key_columns: tuple[str, ...]
    key_where: ColumnElement[bool] | None
    columns: Mapping[str, Column[Any]]  # fixture field (attribute name) -> column
    references: Mapping[str, Reference]
    converters: Mapping[str, Callable[[Any], Any]]  # fixture field -> conversion to the column's type

    @property
    def name(self) -> str:
        """The model's class name."""
        return self.fixture.model


def plan_fixtures(fixtures: Sequence[Fixture], mappers: registry) -> list[ModelPlan]:
    """Check fixtures against the models and order them so referenced rows load first.

    Args:
        fixtures: One fixture per model.
        mappers: The declarative registry holding the models (``Base.registry``).

    Returns:
        One plan per fixture, parents before children.

    Raises:
        FixtureError: For an unknown model, two fixtures of one model, a natural key that no unique constraint
            covers, a reference to a model without a fixture, or a cycle of references.
    """
    by_name = {mapper.class_.__name__: mapper for mapper in mappers.mappers}
    plans: dict[str, ModelPlan] = {}
    for fixture in fixtures:
        mapper = by_name.get(fixture.model)
        if mapper is None:
            known = ", ".join(sorted(by_name))
            raise FixtureError(f"{fixture.source}: no model named {fixture.model!r} (models: {known})")
        if fixture.model in plans:
            raise FixtureError(
                f"{fixture.source}: {fixture.model} already has a fixture ({plans[fixture.model].fixture.source})"
            )
        plans[fixture.model] = _plan(fixture, mapper)
    for plan in plans.values():
        for reference in plan.references.values():
            if reference.target not in plans:
                raise FixtureError(
                    f"{plan.fixture.source}: field {reference.field!r} refers to {reference.target}, "
                    "which has no fixture"
                )
    return _ordered(plans)


def _plan(fixture: Fixture, mapper: Mapper[Any]) -> ModelPlan:
    table = mapper.local_table
    if not isinstance(table, Table):
        raise FixtureError(f"{fixture.source}: {fixture.model} is not mapped to a single table")
    columns = {prop.key: prop.columns[0] for prop in mapper.column_attrs if isinstance(prop.columns[0], Column)}
    references = {
        rel.key: Reference(
            rel.key,
            rel.mapper.class_.__name__,
            tuple((local.name, remote.name) for local, remote in rel.local_remote_pairs or ()),
        )
        for rel in mapper.relationships
        if isinstance(rel, RelationshipProperty) and rel.direction is MANYTOONE and rel.secondary is None
    }
    key_columns: list[str] = []
    for name in fixture.key:
        if name in columns:
            key_columns.append(columns[name].name)
        elif name in references:
            key_columns.extend(local for local, _ in references[name].columns)
        else:
            raise FixtureError(
                f"{fixture.source}: natural key field {name!r} is neither a column nor a many-to-one "
                f"relationship of {fixture.model}"
            )
    key_where = _unique_cover(table, key_columns, fixture)
    converters = {name: converter(column) for name, column in columns.items()}
    return ModelPlan(
        fixture, mapper, table, fixture.key, tuple(key_columns), key_where, columns, references, converters
    )


def _unique_cover(table: Table, key_columns: Sequence[str], fixture: Fixture) -> ColumnElement[bool] | None:
    wanted = set(key_columns)
    candidates: list[tuple[set[str], ColumnElement[bool] | None]] = [
        ({column.name for column in table.primary_key.columns}, None)
    ]
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            candidates.append(({column.name for column in constraint.columns}, None))
    for index in table.indexes:
        if isinstance(index, Index) and index.unique:
            where = index.dialect_options["postgresql"].get("where")
            candidates.append(({column.name for column in index.columns}, where))
    for columns, where in candidates:
        if columns == wanted:
            return where
    unique_sets = ", ".join("(" + ", ".join(sorted(columns)) + ")" for columns, _ in candidates)
    raise FixtureError(
        f"{fixture.source}: the natural key ({', '.join(fixture.key)}) of {fixture.model} matches no UNIQUE "
        f"constraint or unique index of table {table.name}; its unique column sets are {unique_sets}. "
        "Choose one of them, or add the constraint in a migration."
    )


def _ordered(plans: Mapping[str, ModelPlan]) -> list[ModelPlan]:
    ordered: list[ModelPlan] = []
    state: dict[str, str] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = " -> ".join((*path[path.index(name) :], name))
            raise FixtureError(f"fixture references form a cycle: {cycle}; load one side without the reference")
        state[name] = "visiting"
        for reference in plans[name].references.values():
            if reference.target != name:
                visit(reference.target, (*path, name))
        state[name] = "done"
        ordered.append(plans[name])

    for name in plans:
        visit(name, ())
    return ordered


_SHOWN = 60


def bad_value_message(value: Any, column: Column[Any], convert: Callable[[Any], Any]) -> str | None:
    """Why ``value`` does not fit ``column`` (with its :func:`converter`), or ``None`` if it does."""
    if value is None:
        return None if column.nullable else f"{column.name} cannot be null"
    try:
        convert(value)
    except (ValueError, TypeError, InvalidOperation) as exc:
        shown = repr(value) if len(repr(value)) <= _SHOWN else f"{repr(value)[:_SHOWN]}..."
        return f"cannot read {shown} as {_type_name(column)}: {exc}"
    return None


def _as_member(value: Any, enum_class: type[enum.Enum]) -> enum.Enum:
    if isinstance(value, enum_class):
        return value
    try:
        return enum_class(value)
    except ValueError:
        allowed = ", ".join(repr(member.value) for member in enum_class)
        raise ValueError(f"expected one of {allowed}") from None


def _as_decimal(value: Any) -> Decimal:
    if isinstance(value, float):
        raise TypeError('write decimal amounts as strings, such as "12.50", to keep them exact')
    return Decimal(str(value))


def _as_datetime(value: Any) -> datetime:
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError("a timestamp needs a timezone, such as 2026-01-31T09:00:00Z")
    return parsed


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _as_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _checked(python_type: type, description: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        # bool is an int to Python, but never a number in a fixture.
        if not isinstance(value, python_type) or (python_type is int and isinstance(value, bool)):
            raise TypeError(f"expected {description}")
        return value

    return check


def _as_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("expected a number")
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return float(value)


_CONVERTERS: dict[type, Callable[[Any], Any]] = {
    Decimal: _as_decimal,
    float: _as_float,
    datetime: _as_datetime,
    date: _as_date,
    uuid.UUID: _as_uuid,
    int: _checked(int, "a whole number"),
    bool: _checked(bool, "true or false"),
    str: _checked(str, "text"),
}


def _unchanged(value: Any) -> Any:
    return value


def converter(column: Column[Any]) -> Callable[[Any], Any]:
    """The function that turns a fixture value into ``column``'s Python type (chosen once per column).

    It also refuses what the column cannot hold as given, the same way on every database: text longer than
    ``String(n)``, a number that is not finite, a decimal with more places than the column's scale (which the
    database would round, so that every converge run would see a change) or more digits than its precision.
    """
    column_type = column.type
    if isinstance(column_type, Enum) and column_type.enum_class is not None:
        enum_class = column_type.enum_class
        return lambda value: _as_member(value, enum_class)
    try:
        python_type = column_type.python_type
    except NotImplementedError:
        return _unchanged
    convert = _CONVERTERS.get(python_type, _unchanged)
    if python_type is str and getattr(column_type, "length", None):
        return _limited_text(convert, column_type.length)  # type: ignore[attr-defined]
    if python_type is Decimal:
        return _fitting_decimal(getattr(column_type, "precision", None), getattr(column_type, "scale", None))
    return convert


def _limited_text(convert: Callable[[Any], Any], length: int) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        text = convert(value)
        if len(text) > length:
            raise ValueError(f"{len(text)} characters, more than the column's {length}")
        return text

    return check


def _fitting_decimal(precision: int | None, scale: int | None) -> Callable[[Any], Any]:
    def check(value: Any) -> Decimal:
        number = _as_decimal(value)
        if not number.is_finite():
            raise ValueError("not a finite number")
        exponent = number.as_tuple().exponent
        places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        if scale is not None and places > scale:
            raise ValueError(f"{places} decimal places, more than the column's {scale}: it would be rounded")
        if precision is not None and scale is not None and number.adjusted() + 1 > precision - scale:
            raise ValueError(f"too large for the column's precision ({precision} digits, {scale} after the point)")
        return number

    return check


def _type_name(column: Column[Any]) -> str:
    try:
        return column.type.python_type.__name__
    except NotImplementedError:
        return type(column.type).__name__


def canonical(value: Any) -> str:
    """A stable text form of a natural key value, for deterministic ids and messages."""
    if type(value) is str:
        return value
    if isinstance(value, Mapping):
        return json.dumps({str(k): canonical(v) for k, v in value.items()}, sort_keys=True)
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)
