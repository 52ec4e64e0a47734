"""Columns added, dropped, renamed or retyped while the table stays in use.

* ``op.add_column_online(table, column)`` / ``op.drop_column_online(table, name)``: ``ADD COLUMN IF NOT
  EXISTS`` / ``DROP COLUMN IF EXISTS``, waiting only briefly for the lock (retried). Add a column nullable, or
  with a constant ``server_default``: PostgreSQL then changes the catalog alone and rewrites no row.
* ``op.expand_column(table, column, new_column, type_=...)``: the expand half of a rename or a type change.
  The new column is added, a trigger keeps the two in step whichever one the running code writes (old code
  writes ``column``, new code ``new_column``), and the existing rows are backfilled in batches. ``using`` and
  ``reverse_using`` convert between the two for a type change: SQL with ``{column}`` standing for the source
  column (``"CAST({column} AS bigint)"``); by default a value is assigned as it is.
* ``op.contract_column(table, column, new_column)``: the contract half, once no running code uses
  ``column``: the trigger and the old column are dropped. Declare the revision ``phase = "contract"``.
* ``op.undo_expand_column(table, column, new_column)``: the reverse of ``expand_column``.

On SQLite the same revision does the plain equivalent: the new column is added and filled in the migration's
transaction, without a trigger (SQLite serves one writer at a time; nothing runs beside a migration).
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from alembic.operations import MigrateOperation, Operations, ops
from sqlalchemy import Column
from sqlalchemy.types import TypeEngine

from schemakit.migrations.online.backfill import BackfillOp
from schemakit.migrations.online.context import is_online, outside_transaction, table_change, with_lock_retry
from schemakit.naming import qualified_name, quote_identifier, shorten_identifier

__all__ = [
    "AddColumnOnlineOp",
    "ContractColumnOp",
    "DropColumnOnlineOp",
    "ExpandColumnOp",
    "UndoExpandColumnOp",
    "sync_trigger_name",
]


@Operations.register_operation("add_column_online")
class AddColumnOnlineOp(ops.AddColumnOp):
    """Add a column if it is missing, waiting only briefly for the lock."""

    @classmethod
    def add_column_online(
        cls, operations: Operations, table_name: str, column: Column[Any], *, schema: str | None = None
    ) -> Any:
        """Add ``column`` to ``table_name``; the arguments are those of ``op.add_column``."""
        return operations.invoke(cls(table_name, column, schema=schema))

    def reverse(self) -> DropColumnOnlineOp:
        """The operation that undoes this one."""
        return cast(
            "DropColumnOnlineOp",
            DropColumnOnlineOp.from_column_and_tablename(self.schema, self.table_name, self.column),
        )


@Operations.register_operation("drop_column_online")
class DropColumnOnlineOp(ops.DropColumnOp):
    """Drop a column if it is there, waiting only briefly for the lock."""

    @classmethod
    def drop_column_online(
        cls, operations: Operations, table_name: str, column_name: str, *, schema: str | None = None
    ) -> Any:
        """Drop ``column_name`` from ``table_name``; the arguments are those of ``op.drop_column``."""
        return operations.invoke(cls(table_name, column_name, schema=schema))

    def reverse(self) -> AddColumnOnlineOp:
        """The operation that undoes this one (known when autogenerate wrote it)."""
        if self._reverse is None:
            raise ValueError("the column's definition is unknown, so dropping it cannot be reversed")
        column = self._reverse.column
        return cast(
            "AddColumnOnlineOp", AddColumnOnlineOp.from_column_and_tablename(self.schema, self.table_name, column)
        )


@Operations.implementation_for(AddColumnOnlineOp)
def _add_column(operations: Operations, operation: AddColumnOnlineOp) -> None:
    table, schema, column = operation.table_name, operation.schema, operation.column
    if not is_online(operations):
        operations.impl.add_column(table, column, schema=schema)
        return
    with outside_transaction(operations):
        with_lock_retry(
            operations,
            lambda: operations.impl.add_column(table, column, schema=schema, if_not_exists=True),
            table=table,
            schema=schema,
            describe=f"ADD COLUMN {column.name} to {qualified_name(table, schema)}",
        )


def _drop_column(operations: Operations, table: str, column: str, schema: str | None) -> None:
    if not is_online(operations):
        with table_change(operations, table, schema) as batch:
            batch.drop_column(column)
        return
    statement = f"ALTER TABLE {qualified_name(table, schema)} DROP COLUMN IF EXISTS {quote_identifier(column)}"
    with_lock_retry(operations, statement, table=table, schema=schema)


@Operations.implementation_for(DropColumnOnlineOp)
def _drop_column_online(operations: Operations, operation: DropColumnOnlineOp) -> None:
    with outside_transaction(operations):
        _drop_column(operations, operation.table_name, operation.column_name, operation.schema)


def sync_trigger_name(table: str, column: str, new_column: str) -> str:
    """The trigger (and function) that keeps two columns in step: ``schemakit_sync_<table>_<a>_<b>``.

    The two column names are sorted, so the reverse of a contraction names the same trigger as the expansion.
    """
    first, second = sorted((column, new_column))
    return shorten_identifier(f"schemakit_sync_{table}_{first}_{second}")


class _ColumnPairOperation(MigrateOperation):
    """Two columns of one table: the one the running code uses, and the one that replaces it."""

    def __init__(
        self,
        table_name: str,
        column_name: str,
        new_column_name: str,
        *,
        type_: TypeEngine[Any] | None = None,
        using: str = "{column}",
        reverse_using: str = "{column}",
        schema: str | None = None,
        batch_size: int = 5000,
    ) -> None:
        self.table_name = table_name
        self.column_name = column_name
        self.new_column_name = new_column_name
        self.type_ = type_
        self.using = using
        self.reverse_using = reverse_using
        self.schema = schema
        self.batch_size = batch_size

    def _as(self, kind: type[_Pair]) -> _Pair:
        """The same pair of columns, as another of the pair operations."""
        return kind(
            self.table_name,
            self.column_name,
            self.new_column_name,
            type_=self.type_,
            using=self.using,
            reverse_using=self.reverse_using,
            schema=self.schema,
            batch_size=self.batch_size,
        )


@Operations.register_operation("expand_column")
class ExpandColumnOp(_ColumnPairOperation):
    """Add ``new_column`` beside ``column``, keep the two in step with a trigger, and backfill it."""

    @classmethod
    def expand_column(
        cls,
        operations: Operations,
        table_name: str,
        column_name: str,
        new_column_name: str,
        *,
        type_: TypeEngine[Any],
        using: str = "{column}",
        reverse_using: str = "{column}",
        schema: str | None = None,
        batch_size: int = 5000,
    ) -> Any:
        """Expand ``column_name`` into ``new_column_name`` of type ``type_`` (see the module's description)."""
        return operations.invoke(
            cls(
                table_name,
                column_name,
                new_column_name,
                type_=type_,
                using=using,
                reverse_using=reverse_using,
                schema=schema,
                batch_size=batch_size,
            )
        )

    def reverse(self) -> UndoExpandColumnOp:
        """The operation that undoes this one."""
        return self._as(UndoExpandColumnOp)


@Operations.register_operation("undo_expand_column")
class UndoExpandColumnOp(_ColumnPairOperation):
    """Drop the trigger and the new column :class:`ExpandColumnOp` added."""

    @classmethod
    def undo_expand_column(
        cls,
        operations: Operations,
        table_name: str,
        column_name: str,
        new_column_name: str,
        *,
        schema: str | None = None,
    ) -> Any:
        """Undo ``op.expand_column(table_name, column_name, new_column_name, ...)``."""
        return operations.invoke(cls(table_name, column_name, new_column_name, schema=schema))

    def reverse(self) -> ExpandColumnOp:
        """The operation that undoes this one."""
        return self._as(ExpandColumnOp)


@Operations.register_operation("contract_column")
class ContractColumnOp(_ColumnPairOperation):
    """Drop the old column of an expansion and the trigger that kept it in step."""

    @classmethod
    def contract_column(
        cls,
        operations: Operations,
        table_name: str,
        column_name: str,
        new_column_name: str,
        *,
        type_: TypeEngine[Any] | None = None,
        using: str = "{column}",
        reverse_using: str = "{column}",
        schema: str | None = None,
    ) -> Any:
        """Drop ``column_name``, replaced by ``new_column_name``; ``type_``, the old column's, makes it reversible."""
        return operations.invoke(
            cls(
                table_name,
                column_name,
                new_column_name,
                type_=type_,
                using=using,
                reverse_using=reverse_using,
                schema=schema,
            )
        )

    def reverse(self) -> ExpandColumnOp:
        """The operation that undoes this one: the old column expanded again from the new one."""
        if self.type_ is None:
            raise ValueError("contract_column needs type_ (the dropped column's type) to be reversed")
        return ExpandColumnOp(
            self.table_name,
            self.new_column_name,
            self.column_name,
            type_=self.type_,
            using=self.reverse_using,
            reverse_using=self.using,
            schema=self.schema,
        )


_Pair = TypeVar("_Pair", bound=_ColumnPairOperation)


def _sync_name(operation: _ColumnPairOperation) -> str:
    """The quoted name of the pair's sync trigger, and of its function."""
    return quote_identifier(sync_trigger_name(operation.table_name, operation.column_name, operation.new_column_name))


def _sync_ddl(operation: _ColumnPairOperation) -> tuple[str, str]:
    """The trigger function keeping the pair in step, and its trigger.

    The function reads the same whichever way round the pair is given (the columns in name order), so
    undoing a contraction, which expands the other way, restores the very function the expansion made.
    """
    name = _sync_name(operation)
    pairs = {
        operation.column_name: (operation.new_column_name, operation.using),
        operation.new_column_name: (operation.column_name, operation.reverse_using),
    }
    first, second = sorted(pairs)
    a, b = quote_identifier(first), quote_identifier(second)
    # Each column's value from the other's: the conversion given for that direction.
    a_to_b = pairs[first][1].format(column=f"NEW.{a}")
    b_to_a = pairs[second][1].format(column=f"NEW.{b}")
    function = (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        "    -- Whichever column the running code wrote, the other follows.\n"
        "    IF TG_OP = 'INSERT' THEN\n"
        f"        IF NEW.{b} IS NULL THEN NEW.{b} := {a_to_b};\n"
        f"        ELSIF NEW.{a} IS NULL THEN NEW.{a} := {b_to_a}; END IF;\n"
        f"    ELSIF NEW.{a} IS DISTINCT FROM OLD.{a} AND NEW.{b} IS NOT DISTINCT FROM OLD.{b} THEN\n"
        f"        NEW.{b} := {a_to_b};\n"
        f"    ELSIF NEW.{b} IS DISTINCT FROM OLD.{b} AND NEW.{a} IS NOT DISTINCT FROM OLD.{a} THEN\n"
        f"        NEW.{a} := {b_to_a};\n"
        "    END IF;\n"
        "    RETURN NEW;\n"
        "END\n"
        "$$"
    )
    trigger = (
        f"CREATE OR REPLACE TRIGGER {name} BEFORE INSERT OR UPDATE ON "
        f"{qualified_name(operation.table_name, operation.schema)} FOR EACH ROW EXECUTE FUNCTION {name}()"
    )
    return function, trigger


def _drop_sync(operations: Operations, operation: _ColumnPairOperation) -> None:
    if operations.get_context().dialect.name != "postgresql":
        return
    name = _sync_name(operation)
    table, schema = operation.table_name, operation.schema
    with_lock_retry(
        operations, f"DROP TRIGGER IF EXISTS {name} ON {qualified_name(table, schema)}", table=table, schema=schema
    )
    operations.execute(f"DROP FUNCTION IF EXISTS {name}()")


@Operations.implementation_for(ExpandColumnOp)
def _expand(operations: Operations, operation: ExpandColumnOp) -> None:
    if operation.type_ is None:
        raise ValueError("expand_column needs type_, the new column's type")
    table, schema = operation.table_name, operation.schema
    column = Column(operation.new_column_name, operation.type_, nullable=True)
    operations.invoke(AddColumnOnlineOp(table, column, schema=schema))
    if operations.get_context().dialect.name == "postgresql":
        function, trigger = _sync_ddl(operation)
        with outside_transaction(operations):
            operations.execute(function)
            with_lock_retry(operations, trigger, table=table, schema=schema)
    old, new = quote_identifier(operation.column_name), quote_identifier(operation.new_column_name)
    operations.invoke(
        BackfillOp(
            table,
            {operation.new_column_name: operation.using.format(column=old)},
            where=f"{new} IS NULL AND {old} IS NOT NULL",
            schema=schema,
            batch_size=operation.batch_size,
            name=f"expand {qualified_name(table, schema)}.{operation.column_name} into {operation.new_column_name}",
        )
    )


@Operations.implementation_for(UndoExpandColumnOp)
def _undo_expand(operations: Operations, operation: UndoExpandColumnOp) -> None:
    with outside_transaction(operations):
        _drop_sync(operations, operation)
        _drop_column(operations, operation.table_name, operation.new_column_name, operation.schema)


@Operations.implementation_for(ContractColumnOp)
def _contract(operations: Operations, operation: ContractColumnOp) -> None:
    with outside_transaction(operations):
        _drop_sync(operations, operation)
        _drop_column(operations, operation.table_name, operation.column_name, operation.schema)
