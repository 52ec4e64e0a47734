"""Test harness: every database test runs on SQLite and on a real PostgreSQL.

PostgreSQL comes from schemakit's own pytest plugin (``TEST_DATABASE_URL`` or a throwaway cluster, a template
migrated with the template's migrations, one clone per worker); the pytest header says which. The test-only
models (``tests/models.py``) are created on top of it. Outside CI, without PostgreSQL, the PostgreSQL half is
skipped with the reason in the header and the summary; with ``CI=true`` the run fails instead.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, MetaData, create_engine, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

import example_app.models  # noqa: F401 - registers the demo tables on Base.metadata
from schemakit import Base, DatabaseSettings, make_async_engine, make_engine
from schemakit.testing.databases import PostgresTestDatabases, TestDatabase
from tests.models import TestBase

pytest_plugins = ["schemakit.testing.plugin", "pytester"]

METADATAS: tuple[MetaData, ...] = (Base.metadata, TestBase.metadata)
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
    """The plugin's migrated PostgreSQL clone, with the test-only tables added."""
    _postgres(request)
    database: TestDatabase = request.getfixturevalue("schemakit_database")
    engine = create_engine(database.url, poolclass=NullPool)
    TestBase.metadata.create_all(engine)
    engine.dispose()
    return database


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> str:
    """The PostgreSQL test database's URL, for tests that only make sense there."""
    database: TestDatabase = request.getfixturevalue("postgres_database")
    return database.url.render_as_string(hide_password=False)


@pytest.fixture
def settings(
    request: pytest.FixtureRequest, dialect: str, tmp_path_factory: pytest.TempPathFactory
) -> DatabaseSettings:
    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    return DatabaseSettings(database_url=url, _env_file=None)


def _prepare_schema(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        for metadata in METADATAS:
            metadata.create_all(engine)


def _empty_tables(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        return
    names = ", ".join(f'"{table.name}"' for metadata in METADATAS for table in metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} CASCADE"))


@pytest.fixture
def engine(settings: DatabaseSettings) -> Iterator[Engine]:
    engine = make_engine(settings)
    _prepare_schema(engine)
    yield engine
    _empty_tables(engine)
    engine.dispose()


@pytest.fixture
async def async_engine(settings: DatabaseSettings) -> AsyncIterator[AsyncEngine]:
    sync_engine = make_engine(settings)
    _prepare_schema(sync_engine)
    engine = make_async_engine(settings)
    yield engine
    await engine.dispose()
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
