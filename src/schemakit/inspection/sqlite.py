"""The checks of ``schemakit inspect`` that apply to SQLite, read through SQLAlchemy's inspector."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, inspect
from sqlalchemy.engine import Inspector

from schemakit.gates.catalog import application_tables

__all__ = ["sqlite_findings"]

Rows = list[tuple[str, str]]
_BARE_NAME = re.compile(r"[a-z_][a-z0-9_]*")


def _where(index: Any) -> str | None:
    """A partial index's condition, as text."""
    condition = index.get("dialect_options", {}).get("sqlite_where")
    return None if condition is None else str(condition)


def _plain_indexes(inspector: Inspector, table: str) -> list[dict[str, Any]]:
    """The table's indexes over columns alone (no expression, not partial), unique constraints' included."""
    indexes: list[dict[str, Any]] = [
        dict(index)
        for index in inspector.get_indexes(table)
        if None not in index["column_names"] and _where(index) is None
    ]
    indexes += [
        {"name": unique["name"] or f"{table} unique", "column_names": unique["column_names"], "unique": True}
        for unique in inspector.get_unique_constraints(table)
    ]
    return indexes


def _foreign_key_without_index(inspector: Inspector, tables: list[str]) -> Rows:
    rows = []
    for table in tables:
        starts = [index["column_names"] for index in _plain_indexes(inspector, table)]
        starts.append(inspector.get_pk_constraint(table)["constrained_columns"])
        for key in inspector.get_foreign_keys(table):
            columns = key["constrained_columns"]
            if not any(set(start[: len(columns)]) == set(columns) for start in starts):
                name = key["name"] or f"({', '.join(columns)})"
                rows.append((f"{table}.{name}", f"no index starts with ({', '.join(columns)})"))
    return rows


def _duplicate_and_redundant(inspector: Inspector, tables: list[str]) -> tuple[Rows, Rows]:
    duplicates, redundant = [], []
    for table in tables:
        indexes = [index for index in inspector.get_indexes(table) if None not in index["column_names"]]
        for number, index in enumerate(indexes):
            columns = [str(column) for column in index["column_names"]]
            for earlier in indexes[:number]:
                same = (earlier["column_names"], earlier["unique"], _where(earlier))
                if same == (index["column_names"], index["unique"], _where(index)):
                    duplicates.append((str(index["name"]), f"the same index as {earlier['name']}"))
            if index["unique"] or _where(index) is not None:
                continue
            for other in indexes:
                longer = [str(column) for column in other["column_names"]]
                if _where(other) is None and len(columns) < len(longer) and longer[: len(columns)] == columns:
                    redundant.append((str(index["name"]), f"its columns ({', '.join(columns)}) begin {other['name']}"))
    return duplicates, redundant


def _table_without_primary_key(inspector: Inspector, tables: list[str]) -> Rows:
    return [
        (table, "no primary key") for table in tables if not inspector.get_pk_constraint(table)["constrained_columns"]
    ]


def _nullable_unique_column(inspector: Inspector, tables: list[str]) -> Rows:
    rows = []
    for table in tables:
        nullable = {column["name"] for column in inspector.get_columns(table) if column["nullable"]}
        for index in _plain_indexes(inspector, table):
            columns = index["column_names"]
            if index["unique"] and len(columns) > 1 and nullable & set(columns):
                rows.append(
                    (
                        str(index["name"]),
                        f"unique over ({', '.join(columns)}), but {', '.join(sorted(nullable & set(columns)))} "
                        "may be NULL: rows that differ only by a NULL there are all let in",
                    )
                )
    return rows


def _name_needs_quoting(inspector: Inspector, tables: list[str]) -> Rows:
    names = []
    for table in tables:
        names.append((table, table))
        names += [(f"{table}.{column['name']}", column["name"]) for column in inspector.get_columns(table)]
        names += [(str(index["name"]), str(index["name"])) for index in inspector.get_indexes(table)]
    quoted = [name for name, bare in names if not _BARE_NAME.fullmatch(bare)]
    return [(name, "a name that must be quoted in every query") for name in quoted]


def sqlite_findings(connection: Connection) -> dict[str, Rows]:
    """Every SQLite check's findings, ``(object, detail)`` pairs by check name."""
    inspector = inspect(connection)
    # The application's tables: not schemakit's bookkeeping, nor the FTS5 tables behind search (SQLite's design).
    tables = application_tables(inspector)
    duplicates, redundant = _duplicate_and_redundant(inspector, tables)
    return {
        "foreign-key-without-index": _foreign_key_without_index(inspector, tables),
        "duplicate-index": duplicates,
        "redundant-index": redundant,
        "table-without-primary-key": _table_without_primary_key(inspector, tables),
        "nullable-unique-column": _nullable_unique_column(inspector, tables),
        "name-needs-quoting": _name_needs_quoting(inspector, tables),
    }
