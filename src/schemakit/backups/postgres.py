"""PostgreSQL backups: ``pg_dump`` in custom format, with the manifest read in the snapshot it dumps.

The backup opens a REPEATABLE READ transaction, exports its snapshot, and starts ``pg_dump --snapshot``
while it reads the manifest's :class:`~schemakit.backups.state.DatabaseState` in that same snapshot: the
archive and the manifest describe the same instant, however busy the database. The restore is one
``pg_restore --single-transaction``: an archive that breaks off half way restores nothing. Ownership and
grants are not restored (``--no-owner --no-acl``), so an archive restores on a server whose roles differ;
``schemakit roles --apply`` grants them again.

The tools come from ``SCHEMAKIT_POSTGRES_BIN``, the local server's folder, or ``PATH``; the password goes to
them in the environment, never on a command line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.engine import URL
from tqdm import tqdm

from schemakit.backups.manifest import BackupError
from schemakit.backups.state import DatabaseState, read_state
from schemakit.engine import make_utility_engine
from schemakit.provisioning.servers import find_server_binaries

__all__ = ["dump", "is_empty", "postgres_tool", "restore_archive"]


def postgres_tool(name: str) -> str:
    """The path of ``pg_dump`` or ``pg_restore``.

    Raises:
        BackupError: If neither the server's folder nor ``PATH`` has it.
    """
    folder = find_server_binaries()
    if folder is not None and (folder / name).exists():
        return str(folder / name)
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed: install the PostgreSQL client tools (Debian: postgresql-client)")
    return found


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A connection string without the password, and an environment holding it."""
    environment = {**os.environ}
    if url.password is not None:
        environment["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), environment


def dump(url: URL, output: Path) -> tuple[DatabaseState, str]:
    """Dump the database at ``url`` into ``output``; its state in the dumped snapshot, and the server's version.

    Raises:
        BackupError: If ``pg_dump`` fails; its own message is included.
    """
    engine = make_utility_engine(url, isolation_level="REPEATABLE READ")
    try:
        with engine.connect() as connection, connection.begin():
            snapshot = str(connection.scalar(text("SELECT pg_export_snapshot()")))
            server_version = str(connection.scalar(text("SHOW server_version")))
            dsn, environment = _libpq(url)
            command = [postgres_tool("pg_dump"), "--format=custom", f"--snapshot={snapshot}", f"--file={output}", dsn]
            process = subprocess.Popen(command, env=environment, stderr=subprocess.PIPE, text=True)
            # Read in the same snapshot while pg_dump dumps it; the transaction stays open until pg_dump is done.
            state = read_state(connection)
            _, errors = process.communicate()
    finally:
        engine.dispose()
    if process.returncode != 0:
        output.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed: {errors.strip()}")
    return state, server_version


def restore_archive(archive: Path, url: URL) -> float:
    """Restore ``archive`` into the (empty) database at ``url`` in one transaction; the seconds it took.

    A progress bar follows the archive's entries on a terminal.

    Raises:
        BackupError: If ``pg_restore`` fails (a damaged archive, a database that is not empty); its message is
            included, and nothing was restored.
    """
    dsn, environment = _libpq(url)
    tool = postgres_tool("pg_restore")
    listing = subprocess.run([tool, "--list", str(archive)], capture_output=True, text=True, check=False)
    if listing.returncode != 0:
        raise BackupError(f"cannot read the archive {archive}: {listing.stderr.strip()}")
    entries = sum(1 for line in listing.stdout.splitlines() if line and not line.startswith(";"))
    command = [
        tool,
        "--no-owner",
        "--no-acl",
        "--exit-on-error",
        "--single-transaction",
        "--verbose",
        f"--dbname={dsn}",
        str(archive),
    ]
    started = time.perf_counter()
    messages = []
    bar = tqdm(total=entries, desc=f"restoring {archive.name}", unit="entry", disable=not sys.stderr.isatty())
    with bar, subprocess.Popen(command, env=environment, stderr=subprocess.PIPE, text=True) as process:
        assert process.stderr is not None
        for line in process.stderr:
            if line.startswith(("pg_restore: creating", "pg_restore: processing")):
                bar.update(1)
            elif not line.startswith("pg_restore: ") or "error" in line:
                messages.append(line.strip())
    if process.returncode != 0:
        raise BackupError(f"pg_restore failed, nothing was restored: {' '.join(messages)[:2000]}")
    return time.perf_counter() - started


def is_empty(connection: Connection) -> bool:
    """Whether the database holds no table in its current schema."""
    return not connection.scalar(
        text("SELECT count(*) FROM pg_class WHERE relnamespace = to_regnamespace(current_schema()) AND relkind = 'r'")
    )
