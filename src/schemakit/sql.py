"""Server-side SQL that keeps rows correct when they are written by raw SQL, not only through the ORM.

* :class:`uuid7_server_default`: a column default that makes UUID version 7 ids in the database. On
  PostgreSQL it calls ``schemakit_uuid7()``, a function that the migration operation
  ``op.create_schemakit_functions()`` installs (pure SQL on PostgreSQL 15 to 17, the native ``uuidv7()`` from
  18 on); on SQLite it is an expression.
* :func:`updated_at_trigger_ddl` / :func:`drop_updated_at_trigger_ddl`: a trigger that moves ``updated_at`` to
  the current time on every ``UPDATE`` that does not set it itself.

Migrations use these through the operations in :mod:`schemakit.migrations.operations`. ``create_all()`` installs
them too, for the tables that need them and nothing else: :func:`attach_server_objects` makes a table's
``CREATE`` install the functions first (PostgreSQL) and its ``updated_at`` trigger after. The id and timestamp
mixins call it for every table they are mapped to; a Core table calls it itself. Tables without these columns,
and every metadata that holds no such table, get nothing of schemakit's.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table, Uuid, event
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from schemakit.naming import qualified_name, shorten_identifier

if TYPE_CHECKING:
    from sqlalchemy.orm import Mapper

__all__ = [
    "KEEP_UPDATED_AT_SETTING",
    "SET_UPDATED_AT_FUNCTION",
    "UPDATED_AT_TRIGGER",
    "UUID7_FUNCTION",
    "attach_server_objects",
    "attach_to_mapped_subclasses",
    "drop_functions_ddl",
    "drop_updated_at_trigger_ddl",
    "functions_ddl",
    "needs_functions",
    "set_updated_at_function_ddl",
    "updated_at_trigger_ddl",
    "updated_at_trigger_name",
    "uuid7_server_default",
    "wants_updated_at_trigger",
]

#: The PostgreSQL function that makes a UUID version 7.
UUID7_FUNCTION = "schemakit_uuid7"
#: The PostgreSQL trigger function that refreshes ``updated_at``.
SET_UPDATED_AT_FUNCTION = "schemakit_set_updated_at"

#: The PostgreSQL setting that keeps the ``updated_at`` trigger from moving ``updated_at`` (a backfill sets it).
KEEP_UPDATED_AT_SETTING = "schemakit.keep_updated_at"
#: The ``Column.info`` key that asks for an ``updated_at`` trigger on the column's table.
UPDATED_AT_TRIGGER = "schemakit.updated_at_trigger"

_NATIVE_UUIDV7_VERSION = (18,)

# Before PostgreSQL 18: RFC 9562 method 3, as the native uuidv7() of 18 does. The first 48 bits are the Unix
# time in milliseconds, then the version and 12 bits of the sub-millisecond fraction (microsecond steps), so
# ids made on the server sort by time within a millisecond too; the rest stays random (with the variant bits of
# gen_random_uuid). 28672 is 0x7000, the version nibble. PL/pgSQL reads the clock once and, unlike a SQL
# function with a subquery, is not planned again on every call.
_UUID7_BODY_BEFORE_18 = """
DECLARE
    us bigint := (date_part('epoch', clock_timestamp()) * 1000000)::bigint;
BEGIN
    RETURN encode(overlay(uuid_send(gen_random_uuid())
                          PLACING int8send(((us / 1000) << 16) | 28672 | ((mod(us, 1000) * 4096) / 1000)) FROM 1 FOR 8),
                  'hex')::uuid;
