"""Engines built from :class:`~schemakit.settings.DatabaseSettings`.

:func:`make_engine` / :func:`make_async_engine`: pool, timeouts, application name and slow-query logging from
the settings; PgBouncer transaction-pooling mode; SQLite with foreign keys enforced. Every engine schemakit
itself opens (migrations, gates, seeding, the test kit, the command line) comes from these two, so one policy
holds everywhere; :func:`make_utility_engine` is the pool-less form for a tool's short job. Sessions are in
:mod:`schemakit.session`. This module imports neither the ORM nor SQLAlchemy's asyncio extension until an
async engine is asked for, so a migration run loads neither.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import URL, Connection, Engine, NestedTransaction, RootTransaction, create_engine, event, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import ConnectionPoolEntry, NullPool

from schemakit.errors import SchemakitError, database_error_reason
from schemakit.naming import MAX_IDENTIFIER_BYTES
from schemakit.settings import DatabaseSettings, configured_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = [
    "SLOW_QUERY_LOGGER",
    "begin_or_nest",
    "has_explicit_sqlite_transactions",
    "make_async_engine",
    "make_engine",
    "make_utility_engine",
    "on_configured_database",
    "sqlite_file",
    "temporary_settings",
    "use_explicit_sqlite_transactions",
]

T = TypeVar("T")

#: The logger that receives a WARNING for each statement slower than ``DB_SLOW_QUERY_MS``.
SLOW_QUERY_LOGGER = logging.getLogger("schemakit.slow_query")

_QUERY_START = "schemakit_query_start"
_PSYCOPG_INSERT_PAGE = 100


def make_engine(
    settings: DatabaseSettings | None = None,
    *,
    pool: bool = True,
    purpose: str | None = None,
    explicit_sqlite_transactions: bool = False,
    **engine_options: Any,
) -> Engine:
    """Create a sync engine from settings (read from the environment if not given).

    Args:
        settings: The database settings; ``DatabaseSettings()`` when omitted.
        pool: Keep a connection pool (from the ``DB_POOL_*`` settings); ``False`` opens a connection per
            checkout, for a tool that connects once or twice.
        purpose: Appended to the application name (``"migrations"`` gives ``schemakit:migrations``), so the
            server's activity view tells a tool's connections from the application's.
        explicit_sqlite_transactions: Apply :func:`use_explicit_sqlite_transactions` (SQLite only).
        **engine_options: Passed to :func:`sqlalchemy.create_engine`, overriding schemakit's choices.

    Returns:
        The engine. Connections are opened lazily.
    """
    settings = _for_purpose(settings or DatabaseSettings(), purpose)
    url = settings.sync_url
    engine = create_engine(url, **{**_engine_options(settings, is_async=False, pool=pool), **engine_options})
    _configure(engine, settings, explicit_sqlite_transactions=explicit_sqlite_transactions)
    return engine


def make_async_engine(
    settings: DatabaseSettings | None = None,
    *,
    pool: bool = True,
    purpose: str | None = None,
    explicit_sqlite_transactions: bool = False,
    **engine_options: Any,
) -> AsyncEngine:
    """Create an async engine (asyncpg or aiosqlite) from settings.

    Args:
        settings: The database settings; ``DatabaseSettings()`` when omitted.
        pool: As for :func:`make_engine`.
        purpose: As for :func:`make_engine`.
        explicit_sqlite_transactions: As for :func:`make_engine`.
        **engine_options: Passed to :func:`sqlalchemy.ext.asyncio.create_async_engine`.

    Returns:
        The async engine. Connections are opened lazily.
    """
    settings = _for_purpose(settings or DatabaseSettings(), purpose)
    url = settings.async_url
    from sqlalchemy.ext.asyncio import create_async_engine  # noqa: PLC0415 - see the module documentation

    engine = create_async_engine(url, **{**_engine_options(settings, is_async=True, pool=pool), **engine_options})
    _configure(engine.sync_engine, settings, explicit_sqlite_transactions=explicit_sqlite_transactions)
    return engine


def on_configured_database(work: Callable[[Connection], T], *, begin: bool = False, for_migrations: bool = False) -> T:
    """Run ``work`` on a connection to the configured database (``DATABASE_URL``), for a command.

    Args:
        work: What to do with the connection.
        begin: Run it in a transaction that commits when it returns.
        for_migrations: Connect with ``MIGRATION_DATABASE_URL`` when it is set (the owner role, for DDL).

    Raises:
        SchemakitError: If the settings are invalid or the database fails; the message is one line, without the
            password.
    """
    settings = configured_settings()
    engine = make_utility_engine(settings.for_migrations() if for_migrations else settings)
    try:
        with engine.begin() if begin else engine.connect() as connection:
            return work(connection)
    except DBAPIError as exc:
        raise SchemakitError(database_error_reason(exc)) from None
    finally:
        engine.dispose()


def make_utility_engine(target: URL | DatabaseSettings, **engine_options: Any) -> Engine:
    """A sync engine without a pool for a tool's short job on ``target`` (a URL or settings).

    The other settings (timeouts, ``DB_ECHO``, ...) come from the environment, never from a ``.env`` file.

    Args:
        target: The database.
        **engine_options: Passed to :func:`make_engine`.
    """
    settings = target if isinstance(target, DatabaseSettings) else DatabaseSettings.for_url(target)
    return make_engine(settings, pool=False, **engine_options)


def _for_purpose(settings: DatabaseSettings, purpose: str | None) -> DatabaseSettings:
    if purpose is None:
        return settings
    suffix = f":{purpose}"
    name = settings.application_name[: MAX_IDENTIFIER_BYTES - len(suffix)] + suffix
    return settings.model_copy(update={"application_name": name})


def begin_or_nest(connection: Connection) -> RootTransaction | NestedTransaction:
    """Begin a transaction on ``connection``, or a savepoint if one is already open (a caller's own).

    Use it as a context manager: it commits (or releases) on success and rolls back on error.
    """
    return connection.begin_nested() if connection.in_transaction() else connection.begin()


@contextmanager
def temporary_settings(connection: Connection, settings: Mapping[str, str], *, local: bool = False) -> Iterator[None]:
    """Set PostgreSQL settings on ``connection`` for the block, and put the values they had back after it.

    Args:
        connection: A PostgreSQL connection.
        settings: Each setting's name and value (custom ``a.b`` settings too).
        local: For the current transaction only (``set_config(..., true)``), rather than for the session.
    """
    previous = {name: connection.scalar(_CURRENT_SETTING, {"name": name}) for name in settings}
    for name, value in settings.items():
        connection.execute(_SET_CONFIG, {"name": name, "value": value, "local": local})
    try:
        yield
    finally:
        for name, value in previous.items():
            connection.execute(_SET_CONFIG, {"name": name, "value": value or "", "local": local})


_CURRENT_SETTING = text("SELECT current_setting(:name, true)")
_SET_CONFIG = text("SELECT set_config(:name, :value, :local)")


def sqlite_file(url: URL) -> str | None:
    """The file behind a SQLite URL, or ``None`` for an in-memory or ``file:`` URI database."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


def use_explicit_sqlite_transactions(engine: Engine) -> None:
    """Let SQLAlchemy, not the sqlite3 driver, begin SQLite transactions on ``engine``.

    The driver begins a transaction only before data changes, so DDL runs outside transactions and
    ``SAVEPOINT`` misbehaves. With this, every SQLAlchemy transaction is a real ``BEGIN`` ... ``COMMIT``:
    DDL rolls back with it and nested transactions work. Migrations and test isolation need that. The cost is
    that reads, too, hold SQLite's shared lock until the transaction ends, so application engines keep the
    driver's behaviour.

    Calling it again on the same engine changes nothing.

    Args:
        engine: A SQLite engine (for an async engine, pass its ``sync_engine``).
    """
    if not has_explicit_sqlite_transactions(engine):
        event.listen(engine, "connect", _leave_transactions_to_sqlalchemy)
        event.listen(engine, "begin", _begin_sqlite_transaction)


def has_explicit_sqlite_transactions(engine: Engine) -> bool:
    """Whether :func:`use_explicit_sqlite_transactions` was applied to ``engine``."""
    return event.contains(engine, "begin", _begin_sqlite_transaction)


def _leave_transactions_to_sqlalchemy(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    dbapi_connection.isolation_level = None


def _begin_sqlite_transaction(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


def _engine_options(settings: DatabaseSettings, *, is_async: bool, pool: bool) -> dict[str, Any]:
    options: dict[str, Any] = {"echo": settings.echo}
    if settings.dialect == "sqlite":
        if not pool:
            options["poolclass"] = NullPool
        return options
    options["connect_args"] = _postgres_connect_args(settings, is_async=is_async)
    if not is_async:
        # psycopg re-parses any query longer than 4 KiB on every execution; SQLAlchemy's default page of 1000
        # rows makes each batched INSERT one such query; pages of 100 rows keep them under it.
        options["insertmanyvalues_page_size"] = _PSYCOPG_INSERT_PAGE
    if settings.pgbouncer or not pool:
        # PgBouncer pools the server connections; a second pool here would pin them.
        options["poolclass"] = NullPool
        return options
    options.update(
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout,
        pool_recycle=settings.pool_recycle,
        pool_pre_ping=settings.pool_pre_ping,
    )
    return options


def _postgres_connect_args(settings: DatabaseSettings, *, is_async: bool) -> dict[str, Any]:
    server_settings = {"application_name": settings.application_name}
    # PgBouncer rejects the "options" startup parameter, so in that mode timeouts are set per transaction.
    if not settings.pgbouncer:
        server_settings.update(_timeout_settings(settings))
    if is_async:
        args: dict[str, Any] = {"server_settings": server_settings}
        if settings.pgbouncer:
            # Prepared statements live on one server connection; PgBouncer hands out another next time.
            args.update(
                statement_cache_size=0,
                prepared_statement_cache_size=0,
                prepared_statement_name_func=_unique_statement_name,
            )
        return args
    args = {"application_name": server_settings.pop("application_name")}
    if server_settings:
        args["options"] = " ".join(f"-c {name}={value}" for name, value in server_settings.items())
    if settings.pgbouncer:
        args["prepare_threshold"] = None
    return args


def _unique_statement_name() -> str:
    # asyncpg numbers statements per client connection; two clients behind PgBouncer would collide.
    return f"__schemakit_{uuid.uuid4().hex}__"


def _timeout_settings(settings: DatabaseSettings) -> dict[str, str]:
    timeouts = {"statement_timeout": settings.statement_timeout_ms, "lock_timeout": settings.lock_timeout_ms}
    return {name: f"{value}ms" for name, value in timeouts.items() if value}


def _configure(engine: Engine, settings: DatabaseSettings, *, explicit_sqlite_transactions: bool) -> None:
    if settings.dialect == "sqlite":
        _configure_sqlite(engine)
        if explicit_sqlite_transactions:
            use_explicit_sqlite_transactions(engine)
    elif settings.pgbouncer and (timeouts := _timeout_settings(settings)):
        _set_timeouts_per_transaction(engine, timeouts)
    if settings.slow_query_ms:
        _log_slow_queries(engine, settings.slow_query_ms / 1000)


def _configure_sqlite(engine: Engine) -> None:
    # The driver's own transaction handling is kept: reads outside a write hold no lock, so two sessions that
    # read one row and both write it get the same version conflict as on PostgreSQL, not "database is locked".
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()


def _set_timeouts_per_transaction(engine: Engine, timeouts: dict[str, str]) -> None:
    statements = [f"SET LOCAL {name} = '{value}'" for name, value in timeouts.items()]

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        for statement in statements:
            connection.exec_driver_sql(statement)


def _log_slow_queries(engine: Engine, threshold_seconds: float) -> None:
    @event.listens_for(engine, "before_cursor_execute")
    def _start(connection: Any, *_args: Any) -> None:
        connection.info.setdefault(_QUERY_START, []).append(time.perf_counter())

    @event.listens_for(engine, "after_cursor_execute")
    def _finish(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        elapsed = time.perf_counter() - connection.info[_QUERY_START].pop()
        if elapsed >= threshold_seconds:
            # The statement only: parameters may hold personal data or secrets.
            SLOW_QUERY_LOGGER.warning(
                "slow query (%.1f ms, threshold %.0f ms): %s",
                elapsed * 1000,
                threshold_seconds * 1000,
                " ".join(statement.split()),
            )
