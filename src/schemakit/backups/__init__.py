"""Backups proven by restoring them: ``schemakit db backup``, ``db restore`` and ``db drill``.

* :func:`backup`: a ``pg_dump`` custom-format archive (SQLite: the online backup API) and a manifest beside it,
  read in the snapshot the archive holds (:mod:`~schemakit.backups.manifest`, :mod:`~schemakit.backups.state`).
* :func:`restore`: into a database that is not the configured one and not marked production, unless forced.
* :func:`drill`: backup, restore into a throwaway database, compare with the manifest, clean up.
"""

from schemakit.backups.jobs import DrillReport, backup, default_archive, drill, restore, verify_restore
from schemakit.backups.manifest import BackupError, Manifest, differences, manifest_path
from schemakit.backups.state import DatabaseState, SequenceState, TableState, read_state

__all__ = [
    "BackupError",
    "DatabaseState",
    "DrillReport",
    "Manifest",
    "SequenceState",
    "TableState",
    "backup",
    "default_archive",
    "differences",
    "drill",
    "manifest_path",
    "read_state",
    "restore",
    "verify_restore",
]