END
"""
_UUID7_BODY_NATIVE = "BEGIN RETURN uuidv7(); END"

# 48 bits of milliseconds, the version, 12 random bits, the variant (10xx), 62 more random bits: the
# 32-digit hex form that SQLAlchemy's Uuid type stores on SQLite.
_SQLITE_UUID7 = (
    "lower(printf('%012x', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))"
    " || '7' || substr(hex(randomblob(2)), 2, 3)"
    " || substr('89ab', 1 + (random() & 3), 1) || substr(hex(randomblob(2)), 2, 3)"
    " || hex(randomblob(6)))"
)
# SQLite's clock has milliseconds; the ORM writes microseconds. The trigger takes the last microsecond of the
# current millisecond, and never less than the value already there, so updated_at never moves backwards and is
# never earlier than the UPDATE that set it (the text form compares in time order).
_SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now') || '999'"


class uuid7_server_default(FunctionElement[uuid.UUID]):  # noqa: N801 - reads as a SQL function
    """A server-side default that makes a UUID version 7 (``server_default=uuid7_server_default()``)."""

    type = Uuid()
    inherit_cache = True
    name = "uuid7_server_default"


@compiles(uuid7_server_default, "postgresql")
def _uuid7_postgresql(_element: uuid7_server_default, _compiler: SQLCompiler, **_kw: Any) -> str:
    return f"{UUID7_FUNCTION}()"


@compiles(uuid7_server_default, "sqlite")
def _uuid7_sqlite(_element: uuid7_server_default, _compiler: SQLCompiler, **_kw: Any) -> str:
    return _SQLITE_UUID7


@compiles(uuid7_server_default)
def _uuid7_other(_element: uuid7_server_default, compiler: SQLCompiler, **_kw: Any) -> str:
    raise CompileError(f"no UUID version 7 server default for {compiler.dialect.name}; use PostgreSQL or SQLite")


def functions_ddl(dialect: str, server_version: tuple[int | str, ...] | None = None) -> list[str]:
    """The statements that install schemakit's SQL functions (PostgreSQL only; none on SQLite).

    Args:
        dialect: ``"postgresql"`` or ``"sqlite"``.
        server_version: PostgreSQL's version, if known; from 18 on the native ``uuidv7()`` is used.

    Returns:
        ``CREATE OR REPLACE FUNCTION`` statements.
    """
    if dialect != "postgresql":
        return []
    native = (
        server_version is not None and isinstance(server_version[0], int) and server_version >= _NATIVE_UUIDV7_VERSION
    )
    uuid7_body = _UUID7_BODY_NATIVE if native else _UUID7_BODY_BEFORE_18
    return [
        f"CREATE OR REPLACE FUNCTION {UUID7_FUNCTION}() RETURNS uuid "
        f"LANGUAGE plpgsql VOLATILE PARALLEL SAFE AS $$\n{uuid7_body.strip()}\n$$",
        set_updated_at_function_ddl(),
    ]


def set_updated_at_function_ddl() -> str:
    """The ``CREATE OR REPLACE FUNCTION`` statement of the ``updated_at`` trigger function (PostgreSQL)."""
    return (
        f"CREATE OR REPLACE FUNCTION {SET_UPDATED_AT_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        "    -- An UPDATE that sets updated_at itself (as the ORM does) keeps its value, and so does a backfill\n"
        "    -- that asks for it with the session setting.\n"
        "    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at\n"
        f"       AND current_setting('{KEEP_UPDATED_AT_SETTING}', true) IS DISTINCT FROM 'on' THEN\n"
        "        NEW.updated_at := clock_timestamp();\n"
        "    END IF;\n"
        "    RETURN NEW;\n"
        "END\n"
        "$$"
    )


def drop_functions_ddl(dialect: str) -> list[str]:
    """The statements that remove what :func:`functions_ddl` installed."""
    if dialect != "postgresql":
        return []
    return [
        f"DROP FUNCTION IF EXISTS {SET_UPDATED_AT_FUNCTION}()",
        f"DROP FUNCTION IF EXISTS {UUID7_FUNCTION}()",
    ]


def updated_at_trigger_name(table: str) -> str:
    """The name of the ``updated_at`` trigger of ``table``: ``trg_<table>_updated_at``, shortened if needed."""
    return shorten_identifier(f"trg_{table}_updated_at")


def updated_at_trigger_ddl(dialect: str, table: str, schema: str | None = None) -> list[str]:
    """The statements that create the ``updated_at`` trigger on ``table``; running them twice is harmless.

    Args:
        dialect: ``"postgresql"`` or ``"sqlite"``.
        table: The table's name; it must have an ``updated_at`` column.
        schema: The table's schema, if not the default one.

    Returns:
        ``CREATE TRIGGER`` statements.

    Raises:
        CompileError: For a dialect other than PostgreSQL and SQLite.
    """
    name, target = updated_at_trigger_name(table), qualified_name(table, schema)
    if dialect == "postgresql":
        return [
            # The WHEN clause spares the function call for the ORM's updates, which set updated_at themselves. The
            # function tests the same, for triggers created before the clause was added.
            f'CREATE OR REPLACE TRIGGER "{name}" BEFORE UPDATE ON {target} FOR EACH ROW '
            "WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at) "
            f"EXECUTE FUNCTION {SET_UPDATED_AT_FUNCTION}()"
        ]
    if dialect == "sqlite":
        # SQLite cannot change NEW in a trigger, so it updates the row again; recursive triggers are off by
        # default, so the second UPDATE does not fire it once more.
        return [
            f'CREATE TRIGGER IF NOT EXISTS "{name}" AFTER UPDATE ON {target} FOR EACH ROW '
            "WHEN NEW.updated_at IS OLD.updated_at BEGIN "
            f"UPDATE {target} SET updated_at = max({_SQLITE_NOW}, coalesce(OLD.updated_at, '')) "
            "WHERE rowid = NEW.rowid; END"
        ]
    raise CompileError(f"no updated_at trigger for {dialect}; use PostgreSQL or SQLite")


def drop_updated_at_trigger_ddl(dialect: str, table: str, schema: str | None = None) -> list[str]:
    """The statements that drop the ``updated_at`` trigger of ``table``."""
    name = updated_at_trigger_name(table)
    if dialect == "postgresql":
        return [f'DROP TRIGGER IF EXISTS "{name}" ON {qualified_name(table, schema)}']
    if dialect == "sqlite":
        prefix = f'"{schema}".' if schema else ""
        return [f'DROP TRIGGER IF EXISTS {prefix}"{name}"']
    raise CompileError(f"no updated_at trigger for {dialect}; use PostgreSQL or SQLite")


def wants_updated_at_trigger(table: Table) -> bool:
    """Whether ``table`` has an ``updated_at`` column that asks for the trigger (see ``TimestampMixin``)."""
    column = table.columns.get("updated_at")
    return column is not None and bool(column.info.get(UPDATED_AT_TRIGGER))


def needs_functions(table: Table) -> bool:
    """Whether ``table`` uses schemakit's SQL functions (a v7 server default or the ``updated_at`` trigger)."""
    return wants_updated_at_trigger(table) or any(
        isinstance(getattr(column.server_default, "arg", None), uuid7_server_default) for column in table.columns
    )


