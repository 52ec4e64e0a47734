"""Applied migrations are never edited: a checksum of each revision file, recorded when it is applied.

The ledger is a table of its own (``schemakit_migration_checksums``: revision, file name, SHA-256 of the file
with line endings normalised, time applied), created on demand next to Alembic's version table. Before an
``upgrade``, ``downgrade`` or ``stamp``, every recorded revision's file is hashed again; if one changed, the
command is refused with the file named, as Flyway's ``validate`` does. A database that was migrated before
it had a ledger has its applied revisions recorded as they are now on the first run.

An intended edit (a comment, a reformat) is accepted with ``alembic -x accept-edited=<revision>[,<revision>]
upgrade head`` (or ``accept-edited=all``), which records the new checksum, like Flyway's ``repair``.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic.runtime.migration import MigrationContext, MigrationInfo
from alembic.script import Script, ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import (
    Column,
    Connection,
    Delete,
    Insert,
    Row,
    String,
    Table,
    bindparam,
    delete,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.dialects import postgresql

from schemakit.errors import MigrationError
from schemakit.naming import make_metadata
from schemakit.types import UTCDateTime, utc_now

if TYPE_CHECKING:
    from sqlalchemy.dialects import sqlite

__all__ = [
    "ACCEPT_ALL",
    "CHECKSUM_TABLE",
    "ChecksumLedger",
    "EditedMigration",
    "EditedMigrationError",
    "file_checksum",
]

log = logging.getLogger(__name__)

#: The name of the ledger table.
CHECKSUM_TABLE = "schemakit_migration_checksums"
#: The ``accept-edited`` value that accepts every edited migration.
ACCEPT_ALL = "all"


class EditedMigrationError(MigrationError):
    """An applied migration's file was changed after it was applied; the message names each file."""


def file_checksum(path: str | Path) -> str:
    """Return the SHA-256 of a revision file, with CRLF line endings read as LF (so checkouts agree)."""
    return hashlib.sha256(Path(path).read_bytes().replace(b"\r\n", b"\n")).hexdigest()


def _ledger_table(schema: str | None) -> Table:
    return Table(
        CHECKSUM_TABLE,
        make_metadata(schema),
        Column("revision", String(64), primary_key=True),
        Column("filename", String(255), nullable=False),
        Column("checksum", String(64), nullable=False),
        Column("applied_at", UTCDateTime(), nullable=False),
    )


@dataclass(frozen=True)
class EditedMigration:
    """An applied revision whose file no longer matches the checksum recorded when it was applied."""

    revision: str
    filename: str
    recorded: str
    current: str | None
    path: str | None = None


