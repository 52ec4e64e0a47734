"""Making partitions ahead and detaching old ones, in plain SQL on the caller's connection (PostgreSQL).

* :func:`ensure_partitions`: the partitions from the current interval to ``ahead`` intervals after it (and any
  gap since the newest one), and the ``<table>_default`` partition. Rows that already sit in the default
  partition inside a new range are moved into it, so nothing is lost and the range can be attached.
* :func:`detach_partitions`: partitions wholly older than the ``kept`` intervals (the current one included) are
  detached, and dropped only when asked.
* :func:`maintain_partitions`: both, for every time-partitioned table of a metadata.

Each runs in the caller's transaction. pg_partman's time partitioning wants a timestamp (or, from 5.1, an
encoder for UUIDv7) as its control column; these functions need neither.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, MetaData, text

from schemakit.errors import SchemakitError
from schemakit.naming import qualified_name, quote_identifier
from schemakit.partitioning.bounds import Interval, id_bound, interval_start, next_start, partition_suffix
from schemakit.partitioning.options import partitioning_of

__all__ = [
    "Partition",
    "PartitionReport",
    "detach_partitions",
    "ensure_partitions",
    "fresh_partitions_ddl",
    "maintain_partitions",
    "partitions_of",
    "relation_kind",
]

log = logging.getLogger(__name__)
_BOUND = re.compile(r"'([0-9a-f-]{36})'")


@dataclass(frozen=True)
class Partition:
    """One partition of a table.

    Attributes:
        name: Its table name.
        start: The first moment it holds (UTC); ``None`` for the default partition.
        end: The first moment it no longer holds; ``None`` for the default partition.
    """

    name: str
    start: datetime | None
    end: datetime | None


@dataclass
class PartitionReport:
    """What :func:`maintain_partitions` did, table by table.

    Attributes:
        created: Partitions made, by table.
        detached: Partitions detached (or dropped), by table.
    """

    created: dict[str, list[str]] = field(default_factory=dict)
    detached: dict[str, list[str]] = field(default_factory=dict)

    def text(self) -> str:
        """One line per table."""
        tables = sorted(set(self.created) | set(self.detached))
        if not tables:
            return "No time-partitioned tables."
        return "\n".join(
            f"{table}: created {', '.join(self.created.get(table, [])) or 'none'}; "
            f"detached {', '.join(self.detached.get(table, [])) or 'none'}"
            for table in tables
        )


def _moment(bound: str) -> datetime:
    return datetime.fromtimestamp((uuid.UUID(bound).int >> 80) / 1000, tz=UTC)


def relation_kind(connection: Connection, table_name: str, schema: str | None = None) -> str | None:
    """PostgreSQL's ``relkind`` of a relation (``r`` a table, ``p`` a partitioned table, ...), or ``None``."""
    kind = connection.scalar(
        text("SELECT relkind::text FROM pg_class WHERE oid = to_regclass(:table)"),
        {"table": qualified_name(table_name, schema)},
    )
    return None if kind is None else str(kind)


def partitions_of(connection: Connection, table_name: str, schema: str | None = None) -> list[Partition]:
    """The partitions of ``table_name``, oldest first, the default partition last.

    Raises:
        SchemakitError: If the table does not exist or is not partitioned.
    """
    kind = relation_kind(connection, table_name, schema)
    if kind != "p":
        state = "does not exist" if kind is None else "is not a partitioned table"
        raise SchemakitError(f"the table {table_name!r} {state}")
    rows = connection.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(:table)"
        ),
        {"table": qualified_name(table_name, schema)},
    ).all()
    partitions = []
    for name, bound in rows:
        found = _BOUND.findall(bound)
        if len(found) == 2:
            partitions.append(Partition(name, _moment(found[0]), _moment(found[1])))
        else:
            partitions.append(Partition(name, None, None))
    return sorted(partitions, key=lambda p: (p.start is None, p.start or datetime.min.replace(tzinfo=UTC)))


def ensure_partitions(
    connection: Connection,
    table_name: str,
    *,
    interval: Interval | str = Interval.MONTH,
    ahead: int = 3,
    now: datetime | None = None,
    schema: str | None = None,
) -> list[str]:
    """Make the partitions of ``table_name`` from the current interval to ``ahead`` after it, and the default one.

    Args:
        connection: A PostgreSQL connection; the work joins its transaction.
        table_name: The partitioned table.
        interval: What each partition holds.
        ahead: How many intervals after the current one get a partition now.
        now: The current time (tests pass another).
        schema: The table's schema, when not the default one.

    Returns:
        The names of the partitions made.
    """
    current = interval_start(now or datetime.now(UTC), interval)
    existing = partitions_of(connection, table_name, schema)
    ranged = [p for p in existing if p.start is not None and p.end is not None]
    newest_end = max((p.end for p in ranged if p.end is not None), default=None)
    start = min(current, newest_end) if newest_end is not None else current
    default = next((p.name for p in existing if p.start is None), None)
    created = []
    last = next_start(current, interval, ahead)
    while start <= last:
        end = next_start(start, interval)
        overlaps = any(p.start is not None and p.end is not None and p.start < end and p.end > start for p in ranged)
        if not overlaps:
            name = f"{table_name}_{partition_suffix(start, interval)}"
            _create_range(connection, table_name, name, start=start, end=end, default=default, schema=schema)
            created.append(name)
        start = end
    if default is None:
        connection.execute(text(_default_ddl(table_name, schema)))
        created.append(f"{table_name}_default")
    return created


