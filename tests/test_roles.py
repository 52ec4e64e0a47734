"""Least-privilege roles: every kind of statement, as each role, on an existing table and on a later one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from schemakit import DatabaseSettings
from schemakit.cli import main
from schemakit.migrations import upgrade
from schemakit.roles import MATRIX, RoleNames, apply_roles
from tests.conftest import _postgres
from tests.projects import add_revision, configure, copy_project
from tests.test_audit_log import AuditBase

pytestmark = pytest.mark.requires_postgres

STATEMENTS = {
    "SELECT": "SELECT count(*) FROM {table}",
    "INSERT": "INSERT INTO {table} (label) VALUES ('new')",
    "UPDATE": "UPDATE {table} SET label = 'changed'",
    "DELETE": "DELETE FROM {table}",
    "TRUNCATE": "TRUNCATE {table}",
    "CREATE": "CREATE TABLE made_by_{role} (id integer)",
    "ALTER": "ALTER TABLE {table} ADD COLUMN extra integer",
    "DROP": "DROP TABLE {table}",
}


@pytest.fixture
def database(request: pytest.FixtureRequest) -> Iterator[tuple[URL, RoleNames]]:
    """A database with one table and the three roles; the roles are dropped with it."""
    databases = _postgres(request)
    made = databases.create_empty(f"roles_{uuid.uuid4().hex[:8]}")
    names = RoleNames.for_database(f"r{uuid.uuid4().hex[:8]}")
    engine = create_engine(made.url, poolclass=NullPool)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE existing_things (id serial PRIMARY KEY, label text)"))
        connection.execute(text("INSERT INTO existing_things (label) VALUES ('first')"))
        connection.execute(text("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)"))
        apply_roles(connection, names)
    engine.dispose()
    yield made.url, names
    databases.drop(made)
    with databases.admin() as admin:
        for role in (names.owner, names.app, names.readonly):
            admin.execute(text(f'DROP ROLE IF EXISTS "{role}"'))


def allowed(connection: Connection, role: str, statement: str) -> bool:
    transaction = connection.begin()
    try:
        connection.execute(text(f'SET LOCAL ROLE "{role}"'))
        connection.execute(text(statement))
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != "42501":  # insufficient_privilege
            raise
        return False
    finally:
        transaction.rollback()
    return True


def test_each_role_can_do_exactly_what_the_matrix_says(database: tuple[URL, RoleNames]) -> None:
    url, names = database
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        # A later migration, run as the owner, creates a table: the default privileges cover it.
        with connection.begin():
            connection.execute(text(f'SET LOCAL ROLE "{names.owner}"'))
            connection.execute(text("CREATE TABLE later_things (id serial PRIMARY KEY, label text)"))
            connection.execute(text("INSERT INTO later_things (label) VALUES ('first')"))
        roles = {"owner": names.owner, "app": names.app, "readonly": names.readonly}
        seen = {
            (kind, table): {
                statement
                for statement, sql in STATEMENTS.items()
                if allowed(connection, role, sql.format(table=table, role=kind))
            }
            for kind, role in roles.items()
            for table in ("existing_things", "later_things")
        }
        app_writes_bookkeeping = allowed(connection, names.app, "DELETE FROM alembic_version")
    engine.dispose()
    assert seen == {(kind, table): set(MATRIX[kind]) for kind, table in seen}
    assert not app_writes_bookkeeping


def test_migrations_run_as_the_owner_while_the_app_uses_its_own_role(
    database: tuple[URL, RoleNames], tmp_path: Path
) -> None:
    url, names = database
    project = copy_project(tmp_path / "project")
    add_revision(
        project,
        "invoices",
        """
        def upgrade():
            op.create_table("invoices", sa.Column("id", sa.Integer, primary_key=True), sa.Column("total", sa.Integer))

        def downgrade():
            op.drop_table("invoices")
        """,
    )
    owner_url = url.set(username=names.owner).render_as_string(hide_password=False)
    app_url = url.set(username=names.app).render_as_string(hide_password=False)
    settings = DatabaseSettings(database_url=app_url, migration_database_url=owner_url, _env_file=None)
    assert settings.for_migrations().sync_url.username == names.owner
    upgrade(configure(project, app_url, migration_database_url=owner_url))
    engine = create_engine(url.set(username=names.app), poolclass=NullPool)
    with engine.begin() as connection:
        owner = connection.scalar(text("SELECT tableowner FROM pg_tables WHERE tablename = 'invoices'"))
        connection.execute(text("INSERT INTO invoices (id, total) VALUES (1, 10)"))
    engine.dispose()
    assert owner == names.owner


def test_the_command_prints_the_statements(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://localhost/shop")
    assert main(["roles"]) == 0
    printed = capsys.readouterr().out
    assert 'ALTER DEFAULT PRIVILEGES FOR ROLE "shop_owner"' in printed
    assert 'GRANT SELECT ON ALL TABLES IN SCHEMA "public" TO "shop_readonly"' in printed


def test_the_application_writes_audited_tables_but_cannot_rewrite_their_log(database: tuple[URL, RoleNames]) -> None:
    url, names = database
    engine = create_engine(url, poolclass=NullPool)
    AuditBase.metadata.create_all(engine)
    with engine.begin() as connection:
        apply_roles(connection, names)  # again, now that the log's tables exist
    with engine.connect() as connection:
        with connection.begin():
            connection.execute(text(f'SET LOCAL ROLE "{names.app}"'))
            connection.execute(text("INSERT INTO counters (name, value) VALUES ('visits', 1)"))
        recorded = connection.scalar(text("SELECT count(*) FROM audit_logs WHERE row_id = 'visits'"))
        connection.rollback()
        rewrites = [
            allowed(connection, names.app, statement)
            for statement in ("UPDATE audit_logs SET actor = 'x'", "DELETE FROM audit_logs", "TRUNCATE audit_batches")
        ]
        reads = allowed(connection, names.readonly, "SELECT count(*) FROM audit_logs")
    engine.dispose()
    assert recorded == 1
    assert rewrites == [False, False, False]
    assert reads
