"""Indexes and unique constraints built without blocking writes.

* ``op.create_index_online(name, table, columns, unique=False, ...)``: ``CREATE INDEX CONCURRENTLY IF NOT
  EXISTS``; an INVALID index of that name, left by a failed concurrent build, is dropped and built again.
* ``op.drop_index_online(name, table)``: ``DROP INDEX CONCURRENTLY IF EXISTS``.
* On a partitioned table, where PostgreSQL builds and drops no index concurrently: the table's index on the
  table alone, then each partition's built concurrently and attached; a drop is a plain drop, its lock retried.
* ``op.create_unique_constraint_online(name, table, columns)``: a unique index built concurrently, then
  ``ADD CONSTRAINT ... UNIQUE USING INDEX`` (a brief lock, retried).

Each takes the arguments of Alembic's own operation of the same name without ``_online``; on SQLite each
does that plain operation.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from alembic.operations import Operations, ops
from sqlalchemy import Index
from sqlalchemy.schema import CreateIndex

from schemakit.migrations.online.context import (
    catalog_value,
    constraint_name,
    constraint_state,
    is_online,
    outside_transaction,
    table_change,
    with_lock_retry,
)
from schemakit.naming import qualified_name, quote_identifier, shorten_identifier
from schemakit.partitioning.maintenance import partitions_of, relation_kind

__all__ = ["CreateIndexOnlineOp", "CreateUniqueConstraintOnlineOp", "DropIndexOnlineOp", "build_index_concurrently"]

log = logging.getLogger("schemakit.migrations.online")


@Operations.register_operation("create_index_online")
class CreateIndexOnlineOp(ops.CreateIndexOp):
    """Build an index without blocking writes (``CREATE INDEX CONCURRENTLY``)."""

    @classmethod
    def create_index_online(
        cls,
        operations: Operations,
        index_name: str | None,
        table_name: str,
        columns: Any,
        *,
        schema: str | None = None,
        unique: bool = False,
        **kw: Any,
    ) -> Any:
        """Build ``index_name`` on ``table_name`` concurrently; the arguments are those of ``op.create_index``."""
        return operations.invoke(cls(index_name, table_name, columns, schema=schema, unique=unique, **kw))

    def reverse(self) -> DropIndexOnlineOp:
        """The operation that undoes this one."""
        return cast("DropIndexOnlineOp", DropIndexOnlineOp.from_index(self.to_index()))


@Operations.register_operation("drop_index_online")
class DropIndexOnlineOp(ops.DropIndexOp):
    """Drop an index without blocking reads and writes (``DROP INDEX CONCURRENTLY``)."""

    @classmethod
    def drop_index_online(
        cls,
        operations: Operations,
        index_name: str,
        table_name: str | None = None,
        *,
        schema: str | None = None,
        **kw: Any,
    ) -> Any:
        """Drop ``index_name`` concurrently, if it exists; the arguments are those of ``op.drop_index``."""
        return operations.invoke(cls(index_name, table_name=table_name, schema=schema, **kw))

    def reverse(self) -> CreateIndexOnlineOp:
        """The operation that undoes this one (known when autogenerate wrote it)."""
        if self._reverse is None:
            raise ValueError("the index's columns are unknown, so dropping it cannot be reversed")
        return cast("CreateIndexOnlineOp", CreateIndexOnlineOp.from_index(self._reverse.to_index()))


def _concurrently(index: Index) -> Index:
    index.dialect_kwargs["postgresql_concurrently"] = True
    return index


def _valid(operations: Operations, name: str) -> bool | None:
    query = "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:n)"
    valid: bool | None = catalog_value(operations, query, {"n": name})
    return valid


def _partitions(operations: Operations, table: str, schema: str | None) -> list[str] | None:
    """The partitions of ``table`` when it is a partitioned table, else ``None`` (and offline, where none is read)."""
    if operations.get_context().as_sql:
        return None
    connection = operations.get_bind()
    if relation_kind(connection, table, schema) != "p":
        return None
    return [partition.name for partition in partitions_of(connection, table, schema)]


def _build_partitioned_index(operations: Operations, index: Index, partitions: list[str]) -> None:
    # PostgreSQL builds no index on a partitioned table concurrently. The parent's index is made on the parent
    # alone (at once, invalid), each partition's is built concurrently and attached, and with the last one
    # attached the parent's turns valid. Run again after a failure, it carries on where it stopped.
    table = index.table
    assert table is not None
    schema = table.schema
    parent_table = operations.impl.dialect.identifier_preparer.format_table(table)
    statement = str(CreateIndex(index, if_not_exists=True).compile(dialect=operations.impl.dialect))
    head, columns = statement.split(f" ON {parent_table} ", 1)
    operations.execute(f"{head} ON ONLY {parent_table} {columns}")
    unique = "UNIQUE " if index.unique else ""
    for partition in partitions:
        child = shorten_identifier(f"{index.name}_{partition.removeprefix(table.name + '_')}")
        child_name = qualified_name(child, schema)
        valid = _valid(operations, child_name)
        if valid is False:
            operations.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {child_name}")
        if valid is not True:
            operations.execute(
                f"CREATE {unique}INDEX CONCURRENTLY IF NOT EXISTS {quote_identifier(child)} "
                f"ON {qualified_name(partition, schema)} {columns}"
            )
        attached = catalog_value(
            operations, "SELECT EXISTS (SELECT FROM pg_inherits WHERE inhrelid = to_regclass(:n))", {"n": child_name}
        )
        if not attached:
            operations.execute(f"ALTER INDEX {qualified_name(str(index.name), schema)} ATTACH PARTITION {child_name}")


def build_index_concurrently(operations: Operations, index: Index) -> None:
    """Build ``index`` concurrently unless a valid one exists; an invalid one is dropped first (online only).

    On a partitioned table each partition's index is built concurrently and attached to the table's.
    """
    schema = index.table.schema if index.table is not None else None
    name = qualified_name(str(index.name), schema)
    valid = _valid(operations, name)
    if valid is True:
        log.info("index %s exists and is valid: nothing to build", name)
        return
    partitions = _partitions(operations, index.table.name, schema) if index.table is not None else None
    if partitions is not None:
        _build_partitioned_index(operations, index, partitions)
        return
    if valid is False:
        log.warning("index %s is INVALID (a concurrent build failed): dropping it and building it again", name)
        operations.impl.drop_index(_concurrently(index), if_exists=True)
    operations.impl.create_index(_concurrently(index), if_not_exists=True)


@Operations.implementation_for(CreateIndexOnlineOp)
def _create_index(operations: Operations, operation: CreateIndexOnlineOp) -> None:
    index = operation.to_index(operations.get_context())
    if not is_online(operations):
        operations.impl.create_index(index)
        return
    with outside_transaction(operations):
        build_index_concurrently(operations, index)


@Operations.implementation_for(DropIndexOnlineOp)
def _drop_index(operations: Operations, operation: DropIndexOnlineOp) -> None:
    index = operation.to_index(operations.get_context())
    if not is_online(operations):
        operations.impl.drop_index(index)
        return
    with outside_transaction(operations):
        if index.table is not None and _partitions(operations, index.table.name, index.table.schema) is not None:
            # A partitioned table's index cannot be dropped concurrently: a plain drop, its lock retried.
            name = qualified_name(str(index.name), index.table.schema)
            with_lock_retry(
                operations, f"DROP INDEX IF EXISTS {name}", table=index.table.name, schema=index.table.schema
            )
            return
        operations.impl.drop_index(_concurrently(index), if_exists=True)


@Operations.register_operation("create_unique_constraint_online")
class CreateUniqueConstraintOnlineOp(ops.CreateUniqueConstraintOp):
    """Add a unique constraint from a unique index built concurrently (``ADD CONSTRAINT ... USING INDEX``)."""

    @classmethod
    def create_unique_constraint_online(
        cls,
        operations: Operations,
        constraint_name: str | None,
        table_name: str,
        columns: Any,
        *,
        schema: str | None = None,
        **kw: Any,
    ) -> Any:
        """Add ``constraint_name`` to ``table_name``; the arguments are those of ``op.create_unique_constraint``."""
        return operations.invoke(cls(constraint_name, table_name, columns, schema=schema, **kw))

    def reverse(self) -> Any:
        """The operation that undoes this one."""
        from schemakit.migrations.online.constraints import DropConstraintOnlineOp  # noqa: PLC0415 - a cycle

        return DropConstraintOnlineOp(str(self.constraint_name), self.table_name, type_="unique", schema=self.schema)


@Operations.implementation_for(CreateUniqueConstraintOnlineOp)
def _create_unique(operations: Operations, operation: CreateUniqueConstraintOnlineOp) -> None:
    table, schema, name = operation.table_name, operation.schema, str(operation.constraint_name)
    if not is_online(operations):
        with table_change(operations, table, schema) as batch:
            batch.create_unique_constraint(constraint_name(operation), operation.columns, **operation.kw)
        return
    with outside_transaction(operations):
        exists, _ = constraint_state(operations, name, table, schema)
        if exists:
            log.info("constraint %s exists: nothing to add", name)
            return
        index = ops.CreateIndexOp(name, table, operation.columns, schema=schema, unique=True)
        build_index_concurrently(operations, index.to_index(operations.get_context()))
        with_lock_retry(
            operations,
            f"ALTER TABLE {qualified_name(table, schema)} ADD CONSTRAINT {quote_identifier(name)} UNIQUE USING INDEX "
            f"{quote_identifier(name)}",
            table=table,
            schema=schema,
        )
