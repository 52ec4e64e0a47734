"""The round-trip gate: every downgrade exactly undoes its upgrade.

Upgrade from base to head one revision at a time, recording the schema before each step; then downgrade one
revision at a time, comparing the schema after each downgrade with the one recorded before that upgrade; then
upgrade to head again. A downgrade that leaves a type, function, trigger, index or column behind, or removes
too much, fails with its file named.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from alembic.config import Config
from alembic.script import Script, ScriptDirectory

from schemakit.engine import make_utility_engine
from schemakit.gates.catalog import SchemaObject, describe, snapshot
from schemakit.gates.findings import Finding, GateResult
from schemakit.gates.history import function_line
from schemakit.migrations.commands import downgrade, upgrade
from schemakit.migrations.options import with_options
from schemakit.settings import DatabaseSettings

__all__ = ["check_round_trip", "linear_history"]

GATE = "round-trip"


def linear_history(script: ScriptDirectory) -> list[Script]:
    """The revisions from base to head, in the order they are applied."""
    return list(reversed(list(script.walk_revisions("base", "heads"))))


def _schema(settings: DatabaseSettings) -> frozenset[SchemaObject]:
    engine = make_utility_engine(settings)
    try:
        with engine.connect() as connection:
            return snapshot(connection)
    finally:
        engine.dispose()


def check_round_trip(config: Config, settings: DatabaseSettings, *, only: Collection[str] | None = None) -> GateResult:
    """Run the round trip on the empty database ``settings`` points at.

    Args:
        config: The project's Alembic configuration.
        settings: Settings for an empty, throwaway database.
        only: If given, the revision file paths whose downgrades are checked; the others are still applied.

    Returns:
        The findings: ``downgrade-leaves-behind``, ``downgrade-removes-too-much``, ``upgrade-not-repeatable``.
    """
    config = with_options(config, settings=settings)
    result = GateResult(GATE)
    revisions = linear_history(ScriptDirectory.from_config(config))
    before: dict[str, frozenset[SchemaObject]] = {}
    for revision in revisions:
        before[revision.revision] = _schema(settings)
        upgrade(config, revision.revision)
    at_head = _schema(settings)
    # What an earlier (later-numbered) downgrade left behind or removed is reported once, not again for
    # every revision below it.
    carried_extra: set[SchemaObject] = set()
    carried_missing: set[SchemaObject] = set()
    for revision in reversed(revisions):
        path = str(Path(revision.path).resolve())
        try:
            downgrade(config, "-1")
        except Exception as exc:  # any failure of the downgrade is the finding
            message = f"downgrading {Path(path).name} fails: {exc}".splitlines()[0]
            result.findings.append(Finding(GATE, "downgrade-fails", message, path, function_line(path, "downgrade")))
            return result
        if only is not None and path not in only:
            continue
        after = _schema(settings)
        expected = before[revision.revision]
        extra, missing = (after - expected) - carried_extra, (expected - after) - carried_missing
        carried_extra |= extra
        carried_missing |= missing
        line = function_line(path, "downgrade")
        name = Path(path).name
        if extra:
            result.findings.append(
                Finding(
                    GATE,
                    "downgrade-leaves-behind",
                    f"downgrading {name} leaves behind: {', '.join(describe(extra))}",
                    path,
                    line,
                )
            )
        if missing:
            result.findings.append(
                Finding(
                    GATE,
                    "downgrade-removes-too-much",
                    f"downgrading {name} removes what was there before its upgrade: {', '.join(describe(missing))}",
                    path,
                    line,
                )
            )
    try:
        upgrade(config, "heads")
    except Exception as exc:  # a leftover object makes the upgrade fail: that is the finding
        message = f"upgrading again after a full downgrade fails: {exc}".splitlines()[0]
        result.findings.append(Finding(GATE, "upgrade-not-repeatable", message))
        return result
    again = _schema(settings)
    if again != at_head:
        result.findings.append(
            Finding(
                GATE,
                "upgrade-not-repeatable",
                "upgrading again after a full downgrade gives another schema: " + ", ".join(describe(again ^ at_head)),
            )
        )
    return result
