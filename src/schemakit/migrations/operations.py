"""Migration operations for schemakit's server-side behaviour, available as ``op.<name>(...)``.

* ``op.create_schemakit_functions()`` / ``op.drop_schemakit_functions()``: on PostgreSQL, the
  ``schemakit_uuid7()`` function behind the id columns' server default and the trigger function behind
  ``updated_at``; nothing on SQLite. Create them before the first table that uses them, drop them last.
* ``op.create_updated_at_trigger(table)`` / ``op.drop_updated_at_trigger(table)``: the trigger that refreshes
  ``updated_at`` on raw SQL updates.

Each is reversible, so autogenerate writes the matching downgrade. On SQLite, ``batch_alter_table`` copies
the table and loses its triggers: create the trigger again after a batch operation on such a table (the
drift check reports it if you forget).

Importing :mod:`schemakit.migrations` registers these operations.
"""

from __future__ import annotations

from typing import Any

from alembic.operations import MigrateOperation, Operations

from schemakit.errors import MigrationError
from schemakit.sql import drop_functions_ddl, drop_updated_at_trigger_ddl, functions_ddl, updated_at_trigger_ddl

__all__ = [
    "MINIMUM_POSTGRESQL",
    "CreateSchemakitFunctionsOp",
    "CreateUpdatedAtTriggerOp",
    "DropSchemakitFunctionsOp",
    "DropUpdatedAtTriggerOp",
]


@Operations.register_operation("create_schemakit_functions")
class CreateSchemakitFunctionsOp(MigrateOperation):
    """Install ``schemakit_uuid7()`` and ``schemakit_set_updated_at()`` (PostgreSQL)."""

    @classmethod
    def create_schemakit_functions(cls, operations: Operations) -> Any:
        """Install schemakit's SQL functions."""
        return operations.invoke(cls())

    def reverse(self) -> DropSchemakitFunctionsOp:
        """The operation that undoes this one."""
        return DropSchemakitFunctionsOp()


@Operations.register_operation("drop_schemakit_functions")
class DropSchemakitFunctionsOp(MigrateOperation):
    """Remove schemakit's SQL functions (PostgreSQL)."""

    @classmethod
    def drop_schemakit_functions(cls, operations: Operations) -> Any:
        """Remove schemakit's SQL functions."""
        return operations.invoke(cls())

    def reverse(self) -> CreateSchemakitFunctionsOp:
        """The operation that undoes this one."""
        return CreateSchemakitFunctionsOp()


class _TriggerOperation(MigrateOperation):
    """An operation on the ``updated_at`` trigger of one table."""

    def __init__(self, table_name: str, *, schema: str | None = None) -> None:
        self.table_name = table_name
        self.schema = schema


@Operations.register_operation("create_updated_at_trigger")
class CreateUpdatedAtTriggerOp(_TriggerOperation):
    """Create the trigger that refreshes ``updated_at`` on every UPDATE of a table."""

    @classmethod
    def create_updated_at_trigger(cls, operations: Operations, table_name: str, *, schema: str | None = None) -> Any:
        """Create the ``updated_at`` trigger on ``table_name``."""
        return operations.invoke(cls(table_name, schema=schema))

    def reverse(self) -> DropUpdatedAtTriggerOp:
        """The operation that undoes this one."""
        return DropUpdatedAtTriggerOp(self.table_name, schema=self.schema)


@Operations.register_operation("drop_updated_at_trigger")
class DropUpdatedAtTriggerOp(_TriggerOperation):
    """Drop the ``updated_at`` trigger of a table."""

    @classmethod
    def drop_updated_at_trigger(cls, operations: Operations, table_name: str, *, schema: str | None = None) -> Any:
        """Drop the ``updated_at`` trigger of ``table_name``."""
        return operations.invoke(cls(table_name, schema=schema))

    def reverse(self) -> CreateUpdatedAtTriggerOp:
        """The operation that undoes this one."""
        return CreateUpdatedAtTriggerOp(self.table_name, schema=self.schema)


def _execute_all(operations: Operations, statements: list[str]) -> None:
    for statement in statements:
        operations.execute(statement)


def _server_version(operations: Operations) -> tuple[int | str, ...] | None:
    context = operations.get_context()
    # Offline (--sql) there is no server to ask: the portable function body is written.
    return None if context.as_sql else context.dialect.server_version_info


@Operations.implementation_for(CreateSchemakitFunctionsOp)
def _create_functions(operations: Operations, _operation: CreateSchemakitFunctionsOp) -> None:
    _execute_all(operations, functions_ddl(operations.get_context().dialect.name, _server_version(operations)))


@Operations.implementation_for(DropSchemakitFunctionsOp)
def _drop_functions(operations: Operations, _operation: DropSchemakitFunctionsOp) -> None:
    _execute_all(operations, drop_functions_ddl(operations.get_context().dialect.name))


#: The oldest PostgreSQL schemakit supports: its triggers use CREATE OR REPLACE TRIGGER (14 and later).
MINIMUM_POSTGRESQL = (14,)


@Operations.implementation_for(CreateUpdatedAtTriggerOp)
def _create_trigger(operations: Operations, operation: CreateUpdatedAtTriggerOp) -> None:
    dialect = operations.get_context().dialect.name
    version = _server_version(operations)
    if dialect == "postgresql" and version is not None and version < MINIMUM_POSTGRESQL:
        shown = ".".join(str(part) for part in version)
        raise MigrationError(f"schemakit needs PostgreSQL 14 or later; this server is {shown}")
    _execute_all(operations, updated_at_trigger_ddl(dialect, operation.table_name, operation.schema))


@Operations.implementation_for(DropUpdatedAtTriggerOp)
def _drop_trigger(operations: Operations, operation: DropUpdatedAtTriggerOp) -> None:
    dialect = operations.get_context().dialect.name
    _execute_all(operations, drop_updated_at_trigger_ddl(dialect, operation.table_name, operation.schema))
