"""The manifest written beside a backup, and the comparison a drill makes against it.

``<archive>.manifest.json`` holds the archive's file name and SHA-256, the database's name, the dialect and
server version, the schemakit version, the time, and the :class:`~schemakit.backups.state.DatabaseState` read
in the snapshot the archive holds. :func:`differences` lists, in words, each way a restored database differs
from it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from schemakit.backups.state import DatabaseState
from schemakit.errors import SchemakitError

__all__ = ["MANIFEST_SUFFIX", "BackupError", "Manifest", "differences", "file_sha256", "manifest_path"]

#: What follows the archive's name in its manifest's.
MANIFEST_SUFFIX = ".manifest.json"
_FORMAT = 1


class BackupError(SchemakitError):
    """A backup, restore or drill could not be made; the message says why."""


def manifest_path(archive: Path) -> Path:
    """Where the manifest of ``archive`` is: ``<archive>.manifest.json``."""
    return archive.with_name(archive.name + MANIFEST_SUFFIX)


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Manifest:
    """What a backup holds, to compare a restore with."""

    archive: str
    archive_sha256: str
    dialect: str
    database: str
    server_version: str
    schemakit_version: str
    created_at: str
    state: DatabaseState

    def write(self, path: Path) -> None:
        """Write it as JSON."""
        data: dict[str, Any] = {"format": _FORMAT, **self.__dict__, "state": self.state.to_json()}
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")

    @classmethod
    def read(cls, path: Path) -> Manifest:
        """Read a manifest :meth:`write` wrote.

        Raises:
            BackupError: If there is none, or it is not one.
        """
        try:
            data = json.loads(path.read_text())
            if data.pop("format") != _FORMAT:
                raise ValueError("an unknown format")
            state = DatabaseState.from_json(data.pop("state"))
            return cls(**data, state=state)
        except FileNotFoundError:
            raise BackupError(f"no manifest beside the archive: {path} is missing") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise BackupError(f"{path} is not a schemakit backup manifest ({exc})") from None

    @staticmethod
    def version() -> str:
        """The installed schemakit's version."""
        return version("schemakit")


def differences(expected: DatabaseState, actual: DatabaseState) -> list[str]:
    """Each way ``actual`` (a restored database) differs from ``expected`` (the manifest), in words."""
    found: list[str] = []
    if expected.revisions != actual.revisions:
        found.append(f"alembic revision {actual.revisions or 'none'}, the backup is at {expected.revisions or 'none'}")
    for table, state in expected.tables.items():
        restored = actual.tables.get(table)
        if restored is None:
            found.append(f"table {table} is missing")
        elif restored.rows != state.rows:
            found.append(f"table {table} has {restored.rows} rows, the backup has {state.rows}")
        elif restored.checksum != state.checksum:
            found.append(f"table {table}: the content differs from the backup's (same row count)")
    found += [f"table {table} is not in the backup" for table in sorted(set(actual.tables) - set(expected.tables))]
    missing = set(expected.tables) - set(actual.tables)

    def kept(name: str) -> bool:
        # A missing table's indexes, constraints and sequences went with it: the table is the finding.
        return name.split(".", 1)[0] not in missing

    found += [f"index {name} is missing" for name in expected.indexes if kept(name) and name not in actual.indexes]
    found += [f"index {name} is invalid" for name, valid in sorted(actual.indexes.items()) if not valid]
    found += [
        f"constraint {name} is missing"
        for name in expected.constraints
        if kept(name) and name not in actual.constraints
    ]
    found += [f"constraint {name} is not validated" for name, ok in sorted(actual.constraints.items()) if not ok]
    for name, sequence in sorted(actual.sequences.items()):
        before = expected.sequences.get(name)
        position = sequence.last_value or 0
        if sequence.column_max is not None and position < sequence.column_max:
            found.append(f"sequence {name} is at {position}, behind its column's largest value {sequence.column_max}")
        elif before is not None and position < (before.last_value or 0):
            found.append(f"sequence {name} is at {position}, the backup's was at {before.last_value}")
    found += [
        f"sequence {name} is missing" for name in sorted(set(expected.sequences) - set(actual.sequences)) if kept(name)
    ]
    return found
