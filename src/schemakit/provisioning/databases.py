"""Throwaway databases: created for one job (a test run, ``schemakit check``), then dropped.

Every database made or dropped here carries ``_test`` in its name and lives on this machine or on a host the
caller allows; anything else is refused before a statement runs (:func:`check_disposable`). On PostgreSQL,
:class:`PostgresDatabases` creates them on a server (see :mod:`~schemakit.provisioning.servers`), from a
template or empty; :func:`throwaway_database` gives one for a block, on PostgreSQL or as a SQLite file.
"""

from __future__ import annotations

import re
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import URL, Connection, text

from schemakit.engine import make_utility_engine
from schemakit.errors import SchemakitError
from schemakit.hosts import remote_hosts
from schemakit.naming import MAX_IDENTIFIER_BYTES
from schemakit.provisioning.servers import provide_postgres
from schemakit.settings import AppEnv, DatabaseSettings

__all__ = [
    "DisposableDatabaseError",
    "PostgresDatabases",
    "ThrowawayDatabase",
    "check_disposable",
    "disposable_base",
    "safe_name",
    "throwaway_database",
]

_TEST_NAME = re.compile(r"(^|_)test(_|$)")


class DisposableDatabaseError(SchemakitError):
    """A throwaway database could not be made, or a destructive step was refused."""

    __test__ = False  # imported into test modules as TestDatabaseError: not a test class


@dataclass(frozen=True)
class ThrowawayDatabase:
    """One database a job may fill and drop.

    Attributes:
        url: Its sync URL (psycopg or pysqlite).
        dialect: ``"postgresql"`` or ``"sqlite"``.
    """

    __test__ = False  # not a test class, whatever pytest thinks of the name

    url: URL
    dialect: str

    @property
    def settings(self) -> DatabaseSettings:
        """Settings for this database, with ``APP_ENV=test``."""
        return DatabaseSettings.for_url(self.url, app_env=AppEnv.TEST)

    @property
    def async_url(self) -> URL:
        """Its async URL (asyncpg or aiosqlite)."""
        return self.settings.async_url


def check_disposable(url: URL, allowed_hosts: frozenset[str] = frozenset()) -> None:
    """Refuse to create or drop a database that may not be a throwaway one.

    Raises:
        DisposableDatabaseError: If the name lacks ``_test`` or the host is neither local nor allowed.
    """
    name = Path(url.database or "").name
    if not _TEST_NAME.search(name.removesuffix(".db")):
        raise DisposableDatabaseError(
            f"refusing to create or drop database {name!r}: test databases carry '_test' in their name"
        )
    if url.get_backend_name() != "postgresql":
        return
    # The hosts the driver will really reach (a host query parameter, PGHOST, ...), not only the URL's.
    if outside := [host for host in remote_hosts(url) if host not in allowed_hosts]:
        raise DisposableDatabaseError(
            f"refusing to create or drop databases on {', '.join(outside)}: not this machine; add it to "
            "schemakit_allowed_hosts in the pytest configuration if it is a disposable test server"
        )


def safe_name(text_: str) -> str:
    """``text_`` as a lower-case identifier part: letters, digits and ``_`` only."""
    return re.sub(r"[^a-z0-9_]+", "_", text_.lower()).strip("_") or "app"


def disposable_base(project: str) -> str:
    """The start of a project's throwaway PostgreSQL databases' names: ``<project>_test``, kept short."""
    return f"{safe_name(project)[:30]}_test"


class PostgresDatabases:
    """Throwaway databases ``<base>_<suffix>`` on one PostgreSQL server.

    Args:
        server: A URL of the server's maintenance database (``postgres``).
        base: The common start of the databases' names; it must make them carry ``_test``.
        allowed_hosts: Remote hosts that may be used for throwaway databases.
    """

    def __init__(self, server: URL, base: str, *, allowed_hosts: frozenset[str] = frozenset()) -> None:
        self.server = server
        self.base = base
        self.allowed_hosts = allowed_hosts

    def url(self, name: str) -> URL:
        """The URL of database ``name`` on this server."""
        return self.server.set(database=name)

    def name(self, suffix: str) -> str:
        """The database name for ``suffix``: ``<base>_<suffix>``, within the identifier limit."""
        return f"{self.base}_{safe_name(suffix)}"[:MAX_IDENTIFIER_BYTES]

    @contextmanager
    def admin(self) -> Iterator[Connection]:
        """A connection to the maintenance database in autocommit mode, for ``CREATE``/``DROP DATABASE``."""
        engine = make_utility_engine(self.server, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                yield connection
        finally:
            engine.dispose()

    def drop_named(self, connection: Connection, name: str) -> None:
        """Drop database ``name`` if it exists, ending its sessions, on an :meth:`admin` connection."""
        check_disposable(self.url(name), self.allowed_hosts)
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def create(self, suffix: str, *, template: str | None = None) -> ThrowawayDatabase:
        """Create ``<base>_<suffix>``, empty or as a copy of ``template``, replacing any leftover of that name."""
        name = self.name(suffix)
        check_disposable(self.url(name), self.allowed_hosts)
        clause = f' TEMPLATE "{template}"' if template else ""
        with self.admin() as connection:
            self.drop_named(connection, name)
            connection.execute(text(f'CREATE DATABASE "{name}"{clause}'))
        return ThrowawayDatabase(self.url(name).set(drivername="postgresql+psycopg"), "postgresql")

    def create_empty(self, suffix: str) -> ThrowawayDatabase:
        """Create an empty ``<base>_<suffix>``, replacing any leftover; drop it with :meth:`drop`."""
        return self.create(suffix)

    def drop(self, database: ThrowawayDatabase) -> None:
        """Drop a database made here."""
        with self.admin() as connection:
            self.drop_named(connection, str(database.url.database))


@contextmanager
def throwaway_database(dialect: str, project: str) -> Iterator[ThrowawayDatabase]:
    """An empty database for the block, dropped afterwards.

    Args:
        dialect: ``"postgresql"`` (a server from :func:`~schemakit.provisioning.servers.provide_postgres`) or
            ``"sqlite"`` (a file in a temporary folder).
        project: Named in the database's name, ``<project>_test_<random>``.

    Raises:
        PostgresUnavailableError: If no PostgreSQL server can be had.
    """
    suffix = uuid.uuid4().hex[:8]
    base = disposable_base(project)
    if dialect == "sqlite":
        with tempfile.TemporaryDirectory(prefix="schemakit-") as folder:
            yield ThrowawayDatabase(URL.create("sqlite+pysqlite", database=f"{folder}/{base}_{suffix}.db"), "sqlite")
        return
    with provide_postgres() as server:
        databases = PostgresDatabases(server.url, base)
        database = databases.create_empty(suffix)
        try:
            yield database
        finally:
            databases.drop(database)
