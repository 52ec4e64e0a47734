"""What ``alembic revision --autogenerate`` writes for schemakit models.

* The ``updated_at`` trigger of every table that uses :class:`~schemakit.mixins.TimestampMixin` (created right
  after its table, dropped right before it), and schemakit's SQL functions before the first table that
  needs them.
* Column types and defaults rendered without importing application code: :class:`~schemakit.types.UTCDateTime`
  becomes ``sa.DateTime(timezone=True)``, and the id's server default ``uuid7_server_default()``, from
  :mod:`schemakit.sql`, which compiles for each dialect so one migration runs on PostgreSQL and SQLite.
* The online operations for changes to tables that exist (:mod:`schemakit.migrations.online.rewrite`).
* The audit triggers of every table that uses :class:`~schemakit.mixins.AuditTrailMixin` (after every table
  is created; removed, first, from a table that stops being audited).
* No empty revision file when nothing changed (:func:`skip_empty_revision`).
* schemakit's checksum ledger is never proposed for removal (:func:`include_name`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from alembic import context
from alembic.autogenerate import comparators, render_python_code, renderers
from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops
from alembic.runtime.migration import MigrationContext
from alembic.util import DispatchPriority
from sqlalchemy import JSON, Connection, DefaultClause, MetaData, Table, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB

from schemakit.audit_log.ddl import audit_trigger_names
from schemakit.audit_log.tables import is_audited
from schemakit.environment_marker import ENVIRONMENT_TABLE
from schemakit.migrations.checksums import CHECKSUM_TABLE
from schemakit.migrations.online.backfill import BACKFILL_PROGRESS_TABLE
from schemakit.migrations.online.rewrite import write_online_forms
from schemakit.migrations.operations import (
    CreateAuditTriggerOp,
    CreateSchemakitFunctionsOp,
    CreateUpdatedAtTriggerOp,
    DropAuditTriggerOp,
    DropSchemakitFunctionsOp,
    DropUpdatedAtTriggerOp,
)
from schemakit.migrations.options import migration_options
from schemakit.migrations.partitions import compare_partitions, is_partition_name
from schemakit.migrations.search import compare_search, is_search_table, postgresql_only, render_search_item
from schemakit.naming import quote_identifier
from schemakit.sql import (
    UUID7_FUNCTION,
    needs_functions,
    updated_at_trigger_name,
    uuid7_server_default,
    wants_updated_at_trigger,
)
from schemakit.types import UTCDateTime

__all__ = [
    "BOOKKEEPING_TABLES",
    "existing_triggers",
    "include_name",
    "include_object",
    "render_item",
    "skip_empty_revision",
]

log = logging.getLogger(__name__)

_POSTGRESQL = postgresql.dialect()  # type: ignore[no-untyped-call]


#: Tables schemakit keeps for itself; autogenerate and the schema gates leave them alone.
BOOKKEEPING_TABLES = frozenset({CHECKSUM_TABLE, ENVIRONMENT_TABLE, BACKFILL_PROGRESS_TABLE})


def include_name(
    dialect: str, name: str | None, type_: str, _parent_names: Any, *, partitioned: frozenset[str] = frozenset()
) -> bool:
    """Alembic's ``include_name`` hook, with the dialect (and the time-partitioned tables' names) bound first.

    It leaves out of comparisons schemakit's own bookkeeping tables, the partitions of the ``partitioned``
    tables, and on SQLite the FTS5 tables of search.
    """
    if type_ != "table" or name is None:
        return True
    return (
        name not in BOOKKEEPING_TABLES
        and not is_partition_name(name, partitioned)
        and not (dialect == "sqlite" and is_search_table(name))
    )


def include_object(dialect: str, obj: Any, _name: str | None, type_: str, _reflected: bool, compare_to: Any) -> bool:
    """Alembic's ``include_object`` hook, with the dialect bound first.

    It leaves PostgreSQL's GIN and HNSW indexes of search out of comparisons on other dialects.
    """
    return not (type_ == "index" and dialect != "postgresql" and postgresql_only(obj, compare_to))


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Alembic's ``render_item`` hook: render schemakit types and defaults with SQLAlchemy and schemakit.sql."""
    searched = render_search_item(type_, obj, autogen_context)
    if searched is not None:
        return searched
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, JSON) and isinstance(obj.dialect_impl(_POSTGRESQL), JSONB):
        # Rendered by Alembic against SQLite, the variant's JSONB comes out as JSONB(astext_type=Text()), with
        # no sa. prefix, and the revision does not import.
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return 'sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")'

    if type_ == "server_default" and isinstance(obj, DefaultClause) and isinstance(obj.arg, uuid7_server_default):
        autogen_context.imports.add("from schemakit.sql import uuid7_server_default")
        return "uuid7_server_default()"
    return False


