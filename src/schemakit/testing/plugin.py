"""pytest plugin: a real, migrated database for every test, and nothing left behind.

Enable it in the project's root ``conftest.py`` (``pip install schemakit[testing]``)::

    pytest_plugins = ["schemakit.testing.plugin"]

At start-up it gets a PostgreSQL server (:func:`~schemakit.provisioning.provide_postgres`:
``TEST_DATABASE_URL``, else a throwaway cluster, or a container with ``--schemakit-container``), migrates a
template database with the project's Alembic migrations (reused by later runs until a migration changes), and
gives each pytest-xdist worker a clone of it. The pytest header says which server and template it used.

Fixtures:

* ``db_session`` / ``async_db_session``: a :class:`schemakit.Session` / :class:`schemakit.AsyncSession` in an
  outer transaction that is rolled back after the test. They join it with
  ``join_transaction_mode="create_savepoint"``, so the code under test may ``commit()`` and still leaves
  nothing behind. ``db_connection`` / ``async_db_connection`` are the connections underneath.
* ``bind_session_factory`` / ``bind_async_session_factory``: point the application's own session factory at the
  test's connection for the test's duration.
* ``db_committed``: a fresh clone of the template for one test that needs real commits (several connections,
  advisory locks, DDL), dropped afterwards.
* ``query_plans``: plan checks for the statements the code under test issues (:mod:`schemakit.testing.plans`).
* ``schemakit_database`` / ``schemakit_engine`` / ``schemakit_async_engine``: the worker's database and engines;
  ``schemakit_test_environment``: the server, template and clone manager behind them.

SQLite mode (``--schemakit-backend sqlite``, or automatically outside CI when no PostgreSQL can be had) runs
the same fixtures on a migrated SQLite file; tests marked ``requires_postgres`` are then skipped. With
``CI=true`` a missing PostgreSQL fails the run instead.

Configuration (``[tool.pytest.ini_options]``): ``schemakit_alembic_ini`` (default ``alembic.ini``),
``schemakit_project`` (the database name prefix; default: the root folder's name), ``schemakit_backend``
(``postgresql`` or ``sqlite``), ``schemakit_allowed_hosts`` (remote servers on which test databases may be
created and dropped).

Async fixtures need pytest-asyncio 1.x with the same loop scope for fixtures and tests; the recommended
settings are ``asyncio_mode = "auto"``, ``asyncio_default_fixture_loop_scope = "function"`` and
``asyncio_default_test_loop_scope = "function"``. A mismatch fails the test with a message saying so, instead
of asyncpg's "attached to a different loop".
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker
from sqlalchemy.orm import sessionmaker

from schemakit.engine import make_async_engine, make_engine
from schemakit.errors import database_error_reason
from schemakit.provisioning import PostgresUnavailableError, provide_postgres
from schemakit.session import AsyncSession, Session
from schemakit.testing.databases import (
    PostgresTestDatabases,
    SqliteTestDatabases,
    TestDatabase,
    TestDatabaseError,
    new_run_id,
)
from schemakit.testing.plans import query_plans  # noqa: F401 - a fixture the plugin provides

__all__ = ["REQUIRES_POSTGRES", "TestEnvironment", "schemakit_environment"]

#: The marker of tests that only make sense on PostgreSQL; skipped in SQLite mode.
REQUIRES_POSTGRES = "requires_postgres"

_SERVER_VARIABLE = "SCHEMAKIT_TEST_SERVER"
_SOURCE_VARIABLE = "SCHEMAKIT_TEST_SOURCE"
_RUN_VARIABLE = "SCHEMAKIT_TEST_RUN"
_IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@dataclass
class TestEnvironment:
    """What the plugin set up for this run.

    Attributes:
        backend: ``"postgresql"`` or ``"sqlite"``.
        databases: The template and clone manager.
        source: Where the database server came from, for humans (password masked).
        fallback_reason: Why PostgreSQL was not used, when it was asked for but could not be had.
        run: A name shared by the run's workers, part of their databases' names.
    """

    __test__ = False

    backend: str
    databases: PostgresTestDatabases | SqliteTestDatabases
    source: str
    fallback_reason: str | None = None
    run: str = field(default_factory=new_run_id)
    _clones: Iterator[int] = field(default_factory=itertools.count)

    def next_clone_name(self, worker: str) -> str:
        """A fresh clone name for ``db_committed``."""
        return f"{self.run}_{worker}_c{next(self._clones)}"


_environment = pytest.StashKey[TestEnvironment]()


def schemakit_environment(config: pytest.Config) -> TestEnvironment:
    """The plugin's :class:`TestEnvironment` for this pytest run."""
    return config.stash[_environment]


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register schemakit's options."""
    group = parser.getgroup("schemakit", "schemakit test databases")
    group.addoption(
        "--schemakit-backend",
        choices=["postgresql", "sqlite"],
        default=None,
        help="database for the tests (default: the schemakit_backend ini value, else postgresql)",
    )
    group.addoption(
        "--schemakit-container",
        action="store_true",
        help="start PostgreSQL in a container (testcontainers) instead of a local throwaway cluster",
    )
    parser.addini("schemakit_alembic_ini", "path of the project's alembic.ini", default="alembic.ini")
    parser.addini("schemakit_project", "prefix of the test databases' names", default="")
    parser.addini("schemakit_backend", "postgresql or sqlite", default="postgresql")
    parser.addini("schemakit_allowed_hosts", "remote hosts where test databases may be made", type="linelist")


