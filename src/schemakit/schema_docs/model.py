"""What the schema documentation says about each table, read the same way from models and from a database.

:func:`describe` turns a :class:`~sqlalchemy.MetaData` (the models', or one reflected from a migrated database)
into :class:`TableDoc` records whose every field reads the same from both sources when the schema is the same:
columns key first and then by name, types as the dialect spells them, server defaults without casts (a serial's
sequence left out), partial-index conditions without parentheses,
enum values from the column's type or from the CHECK constraint that holds them.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    Enum,
    ForeignKeyConstraint,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ClauseElement, TextClause

from schemakit.audit_log.tables import is_audited

__all__ = ["ColumnDoc", "ConstraintDoc", "IndexDoc", "TableDoc", "describe"]

# A cast as PostgreSQL writes it back: 'pending'::character varying, '{}'::jsonb, 'a'::text[].
_CAST = re.compile(r"::[a-z_][a-z0-9_ ]*(\(\d+(,\s*\d+)?\))?(\[\])?", re.IGNORECASE)
_LITERAL = re.compile(r"'((?:[^']|'')*)'")
# A CHECK that lists a column's values: status IN ('a', 'b'), or PostgreSQL's = ANY (ARRAY['a', 'b']).
_VALUES = re.compile(r"^\W*(\w+)\W*(?:IN\s*\(|=\s*ANY\s*\(\s*\(?\s*ARRAY\[)", re.IGNORECASE)


@dataclass(frozen=True)
class ColumnDoc:
    """A column: its name, type as the dialect spells it, nullability, server default, enum values, comment."""

    name: str
    type: str
    nullable: bool
    default: str | None
    values: tuple[str, ...]
    comment: str | None
    primary_key: bool
    references: str | None


@dataclass(frozen=True)
class ConstraintDoc:
    """A constraint: ``primary key``, ``foreign key``, ``unique`` or ``check``, with its columns.

    A foreign key's ``detail`` is what it references and its ``ON DELETE``.
    """

    name: str
    kind: str
    columns: tuple[str, ...]
    detail: str


@dataclass(frozen=True)
class IndexDoc:
    """An index: its columns (or expressions), whether it is unique, and a partial index's condition."""

    name: str
    columns: tuple[str, ...]
    unique: bool
    where: str | None


@dataclass(frozen=True)
class TableDoc:
    """A table, with the marks of schemakit's mixins (``soft delete``, ``versioned``, ``audited``)."""

    name: str
    comment: str | None
    marks: tuple[str, ...]
    columns: tuple[ColumnDoc, ...]
    constraints: tuple[ConstraintDoc, ...]
    indexes: tuple[IndexDoc, ...]


def describe(metadata: MetaData, dialect: Dialect, *, audited: Collection[str] = ()) -> list[TableDoc]:
    """The tables of ``metadata``, by name.

    Args:
        metadata: The models' metadata, or one reflected from a database.
        dialect: The dialect whose type names the document uses.
        audited: Tables known to be audited besides those marked so in ``metadata`` (a database's, from its
            triggers).
    """
    return [_table(table, dialect, audited) for table in sorted(metadata.tables.values(), key=lambda t: t.name)]


def _table(table: Table, dialect: Dialect, audited: Collection[str]) -> TableDoc:
    checks = [c for c in table.constraints if isinstance(c, CheckConstraint)]
    values = {column: found for column, found in map(_listed_values, checks) if column}
    marks = [
        mark
        for mark, present in (
            ("soft delete", "deleted_at" in table.columns),
            ("versioned", "version" in table.columns),
            ("audited", is_audited(table) or table.name in audited),
        )
        if present
    ]
    return TableDoc(
        table.name,
        table.comment,
        tuple(marks),
        # Key first, then by name: a migrated table's columns are in the order they were added, not the models'.
        tuple(
            _column(column, dialect, values.get(column.name, ()))
            for column in sorted(table.columns, key=lambda column: (not column.primary_key, column.name))
        ),
        tuple(sorted((_constraint(c) for c in table.constraints if c.name is not None), key=lambda c: c.name)),
        tuple(sorted((_index(index) for index in table.indexes if index.name), key=lambda i: i.name)),
    )


def _column(column: Column[Any], dialect: Dialect, listed: tuple[str, ...]) -> ColumnDoc:
    enum_values = tuple(column.type.enums) if isinstance(column.type, Enum) else listed
    references = ", ".join(sorted(f"{key.column.table.name}.{key.column.name}" for key in column.foreign_keys))
    return ColumnDoc(
        column.name,
        column.type.compile(dialect=dialect),
        bool(column.nullable),
        _default(column, dialect),
        enum_values,
        column.comment,
        column.primary_key,
        references or None,
    )


def _default(column: Column[Any], dialect: Dialect) -> str | None:
    argument = getattr(column.server_default, "arg", None)
    if argument is None:
        return None
    if isinstance(argument, TextClause):
        text = argument.text
    elif isinstance(argument, ClauseElement):
        text = str(argument.compile(dialect=dialect))
    else:
        text = str(argument)
    text = _CAST.sub("", text).strip()
    if text.startswith("nextval("):
        return None  # a serial column's sequence, which the models do not spell out
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    quoted = _LITERAL.fullmatch(text)
    return quoted.group(1).replace("''", "'") if quoted else text


def _listed_values(check: CheckConstraint) -> tuple[str | None, tuple[str, ...]]:
    text = _sql(check.sqltext, check.table.name)
    found = _VALUES.match(text)
    if not found:
        return None, ()
    return found.group(1), tuple(value.replace("''", "'") for value in _LITERAL.findall(text))


def _constraint(constraint: Any) -> ConstraintDoc:
    name = str(constraint.name)
    columns = tuple(column.name for column in constraint.columns)
    if isinstance(constraint, PrimaryKeyConstraint):
        return ConstraintDoc(name, "primary key", columns, "")
    if isinstance(constraint, ForeignKeyConstraint):
        target = constraint.elements[0].column.table.name
        referenced = ", ".join(element.column.name for element in constraint.elements)
        on_delete = f"; ON DELETE {constraint.ondelete.upper()}" if constraint.ondelete else ""
        return ConstraintDoc(name, "foreign key", columns, f"{target} ({referenced}){on_delete}")
    if isinstance(constraint, UniqueConstraint):
        return ConstraintDoc(name, "unique", columns, "")
    column, _ = _listed_values(constraint)
    return ConstraintDoc(name, "check", (column,) if column else (), "")


def _index(index: Index) -> IndexDoc:
    table = index.table.name if index.table is not None else ""
    columns = tuple(
        " ".join(_sql(expression, table).replace("(", " ").replace(")", " ").split())
        for expression in index.expressions
    )
    where = None
    for options in index.dialect_options.values():
        condition = options.get("where")
        if condition is not None:
            where = " ".join(_sql(condition, table).replace("(", " ").replace(")", " ").split())
    return IndexDoc(str(index.name), columns, bool(index.unique), where)


def _sql(expression: Any, table: str) -> str:
    """An expression as SQL text without casts or its table's name: the same from a model and a database."""
    if isinstance(expression, Column):
        return expression.name
    if isinstance(expression, TextClause):
        text = expression.text
    elif isinstance(expression, ClauseElement):
        text = str(expression.compile(compile_kwargs={"literal_binds": True}))
    else:
        text = str(expression)
    return _CAST.sub("", text).replace(f"{table}.", "")