def skip_empty_revision(
    migration_context: MigrationContext, _revision: Any, directives: list[ops.MigrationScript]
) -> None:
    """Alembic's ``process_revision_directives`` hook: write no file when autogenerate found no change.

    ``alembic check`` runs the same hook with no message and needs the (empty) script to report on, so only
    a revision with a message (``alembic revision --autogenerate -m "..."``) is skipped. When the options
    carry a ``capture_revision`` list (:class:`~schemakit.migrations.options.MigrationOptions`), the upgrade
    code goes there and no file is written (the drift gate uses this).
    """
    if not directives:
        return
    script = directives[0]
    write_online_forms(script, migration_context.dialect.name)
    capture = migration_options(context.config).capture_revision
    if capture is not None:
        if script.upgrade_ops is not None and not script.upgrade_ops.is_empty():
            # No migration context: given one, render_python_code would insist on target metadata it never uses.
            capture.append(render_python_code(script.upgrade_ops, render_item=render_item))
        directives.clear()
        return
    if script.message is not None and script.upgrade_ops is not None and script.upgrade_ops.is_empty():
        directives.clear()
        print("No changes between the models and the database: no revision file was written.")


def existing_triggers(connection: Connection, schema: str | None = None) -> set[str]:
    """The names of the triggers in ``schema`` (the connection's default schema when ``None``)."""
    if connection.dialect.name == "postgresql":
        query = text(
            "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE NOT t.tgisinternal AND n.nspname = coalesce(:schema, current_schema())"
        )
        return set(connection.scalars(query, {"schema": schema}))
    if connection.dialect.name == "sqlite":
        if schema and schema not in {row[1] for row in connection.exec_driver_sql("PRAGMA database_list")}:
            return set()  # not attached: nothing there yet
        master = f"{quote_identifier(schema)}.sqlite_master" if schema else "sqlite_master"
        return set(connection.scalars(text(f"SELECT name FROM {master} WHERE type = 'trigger'")))
    return set()


def _functions_exist(connection: Connection) -> bool:
    if connection.dialect.name != "postgresql":
        return False
    return bool(connection.scalar(text("SELECT to_regproc(:name) IS NOT NULL"), {"name": UUID7_FUNCTION}))


def _metadata_tables(autogen_context: AutogenContext) -> list[Table]:
    metadata = autogen_context.metadata
    collections: Sequence[MetaData] = [metadata] if isinstance(metadata, MetaData) else list(metadata or [])
    return [table for collection in collections for table in collection.sorted_tables]


def _position(
    upgrade_ops: ops.UpgradeOps, kind: type[ops.MigrateOperation], table_name: str, schema: str | None
) -> int | None:
    for index, operation in enumerate(upgrade_ops.ops):
        if (
            isinstance(operation, kind)
            and getattr(operation, "table_name", None) == table_name
            and getattr(operation, "schema", None) == schema
        ):
            return index
    return None


@comparators.dispatch_for("schema", priority=DispatchPriority.LAST)
def _compare_server_side_objects(
    autogen_context: AutogenContext, upgrade_ops: ops.UpgradeOps, schemas: Iterable[str | None]
) -> None:
    connection = autogen_context.connection
    if connection is None:
        return
    tables = _metadata_tables(autogen_context)
    # The schemas Alembic scanned, and those the models name (make_metadata(schema=...)) even when Alembic
    # was not asked to scan them: a model's table gets its trigger wherever it lives.
    scanned = set(schemas)
    for schema in sorted(scanned | {table.schema for table in tables}, key=lambda name: name or ""):
        in_schema = [table for table in tables if table.schema == schema]
        _compare_triggers(autogen_context, connection, upgrade_ops, schema, in_schema, scanned=schema in scanned)
    _compare_audit_triggers(autogen_context, connection, upgrade_ops, tables)
    compare_search(autogen_context, connection, upgrade_ops, tables)
    compare_partitions(autogen_context, connection, upgrade_ops, tables)
    needed = any(needs_functions(table) for table in tables)
    present = _functions_exist(connection)
    if needed and not present and connection.dialect.name == "postgresql":
        upgrade_ops.ops.insert(0, CreateSchemakitFunctionsOp())
    elif present and not needed:
        upgrade_ops.ops.append(DropSchemakitFunctionsOp())


