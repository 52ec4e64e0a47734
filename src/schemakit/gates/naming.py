"""The naming gate: the migrated schema follows the conventions.

* Tables are snake_case and plural; columns are snake_case; every table has ``id``, ``created_at`` and
  ``updated_at``.
* Primary keys, foreign keys, unique constraints, indexes and checks carry the names the naming convention
  gives them (``pk_<table>``, ``fk_<table>_<columns>_<referred table>``, ``uq_<table>_<columns>``,
  ``idx_<table>_<columns>``, ``chk_<table>_<name>``, shortened past 63 bytes as schemakit shortens them).
* Every foreign key says what happens ``ondelete``, and its columns lead some index (or the primary key or a
  unique constraint), so deleting a parent row does not scan the child table.

Each finding names the revision file (and line) where the object first appears, when it can be found.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, inspect

from schemakit.audit_log.tables import AUDIT_TABLES
from schemakit.gates.catalog import application_tables
from schemakit.gates.findings import Finding, GateResult
from schemakit.naming import MAX_IDENTIFIER_BYTES, NAMING_CONVENTION

__all__ = ["MANDATORY_COLUMNS", "check_naming", "conventional"]

GATE = "naming"
#: Columns every application table must have.
MANDATORY_COLUMNS = ("id", "created_at", "updated_at")
_SNAKE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
_UNCOUNTABLE = frozenset({"data", "media", "news", "series", "staff", "feedback", "information", "equipment", "people"})


def _plural(table: str) -> bool:
    last = table.rsplit("_", 1)[-1]
    return last.endswith("s") or last in _UNCOUNTABLE or last.endswith("ren")


class _Locator:
    """Finds the revision file and line where a name first appears."""

    def __init__(self, files: Sequence[Path]) -> None:
        self.lines = [
            (path, number, line) for path in files for number, line in enumerate(path.read_text().splitlines(), 1)
        ]

    def __call__(self, *names: str) -> tuple[str | None, int | None]:
        for name in names:
            quoted = (f'"{name}"', f"'{name}'")
            for path, number, line in self.lines:
                if any(q in line for q in quoted):
                    return str(path.resolve()), number
        return None, None


def _covered(columns: Sequence[str], indexes: Sequence[Sequence[str]]) -> bool:
    wanted = set(columns)
    return any(set(index[: len(columns)]) == wanted for index in indexes if len(index) >= len(columns))


def check_naming(
    connection: Connection, revision_files: Sequence[Path], *, only: Collection[str] | None = None
) -> GateResult:
    """Check the schema behind ``connection`` (migrated to head).

    Args:
        connection: A connection to the migrated database.
        revision_files: The project's revision files, to point findings at.
        only: If given, report only objects first named in these files (a baseline).

    Returns:
        Findings with rules ``table-name``, ``plural``, ``column-name``, ``missing-column``,
        ``constraint-name``, ``index-name``, ``ondelete``, ``unindexed-foreign-key``.
    """
    inspector = inspect(connection)
    locate = _Locator(revision_files)
    result = GateResult(GATE)

    def report(rule: str, message: str, *names: str) -> None:
        file, line = locate(*names)
        if only is None or (file is not None and file in only):
            result.findings.append(Finding(GATE, rule, message, file, line))

    for table in application_tables(inspector):
        if table not in AUDIT_TABLES:  # the audit log's tables are schemakit's, named as the log needs
            _check_table(inspector, table, report)
    return result


def _check_table(inspector: Any, table: str, report: Any) -> None:
    if not _SNAKE.match(table):
        report("table-name", f"table {table!r} is not snake_case", table)
    elif not _plural(table):
        report("plural", f"table {table!r} is not plural (e.g. {table}s)", table)
    columns = [column["name"] for column in inspector.get_columns(table)]
    for column in columns:
        if not _SNAKE.match(column):
            report("column-name", f"column {table}.{column} is not snake_case", column, table)
    for column in MANDATORY_COLUMNS:
        if column not in columns:
            report("missing-column", f"table {table!r} has no {column!r} column (use the schemakit mixins)", table)
    _check_constraint_names(inspector, table, report)
    _check_foreign_keys(inspector, table, report)


def _check_constraint_names(inspector: Any, table: str, report: Any) -> None:
    _expect(report, "constraint-name", inspector.get_pk_constraint(table).get("name"), conventional("pk", table), table)
    for constraint in inspector.get_unique_constraints(table):
        wanted = conventional("uq", table, constraint["column_names"])
        _expect(report, "constraint-name", constraint["name"], wanted, table)
    for index in inspector.get_indexes(table):
        if not index.get("duplicates_constraint") and all(index["column_names"]):
            _expect(report, "index-name", index["name"], conventional("ix", table, index["column_names"]), table)
    # A shortened name keeps its first 54 bytes, so the (unshortened) prefix survives unless the table name is
    # very long; str() takes the plain template, without the shortening.
    prefix = (str(NAMING_CONVENTION["ck"]) % {"table_name": table, "constraint_name": ""})[: MAX_IDENTIFIER_BYTES - 9]
    for check in inspector.get_check_constraints(table):
        name = check.get("name") or ""
        if not name.startswith(prefix):
            report(
                "constraint-name", f"check constraint {name!r} on {table} is not named chk_{table}_<name>", name, table
            )


def _check_foreign_keys(inspector: Any, table: str, report: Any) -> None:
    primary_key = inspector.get_pk_constraint(table).get("constrained_columns") or []
    covering = [primary_key]
    covering += [constraint["column_names"] for constraint in inspector.get_unique_constraints(table)]
    covering += [index["column_names"] for index in inspector.get_indexes(table)]
    for foreign_key in inspector.get_foreign_keys(table):
        local = foreign_key["constrained_columns"]
        expected = conventional("fk", table, local, referred=foreign_key["referred_table"])
        _expect(report, "constraint-name", foreign_key.get("name"), expected, table)
        name = foreign_key.get("name") or expected
        if not (foreign_key.get("options") or {}).get("ondelete"):
            report(
                "ondelete",
                f"foreign key {name} ({table}.{', '.join(local)}) does not say ondelete "
                "(CASCADE, RESTRICT or SET NULL)",
                name,
                table,
            )
        if not _covered(local, covering):
            report(
                "unindexed-foreign-key",
                f"{table}.{', '.join(local)} references {foreign_key['referred_table']} but no index starts with it; "
                "deleting or updating a referenced row scans the table",
                name,
                table,
            )


def conventional(kind: str, table: str, columns: Sequence[str] = (), *, referred: str = "", name: str = "") -> str:
    """The name :data:`~schemakit.naming.NAMING_CONVENTION` gives an object (shortened as it shortens).

    Args:
        kind: The convention's key: ``pk``, ``uq``, ``ix``, ``ck`` or ``fk``.
        table: The table's name.
        columns: The object's columns, in order.
        referred: The referred table, for a foreign key.
        name: The constraint's own name, for a check.
    """
    tokens = {
        "table_name": table,
        "column_0_N_name": "_".join(columns),
        "referred_table_name": referred,
        "constraint_name": name,
    }
    return NAMING_CONVENTION[kind] % tokens


def _expect(report: Any, rule: str, actual: str | None, expected: str, table: str) -> None:
    if actual != expected:
        report(rule, f"{actual or 'an unnamed object'} on {table} should be named {expected}", actual or table, table)
