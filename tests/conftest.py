"""Test harness: every database test runs on SQLite and on a real PostgreSQL, both migrated the same way.

The library's tests run on their own models (``tests/library/models.py``) and migrations (``tests/library``),
never on the template's; the template's own tests live in ``tests/template``. PostgreSQL comes from schemakit's
own pytest plugin (``TEST_DATABASE_URL`` or a throwaway cluster, a template migrated with the library tests'
migrations, one clone per worker); the pytest header says which. SQLite gets the same migrations, once, into a
template file that each test copies. Outside CI, without PostgreSQL, the PostgreSQL half is skipped with the
reason in the header and the summary; with ``CI=true`` the run fails instead.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine

from schemakit import DatabaseSettings, make_async_engine, make_engine
from schemakit.testing.databases import PostgresTestDatabases, SqliteTestDatabases, TestDatabase
from tests.library.models import LibraryBase
from tests.projects import LIBRARY_INI

pytest_plugins = ["schemakit.testing.plugin", "pytester"]

SETTINGS_VARIABLES = [field.alias for field in DatabaseSettings.model_fields.values() if field.alias]


def _postgres(request: pytest.FixtureRequest) -> PostgresTestDatabases:
    environment = request.getfixturevalue("schemakit_test_environment")
    if not isinstance(environment.databases, PostgresTestDatabases):
        pytest.skip(f"PostgreSQL unavailable: {environment.fallback_reason or 'SQLite backend chosen'}")
    return environment.databases


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's DATABASE_URL or DB_* settings must not leak into the tests.
    for variable in SETTINGS_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.requires_postgres)])
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def postgres_database(request: pytest.FixtureRequest) -> TestDatabase:
    """The plugin's PostgreSQL clone, migrated with the library tests' migrations."""
    _postgres(request)
    database: TestDatabase = request.getfixturevalue("schemakit_database")
    return database


@pytest.fixture(scope="session")
def sqlite_databases(request: pytest.FixtureRequest) -> Iterator[SqliteTestDatabases]:
    """A SQLite template migrated with the library tests' migrations, reused until they change."""
    databases = SqliteTestDatabases(Path(str(request.config.cache.mkdir("schemakit_library"))), "library", LIBRARY_INI)
    databases.ensure_template()
    yield databases
    databases.close()


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> str:
    """The PostgreSQL test database's URL, for tests that only make sense there."""
    database: TestDatabase = request.getfixturevalue("postgres_database")
    return database.url.render_as_string(hide_password=False)


@pytest.fixture
def settings(request: pytest.FixtureRequest, dialect: str) -> Iterator[DatabaseSettings]:
    if dialect == "postgresql":
        yield DatabaseSettings.for_url(request.getfixturevalue("postgres_url"))
        return
    databases: SqliteTestDatabases = request.getfixturevalue("sqlite_databases")
    database = databases.clone(uuid.uuid4().hex[:12])
    yield DatabaseSettings.for_url(database.url)
    databases.drop(database)


def _empty_tables(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        return  # each SQLite test has a copy of its own
    names = ", ".join(f'"{table.name}"' for table in LibraryBase.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} CASCADE"))


@pytest.fixture
def engine(settings: DatabaseSettings) -> Iterator[Engine]:
    engine = make_engine(settings)
    yield engine
    _empty_tables(engine)
    engine.dispose()


@pytest.fixture
async def async_engine(settings: DatabaseSettings) -> AsyncIterator[AsyncEngine]:
    engine = make_async_engine(settings)
    yield engine
    await engine.dispose()
    sync_engine = make_engine(settings)
    _empty_tables(sync_engine)
    sync_engine.dispose()


@pytest.fixture
def empty_database_url(request: pytest.FixtureRequest, dialect: str, tmp_path: Path) -> Iterator[str]:
    """The URL of a new, empty database on the test's dialect, dropped afterwards."""
    if dialect == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty_test.db'}"
        return
    databases = _postgres(request)
    database = databases.create_empty(f"empty_{uuid.uuid4().hex[:8]}")
    yield database.url.render_as_string(hide_password=False)
    databases.drop(database)
