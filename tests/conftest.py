"""Test harness: every database test runs on SQLite and on a real PostgreSQL.

PostgreSQL comes from ``TEST_DATABASE_URL`` or a throwaway cluster (see ``schemakit.testing``); the pytest
header says which. Outside CI, if neither is available, PostgreSQL tests are skipped with the reason in the
header and the summary; with ``CI=true`` the run fails instead.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import URL, Engine, MetaData, create_engine, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

import example_app.models  # noqa: F401 - registers the demo tables on Base.metadata
from schemakit import Base, DatabaseSettings, make_async_engine, make_engine
from schemakit.testing import PostgresUnavailableError, provide_postgres
from tests.models import TestBase

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
METADATAS: tuple[MetaData, ...] = (Base.metadata, TestBase.metadata)
SETTINGS_VARIABLES = [field.alias for field in DatabaseSettings.model_fields.values() if field.alias]


@dataclass
class PostgresForTests:
    url: URL | None
    description: str
    server_url: URL | None = None


_postgres = pytest.StashKey[PostgresForTests]()


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    stack = contextlib.ExitStack()
    config.add_cleanup(stack.close)
    try:
        server = stack.enter_context(provide_postgres())
    except PostgresUnavailableError as exc:
        if IN_CI:
            raise pytest.UsageError(f"CI=true but no PostgreSQL for the tests: {exc}") from exc
        config.stash[_postgres] = PostgresForTests(None, f"UNAVAILABLE, PostgreSQL tests SKIPPED: {exc}")
        return
    name = f"schemakit_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def drop_database() -> None:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    stack.callback(drop_database)
    url = server.url.set(database=name)
    engine = create_engine(url)
    for metadata in METADATAS:
        metadata.create_all(engine)
    engine.dispose()
    config.stash[_postgres] = PostgresForTests(url, f"{server.source}, database {name}", server.url)


def pytest_report_header(config: pytest.Config) -> str:
    return f"postgresql: {config.stash[_postgres].description}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    postgres = config.stash[_postgres]
    if postgres.url is None:
        skip = pytest.mark.skip(reason=postgres.description)
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    postgres = terminalreporter.config.stash[_postgres]
    if postgres.url is None:
        terminalreporter.write_sep("!", f"postgresql: {postgres.description}", red=True, bold=True)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's DATABASE_URL or DB_* settings must not leak into the tests.
    for variable in SETTINGS_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def database_url(request: pytest.FixtureRequest, dialect: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    if dialect == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
    url = request.config.stash[_postgres].url
    assert url is not None
    return url.render_as_string(hide_password=False)


@pytest.fixture
def settings(
    request: pytest.FixtureRequest, dialect: str, tmp_path_factory: pytest.TempPathFactory
) -> DatabaseSettings:
    return DatabaseSettings(database_url=database_url(request, dialect, tmp_path_factory), _env_file=None)


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
def postgres_url(request: pytest.FixtureRequest) -> str:
    """The PostgreSQL test database's URL; for tests marked ``postgres`` that only make sense there."""
    url = request.config.stash[_postgres].url
    if url is None:
        pytest.skip(request.config.stash[_postgres].description)
    return url.render_as_string(hide_password=False)


@pytest.fixture
def empty_database_url(request: pytest.FixtureRequest, dialect: str, tmp_path: Path) -> Iterator[str]:
    """The URL of a new, empty database on the test's dialect, dropped afterwards."""
    if dialect == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    server = request.config.stash[_postgres].server_url
    assert server is not None
    name = f"schemakit_empty_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield server.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()