def fresh_partitions_ddl(
    table_name: str,
    *,
    interval: Interval | str = Interval.MONTH,
    ahead: int = 3,
    now: datetime | None = None,
    schema: str | None = None,
) -> list[str]:
    """The statements :func:`ensure_partitions` runs on a table that has no partitions yet (for SQL scripts)."""
    start = interval_start(now or datetime.now(UTC), interval)
    statements = []
    for _ in range(ahead + 1):
        end = next_start(start, interval)
        statements.append(
            _range_ddl(table_name, f"{table_name}_{partition_suffix(start, interval)}", start, end, schema)
        )
        start = end
    return [*statements, _default_ddl(table_name, schema)]


def _range_ddl(table_name: str, name: str, start: datetime, end: datetime, schema: str | None) -> str:
    return (
        f"CREATE TABLE {qualified_name(name, schema)} PARTITION OF {qualified_name(table_name, schema)} "
        f"FOR VALUES FROM ('{id_bound(start)}') TO ('{id_bound(end)}')"
    )


def _default_ddl(table_name: str, schema: str | None) -> str:
    return (
        f"CREATE TABLE {qualified_name(f'{table_name}_default', schema)} "
        f"PARTITION OF {qualified_name(table_name, schema)} DEFAULT"
    )


def _create_range(
    connection: Connection,
    table_name: str,
    name: str,
    *,
    start: datetime,
    end: datetime,
    default: str | None,
    schema: str | None,
) -> None:
    parent, partition = qualified_name(table_name, schema), qualified_name(name, schema)
    in_range = f"id >= '{id_bound(start)}' AND id < '{id_bound(end)}'"
    if default is not None and connection.scalar(
        text(f"SELECT EXISTS (SELECT FROM {qualified_name(default, schema)} WHERE {in_range})")
    ):
        # The default partition holds rows of the new range: PostgreSQL refuses the range until they move.
        # Generated columns are left out of the copy: the new partition computes them again.
        log.warning("moving rows of %s out of %s's default partition", name, table_name)
        columns = ", ".join(
            quote_identifier(column)
            for column in connection.scalars(
                text(
                    "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:table) "
                    "AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum"
                ),
                {"table": parent},
            )
        )
        connection.execute(text(f"ALTER TABLE {parent} DETACH PARTITION {qualified_name(default, schema)}"))
        connection.execute(text(_range_ddl(table_name, name, start, end, schema)))
        connection.execute(
            text(
                f"WITH moved AS (DELETE FROM {qualified_name(default, schema)} WHERE {in_range} RETURNING {columns}) "
                f"INSERT INTO {partition} ({columns}) SELECT {columns} FROM moved"
            )
        )
        connection.execute(text(f"ALTER TABLE {parent} ATTACH PARTITION {qualified_name(default, schema)} DEFAULT"))
        return
    connection.execute(text(_range_ddl(table_name, name, start, end, schema)))


def detach_partitions(
    connection: Connection,
    table_name: str,
    *,
    interval: Interval | str = Interval.MONTH,
    kept: int,
    now: datetime | None = None,
    schema: str | None = None,
    drop: bool = False,
) -> list[str]:
    """Detach the partitions of ``table_name`` wholly older than the ``kept`` newest intervals.

    Args:
        connection: A PostgreSQL connection; the work joins its transaction.
        table_name: The partitioned table.
        interval: What each partition holds.
        kept: How many intervals stay attached, the current one included (at least 1).
        now: The current time (tests pass another).
        schema: The table's schema, when not the default one.
        drop: Drop the detached partitions instead of keeping them as plain tables.

    Returns:
        The names of the partitions detached.
    """
    if kept < 1:
        raise SchemakitError(f"kept is {kept}: at least the current interval stays attached")
    cutoff = next_start(interval_start(now or datetime.now(UTC), interval), interval, -(kept - 1))
    old = [p.name for p in partitions_of(connection, table_name, schema) if p.end is not None and p.end <= cutoff]
    for name in old:
        partition = qualified_name(name, schema)
        connection.execute(text(f"ALTER TABLE {qualified_name(table_name, schema)} DETACH PARTITION {partition}"))
        if drop:
            connection.execute(text(f"DROP TABLE {partition}"))
    return old


def maintain_partitions(
    connection: Connection,
    metadata: MetaData | Sequence[MetaData],
    *,
    now: datetime | None = None,
    drop: bool = False,
) -> PartitionReport:
    """Make the next partitions and detach old ones, for every time-partitioned table of ``metadata``.

    Each table uses its model's ``__partition_interval__``, ``__partitions_ahead__`` and ``__partitions_kept__``.
    On SQLite, where such tables are plain tables, it does nothing. Runs at the same time on one database take
    turns (a transaction-level advisory lock).

    Args:
        connection: The database; the work joins its transaction.
        metadata: The models' metadata (or several).
        now: The current time (tests pass another).
        drop: Drop the partitions detached.
    """
    report = PartitionReport()
    if connection.dialect.name != "postgresql":
        return report
    # Two schedulers running this at once would both make the same partition: the second waits for the first.
    connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('schemakit.partitions'))"))
    collections = [metadata] if isinstance(metadata, MetaData) else list(metadata)
    for table in (table for collection in collections for table in collection.sorted_tables):
        found = partitioning_of(table)
        if found is None:
            continue
        report.created[table.name] = ensure_partitions(
            connection, table.name, interval=found["interval"], ahead=found["ahead"], now=now, schema=table.schema
        )
        report.detached[table.name] = (
            detach_partitions(
                connection,
                table.name,
                interval=found["interval"],
                kept=found["kept"],
                now=now,
                schema=table.schema,
                drop=drop,
            )
            if found["kept"] is not None
            else []
        )
    return report
