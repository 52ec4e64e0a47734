"""The round-trip gate: every downgrade exactly undoes its upgrade.

Upgrade from base to head, recording the schema after each step; then downgrade to base, comparing the schema
after each downgrade with the one recorded before that upgrade; then upgrade to head again. A downgrade that
leaves a type, function, trigger, index or column behind, or removes too much, fails with its file named.

Each direction is one run of the project's ``env.py`` on one connection: the schema is read between steps by
Alembic's ``on_version_apply`` hook, and on PostgreSQL only what each step touched is read again
(:class:`~schemakit.gates.catalog.SchemaReader`), so the gate's cost grows with the number of revisions, not
its square.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.migration import MigrationContext, MigrationInfo
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Connection

from schemakit.engine import make_engine
from schemakit.gates.catalog import SchemaObject, SchemaReader, describe
from schemakit.gates.findings import Finding, GateResult
from schemakit.gates.history import function_line
from schemakit.migrations.commands import downgrade, upgrade
from schemakit.migrations.options import with_options
from schemakit.settings import DatabaseSettings

__all__ = ["check_round_trip", "linear_history", "selected"]

GATE = "round-trip"


def linear_history(script: ScriptDirectory) -> list[Script]:
    """The revisions from base to head, in the order they are applied."""
    return list(reversed(list(script.walk_revisions("base", "heads"))))


def selected(revisions: list[Script], only: Collection[str] | None) -> list[Script]:
    """The revisions whose files are in ``only`` (resolved paths), or all of them without it."""
    return [revision for revision in revisions if only is None or str(Path(revision.path).resolve()) in only]


class _Steps:
    """An ``on_version_apply`` hook that records each step and, where wanted, the schema after it."""

    def __init__(self, reader: SchemaReader, wanted: Collection[str | None]) -> None:
        self.reader = reader
        self.wanted = wanted
        self.done: list[str] = []
        self.schemas: dict[str, frozenset[SchemaObject]] = {}

    def __call__(
        self, ctx: MigrationContext, step: MigrationInfo, heads: Collection[Any], run_args: Mapping[str, Any]
    ) -> None:
        del heads, run_args
        revision = str(step.up_revision_id)
        self.done.append(revision)
        if revision in self.wanted:
            self.schemas[revision] = self.reader.read()


def check_round_trip(config: Config, settings: DatabaseSettings, *, only: Collection[str] | None = None) -> GateResult:
    """Run the round trip on the empty database ``settings`` points at.

    Args:
        config: The project's Alembic configuration.
        settings: Settings for an empty, throwaway database.
        only: If given, the revision file paths whose downgrades are checked; the others are still applied.

    Returns:
        The findings: ``downgrade-fails``, ``downgrade-leaves-behind``, ``downgrade-removes-too-much``,
        ``upgrade-not-repeatable``.
    """
    revisions = linear_history(ScriptDirectory.from_config(config))
    # A pool, so the migration lock's second connection is opened once, not once per run of env.py.
    engine = make_engine(settings, purpose="check", explicit_sqlite_transactions=True)
    try:
        with engine.connect() as connection:
            return _RoundTrip(with_options(config, settings=settings), connection, revisions, only).run()
    finally:
        engine.dispose()


class _RoundTrip:
    def __init__(
        self, config: Config, connection: Connection, revisions: list[Script], only: Collection[str] | None
    ) -> None:
        self.config = config
        self.connection = connection
        self.revisions = [revision.revision for revision in revisions]
        self.paths = {revision.revision: str(Path(revision.path).resolve()) for revision in revisions}
        self.checked = [revision.revision for revision in selected(revisions, only)]
        # The schema before a revision's upgrade is the one after the revision applied before it.
        self.previous = dict(zip(self.revisions, [None, *self.revisions[:-1]], strict=True))
        self.result = GateResult(GATE)
        self.reader = SchemaReader(connection)

    def run(self) -> GateResult:
        try:
            return self._run()
        finally:
            self.reader.close()

    def _run(self) -> GateResult:
        base = self._snapshot()
        up = _Steps(self.reader, {self.previous[revision] for revision in self.checked} | set(self.revisions[-1:]))
        self._migrate(upgrade, "heads", up)
        before = {revision: up.schemas[p] if (p := self.previous[revision]) else base for revision in self.checked}
        at_head = up.schemas[self.revisions[-1]] if self.revisions else base
        down = _Steps(self.reader, set(self.checked))
        try:
            self._migrate(downgrade, "base", down)
        except Exception as exc:  # any failure of a downgrade is the finding
            failed = next(revision for revision in reversed(self.revisions) if revision not in down.done)
            path = self.paths[failed]
            message = f"downgrading {Path(path).name} fails: {exc}".splitlines()[0]
            self._report("downgrade-fails", message, failed)
            return self.result
        self._compare(before, down.schemas)
        try:
            self._migrate(upgrade, "heads")
        except Exception as exc:  # a leftover object makes the upgrade fail: that is the finding
            message = f"upgrading again after a full downgrade fails: {exc}".splitlines()[0]
            self.result.findings.append(Finding(GATE, "upgrade-not-repeatable", message))
            return self.result
        again = self._snapshot()
        if again != at_head:
            self.result.findings.append(
                Finding(
                    GATE,
                    "upgrade-not-repeatable",
                    "upgrading again after a full downgrade gives another schema: "
                    + ", ".join(describe(again ^ at_head)),
                )
            )
        return self.result

    def _compare(
        self, before: dict[str, frozenset[SchemaObject]], after_downgrade: dict[str, frozenset[SchemaObject]]
    ) -> None:
        # What an earlier (later-numbered) downgrade left behind or removed is reported once, not again for
        # every revision below it.
        carried_extra: set[SchemaObject] = set()
        carried_missing: set[SchemaObject] = set()
        for revision in reversed(self.checked):
            after, expected = after_downgrade[revision], before[revision]
            extra, missing = (after - expected) - carried_extra, (expected - after) - carried_missing
            carried_extra |= extra
            carried_missing |= missing
            name = Path(self.paths[revision]).name
            if extra:
                self._report(
                    "downgrade-leaves-behind",
                    f"downgrading {name} leaves behind: {', '.join(describe(extra))}",
                    revision,
                )
            if missing:
                self._report(
                    "downgrade-removes-too-much",
                    f"downgrading {name} removes what was there before its upgrade: {', '.join(describe(missing))}",
                    revision,
                )

    def _migrate(self, command: Any, destination: str, steps: _Steps | None = None) -> None:
        config = with_options(self.config, on_version_apply=[steps] if steps else [])
        command(config, destination, connection=self.connection)

    def _snapshot(self) -> frozenset[SchemaObject]:
        schema = self.reader.read()
        self.connection.commit()
        return schema

    def _report(self, rule: str, message: str, revision: str) -> None:
        path = self.paths[revision]
        self.result.findings.append(Finding(GATE, rule, message, path, function_line(path, "downgrade")))
