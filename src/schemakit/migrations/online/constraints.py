"""Constraints checked against existing rows without holding a lock that stops writers.

* ``op.create_foreign_key_online(...)`` and ``op.create_check_constraint_online(...)``: the constraint is
  added ``NOT VALID`` (a brief lock, retried; new rows are checked from then on), then ``VALIDATE CONSTRAINT``
  checks the existing rows in a transaction of its own, under a lock that lets writes through.
* ``op.set_not_null_online(table, column)``: ``CHECK (column IS NOT NULL) NOT VALID``, ``VALIDATE``, then
  ``SET NOT NULL``, which PostgreSQL proves from the valid check without scanning, and the check is dropped.
* ``op.drop_constraint_online(name, table)`` and ``op.drop_not_null_online(table, column)``: the reverses.

Each takes the arguments of Alembic's plain operation; on SQLite each does that plain operation (batch mode).
"""

from __future__ import annotations

import logging
from typing import Any

from alembic.operations import Operations, ops
from sqlalchemy import Constraint
from sqlalchemy.schema import AddConstraint

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

__all__ = [
    "CreateCheckConstraintOnlineOp",
    "CreateForeignKeyOnlineOp",
    "DropConstraintOnlineOp",
    "DropNotNullOnlineOp",
    "SetNotNullOnlineOp",
    "not_null_check_name",
]

log = logging.getLogger("schemakit.migrations.online")


@Operations.register_operation("create_foreign_key_online")
class CreateForeignKeyOnlineOp(ops.CreateForeignKeyOp):
    """Add a foreign key ``NOT VALID``, then validate it without blocking writes."""

    @classmethod
    def create_foreign_key_online(  # noqa: PLR0917 - the positional arguments of op.create_foreign_key
        cls,
        operations: Operations,
        constraint_name: str | None,
        source_table: str,
        referent_table: str,
        local_cols: list[str],
        remote_cols: list[str],
        **kw: Any,
    ) -> Any:
        """Add ``constraint_name``; the arguments are those of ``op.create_foreign_key``."""
        return operations.invoke(cls(constraint_name, source_table, referent_table, local_cols, remote_cols, **kw))

    def reverse(self) -> DropConstraintOnlineOp:
        """The operation that undoes this one."""
        return DropConstraintOnlineOp(
            str(self.constraint_name), self.source_table, type_="foreignkey", schema=self.kw.get("source_schema")
        )


@Operations.register_operation("create_check_constraint_online")
class CreateCheckConstraintOnlineOp(ops.CreateCheckConstraintOp):
    """Add a CHECK constraint ``NOT VALID``, then validate it without blocking writes."""

    @classmethod
    def create_check_constraint_online(
        cls,
        operations: Operations,
        constraint_name: str | None,
        table_name: str,
        condition: Any,
        *,
        schema: str | None = None,
        **kw: Any,
    ) -> Any:
        """Add ``constraint_name``; the arguments are those of ``op.create_check_constraint``."""
        return operations.invoke(cls(constraint_name, table_name, condition, schema=schema, **kw))

    def reverse(self) -> DropConstraintOnlineOp:
        """The operation that undoes this one."""
        return DropConstraintOnlineOp(str(self.constraint_name), self.table_name, type_="check", schema=self.schema)


@Operations.register_operation("drop_constraint_online")
class DropConstraintOnlineOp(ops.DropConstraintOp):
    """Drop a constraint, if it exists, waiting only briefly for the lock (retried)."""

    @classmethod
    def drop_constraint_online(
        cls,
        operations: Operations,
        constraint_name: str,
        table_name: str,
        type_: str | None = None,
        *,
        schema: str | None = None,
    ) -> Any:
        """Drop ``constraint_name`` from ``table_name``; the arguments are those of ``op.drop_constraint``."""
        return operations.invoke(cls(constraint_name, table_name, type_=type_, schema=schema))

    def reverse(self) -> Any:
        """The operation that undoes this one (known when autogenerate wrote it)."""
        from schemakit.migrations.online.rewrite import online_form  # noqa: PLC0415 - a cycle

        return online_form(super().reverse())


def _add_and_validate(operations: Operations, constraint: Constraint, table: str, schema: str | None) -> None:
    name = str(constraint.name)
    with outside_transaction(operations):
        exists, validated = constraint_state(operations, name, table, schema)
        if not exists:
            constraint.dialect_kwargs["postgresql_not_valid"] = True
            with_lock_retry(operations, AddConstraint(constraint), table=table, schema=schema)
        if not validated:
            validate = f"ALTER TABLE {qualified_name(table, schema)} VALIDATE CONSTRAINT {quote_identifier(name)}"
            with_lock_retry(operations, validate, table=table, schema=schema)
        else:
            log.info("constraint %s exists and is valid: nothing to add", name)


@Operations.implementation_for(CreateForeignKeyOnlineOp)
def _create_foreign_key(operations: Operations, operation: CreateForeignKeyOnlineOp) -> None:
    table, schema = operation.source_table, operation.kw.get("source_schema")
    if is_online(operations):
        _add_and_validate(operations, operation.to_constraint(operations.get_context()), table, schema)
        return
    # The batch names its table and schema; the foreign key's options follow.
    options = {key: value for key, value in operation.kw.items() if key != "source_schema"}
    with table_change(operations, table, schema) as batch:
        batch.create_foreign_key(
            constraint_name(operation), operation.referent_table, operation.local_cols, operation.remote_cols, **options
        )


