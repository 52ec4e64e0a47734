"""A comparable picture of a database schema, read from the catalog.

On PostgreSQL: tables, columns (type, nullability, default), indexes, constraints, enum types, functions,
triggers and sequences of the current schema. On SQLite: every object in ``sqlite_master`` with its SQL.
schemakit's and Alembic's bookkeeping tables are left out: Alembic's version table is recognised by its shape
(one ``version_num`` column), so a project that renamed it (``run_migrations(version_table=...)``) is served too.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection

from sqlalchemy import Connection, Inspector, inspect, text

from schemakit.migrations.autogenerate import BOOKKEEPING_TABLES

__all__ = ["SchemaObject", "application_tables", "is_version_table", "snapshot"]

#: One schema object: (kind, name, definition).
SchemaObject = tuple[str, str, str]

# Straight from pg_catalog rather than information_schema (five times faster), as the round trip reads the
# schema after every step; one round trip to the server.
_IN_SCHEMA = "relnamespace = current_schema()::regnamespace"
_POSTGRES = " UNION ALL ".join(
    f"({query})"
    for query in (
        f"SELECT 'table', relname, relkind::text FROM pg_class WHERE {_IN_SCHEMA} AND relkind IN ('r', 'p', 'v', 'm')",
        f"""SELECT 'column', c.relname || '.' || a.attname,
                   concat_ws(' ', format_type(a.atttypid, a.atttypmod), CASE WHEN a.attnotnull THEN 'NOT NULL' END,
                             pg_get_expr(d.adbin, d.adrelid))
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE c.{_IN_SCHEMA} AND c.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped""",
        f"""SELECT 'index', i.relname, concat_ws(' ', x.indrelid::regclass, x.indisunique, x.indkey, x.indclass,
                   x.indoption, i.relam, pg_get_expr(x.indpred, x.indrelid), pg_get_expr(x.indexprs, x.indrelid))
            FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE i.{_IN_SCHEMA}""",
        """SELECT 'constraint', c.conrelid::regclass::text || '.' || c.conname, pg_get_constraintdef(c.oid)
           FROM pg_constraint c WHERE c.connamespace = current_schema()::regnamespace AND c.conrelid <> 0""",
        """SELECT 'enum type', t.typname, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_type t
           JOIN pg_enum e ON e.enumtypid = t.oid WHERE t.typnamespace = current_schema()::regnamespace
           GROUP BY t.typname""",
        """SELECT 'function', p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', md5(p.prosrc)
           FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace""",
        """SELECT 'trigger', t.tgrelid::regclass::text || '.' || t.tgname, pg_get_triggerdef(t.oid)
           FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal AND c.relnamespace
           = current_schema()::regnamespace""",
        f"SELECT 'sequence', relname, '' FROM pg_class WHERE {_IN_SCHEMA} AND relkind = 'S'",
    )
)


def is_version_table(column_names: Collection[str]) -> bool:
    """Whether a table with these columns is an Alembic version table (its one column is ``version_num``)."""
    return list(column_names) == ["version_num"]


def application_tables(inspector: Inspector) -> list[str]:
    """The tables of the application: all but schemakit's bookkeeping and Alembic's version table."""
    return sorted(
        table
        for table in set(inspector.get_table_names()) - BOOKKEEPING_TABLES
        if not is_version_table([column["name"] for column in inspector.get_columns(table)])
    )


def _bookkeeping(tables: Collection[str]) -> re.Pattern[str]:
    """Matches the names of the tables and of what belongs to them (``<table>.<column>``, ``pk_<table>``, ...)."""
    return re.compile("|".join(rf"{re.escape(table)}(?:[._]|$)|pk_{re.escape(table)}" for table in sorted(tables)))


def snapshot(connection: Connection) -> frozenset[SchemaObject]:
    """Every schema object of the connection's database, as comparable tuples."""
    objects: set[SchemaObject] = set()
    if connection.dialect.name == "postgresql":
        objects |= {(kind, name, definition or "") for kind, name, definition in connection.exec_driver_sql(_POSTGRES)}
    else:
        objects |= _sqlite(connection)
    columns: dict[str, list[str]] = defaultdict(list)
    for kind, name, _ in objects:
        if kind == "column":
            table, column = name.split(".", 1)
            columns[table].append(column)
    bookkeeping = BOOKKEEPING_TABLES | {table for table, names in columns.items() if is_version_table(names)}
    owned = _bookkeeping(bookkeeping)
    return frozenset(obj for obj in objects if not owned.match(obj[1]))


def _sqlite(connection: Connection) -> set[SchemaObject]:
    # Tables are compared by their reflected structure, not their CREATE TABLE text: Alembic's batch mode
    # rebuilds a table with SQL formatted its own way.
    inspector = inspect(connection)
    objects: set[SchemaObject] = set()
    for table in set(inspector.get_table_names()) - BOOKKEEPING_TABLES:
        objects.add(("table", table, ""))
        for column in inspector.get_columns(table):
            definition = f"{column['type']} nullable={column['nullable']} default={column['default']}"
            objects.add(("column", f"{table}.{column['name']}", definition))
        primary_key = inspector.get_pk_constraint(table)
        objects.add(("constraint", f"{table}.{primary_key.get('name')}", str(primary_key["constrained_columns"])))
        for key in inspector.get_foreign_keys(table):
            definition = (
                f"{key['constrained_columns']} -> {key['referred_table']}{key['referred_columns']} {key['options']}"
            )
            objects.add(("constraint", f"{table}.{key.get('name')}", definition))
        for unique in inspector.get_unique_constraints(table):
            objects.add(("constraint", f"{table}.{unique.get('name')}", str(unique["column_names"])))
        for check in inspector.get_check_constraints(table):
            objects.add(("constraint", f"{table}.{check.get('name')}", " ".join(str(check["sqltext"]).split())))
        for index in inspector.get_indexes(table):
            options = {name: str(value) for name, value in index.get("dialect_options", {}).items()}
            definition = f"{index['column_names']} unique={index['unique']} {options}"
            objects.add(("index", f"{table}.{index['name']}", definition))
    rows = connection.execute(
        text("SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master WHERE type IN ('trigger', 'view')")
    )
    for kind, name, table, sql in rows:
        if table not in BOOKKEEPING_TABLES:
            objects.add((str(kind), f"{table}.{name}", " ".join(str(sql).split())))
    return objects


def describe(objects: frozenset[SchemaObject] | set[SchemaObject]) -> list[str]:
    """Short human descriptions of schema objects, sorted."""
    return sorted(f"{kind} {name}" for kind, name, _ in objects)
