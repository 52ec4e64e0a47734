"""Tables partitioned by creation time through their UUIDv7 ids: :class:`TimePartitionedMixin`.

::

    class Event(UUIDv7PrimaryKeyMixin, TimePartitionedMixin, Base):
        __tablename__ = "events"
        __partition_interval__ = "month"  # or "week", "day"
        __partitions_ahead__ = 3           # partitions made ahead of the current one
        __partitions_kept__ = 24           # older ones are detached by maintenance (None: keep all)

On PostgreSQL the table is ``PARTITION BY RANGE (id)``: each partition holds the ids of one interval
(:mod:`schemakit.partitioning.bounds`), and a ``<table>_default`` partition takes ids outside every range (seed
data's fixed-time ids, say). ``metadata.create_all()`` and ``op.create_partitions`` make the partitions from the
current interval on; :func:`schemakit.partitioning.maintain_partitions` (``schemakit partitions``) makes the
next ones and detaches old ones. On SQLite the table is a plain table.

PostgreSQL requires every unique constraint of a partitioned table to include the partition key, so the model
may declare none without ``id``; mapping it fails with a message naming the constraint otherwise.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import Connection, Index, Table, UniqueConstraint, Uuid, event
from sqlalchemy.orm import Mapper

from schemakit.errors import SchemakitError
from schemakit.naming import MAX_IDENTIFIER_BYTES
from schemakit.partitioning.bounds import Interval
from schemakit.partitioning.maintenance import ensure_partitions
from schemakit.partitioning.options import PARTITIONED

__all__ = ["TimePartitionedMixin"]

# The longest suffix a partition's name gets: "_p" and a date (a day or week interval).
_LONGEST_SUFFIX = len("_p20260101")


class TimePartitionedMixin:
    """Range partitions on the UUIDv7 ``id`` by ``__partition_interval__`` (``month``, ``week`` or ``day``)."""

    __partition_interval__: ClassVar[str] = Interval.MONTH
    __partitions_ahead__: ClassVar[int] = 3
    __partitions_kept__: ClassVar[int | None] = None


def _check(table: Table, cls: type[TimePartitionedMixin]) -> None:
    keys = list(table.primary_key.columns)
    if [column.name for column in keys] != ["id"] or not isinstance(keys[0].type, Uuid):
        raise SchemakitError(
            f"{cls.__name__}: a time-partitioned table needs a UUIDv7 'id' as its whole primary key "
            "(add UUIDv7PrimaryKeyMixin or ServerUUIDv7PrimaryKeyMixin)"
        )
    Interval(cls.__partition_interval__)  # a ValueError naming the bad interval
    if cls.__partitions_ahead__ < 0:
        raise SchemakitError(f"{cls.__name__}: __partitions_ahead__ is {cls.__partitions_ahead__}; it counts from 0")
    if cls.__partitions_kept__ is not None and cls.__partitions_kept__ < 1:
        raise SchemakitError(
            f"{cls.__name__}: __partitions_kept__ is {cls.__partitions_kept__}; keep at least the current interval "
            "(1), or None to keep every partition"
        )
    if len(table.name.encode()) + _LONGEST_SUFFIX > MAX_IDENTIFIER_BYTES:
        raise SchemakitError(f"{cls.__name__}: the table name {table.name!r} leaves no room for partition names")
    uniques: list[UniqueConstraint | Index] = [c for c in table.constraints if isinstance(c, UniqueConstraint)]
    uniques += [index for index in table.indexes if index.unique]
    for unique in uniques:
        if "id" not in {column.name for column in unique.columns}:
            raise SchemakitError(
                f"{cls.__name__}: the unique constraint on {', '.join(c.name for c in unique.columns)} leaves out "
                "'id'; PostgreSQL requires every unique constraint of a partitioned table to include it"
            )


def _partitioned(mapper: Mapper[Any], cls: type) -> None:
    table = mapper.local_table
    if not isinstance(table, Table) or PARTITIONED in table.info:
        return
    partitioned: type[TimePartitionedMixin] = cls
    _check(table, partitioned)
    table.info[PARTITIONED] = {
        "interval": str(Interval(partitioned.__partition_interval__)),
        "ahead": partitioned.__partitions_ahead__,
        "kept": partitioned.__partitions_kept__,
    }
    table.dialect_options["postgresql"]["partition_by"] = "RANGE (id)"
    event.listen(table, "after_create", _create_partitions)


def _create_partitions(table: Table, connection: Connection, **_kw: Any) -> None:
    if connection.dialect.name != "postgresql":
        return
    found = table.info[PARTITIONED]
    ensure_partitions(connection, table.name, interval=found["interval"], ahead=found["ahead"], schema=table.schema)


event.listen(TimePartitionedMixin, "after_mapper_constructed", _partitioned, propagate=True)