def _compare_triggers(
    autogen_context: AutogenContext,
    connection: Connection,
    upgrade_ops: ops.UpgradeOps,
    schema: str | None,
    tables: list[Table],
    *,
    scanned: bool,
) -> None:
    wanted = {table.name for table in tables if wants_updated_at_trigger(table)}
    existing = existing_triggers(connection, schema)
    for name in sorted(wanted):
        if updated_at_trigger_name(name) not in existing:
            created_at = _position(upgrade_ops, ops.CreateTableOp, name, schema)
            index = len(upgrade_ops.ops) if created_at is None else created_at + 1
            upgrade_ops.ops.insert(index, CreateUpdatedAtTriggerOp(name, schema=schema))
            log.info("Detected missing updated_at trigger on %r", name)
    if not scanned:
        return
    for name in sorted(set(autogen_context.inspector.get_table_names(schema=schema)) - wanted):
        if updated_at_trigger_name(name) in existing:
            dropped_at = _position(upgrade_ops, ops.DropTableOp, name, schema)
            index = len(upgrade_ops.ops) if dropped_at is None else dropped_at
            upgrade_ops.ops.insert(index, DropUpdatedAtTriggerOp(name, schema=schema))
            log.info("Detected unwanted updated_at trigger on %r", name)


def _compare_audit_triggers(
    autogen_context: AutogenContext, connection: Connection, upgrade_ops: ops.UpgradeOps, tables: list[Table]
) -> None:
    # The audit triggers come after every table (the log's own included), and go before any.
    existing = existing_triggers(connection)
    audited = {table.name: table for table in tables if table.schema is None and is_audited(table)}
    for name, table in sorted(audited.items()):
        if audit_trigger_names(name)[0] not in existing:
            (key,) = [column.name for column in table.primary_key.columns]
            soft = "deleted_at" if "deleted_at" in table.columns else None
            upgrade_ops.ops.append(CreateAuditTriggerOp(name, key=key, soft_delete_column=soft))
            log.info("Detected missing audit triggers on %r", name)
    for name in sorted(set(autogen_context.inspector.get_table_names()) - set(audited)):
        if audit_trigger_names(name)[0] in existing:
            pk = autogen_context.inspector.get_pk_constraint(name)["constrained_columns"]
            columns = {column["name"] for column in autogen_context.inspector.get_columns(name)}
            soft = "deleted_at" if "deleted_at" in columns else None
            upgrade_ops.ops.insert(0, DropAuditTriggerOp(name, key=pk[0] if pk else "id", soft_delete_column=soft))
            log.info("Detected audit triggers on %r, which is no longer audited", name)


def _audit_arguments(op: CreateAuditTriggerOp | DropAuditTriggerOp) -> str:
    soft = f", soft_delete_column={op.soft_delete_column!r}" if op.soft_delete_column else ""
    return f"{op.table_name!r}, key={op.key!r}{soft}"


@renderers.dispatch_for(CreateAuditTriggerOp)
def _render_create_audit_trigger(_autogen_context: AutogenContext, op: CreateAuditTriggerOp) -> str:
    return f"op.create_audit_trigger({_audit_arguments(op)})"


@renderers.dispatch_for(DropAuditTriggerOp)
def _render_drop_audit_trigger(_autogen_context: AutogenContext, op: DropAuditTriggerOp) -> str:
    return f"op.drop_audit_trigger({_audit_arguments(op)})"


@renderers.dispatch_for(CreateSchemakitFunctionsOp)
def _render_create_functions(_autogen_context: AutogenContext, _op: CreateSchemakitFunctionsOp) -> str:
    return "op.create_schemakit_functions()"


@renderers.dispatch_for(DropSchemakitFunctionsOp)
def _render_drop_functions(_autogen_context: AutogenContext, _op: DropSchemakitFunctionsOp) -> str:
    return "op.drop_schemakit_functions()"


def _table_arguments(table_name: str, schema: str | None) -> str:
    return f"{table_name!r}" + (f", schema={schema!r}" if schema else "")


@renderers.dispatch_for(CreateUpdatedAtTriggerOp)
def _render_create_trigger(_autogen_context: AutogenContext, op: CreateUpdatedAtTriggerOp) -> str:
    return f"op.create_updated_at_trigger({_table_arguments(op.table_name, op.schema)})"


@renderers.dispatch_for(DropUpdatedAtTriggerOp)
def _render_drop_trigger(_autogen_context: AutogenContext, op: DropUpdatedAtTriggerOp) -> str:
    return f"op.drop_updated_at_trigger({_table_arguments(op.table_name, op.schema)})"
