"""Migration operations for schemakit's server-side behaviour, available as ``op.<name>(...)``.

* ``op.create_schemakit_functions()`` / ``op.drop_schemakit_functions()``: on PostgreSQL, the
  ``schemakit_uuid7()`` function behind the id columns' server default and the trigger function behind
  ``updated_at``; nothing on SQLite. Create them before the first table that uses them, drop them last.
* ``op.create_updated_at_trigger(table)`` / ``op.drop_updated_at_trigger(table)``: the trigger that refreshes
  ``updated_at`` on raw SQL updates.
* ``op.create_audit_trigger(table, key=..., soft_delete_column=...)`` / ``op.drop_audit_trigger(table)``: the
  triggers that record the table's changes in the audit log (:class:`~schemakit.mixins.AuditTrailMixin`); the
  first one also starts the log's chain and installs its function, the last one removes the function.

Each is reversible, so autogenerate writes the matching downgrade. On SQLite, ``batch_alter_table`` copies
the table and loses its triggers: create the trigger again after a batch operation on such a table (the
drift check reports it if you forget).

Importing :mod:`schemakit.migrations` registers these operations.
"""

from __future__ import annotations

from typing import Any

from alembic.operations import MigrateOperation, Operations
from sqlalchemy import Column, Integer, MetaData, Table

from schemakit.audit_log.ddl import (
    AUDIT_FUNCTION,
    CHAIN_HEAD,
    STATEMENT_FUNCTION,
    audit_function_ddl,
    audit_trigger_ddl,
    drop_audit_trigger_ddl,
)
from schemakit.errors import MigrationError
from schemakit.sql import drop_functions_ddl, drop_updated_at_trigger_ddl, functions_ddl, updated_at_trigger_ddl

__all__ = [
    "MINIMUM_POSTGRESQL",
    "CreateAuditTriggerOp",
    "CreateSchemakitFunctionsOp",
    "CreateUpdatedAtTriggerOp",
    "DropAuditTriggerOp",
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


class _AuditTriggerOperation(MigrateOperation):
    """An operation on the audit triggers of one table."""

    def __init__(self, table_name: str, *, key: str = "id", soft_delete_column: str | None = None) -> None:
        self.table_name = table_name
        self.key = key
        self.soft_delete_column = soft_delete_column


@Operations.register_operation("create_audit_trigger")
class CreateAuditTriggerOp(_AuditTriggerOperation):
    """Make a table record its changes in the audit log."""

    @classmethod
    def create_audit_trigger(
        cls, operations: Operations, table_name: str, *, key: str = "id", soft_delete_column: str | None = None
    ) -> Any:
        """Record the changes of ``table_name`` (whose key column is ``key``) in the audit log."""
        return operations.invoke(cls(table_name, key=key, soft_delete_column=soft_delete_column))

    def reverse(self) -> DropAuditTriggerOp:
        """The operation that undoes this one."""
        return DropAuditTriggerOp(self.table_name, key=self.key, soft_delete_column=self.soft_delete_column)


@Operations.register_operation("drop_audit_trigger")
class DropAuditTriggerOp(_AuditTriggerOperation):
    """Stop a table recording its changes in the audit log (what it recorded stays)."""

    @classmethod
    def drop_audit_trigger(
        cls, operations: Operations, table_name: str, *, key: str = "id", soft_delete_column: str | None = None
    ) -> Any:
        """Stop recording the changes of ``table_name``."""
        return operations.invoke(cls(table_name, key=key, soft_delete_column=soft_delete_column))

    def reverse(self) -> CreateAuditTriggerOp:
        """The operation that undoes this one."""
        return CreateAuditTriggerOp(self.table_name, key=self.key, soft_delete_column=self.soft_delete_column)


def _audited_table(operations: Operations, operation: _AuditTriggerOperation) -> Table:
    context = operations.get_context()
    if context.dialect.name == "sqlite":
        if context.as_sql:
            raise MigrationError("SQLite's audit triggers name the table's columns: they need a live database")
        # SQLite's triggers name every column: read them from the table as it is now.
        return Table(operation.table_name, MetaData(), autoload_with=operations.get_bind())
    columns = [Column(operation.key, Integer(), primary_key=True)]
    if operation.soft_delete_column:
        columns.append(Column(operation.soft_delete_column, Integer()))
    return Table(operation.table_name, MetaData(), *columns)


@Operations.implementation_for(CreateAuditTriggerOp)
def _create_audit_trigger(operations: Operations, operation: CreateAuditTriggerOp) -> None:
    dialect = operations.get_context().dialect.name
    table = _audited_table(operations, operation)
    _execute_all(operations, [*audit_function_ddl(dialect), CHAIN_HEAD, *audit_trigger_ddl(dialect, table)])


@Operations.implementation_for(DropAuditTriggerOp)
def _drop_audit_trigger(operations: Operations, operation: DropAuditTriggerOp) -> None:
    dialect = operations.get_context().dialect.name
    _execute_all(operations, drop_audit_trigger_ddl(dialect, operation.table_name))
    if dialect == "postgresql":
        # The functions go with the last table that used them, so a full downgrade leaves nothing behind.
        operations.execute(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_trigger WHERE tgfoid = to_regproc('{AUDIT_FUNCTION}')) "
            f"THEN DROP FUNCTION IF EXISTS {AUDIT_FUNCTION}(); "
            f"DROP FUNCTION IF EXISTS {STATEMENT_FUNCTION}(oid, text, text, text); END IF; END $$"
        )
