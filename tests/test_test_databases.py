"""Test runs that share one PostgreSQL server never drop each other's databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from schemakit.provisioning import (
    DisposableDatabaseError,
    PostgresUnavailableError,
    check_disposable,
    server_from_variable,
)
from schemakit.testing.databases import PostgresTestDatabases, new_run_id
from tests.projects import add_revision, copy_project

ON_POSTGRES = pytest.mark.parametrize("dialect", [pytest.param("postgresql", marks=pytest.mark.requires_postgres)])


@pytest.fixture
def server(request: pytest.FixtureRequest, dialect: str) -> PostgresTestDatabases:
    del dialect
    environment = request.getfixturevalue("schemakit_test_environment")
    databases: PostgresTestDatabases = environment.databases
    return databases


def names(databases: PostgresTestDatabases) -> set[str]:
    with databases.admin() as connection:
        found = connection.scalars(
            text("SELECT datname FROM pg_database WHERE datname LIKE :base"), {"base": f"{databases.base}%"}
        )
        return set(found)


def project_with(folder: Path, revision: str | None) -> Path:
    project = copy_project(folder)
    if revision:
        add_revision(project, revision, "def upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n")
    return project


def test_run_ids_differ_between_runs() -> None:
    assert len({new_run_id() for _ in range(100)}) == 100


@ON_POSTGRES
def test_a_template_another_run_clones_from_is_kept_until_that_run_ends(
    server: PostgresTestDatabases, tmp_path: Path
) -> None:
    old = PostgresTestDatabases(server.server, "sharing", project_with(tmp_path / "old", None) / "alembic.ini")
    new = PostgresTestDatabases(server.server, "sharing", project_with(tmp_path / "new", "more") / "alembic.ini")
    assert old.template_name != new.template_name
    live_run = new_run_id()
    with old.lease(live_run):
        old.ensure_template()
        clone = old.clone(f"{live_run}_gw0")
        new.ensure_template()  # another branch's run builds its own template and sweeps
        assert {old.template_name, new.template_name, str(clone.url.database)} <= names(new)
    with new.lease(new_run_id()):
        new.ensure_template()  # the old run has ended: its template and clone are swept
        assert names(new) == {new.template_name}
    with new.admin() as connection:
        new.drop_named(connection, new.template_name)


@ON_POSTGRES
def test_the_clones_of_a_run_that_died_are_swept(server: PostgresTestDatabases, tmp_path: Path) -> None:
    databases = PostgresTestDatabases(server.server, "dying", project_with(tmp_path / "p", None) / "alembic.ini")
    dead_run = new_run_id()
    with databases.lease(new_run_id()):
        databases.ensure_template()
        databases.create_empty(f"{dead_run}_gw1")
        databases.create_empty("empty_by_hand")  # not a run's clone: left alone
        databases.ensure_template()
        assert names(databases) == {databases.template_name, databases.name("empty_by_hand")}
    with databases.admin() as connection:
        for name in names(databases):
            databases.drop_named(connection, name)


def test_only_databases_on_this_machine_are_disposable_whatever_the_url_hides() -> None:
    hidden = make_url("postgresql://u@localhost/app_test?host=127.0.0.2")
    with pytest.raises(DisposableDatabaseError, match=r"refusing to create or drop databases on 127\.0\.0\.2"):
        check_disposable(hidden)
    check_disposable(hidden, frozenset({"127.0.0.2"}))
    check_disposable(make_url("postgresql://u@127.0.0.1/app_test"))


@pytest.mark.parametrize("variable", ["TEST_DATABASE_URL", "TEST_VECTOR_DATABASE_URL"])
def test_a_server_named_by_a_variable_must_be_postgresql_and_hides_its_password(
    variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(variable, raising=False)
    assert server_from_variable(variable) is None
    monkeypatch.setenv(variable, "postgresql://app:hunter2@127.0.0.1:5432/app")
    server = server_from_variable(variable)
    assert server is not None
    assert server.url.drivername == "postgresql+psycopg"
    assert server.source == f"{variable} (postgresql+psycopg://app:***@127.0.0.1:5432/app)"
    monkeypatch.setenv(variable, "mysql://app@127.0.0.1/app")
    with pytest.raises(PostgresUnavailableError, match=f"{variable} must be a postgresql:// URL"):
        server_from_variable(variable)