class ChecksumLedger:
    """Records and checks the checksums of applied revision files.

    Args:
        script: The project's Alembic script directory.
        schema: The schema of Alembic's version table, if not the default one.
        accepted: Revisions whose edits are accepted, or ``{"all"}``.
    """

    def __init__(self, script: ScriptDirectory, *, schema: str | None = None, accepted: Collection[str] = ()):
        self.script = script
        self.table = _ledger_table(schema)
        self.accepted = frozenset(accepted)
        #: The heads after the last step recorded (or as :meth:`prepare` found them).
        self.heads: tuple[str, ...] = ()
        self._upserts: dict[str, Insert] = {}

    def prepare(self, connection: Connection, applied_heads: Callable[[], Collection[str]]) -> None:
        """Create the ledger if needed, refuse edited files, and record applied revisions it lacks.

        Args:
            connection: The migration connection, inside a transaction.
            applied_heads: Returns the revisions Alembic's version table holds.

        Raises:
            EditedMigrationError: If an applied file changed and its edit was not accepted.
        """
        existed = inspect(connection).has_table(self.table.name, schema=self.table.schema)
        if not existed:
            self.table.create(connection)
        rows = self._recorded(connection) if existed else []
        refused = []
        for item in self._edited(rows):
            if item.current is not None and (ACCEPT_ALL in self.accepted or item.revision in self.accepted):
                log.warning("Accepting the edit of applied migration %s (%s)", item.filename, item.revision)
                connection.execute(
                    update(self.table).where(self.table.c.revision == item.revision).values(checksum=item.current)
                )
            else:
                refused.append(item)
        if refused:
            raise EditedMigrationError(_refusal(refused))
        self.heads = tuple(applied_heads())
        self._record_missing(connection, self.heads, recorded={row.revision for row in rows})

    def reconcile(self, connection: Connection, heads: Collection[str]) -> None:
        """Make the ledger hold exactly the revisions up to ``heads``: forget the others, record the missing."""
        applied = {script.revision for script in self.script.iterate_revisions(tuple(heads), "base")}
        if stale := set(connection.scalars(select(self.table.c.revision))) - applied:
            connection.execute(delete(self.table).where(self.table.c.revision.in_(stale)))
        self._record_missing(connection, heads)

    def _record_missing(
        self, connection: Connection, heads: Collection[str], *, recorded: Collection[str] | None = None
    ) -> None:
        if not heads:
            return
        if recorded is None:
            recorded = set(connection.scalars(select(self.table.c.revision)))
        for script in self.script.iterate_revisions(tuple(heads), "base"):
            if script.revision not in recorded:
                connection.execute(insert(self.table).values(_row(script.revision, script.path)))

    def remove(self, connection: Connection) -> None:
        """Drop the ledger: the database holds no revision of the project any more."""
        self.table.drop(connection, checkfirst=True)

    def edited(self, connection: Connection) -> list[EditedMigration]:
        """The applied revisions whose files changed (or are gone) since they were recorded; only reads."""
        if not inspect(connection).has_table(self.table.name, schema=self.table.schema):
            return []
        return self._edited(self._recorded(connection))

    def _recorded(self, connection: Connection) -> list[Row[Any]]:
        return list(connection.execute(select(self.table).order_by(self.table.c.applied_at)))

    def _edited(self, rows: Iterable[Row[Any]]) -> list[EditedMigration]:
        edited = []
        for row in rows:
            current = self._current_checksum(row.revision)
            if current != row.checksum:
                script = self.script.get_revision(row.revision) if current is not None else None
                edited.append(EditedMigration(row.revision, row.filename, row.checksum, current, _path(script)))
        return edited

    def _current_checksum(self, revision: str) -> str | None:
        try:
            script = self.script.get_revision(revision)
        except CommandError:
            return None
        return None if script is None else file_checksum(script.path)

    def record(
        self, ctx: MigrationContext, step: MigrationInfo, heads: Collection[Any], run_args: Mapping[str, Any]
    ) -> None:
        """Alembic's ``on_version_apply`` hook: record an applied revision, forget an unapplied one."""
        del run_args
        self.heads = tuple(str(head) for head in heads)
        connection, revision = ctx.connection, step.up_revision_id
        if connection is None:
            return
        if step.is_stamp:
            # A stamp moves the version table over any number of revisions without running them; the ledger
            # follows it so that it holds exactly the applied revisions.
            self.reconcile(connection, [str(head) for head in heads])
            return
        if revision is None:
            return
        if not step.is_upgrade:
            connection.execute(self._forget, {"forgotten": revision})
            return
        # One statement a migration: an upsert, in case a stamp or an earlier run left a row.
        dialect = connection.dialect.name
        if dialect not in self._upserts:
            self._upserts[dialect] = _upsert(self.table, dialect)
        connection.execute(self._upserts[dialect], _row(revision, self.script.get_revision(revision)))

    @cached_property
    def _forget(self) -> Delete:
        return delete(self.table).where(self.table.c.revision == bindparam("forgotten"))


def _upsert(table: Table, dialect: str) -> Insert:
    """The ledger's upsert of one row, built once a run: each migration then pays a round trip, not the build."""
    if dialect == "postgresql":
        statement: postgresql.Insert | sqlite.Insert = postgresql.insert(table)
    else:
        # Imported for a SQLite database only, so that every alembic command does not load SQLite's dialect.
        statement = importlib.import_module("sqlalchemy.dialects.sqlite").insert(table)
    written = {name: statement.excluded[name] for name in ("filename", "checksum", "applied_at")}
    return statement.on_conflict_do_update(index_elements=[table.c.revision], set_=written)


def _path(script: Script | None) -> str | None:
    return None if script is None else script.path


def _row(revision: str, script: Script | str | None) -> dict[str, str | datetime]:
    path = script if isinstance(script, str) else script.path if script is not None else ""
    return {
        "revision": revision,
        "filename": Path(path).name,
        "checksum": file_checksum(path),
        "applied_at": utc_now(),
    }


def _refusal(edited: list[EditedMigration]) -> str:
    lines = [f"Refusing to migrate: {len(edited)} applied migration(s) changed since they were applied:"]
    for item in edited:
        now = "the file is gone" if item.current is None else f"now {item.current[:12]}"
        lines.append(f"  {item.filename} (revision {item.revision}): recorded {item.recorded[:12]}, {now}")
    gone = [item for item in edited if item.current is None]
    changed = ",".join(item.revision for item in edited if item.current is not None)
    if gone:
        lines.append(
            "Restore the deleted file(s) from version control: an applied migration cannot leave the history "
            "(to remove one, downgrade below it with its file in place, then delete it)."
        )
    if changed:
        lines += [
            "Restore the edited file(s) and put the change in a new migration, or, if the edit is intended and "
            "harmless,",
            f"accept it with: alembic -x accept-edited={changed} upgrade head",
        ]
    return "\n".join(lines)
