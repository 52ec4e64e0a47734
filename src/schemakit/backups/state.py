"""What a database holds, read so that two databases can be compared: its :class:`DatabaseState`.

Each table's row count and a content checksum (the sum of a hash of every row, so it needs no sort and does
not depend on the order rows are read in), every index and whether it is valid, every constraint and
whether it is validated, every sequence's position and the largest value of the column it feeds, and the
Alembic revisions the database is at. On PostgreSQL the rows are read as text with fixed output settings
(UTC, ISO dates), so the same rows give the same checksum on any server; a backup reads them in the snapshot
``pg_dump`` dumps. SQLite has no validation state and no sequences but ``AUTOINCREMENT``'s counters.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import DBAPIError

from schemakit.naming import quote_identifier

__all__ = ["DatabaseState", "SequenceState", "TableState", "read_state"]

# Row text that does not depend on the session: the same rows give the same checksum on any server.
_STABLE_OUTPUT = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, YMD",
    "IntervalStyle": "postgres",
    "extra_float_digits": "1",
    "bytea_output": "hex",
}
# Each row's 64-bit hash, summed as numeric: order-independent, and it never overflows. hash_record_extended
# hashes the values with their types' hash functions, which hash partitioning keeps stable across versions;
# a table with a column type that has none (json, say) falls back to an MD5 of each row's text.
_PG_TABLE = "SELECT count(*) AS rows, coalesce(sum({row_hash}::numeric), 0) AS checksum FROM {table} AS t"
_ROW_HASHES = (
    "hash_record_extended(t, 0)",
    "('x' || substr(md5(CAST(t AS text)), 1, 16))::bit(64)::bigint",
)


_UNDEFINED_FUNCTION = "42883"  # a column type with no hash function


@dataclass(frozen=True)
class TableState:
    """A table's row count and content checksum."""

    rows: int
    checksum: str


@dataclass(frozen=True)
class SequenceState:
    """A sequence's last value (``None`` before its first use) and the largest value of the column it feeds."""

    last_value: int | None
    column_max: int | None


@dataclass
class DatabaseState:
    """What a database holds, as :func:`read_state` reads it.

    Indexes, constraints and sequences are named ``<table>.<name>`` (SQLite's sequences by their table alone).
    """

    tables: dict[str, TableState] = field(default_factory=dict)
    indexes: dict[str, bool] = field(default_factory=dict)
    constraints: dict[str, bool] = field(default_factory=dict)
    sequences: dict[str, SequenceState] = field(default_factory=dict)
    revisions: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DatabaseState:
        """The state :meth:`to_json` wrote."""
        return cls(
            tables={name: TableState(**value) for name, value in data["tables"].items()},
            indexes=dict(data["indexes"]),
            constraints=dict(data["constraints"]),
            sequences={name: SequenceState(**value) for name, value in data["sequences"].items()},
            revisions=list(data["revisions"]),
        )


def read_state(connection: Connection) -> DatabaseState:
    """Read the state of the database behind ``connection`` (its current schema), in the connection's transaction."""
    if connection.dialect.name == "postgresql":
        return _postgres_state(connection)
    return _sqlite_state(connection)


def _postgres_state(connection: Connection) -> DatabaseState:
    for name, value in _STABLE_OUTPUT.items():
        connection.execute(text("SELECT set_config(:name, :value, true)"), {"name": name, "value": value})
    namespace = "(SELECT oid FROM pg_namespace WHERE nspname = current_schema())"
    state = DatabaseState()
    tables = [
        str(name)
        for name in connection.scalars(
            text(f"SELECT relname FROM pg_class WHERE relnamespace = {namespace} AND relkind IN ('r', 'p') ORDER BY 1")
        )
    ]
    for table in tables:
        state.tables[table] = _postgres_table(connection, table)
    for name, valid in connection.execute(
        text(
            "SELECT t.relname || '.' || i.relname, x.indisvalid FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            f"WHERE t.relnamespace = {namespace}"
        )
    ):
        state.indexes[str(name)] = bool(valid)
    for name, validated in connection.execute(
        text(
            "SELECT t.relname || '.' || c.conname, c.convalidated FROM pg_constraint c "
            f"JOIN pg_class t ON t.oid = c.conrelid WHERE t.relnamespace = {namespace}"
        )
    ):
        state.constraints[str(name)] = bool(validated)
    for sequence, table, column, last_value in connection.execute(
        text(
            "SELECT s.relname, t.relname, a.attname, q.last_value FROM pg_class s "
            "JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') "
            "JOIN pg_class t ON t.oid = d.refobjid "
            "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid "
            "JOIN pg_sequences q ON q.schemaname = current_schema() AND q.sequencename = s.relname "
            f"WHERE s.relkind = 'S' AND s.relnamespace = {namespace}"
        )
    ):
        largest = connection.scalar(text(f"SELECT max({quote_identifier(column)}) FROM {quote_identifier(table)}"))
        state.sequences[f"{table}.{sequence}"] = SequenceState(
            None if last_value is None else int(last_value), None if largest is None else int(largest)
        )
    state.revisions = _revisions(connection, tables)
    return state


def _postgres_table(connection: Connection, table: str) -> TableState:
    for row_hash in _ROW_HASHES:
        try:
            with connection.begin_nested():
                row = connection.execute(text(_PG_TABLE.format(row_hash=row_hash, table=quote_identifier(table)))).one()
                return TableState(int(row.rows), f"{row_hash.split('(')[0]}:{row.checksum}")
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != _UNDEFINED_FUNCTION:
                raise
    raise AssertionError("the MD5 of a row's text is always defined")


def _sqlite_state(connection: Connection) -> DatabaseState:
    state = DatabaseState()
    inspector = inspect(connection)
    tables = sorted(name for name in inspector.get_table_names() if name != "sqlite_sequence")
    for table in tables:
        total, rows = 0, 0
        for row in connection.execute(text(f"SELECT * FROM {quote_identifier(table)}")):
            total += int.from_bytes(hashlib.md5(repr(tuple(row)).encode(), usedforsecurity=False).digest()[:8])
            rows += 1
        state.tables[table] = TableState(rows, str(total % 2**64))
        for index in inspector.get_indexes(table):
            state.indexes[f"{table}.{index['name']}"] = True
    if connection.scalar(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'")):
        for table, last_value in connection.execute(text("SELECT name, seq FROM sqlite_sequence")):
            largest = connection.scalar(text(f"SELECT max(rowid) FROM {quote_identifier(table)}"))
            state.sequences[str(table)] = SequenceState(int(last_value), None if largest is None else int(largest))
    state.revisions = _revisions(connection, tables)
    return state


def _revisions(connection: Connection, tables: list[str]) -> list[str]:
    if "alembic_version" not in tables:
        return []
    return sorted(str(r) for r in connection.scalars(text("SELECT version_num FROM alembic_version")))
