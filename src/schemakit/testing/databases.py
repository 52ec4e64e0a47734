"""Test databases made from a migrated template, for PostgreSQL and SQLite.

The project's migrations run once into a **template** whose name carries a fingerprint of the migration
files (and of schemakit's version), so later runs reuse it until a migration changes. Each pytest-xdist
worker then gets a **clone**: ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL, a file copy on SQLite. Both
are far cheaper than migrating again.

The databases themselves come from :mod:`schemakit.provisioning`: every one carries ``_test`` in its name, on a
local host or one named in ``allowed_hosts``; anything else is refused before any statement runs
(:func:`~schemakit.provisioning.check_disposable`).

Runs that share a server never clobber each other. A run's clones carry its run id, a random token (not a
process id, which two containers may share), and for as long as it lasts the run holds a shared advisory lock
on its id and on the template it clones from (:meth:`PostgresTestDatabases.lease`). A template or clone is
dropped only when no live run holds that lock: the leftovers of runs that died are swept, and a template
another run still clones from is kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, text

from schemakit.migrations.commands import make_config, upgrade
from schemakit.migrations.locking import advisory_lock_key
from schemakit.provisioning import (
    DisposableDatabaseError,
    PostgresDatabases,
    ThrowawayDatabase,
    check_disposable,
    disposable_base,
    safe_name,
)
from schemakit.settings import LOCAL_HOSTS, AppEnv, DatabaseSettings
from schemakit.sql import functions_ddl, updated_at_trigger_ddl

__all__ = [
    "LOCAL_HOSTS",
    "RUN_ID",
    "PostgresTestDatabases",
    "SqliteTestDatabases",
    "TestDatabase",
    "TestDatabaseError",
    "check_disposable",
    "migrate",
    "migrations_fingerprint",
    "new_run_id",
]

#: What a run id looks like: ten lower-case hex digits, random for every run (:func:`new_run_id`).
RUN_ID = re.compile(r"[0-9a-f]{10}")


def new_run_id() -> str:
    """A run id, unique across hosts and containers sharing one server (unlike a process id)."""
    return uuid.uuid4().hex[:10]


def _usage_key(owner: str) -> int:
    return advisory_lock_key(f"schemakit.testing.lease:{owner}")


#: A throwaway database handed to tests (the provisioning package's :class:`ThrowawayDatabase`).
TestDatabase = ThrowawayDatabase
#: Raised when a test database cannot be made or a destructive step is refused.
TestDatabaseError = DisposableDatabaseError


def migrations_fingerprint(alembic_ini: Path) -> str:
    """A short hash of what shapes the migrated schema: revision files, env.py, the ini file, schemakit.

    schemakit counts by its version and by the SQL its migration operations write (functions and triggers),
    so a template built by another schemakit, released or not, is not reused.
    """
    script = ScriptDirectory.from_config(Config(str(alembic_ini)))
    digest = hashlib.sha256(alembic_ini.read_bytes())
    for path in sorted(Path(script.dir).rglob("*")):
        if path.suffix in (".py", ".mako") and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(script.dir)).encode())
            digest.update(path.read_bytes())
    with contextlib.suppress(PackageNotFoundError):
        digest.update(version("schemakit").encode())
    for dialect in ("postgresql", "sqlite"):
        digest.update("\n".join([*functions_ddl(dialect), *updated_at_trigger_ddl(dialect, "t")]).encode())
    return digest.hexdigest()[:10]


def migrate(alembic_ini: Path, url: URL) -> None:
    """Run the project's migrations (``alembic upgrade head``) on the database at ``url``, with APP_ENV=test."""
    upgrade(make_config(alembic_ini, settings=DatabaseSettings.for_url(url, app_env=AppEnv.TEST)))


class PostgresTestDatabases(PostgresDatabases):
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
        super().__init__(server, disposable_base(project), allowed_hosts=allowed_hosts)
        self.alembic_ini = alembic_ini
        self.template_name = f"{self.base}_tpl_{migrations_fingerprint(alembic_ini)}"
        self.reused_template: bool | None = None
        self.template_seconds = 0.0

    @contextmanager
    def lease(self, run: str) -> Iterator[None]:
        """Claim the template and the clones of run ``run`` for the block, so no other run drops them."""
        check_disposable(self.url(self.template_name), self.allowed_hosts)  # before connecting anywhere
        with self.admin() as connection:
            for key in (_usage_key(self.template_name), _usage_key(run)):
                connection.execute(text("SELECT pg_advisory_lock_shared(:key)"), {"key": key})
            yield

    def sweep(self, connection: Connection) -> list[str]:
        """Drop this project's templates and run clones that no live run holds a lease on; return their names.

        Args:
            connection: An :meth:`admin` connection.
        """
        names = connection.scalars(
            text("SELECT datname FROM pg_database WHERE datname LIKE :pattern AND datname <> :current"),
            {"pattern": f"{self.base}\\_%", "current": self.template_name},
        ).all()
        swept = []
        for name in names:
            rest = name[len(self.base) + 1 :]
            if rest.startswith("tpl_"):
                owner = name.removesuffix("_building")
            elif RUN_ID.fullmatch(rest.split("_", 1)[0]):
                owner = rest.split("_", 1)[0]
            else:
                continue  # not made by a run of the plugin (an empty database of schemakit check, say)
            key = _usage_key(owner)
            if connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}):
                try:
                    self.drop_named(connection, name)
                    swept.append(name)
                finally:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        return swept

    def ensure_template(self) -> str:
        """Build the template if no run has built it yet; return its name.

        Runs that start together wait for one another on an advisory lock, so it is built once. Templates and
        clones that no live run leases are swept (see :meth:`sweep`).
        """
        check_disposable(self.url(self.template_name), self.allowed_hosts)
        started = time.perf_counter()
        with self.admin() as connection:
            key = advisory_lock_key(self.template_name)
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                exists = connection.scalar(
                    text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": self.template_name}
                )
                self.reused_template = bool(exists)
                if not exists:
                    self._build_template(connection)
                self.sweep(connection)
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        self.template_seconds = time.perf_counter() - started
        return self.template_name

    def _build_template(self, connection: Connection) -> None:
        building = f"{self.template_name}_building"
        self.drop_named(connection, building)
        connection.execute(text(f'CREATE DATABASE "{building}"'))
        try:
            migrate(self.alembic_ini, self.url(building))
        except BaseException:
            self.drop_named(connection, building)
            raise
        connection.execute(text(f'ALTER DATABASE "{building}" RENAME TO "{self.template_name}"'))

    def clone(self, suffix: str) -> TestDatabase:
        """Create ``<project>_test_<suffix>`` from the template (replacing any leftover of that name)."""
        return self.create(suffix, template=self.template_name)


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
        self.base = f"{safe_name(project)}_test"
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
        path = self.clones / f"{self.base}_{safe_name(suffix)}.db"
        shutil.copyfile(self.template, path)
        return TestDatabase(URL.create("sqlite+pysqlite", database=str(path)), "sqlite")

    def drop(self, database: TestDatabase) -> None:
        """Delete a clone."""
        check_disposable(database.url)
        Path(str(database.url.database)).unlink(missing_ok=True)

    def close(self) -> None:
        """Remove the clones' folder."""
        shutil.rmtree(self.clones, ignore_errors=True)
