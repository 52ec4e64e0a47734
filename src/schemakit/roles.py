"""Least-privilege roles for a project's database (PostgreSQL): ``schemakit roles [--apply]``.

Three roles, named after the database unless told otherwise:

=========================  ===============================================================================
``<database>_owner``       owns the schema's objects and runs the migrations (``MIGRATION_DATABASE_URL``)
``<database>_app``         what the application connects as: SELECT, INSERT, UPDATE, DELETE on the
                           project's tables, and its sequences; no TRUNCATE, no DDL, no writes to the
                           migrations' bookkeeping or to the audit log (its triggers write as the owner)
``<database>_readonly``    SELECT only, for reports and support
=========================  ===============================================================================

``ALTER DEFAULT PRIVILEGES FOR ROLE <owner>`` gives the tables and sequences that later migrations create (as
the owner) the same grants, so a new table is never left out. The existing objects of the schema are handed to
the owner, and ``CREATE`` on the schema is taken from ``PUBLIC``. The roles are created ``LOGIN`` without a
password: set one with ``ALTER ROLE ... PASSWORD`` (or use certificates). The statements can be run again.

=============  =========  ===  ========
statement      owner      app  readonly
=============  =========  ===  ========
SELECT         yes        yes  yes
INSERT         yes        yes  no
UPDATE         yes        yes  no
DELETE         yes        yes  no
TRUNCATE       yes        no   no
CREATE TABLE   yes        no   no
ALTER TABLE    yes        no   no
DROP TABLE     yes        no   no
=============  =========  ===  ========
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from schemakit.audit_log.tables import AUDIT_TABLES
from schemakit.migrations.autogenerate import BOOKKEEPING_TABLES
from schemakit.naming import MAX_IDENTIFIER_BYTES, quote_identifier, quote_literal

__all__ = ["MATRIX", "RoleNames", "apply_roles", "roles_sql"]

#: What each role may do to a project table, as the module's table says.
MATRIX: dict[str, frozenset[str]] = {
    "owner": frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "CREATE", "ALTER", "DROP"}),
    "app": frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"}),
    "readonly": frozenset({"SELECT"}),
}


@dataclass(frozen=True)
class RoleNames:
    """The three roles' names."""

    owner: str
    app: str
    readonly: str

    @classmethod
    def for_database(cls, database: str) -> RoleNames:
        """``<database>_owner``, ``<database>_app``, ``<database>_readonly``, within the identifier limit."""
        base = database[: MAX_IDENTIFIER_BYTES - len("_readonly")]
        return cls(f"{base}_owner", f"{base}_app", f"{base}_readonly")


def _create_role(name: str) -> str:
    return (
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {quote_literal(name)}) "
        f"THEN CREATE ROLE {quote_identifier(name)} LOGIN; END IF; END $$"
    )


def _hand_over(schema: str, owner: str) -> str:
    """A statement that makes ``owner`` the owner of the schema's tables, free sequences, functions and types."""
    return f"""DO $$
DECLARE item record;
BEGIN
    FOR item IN
        SELECT format('ALTER %s %I.%I OWNER TO %I',
                      CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                                     WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
                      n.nspname, c.relname, {quote_literal(owner)}) AS statement
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = {quote_literal(schema)} AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))
        UNION ALL
        SELECT format('ALTER FUNCTION %s OWNER TO %I', p.oid::regprocedure, {quote_literal(owner)})
        FROM pg_proc p WHERE p.pronamespace = {quote_literal(schema)}::regnamespace
        UNION ALL
        SELECT format('ALTER TYPE %I.%I OWNER TO %I', {quote_literal(schema)}, t.typname, {quote_literal(owner)})
        FROM pg_type t WHERE t.typnamespace = {quote_literal(schema)}::regnamespace AND t.typtype = 'e'
    LOOP
        EXECUTE item.statement;
    END LOOP;
END $$"""


def roles_sql(database: str, names: RoleNames, *, schema: str = "public") -> list[str]:
    """The statements that create the three roles and grant what the module's table says.

    Args:
        database: The database they work on.
        names: The roles' names.
        schema: The schema holding the project's tables.

    Returns:
        Statements to run, in order, as a superuser or the database's owner with ``CREATEROLE``.
    """
    owner, app, readonly = (quote_identifier(name) for name in (names.owner, names.app, names.readonly))
    where = f"IN SCHEMA {quote_identifier(schema)}"
    kept = {"alembic_version", *BOOKKEEPING_TABLES, *AUDIT_TABLES}
    bookkeeping = ", ".join(quote_literal(table) for table in sorted(kept))
    return [
        *(_create_role(name) for name in (names.owner, names.app, names.readonly)),
        f"GRANT CONNECT, TEMPORARY ON DATABASE {quote_identifier(database)} TO {owner}, {app}, {readonly}",
        f"REVOKE CREATE ON SCHEMA {quote_identifier(schema)} FROM PUBLIC",
        f"GRANT USAGE, CREATE ON SCHEMA {quote_identifier(schema)} TO {owner}",
        f"GRANT USAGE ON SCHEMA {quote_identifier(schema)} TO {app}, {readonly}",
        _hand_over(schema, names.owner),
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES {where} TO {app}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES {where} TO {app}",
        f"GRANT SELECT ON ALL TABLES {where} TO {readonly}",
        f"GRANT SELECT ON ALL SEQUENCES {where} TO {readonly}",
        # The migrations' bookkeeping and the audit log are the owner's to write (the log's triggers write as
        # the owner), so the application cannot rewrite its own history.
        f"""DO $$
DECLARE item record;
BEGIN
    FOR item IN SELECT c.relname FROM pg_class c
                WHERE c.relnamespace = {quote_literal(schema)}::regnamespace AND c.relname IN ({bookkeeping})
    LOOP
        EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON %I.%I FROM %I',
                       {quote_literal(schema)}, item.relname, {quote_literal(names.app)});
    END LOOP;
END $$""",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} {where} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} {where} GRANT USAGE, SELECT ON SEQUENCES TO {app}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} {where} GRANT SELECT ON TABLES TO {readonly}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} {where} GRANT SELECT ON SEQUENCES TO {readonly}",
    ]


def apply_roles(connection: Connection, names: RoleNames | None = None) -> RoleNames:
    """Create the roles and their grants on the database behind ``connection``, in its transaction."""
    database = str(connection.scalar(text("SELECT current_database()")))
    schema = str(connection.scalar(text("SELECT current_schema()")))
    chosen = names or RoleNames.for_database(database)
    for statement in roles_sql(database, chosen, schema=schema):
        connection.execute(text(statement))
    return chosen
