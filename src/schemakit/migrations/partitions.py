"""Migrations for time-partitioned tables: the operations, and what autogenerate writes and leaves alone.

* ``op.create_partitions(table, interval="month", ahead=3)``: the partitions from the current interval to
  ``ahead`` after it, and the default one (:func:`schemakit.partitioning.ensure_partitions`); nothing on SQLite.
* ``op.drop_partitions(table)``: drop every partition of the table (its rows with them); nothing on SQLite.

In a SQL script (``alembic upgrade --sql``), which cannot read the catalog, ``op.create_partitions`` writes the
partitions of a new table and ``op.drop_partitions`` writes nothing (dropping the table drops its partitions).

The table itself is an ordinary ``op.create_table(..., postgresql_partition_by="RANGE (id)")``, which autogenerate
writes from the model; :func:`compare_partitions` adds ``op.create_partitions`` after it. Partitions are not in
the models, so :func:`is_partition_name` keeps autogenerate from proposing to drop them. Turning an existing
plain table into a partitioned one needs its rows copied: autogenerate warns instead of writing it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from alembic.autogenerate import renderers
from alembic.autogenerate.api import AutogenContext
from alembic.operations import MigrateOperation, Operations, ops
from sqlalchemy import Connection, Table

from schemakit.naming import qualified_name
from schemakit.partitioning.maintenance import ensure_partitions, fresh_partitions_ddl, partitions_of, relation_kind
from schemakit.partitioning.options import partitioning_of

__all__ = ["CreatePartitionsOp", "DropPartitionsOp", "compare_partitions", "is_partition_name", "partitioned_names"]

log = logging.getLogger(__name__)


def partitioned_names(tables: list[Table]) -> frozenset[str]:
    """The names of the time-partitioned tables among ``tables``."""
    return frozenset(table.name for table in tables if partitioning_of(table))


def is_partition_name(name: str, partitioned: frozenset[str]) -> bool:
    """Whether ``name`` is a partition schemakit makes for one of the ``partitioned`` tables."""
    match = re.fullmatch(r"(.+)_(default|p\d{6}|p\d{8})", name)
    return match is not None and match.group(1) in partitioned


class _PartitionsOperation(MigrateOperation):
    def __init__(self, table_name: str, *, interval: str = "month", ahead: int = 3, schema: str | None = None) -> None:
        self.table_name = table_name
        self.interval = interval
        self.ahead = ahead
        self.schema = schema


@Operations.register_operation("create_partitions")
class CreatePartitionsOp(_PartitionsOperation):
    """Make a time-partitioned table's partitions, from the current interval on (PostgreSQL)."""

    @classmethod
    def create_partitions(
        cls,
        operations: Operations,
        table_name: str,
        *,
        interval: str = "month",
        ahead: int = 3,
        schema: str | None = None,
    ) -> Any:
        """Make the partitions of ``table_name`` from this ``interval`` to ``ahead`` after it, and the default one."""
        return operations.invoke(cls(table_name, interval=interval, ahead=ahead, schema=schema))

    def reverse(self) -> DropPartitionsOp:
        """The operation that undoes this one."""
        return DropPartitionsOp(self.table_name, interval=self.interval, ahead=self.ahead, schema=self.schema)


@Operations.register_operation("drop_partitions")
class DropPartitionsOp(_PartitionsOperation):
    """Drop every partition of a time-partitioned table, and their rows (PostgreSQL)."""

    @classmethod
    def drop_partitions(
        cls,
        operations: Operations,
        table_name: str,
        *,
        interval: str = "month",
        ahead: int = 3,
        schema: str | None = None,
    ) -> Any:
        """Drop the partitions of ``table_name``; ``interval`` and ``ahead`` are what the reverse makes again."""
        return operations.invoke(cls(table_name, interval=interval, ahead=ahead, schema=schema))

    def reverse(self) -> CreatePartitionsOp:
        """The operation that undoes this one (the partitions, not their rows)."""
        return CreatePartitionsOp(self.table_name, interval=self.interval, ahead=self.ahead, schema=self.schema)


@Operations.implementation_for(CreatePartitionsOp)
def _create_partitions(operations: Operations, operation: CreatePartitionsOp) -> None:
    if operations.get_context().dialect.name != "postgresql":
        return
    if operations.get_context().as_sql:
        # A script (alembic upgrade --sql) cannot read the catalog: it makes the partitions of a new table.
        for statement in fresh_partitions_ddl(
            operation.table_name, interval=operation.interval, ahead=operation.ahead, schema=operation.schema
        ):
            operations.execute(statement)
        return
    ensure_partitions(
        operations.get_bind(),
        operation.table_name,
        interval=operation.interval,
        ahead=operation.ahead,
        schema=operation.schema,
    )


@Operations.implementation_for(DropPartitionsOp)
def _drop_partitions(operations: Operations, operation: DropPartitionsOp) -> None:
    if operations.get_context().dialect.name != "postgresql":
        return
    if operations.get_context().as_sql:
        # A script cannot read the catalog; dropping the table (which follows in a downgrade) drops them all.
        return
    for partition in partitions_of(operations.get_bind(), operation.table_name, operation.schema):
        operations.execute(f"DROP TABLE {qualified_name(partition.name, operation.schema)}")


def _arguments(op: _PartitionsOperation) -> str:
    schema = f", schema={op.schema!r}" if op.schema else ""
    return f"{op.table_name!r}, interval={op.interval!r}, ahead={op.ahead!r}{schema}"


@renderers.dispatch_for(CreatePartitionsOp)
def _render_create_partitions(_autogen_context: AutogenContext, op: CreatePartitionsOp) -> str:
    return f"op.create_partitions({_arguments(op)})"


@renderers.dispatch_for(DropPartitionsOp)
def _render_drop_partitions(_autogen_context: AutogenContext, op: DropPartitionsOp) -> str:
    return f"op.drop_partitions({_arguments(op)})"


def compare_partitions(
    autogen_context: AutogenContext, connection: Connection, upgrade_ops: ops.UpgradeOps, tables: list[Table]
) -> None:
    """Autogenerate's part for time-partitioned tables: ``op.create_partitions`` after a new one's table.

    Called by schemakit's comparator of server-side objects with the models' tables.
    """
    inspector = autogen_context.inspector
    for table in tables:
        found = partitioning_of(table)
        if found is None:
            continue
        if table.name not in inspector.get_table_names(schema=table.schema):
            upgrade_ops.ops.append(
                CreatePartitionsOp(table.name, interval=found["interval"], ahead=found["ahead"], schema=table.schema)
            )
            log.info("Detected a new time-partitioned table %r", table.name)
        elif connection.dialect.name == "postgresql" and relation_kind(connection, table.name, table.schema) == "r":
            log.warning(
                "The table %r exists unpartitioned, but its model is time-partitioned: no migration was written; "
                "make a new partitioned table, copy the rows over, and swap the names (see the docs)",
                table.name,
            )