def attach_server_objects(table: Table) -> None:
    """Make ``CREATE TABLE`` of ``table`` (``create_all()``, ``table.create()``) install what it needs.

    Before the table, schemakit's functions when one of its columns calls them (PostgreSQL); after it, the
    ``updated_at`` trigger when its ``updated_at`` asks for one. Calling it again, or on a table that needs
    nothing, changes nothing. Migrations do not depend on it: they install the same objects explicitly.
    """
    if needs_functions(table) and not event.contains(table, "before_create", _install_functions):
        event.listen(table, "before_create", _install_functions)
    if wants_updated_at_trigger(table) and not event.contains(table, "after_create", _create_trigger):
        event.listen(table, "after_create", _create_trigger)


def attach_to_mapped_subclasses(mixin: type) -> None:
    """Call :func:`attach_server_objects` on the table of every class mapped with ``mixin`` from now on."""
    event.listen(mixin, "after_mapper_constructed", _attach_mapped, propagate=True)


def _attach_mapped(mapper: Mapper[Any], _class: type) -> None:
    if isinstance(mapper.local_table, Table):
        attach_server_objects(mapper.local_table)


def _install_functions(_table: Table, connection: Connection, **_kw: Any) -> None:
    for statement in functions_ddl(connection.dialect.name, connection.dialect.server_version_info):
        connection.exec_driver_sql(statement)


def _create_trigger(table: Table, connection: Connection, **_kw: Any) -> None:
    for statement in updated_at_trigger_ddl(connection.dialect.name, table.name, table.schema):
        connection.exec_driver_sql(statement)