def pytest_configure(config: pytest.Config) -> None:
    """Get the database server and the migrated template, before any worker starts."""
    config.addinivalue_line("markers", f"{REQUIRES_POSTGRES}: the test needs PostgreSQL; skipped in SQLite mode")
    root = Path(str(config.rootpath))
    alembic_ini = root / str(config.getini("schemakit_alembic_ini"))
    if not alembic_ini.is_file():
        raise pytest.UsageError(f"schemakit: no Alembic configuration at {alembic_ini} (see schemakit_alembic_ini)")
    project = str(config.getini("schemakit_project")) or root.name
    backend = config.getoption("--schemakit-backend") or str(config.getini("schemakit_backend"))
    allowed = frozenset(str(host) for host in config.getini("schemakit_allowed_hosts"))
    stack = contextlib.ExitStack()
    config.add_cleanup(stack.close)
    environment: TestEnvironment | None = None
    fallback = None
    if backend == "postgresql":
        try:
            environment = _postgres_environment(config, stack, project, alembic_ini, allowed)
        except PostgresUnavailableError as exc:
            if _IN_CI:
                raise pytest.UsageError(f"schemakit: CI=true but no PostgreSQL for the tests: {exc}") from exc
            fallback = str(exc)
    if environment is None:
        cache_provider = getattr(config, "cache", None)  # absent with -p no:cacheprovider
        cache = Path(cache_provider.mkdir("schemakit")) if cache_provider else root / ".pytest_cache" / "schemakit"
        databases = SqliteTestDatabases(cache, project, alembic_ini)
        stack.callback(databases.close)
        environment = TestEnvironment("sqlite", databases, f"SQLite files from {cache}", fallback)
    if hasattr(config, "workerinput"):
        environment.run = os.environ[_RUN_VARIABLE]
    else:
        os.environ[_RUN_VARIABLE] = environment.run
        stack.callback(os.environ.pop, _RUN_VARIABLE, None)
        _prepare_template(environment, stack)
    config.stash[_environment] = environment


def _prepare_template(environment: TestEnvironment, stack: contextlib.ExitStack) -> None:
    databases = environment.databases
    try:
        if isinstance(databases, PostgresTestDatabases):
            # Claimed before the template is looked for, so no other run sweeps it away in between.
            stack.enter_context(databases.lease(environment.run))
        databases.ensure_template()
    except TestDatabaseError as exc:
        raise pytest.UsageError(f"schemakit: {exc}") from exc
    except DBAPIError as exc:
        reason = database_error_reason(exc)
        raise pytest.UsageError(
            f"schemakit: cannot use the test database server {environment.source}: {reason}"
        ) from None