@Operations.implementation_for(CreateCheckConstraintOnlineOp)
def _create_check(operations: Operations, operation: CreateCheckConstraintOnlineOp) -> None:
    table, schema = operation.table_name, operation.schema
    if is_online(operations):
        _add_and_validate(operations, operation.to_constraint(operations.get_context()), table, schema)
        return
    with table_change(operations, table, schema) as batch:
        batch.create_check_constraint(constraint_name(operation), operation.condition, **operation.kw)


@Operations.implementation_for(DropConstraintOnlineOp)
def _drop_constraint(operations: Operations, operation: DropConstraintOnlineOp) -> None:
    table, schema, name = operation.table_name, operation.schema, str(operation.constraint_name)
    if is_online(operations):
        with outside_transaction(operations):
            statement = (
                f"ALTER TABLE {qualified_name(table, schema)} DROP CONSTRAINT IF EXISTS {quote_identifier(name)}"
            )
            with_lock_retry(operations, statement, table=table, schema=schema)
        return
    with table_change(operations, table, schema) as batch:
        # The name as given: op.f() marks a name the naming convention leaves alone.
        batch.drop_constraint(constraint_name(operation), type_=operation.constraint_type)


def not_null_check_name(table: str, column: str) -> str:
    """The temporary CHECK constraint :class:`SetNotNullOnlineOp` validates: ``ck_<table>_<column>_not_null``."""
    return shorten_identifier(f"ck_{table}_{column}_not_null")


class _ColumnOperation(ops.MigrateOperation):
    def __init__(self, table_name: str, column_name: str, *, schema: str | None = None) -> None:
        self.table_name = table_name
        self.column_name = column_name
        self.schema = schema


@Operations.register_operation("set_not_null_online")
class SetNotNullOnlineOp(_ColumnOperation):
    """Make a column NOT NULL, proving it with a validated CHECK first, so no long scan runs under lock."""

    @classmethod
    def set_not_null_online(
        cls, operations: Operations, table_name: str, column_name: str, *, schema: str | None = None
    ) -> Any:
        """Make ``table_name.column_name`` NOT NULL."""
        return operations.invoke(cls(table_name, column_name, schema=schema))

    def reverse(self) -> DropNotNullOnlineOp:
        """The operation that undoes this one."""
        return DropNotNullOnlineOp(self.table_name, self.column_name, schema=self.schema)


@Operations.register_operation("drop_not_null_online")
class DropNotNullOnlineOp(_ColumnOperation):
    """Let a column hold NULL again (a brief lock, retried)."""

    @classmethod
    def drop_not_null_online(
        cls, operations: Operations, table_name: str, column_name: str, *, schema: str | None = None
    ) -> Any:
        """Let ``table_name.column_name`` hold NULL."""
        return operations.invoke(cls(table_name, column_name, schema=schema))

    def reverse(self) -> SetNotNullOnlineOp:
        """The operation that undoes this one."""
        return SetNotNullOnlineOp(self.table_name, self.column_name, schema=self.schema)


def _alter_nullable(operations: Operations, operation: _ColumnOperation, *, nullable: bool) -> None:
    table, schema = operation.table_name, operation.schema
    with table_change(operations, table, schema) as batch:
        batch.alter_column(operation.column_name, nullable=nullable)


@Operations.implementation_for(SetNotNullOnlineOp)
def _set_not_null(operations: Operations, operation: SetNotNullOnlineOp) -> None:
    if not is_online(operations):
        _alter_nullable(operations, operation, nullable=False)
        return
    table, column, schema = operation.table_name, operation.column_name, operation.schema
    target, check = qualified_name(table, schema), not_null_check_name(table, column)
    with outside_transaction(operations):
        not_null = catalog_value(
            operations,
            "SELECT attnotnull FROM pg_attribute WHERE attrelid = to_regclass(:table) AND attname = :column",
            {"table": target, "column": column},
        )
        exists, validated = constraint_state(operations, check, table, schema)
        if not not_null:
            if not exists:
                statement = (
                    f"ALTER TABLE {target} ADD CONSTRAINT {quote_identifier(check)} "
                    f"CHECK ({quote_identifier(column)} IS NOT NULL) NOT VALID"
                )
                with_lock_retry(operations, statement, table=table, schema=schema)
            if not validated:
                statement = f"ALTER TABLE {target} VALIDATE CONSTRAINT {quote_identifier(check)}"
                with_lock_retry(operations, statement, table=table, schema=schema)
            statement = f"ALTER TABLE {target} ALTER COLUMN {quote_identifier(column)} SET NOT NULL"
            with_lock_retry(operations, statement, table=table, schema=schema)
        if exists or not not_null:
            statement = f"ALTER TABLE {target} DROP CONSTRAINT IF EXISTS {quote_identifier(check)}"
            with_lock_retry(operations, statement, table=table, schema=schema)


@Operations.implementation_for(DropNotNullOnlineOp)
def _drop_not_null(operations: Operations, operation: DropNotNullOnlineOp) -> None:
    if not is_online(operations):
        _alter_nullable(operations, operation, nullable=True)
        return
    table, schema = operation.table_name, operation.schema
    column = quote_identifier(operation.column_name)
    statement = f"ALTER TABLE {qualified_name(table, schema)} ALTER COLUMN {column} DROP NOT NULL"
    with outside_transaction(operations):
        with_lock_retry(operations, statement, table=table, schema=schema)
