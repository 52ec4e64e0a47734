"""Test databases made from a migrated template, for PostgreSQL and SQLite.

The project's migrations run once into a **template** whose name carries a fingerprint of the migration
files (and of schemakit's version), so later runs reuse it until a migration changes. Each pytest-xdist
worker then gets a **clone**: ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL, a file copy on SQLite. Both
are far cheaper than migrating again.

Every database these classes create or drop carries ``_test`` in its name, on a local host or one named
in ``allowed_hosts``; anything else is refused before any statement runs (:func:`check_disposable`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

from schemakit.errors import SchemakitError
from schemakit.migrations.commands import make_config, upgrade
from schemakit.migrations.locking import advisory_lock_key
from schemakit.settings import LOCAL_HOSTS, DatabaseSettings

__all__ = [
    "LOCAL_HOSTS",
    "PostgresTestDatabases",
    "SqliteTestDatabases",
    "TestDatabase",
    "TestDatabaseError",
    "check_disposable",
    "migrate",
    "migrations_fingerprint",
]

_TEST_NAME = re.compile(r"(^|_)test(_|$)")
_MAX_NAME = 63


class TestDatabaseError(SchemakitError):
    """A test database could not be made, or a destructive step was refused."""

    __test__ = False  # not a test class, whatever pytest thinks of the name


@dataclass(frozen=True)
class TestDatabase:
    """One database a test (or a worker's tests) may use.

    Attributes:
        url: Its sync URL (psycopg or pysqlite).
        dialect: ``"postgresql"`` or ``"sqlite"``.
    """

    __test__ = False

    url: URL
    dialect: str

    @property
    def settings(self) -> DatabaseSettings:
        """Settings for this database, with ``APP_ENV=test``."""
        return DatabaseSettings(database_url=self.url.render_as_string(hide_password=False), app_env="test")

    @property
    def async_url(self) -> URL:
        """Its async URL (asyncpg or aiosqlite)."""
        return self.settings.async_url


def check_disposable(url: URL, allowed_hosts: frozenset[str] = frozenset()) -> None:
    """Refuse to create or drop a database that may not be a throwaway test database.

    Raises:
        TestDatabaseError: If the name lacks ``_test`` or the host is neither local nor allowed.
    """
    name = Path(url.database or "").name
    if not _TEST_NAME.search(name.removesuffix(".db")):
        raise TestDatabaseError(
            f"refusing to create or drop database {name!r}: test databases carry '_test' in their name"
        )
    if url.get_backend_name() == "postgresql" and url.host not in LOCAL_HOSTS | allowed_hosts:
        raise TestDatabaseError(
            f"refusing to create or drop databases on {url.host}: not this machine; add it to "
            "schemakit_allowed_hosts in the pytest configuration if it is a disposable test server"
        )


def migrations_fingerprint(alembic_ini: Path) -> str:
    """A short hash of what shapes the migrated schema: revision files, env.py, the ini file, schemakit."""
    script = ScriptDirectory.from_config(Config(str(alembic_ini)))
    digest = hashlib.sha256(alembic_ini.read_bytes())
    for path in sorted(Path(script.dir).rglob("*")):
        if path.suffix in (".py", ".mako") and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(script.dir)).encode())
            digest.update(path.read_bytes())
    with contextlib.suppress(PackageNotFoundError):
        digest.update(version("schemakit").encode())
    return digest.hexdigest()[:10]


def _safe_name(text_: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text_.lower()).strip("_") or "app"


def migrate(alembic_ini: Path, url: URL) -> None:
    """Run the project's migrations (``alembic upgrade head``) on the database at ``url``, with APP_ENV=test."""
    settings = DatabaseSettings(database_url=url.render_as_string(hide_password=False), app_env="test", _env_file=None)
    upgrade(make_config(alembic_ini, settings=settings))


class PostgresTestDatabases:
    """Template and clones on one PostgreSQL server.

    Args:
        server: A URL of the server's maintenance database (``postgres``).
        project: The project's name; databases are called ``<project>_test_...``.
        alembic_ini: The project's ``alembic.ini``.
        allowed_hosts: Remote hosts that may be used for throwaway databases.
    """

    def __init__(
        self, server: URL, project: str, alembic_ini: Path, *, allowed_hosts: frozenset[str] = frozenset()
    ) -> None:
        self.server = server
        self.alembic_ini = alembic_ini
        self.allowed_hosts = allowed_hosts
        self.base = f"{_safe_name(project)[:30]}_test"
        self.template_name = f"{self.base}_tpl_{migrations_fingerprint(alembic_ini)}"
        self.reused_template: bool | None = None
        self.template_seconds = 0.0

    def _admin(self) -> Engine:
        return create_engine(self.server, isolation_level="AUTOCOMMIT", poolclass=NullPool)

    def url(self, name: str) -> URL:
        """The URL of database ``name`` on this server."""
        return self.server.set(database=name)

    def ensure_template(self) -> str:
        """Build the template if no run has built it yet; return its name.

        Runs that start together wait for one another on an advisory lock, so it is built once.
        """
        check_disposable(self.url(self.template_name), self.allowed_hosts)
        started = time.perf_counter()
        admin = self._admin()
        try:
            with admin.connect() as connection:
                key = advisory_lock_key(self.template_name)
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
                try:
                    exists = connection.scalar(
                        text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": self.template_name}
                    )
                    self.reused_template = bool(exists)
                    if not exists:
                        self._build_template(connection)
                finally:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        finally:
            admin.dispose()
        self.template_seconds = time.perf_counter() - started
        return self.template_name

    def _build_template(self, connection: Connection) -> None:
        building = f"{self.template_name}_building"
        self._drop(connection, building)
        connection.execute(text(f'CREATE DATABASE "{building}"'))
        try:
            migrate(self.alembic_ini, self.url(building))
        except BaseException:
            self._drop(connection, building)
            raise
        connection.execute(text(f'ALTER DATABASE "{building}" RENAME TO "{self.template_name}"'))
        stale = connection.scalars(
            text("SELECT datname FROM pg_database WHERE datname LIKE :pattern AND datname <> :current"),
            {"pattern": f"{self.base}_tpl_%", "current": self.template_name},
        ).all()
        for name in stale:
            self._drop(connection, name)

    def _drop(self, connection: Connection, name: str) -> None:
        check_disposable(self.url(name), self.allowed_hosts)
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def clone(self, suffix: str) -> TestDatabase:
        """Create ``<project>_test_<suffix>`` from the template (replacing any leftover of that name)."""
        return self._create(suffix, f' TEMPLATE "{self.template_name}"')

    def create_empty(self, suffix: str) -> TestDatabase:
        """Create an empty ``<project>_test_<suffix>``, replacing any leftover; drop it with :meth:`drop`."""
        return self._create(suffix, "")

    def _create(self, suffix: str, template_clause: str) -> TestDatabase:
        name = f"{self.base}_{_safe_name(suffix)}"[:_MAX_NAME]
        check_disposable(self.url(name), self.allowed_hosts)
        admin = self._admin()
        try:
            with admin.connect() as connection:
                self._drop(connection, name)
                connection.execute(text(f'CREATE DATABASE "{name}"{template_clause}'))
        finally:
            admin.dispose()
        return TestDatabase(self.url(name).set(drivername="postgresql+psycopg"), "postgresql")

    def drop(self, database: TestDatabase) -> None:
        """Drop a clone or an empty database made here."""
        admin = self._admin()
        try:
            with admin.connect() as connection:
                self._drop(connection, str(database.url.database))
        finally:
            admin.dispose()


class SqliteTestDatabases:
    """Template and clones as SQLite files.

    Args:
        folder: Where the template is kept between runs (the pytest cache).
        project: The project's name.
        alembic_ini: The project's ``alembic.ini``.
    """

    def __init__(self, folder: Path, project: str, alembic_ini: Path) -> None:
        self.folder = folder
        self.alembic_ini = alembic_ini
        self.base = f"{_safe_name(project)}_test"
        self.template = folder / f"{self.base}_tpl_{migrations_fingerprint(alembic_ini)}.db"
        self.reused_template: bool | None = None
        self.template_seconds = 0.0
        self.clones = Path(tempfile.mkdtemp(prefix="schemakit-sqlite-"))

    @property
    def template_name(self) -> str:
        """The template file's name."""
        return self.template.name

    def ensure_template(self) -> str:
        """Build the template file if it is missing; return its name."""
        started = time.perf_counter()
        self.reused_template = self.template.exists()
        if not self.reused_template:
            self.folder.mkdir(parents=True, exist_ok=True)
            building = self.folder / f"{self.template.stem}.{os.getpid()}.building"
            building.unlink(missing_ok=True)
            migrate(self.alembic_ini, URL.create("sqlite+pysqlite", database=str(building)))
            os.replace(building, self.template)  # atomic: a concurrent run sees the whole file or none
            for stale in self.folder.glob(f"{self.base}_tpl_*.db"):
                if stale != self.template:
                    stale.unlink(missing_ok=True)
        self.template_seconds = time.perf_counter() - started
        return self.template_name

    def clone(self, suffix: str) -> TestDatabase:
        """Copy the template to ``<project>_test_<suffix>.db`` in a temporary folder."""
        path = self.clones / f"{self.base}_{_safe_name(suffix)}.db"
        shutil.copyfile(self.template, path)
        return TestDatabase(URL.create("sqlite+pysqlite", database=str(path)), "sqlite")

    def drop(self, database: TestDatabase) -> None:
        """Delete a clone."""
        check_disposable(database.url)
        Path(str(database.url.database)).unlink(missing_ok=True)

    def close(self) -> None:
        """Remove the clones' folder."""
        shutil.rmtree(self.clones, ignore_errors=True)
