"""Backups proven by restoring them: :func:`backup`, :func:`restore`, :func:`verify_restore` and :func:`drill`.

A drill backs the configured database up, restores the archive into a throwaway database (on the same server,
or a temporary SQLite file), and compares what was restored with the manifest: the Alembic revision, every
table's row count and content checksum, every index present and valid, every constraint present and validated,
and every sequence at least at its column's largest value. It reports the restore time, the number an
operator's recovery-time objective depends on, and removes what it made.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from schemakit.backups import postgres, sqlite
from schemakit.backups.manifest import BackupError, Manifest, differences, file_sha256, manifest_path
from schemakit.backups.state import read_state
from schemakit.engine import make_utility_engine
from schemakit.environment_marker import read_environment_marker
from schemakit.errors import database_error_reason
from schemakit.settings import AppEnv, DatabaseSettings

__all__ = ["DrillReport", "backup", "default_archive", "drill", "restore", "verify_restore"]


def default_archive(settings: DatabaseSettings, folder: Path = Path("backups")) -> Path:
    """``backups/<database>-<UTC time>.dump`` (``.sqlite`` for SQLite)."""
    url = settings.sync_url
    name = Path(str(url.database)).stem if settings.dialect == "sqlite" else str(url.database)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return folder / f"{name}-{stamp}.{'sqlite' if settings.dialect == 'sqlite' else 'dump'}"


def backup(settings: DatabaseSettings, output: Path | None = None) -> Manifest:
    """Back the configured database up into ``output`` and write its manifest beside it.

    Raises:
        BackupError: If the database cannot be read or the archive cannot be written.
    """
    archive = output or default_archive(settings)
    archive.parent.mkdir(parents=True, exist_ok=True)
    url = settings.sync_url
    try:
        if settings.dialect == "postgresql":
            state, server_version = postgres.dump(url, archive)
        else:
            sqlite.copy_database(sqlite.database_file(url), archive)
            state, server_version = sqlite.read_file_state(archive), "sqlite"
    except DBAPIError as exc:
        raise BackupError(f"cannot back up {settings.masked_url()}: {database_error_reason(exc)}") from None
    manifest = Manifest(
        archive=archive.name,
        archive_sha256=file_sha256(archive),
        dialect=settings.dialect,
        database=str(url.database),
        server_version=server_version,
        schemakit_version=Manifest.version(),
        created_at=datetime.now(UTC).isoformat(),
        state=state,
    )
    manifest.write(manifest_path(archive))
    return manifest


def _checked_manifest(archive: Path) -> Manifest:
    manifest = Manifest.read(manifest_path(archive))
    if not archive.is_file():
        raise BackupError(f"no archive at {archive}")
    if file_sha256(archive) != manifest.archive_sha256:
        raise BackupError(
            f"{archive} is not the archive its manifest describes (truncated, damaged, or from another backup)"
        )
    return manifest


def _same_database(one: URL, other: URL) -> bool:
    if one.get_backend_name() == "sqlite":
        first, second = sqlite.database_file(one), sqlite.database_file(other)
        return first.resolve() == second.resolve()
    return (one.host, one.port or 5432, one.database) == (other.host, other.port or 5432, other.database)


def restore(archive: Path, target: URL, *, configured: DatabaseSettings | None = None, force: bool = False) -> float:
    """Restore ``archive`` into the database at ``target``; the seconds the restore took.

    Args:
        archive: An archive :func:`backup` wrote (its manifest beside it is checked first).
        target: The database to restore into: it must exist (on PostgreSQL) and be empty.
        configured: The configured database's settings, which ``target`` must not be.
        force: Restore over the configured database, a production-marked one, or one that is not empty.

    Raises:
        BackupError: For a damaged or mismatched archive, a refused target, or a failed restore.
    """
    _checked_manifest(archive)
    if configured is not None and not force and _same_database(target, configured.sync_url):
        raise BackupError("refusing to restore over the configured database (DATABASE_URL); pass --force to do it")
    if target.get_backend_name() == "sqlite":
        path = sqlite.database_file(target)
        if path.exists() and path.stat().st_size and not force:
            raise BackupError(f"{path} exists and is not empty; pass --force to restore over it")
        return sqlite.copy_database(archive, path)
    engine = make_utility_engine(target)
    try:
        with engine.connect() as connection:
            marker = read_environment_marker(connection)
            empty = postgres.is_empty(connection)
    except DBAPIError as exc:
        raise BackupError(f"cannot connect to the restore target: {database_error_reason(exc)}") from None
    finally:
        engine.dispose()
    if marker == AppEnv.PRODUCTION and not force:
        raise BackupError("refusing to restore into a database marked production; pass --force to do it")
    if not empty:
        raise BackupError("the restore target is not empty; restore into a new, empty database")
    return postgres.restore_archive(archive, target)


def verify_restore(manifest: Manifest, target: URL) -> list[str]:
    """Each way the database at ``target`` differs from ``manifest`` (empty when the restore is complete)."""
    engine = make_utility_engine(target)
    try:
        with engine.connect() as connection, connection.begin():
            return differences(manifest.state, read_state(connection))
    finally:
        engine.dispose()


@dataclass
class DrillReport:
    """What a drill found: the differences (none when the backup is good) and how long each step took."""

    archive: Path
    differences: list[str] = field(default_factory=list)
    backup_seconds: float = 0.0
    restore_seconds: float = 0.0
    verify_seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """Whether the restored database matched the manifest in every respect."""
        return not self.differences

    def text(self) -> str:
        """The report, for people."""
        lines = [
            f"archive: {self.archive} ({self.archive.stat().st_size:,} bytes)" if self.archive.exists() else "",
            f"backup {self.backup_seconds:.2f} s, restore {self.restore_seconds:.2f} s, "
            f"verification {self.verify_seconds:.2f} s",
        ]
        if self.passed:
            lines.append("PASS  the restored database matches the backup's manifest")
        else:
            lines += ["FAIL  the restored database differs from the backup's manifest:"]
            lines += [f"      {difference}" for difference in self.differences]
        return "\n".join(line for line in lines if line)


@contextmanager
def _throwaway(settings: DatabaseSettings, folder: Path) -> Iterator[URL]:
    """A new, empty database to restore into, removed afterwards."""
    url = settings.sync_url
    if settings.dialect == "sqlite":
        yield url.set(database=str(folder / "restored.sqlite"))
        return
    name = f"{str(url.database)[:40]}_drill_{uuid.uuid4().hex[:8]}"
    admin = make_utility_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield url.set(database=name)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def drill(settings: DatabaseSettings, *, archive: Path | None = None) -> DrillReport:
    """Back the configured database up, restore it into a throwaway database and compare; clean up after.

    Args:
        settings: The configured database.
        archive: Where to keep the archive; by default it goes with the throwaway database.

    Raises:
        BackupError: If the backup cannot be made (an archive that fails to restore is a finding, not an error).
    """
    with tempfile.TemporaryDirectory(prefix="schemakit-drill-") as work:
        folder = Path(work)
        path = archive or folder / default_archive(settings).name
        started = time.perf_counter()
        manifest = backup(settings, path)
        report = DrillReport(path, backup_seconds=time.perf_counter() - started)
        with _throwaway(settings, folder) as target:
            try:
                report.restore_seconds = restore(path, target)
            except BackupError as exc:
                report.differences.append(f"the archive did not restore: {exc}")
                return report
            started = time.perf_counter()
            report.differences = verify_restore(manifest, target)
            report.verify_seconds = time.perf_counter() - started
        return report