def _postgres_environment(
    config: pytest.Config, stack: contextlib.ExitStack, project: str, alembic_ini: Path, allowed: frozenset[str]
) -> TestEnvironment:
    if hasattr(config, "workerinput") and _SERVER_VARIABLE in os.environ:
        url, source = make_url(os.environ[_SERVER_VARIABLE]), os.environ[_SOURCE_VARIABLE]
    else:
        server = stack.enter_context(provide_postgres(container=bool(config.getoption("--schemakit-container"))))
        url, source = server.url, server.source
        # xdist workers inherit the environment: they use this server rather than start their own.
        os.environ[_SERVER_VARIABLE] = url.render_as_string(hide_password=False)
        os.environ[_SOURCE_VARIABLE] = source
        stack.callback(os.environ.pop, _SERVER_VARIABLE, None)
        stack.callback(os.environ.pop, _SOURCE_VARIABLE, None)
    return TestEnvironment(
        "postgresql", PostgresTestDatabases(url, project, alembic_ini, allowed_hosts=allowed), source
    )


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say which database the tests use."""
    environment = config.stash[_environment]
    databases = environment.databases
    if databases.reused_template is None:
        template = f"template {databases.template_name}"
    elif databases.reused_template:
        template = f"template {databases.template_name} (reused)"
    else:
        template = f"template {databases.template_name} (migrated in {databases.template_seconds:.1f} s)"
    lines = [f"schemakit: {environment.backend} from {environment.source}; {template}"]
    if environment.fallback_reason:
        lines.append(
            f"schemakit: PostgreSQL UNAVAILABLE ({environment.fallback_reason}); running on SQLite, "
            f"tests marked {REQUIRES_POSTGRES} are SKIPPED"
        )
    return lines


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip PostgreSQL-only tests in SQLite mode."""
    environment = config.stash[_environment]
    if environment.backend == "postgresql":
        return
    reason = f"needs PostgreSQL; running on SQLite ({environment.fallback_reason or 'sqlite backend chosen'})"
    for item in items:
        if item.get_closest_marker(REQUIRES_POSTGRES):
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Repeat, at the end, that PostgreSQL tests were skipped."""
    environment = terminalreporter.config.stash[_environment]
    if environment.fallback_reason:
        terminalreporter.write_sep(
            "!", f"schemakit: PostgreSQL unavailable, ran on SQLite: {environment.fallback_reason}", red=True
        )


def _worker(config: pytest.Config) -> str:
    workerinput: dict[str, Any] = getattr(config, "workerinput", {})
    return str(workerinput.get("workerid", "main"))


@pytest.fixture(scope="session")
def schemakit_test_environment(request: pytest.FixtureRequest) -> TestEnvironment:
    """What the plugin set up: the backend, the template and clone manager, the server's source."""
    return schemakit_environment(request.config)


@pytest.fixture(scope="session")
def schemakit_database(request: pytest.FixtureRequest) -> Iterator[TestDatabase]:
    """This worker's clone of the migrated template, dropped at the end of the run."""
    environment = schemakit_environment(request.config)
    environment.databases.ensure_template()
    database = environment.databases.clone(f"{environment.run}_{_worker(request.config)}")
    yield database
    environment.databases.drop(database)


@pytest.fixture(scope="session")
def schemakit_engine(schemakit_database: TestDatabase) -> Iterator[Engine]:
    """A sync engine on the worker's database (on SQLite with SQLAlchemy-controlled transactions)."""
    engine = make_engine(schemakit_database.settings, explicit_sqlite_transactions=True)
    yield engine
    engine.dispose()


