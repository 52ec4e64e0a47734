"""SQLite backups: SQLite's online backup API, which copies a consistent snapshot while the database is in use.

The manifest's state is read from the copy, so it describes exactly what the copy holds. A restore copies the
archive into the target file with the same API.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import URL

from schemakit.backups.manifest import BackupError
from schemakit.backups.state import DatabaseState, read_state
from schemakit.engine import sqlite_file

__all__ = ["copy_database", "database_file", "read_file_state"]


def database_file(url: URL) -> Path:
    """The file of a SQLite URL.

    Raises:
        BackupError: For an in-memory database, which has nothing to back up or restore into.
    """
    path = sqlite_file(url)
    if path is None:
        raise BackupError(f"{url.render_as_string()} is not a SQLite file")
    return Path(path)


def copy_database(source: Path, target: Path) -> float:
    """Copy the SQLite database ``source`` into ``target`` with the backup API; the seconds it took.

    Raises:
        BackupError: If ``source`` is not a SQLite database (a damaged or truncated archive).
    """
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    started = time.perf_counter()
    try:
        with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as reading:
            reading.execute("PRAGMA quick_check").fetchall()
            with closing(sqlite3.connect(target)) as writing:
                reading.backup(writing)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"cannot read {source} as a SQLite database: {exc}") from None
    return time.perf_counter() - started


def read_file_state(path: Path) -> DatabaseState:
    """The state of the SQLite database in ``path``."""
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            return read_state(connection)
    finally:
        engine.dispose()