@pytest.fixture
def db_connection(schemakit_engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that is rolled back after the test."""
    with schemakit_engine.connect() as connection:
        transaction = connection.begin()
        try:
            yield connection
        finally:
            if transaction.is_active:
                transaction.rollback()


@pytest.fixture
def db_session(db_connection: Connection) -> Iterator[Session]:
    """A session whose commits are savepoints inside the test's transaction."""
    session = Session(bind=db_connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield session
    session.close()


class _Binder:
    """Binds session factories to a test's connection, and puts their settings back afterwards."""

    def __init__(self, connection: Connection | AsyncConnection) -> None:
        self.connection = connection
        self.bound: list[tuple[Any, dict[str, Any]]] = []

    def __call__(self, factory: Any) -> Any:
        # sessionmaker keeps its arguments in .kw, which configure() updates but cannot take keys out of;
        # the copy puts them back exactly (tests/test_dependency_contracts.py pins this).
        self.bound.append((factory, dict(factory.kw)))
        factory.configure(bind=self.connection, join_transaction_mode="create_savepoint")
        return factory

    def restore(self) -> None:
        for factory, kw in reversed(self.bound):
            factory.kw.clear()
            factory.kw.update(kw)


@pytest.fixture
def bind_session_factory(db_connection: Connection) -> Iterator[Callable[[sessionmaker[Any]], sessionmaker[Any]]]:
    """Point application session factories at the test's connection until the test ends."""
    binder = _Binder(db_connection)
    yield binder
    binder.restore()


@pytest.fixture
def db_committed(request: pytest.FixtureRequest) -> Iterator[TestDatabase]:
    """A fresh clone of the template for one test that commits for real; dropped afterwards."""
    environment = schemakit_environment(request.config)
    database = environment.databases.clone(environment.next_clone_name(_worker(request.config)))
    yield database
    environment.databases.drop(database)


@pytest.fixture(scope="session")
def schemakit_async_engine(schemakit_database: TestDatabase) -> AsyncEngine:
    """An async engine (asyncpg or aiosqlite) on the worker's database.

    It pools nothing, so it is not tied to one event loop: each test's connection lives in that test's loop.
    """
    return make_async_engine(schemakit_database.settings, pool=False, explicit_sqlite_transactions=True)


def _loop_scopes(request: pytest.FixtureRequest) -> tuple[str, str]:
    fixture_scope = str(request.config.getini("asyncio_default_fixture_loop_scope") or "function")
    marker = request.node.get_closest_marker("asyncio")
    test_scope = (marker.kwargs.get("loop_scope") if marker else None) or request.config.getini(
        "asyncio_default_test_loop_scope"
    )
    return fixture_scope, str(test_scope or "function")


def _check_loop_scopes(request: pytest.FixtureRequest) -> None:
    fixture_scope, test_scope = _loop_scopes(request)
    if fixture_scope != test_scope:
        pytest.fail(
            f"schemakit's async fixtures run in the {fixture_scope!r} event loop "
            f"(asyncio_default_fixture_loop_scope) but this test runs in the {test_scope!r} one "
            "(asyncio_default_test_loop_scope or its asyncio marker); a connection cannot cross loops. "
            "Set both to the same scope, e.g. 'function'.",
            pytrace=False,
        )


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - async fixtures need pytest-asyncio
    pass
else:

    @pytest_asyncio.fixture
    async def async_db_connection(
        request: pytest.FixtureRequest, schemakit_async_engine: AsyncEngine
    ) -> AsyncIterator[AsyncConnection]:
        """An async connection in a transaction that is rolled back after the test."""
        _check_loop_scopes(request)
        async with schemakit_async_engine.connect() as connection:
            transaction = await connection.begin()
            try:
                yield connection
            finally:
                if transaction.is_active:
                    await transaction.rollback()

    @pytest_asyncio.fixture
    async def async_db_session(async_db_connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
        """An async session whose commits are savepoints inside the test's transaction."""
        session = AsyncSession(
            bind=async_db_connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        yield session
        await session.close()

    @pytest_asyncio.fixture
    async def bind_async_session_factory(
        async_db_connection: AsyncConnection,
    ) -> AsyncIterator[Callable[[async_sessionmaker[Any]], async_sessionmaker[Any]]]:
        """Point application async session factories at the test's connection until the test ends."""
        binder = _Binder(async_db_connection)
        yield binder
        binder.restore()
