"""The phase gate: a contract revision drops or renames only what the models no longer map.

A revision declared ``phase = "contract"`` runs after the new code is deployed (see
:mod:`schemakit.migrations.phases`), so what it drops must be gone from that code. The gate reads each
contract revision's ``upgrade()`` and reports a table or column it drops or renames (``drop_table``,
``rename_table``, ``drop_column``, ``drop_column_online``, ``contract_column``, ``alter_column(...,
new_column_name=...)``) that the models still map. Expand revisions (the rest) are held to the running code by
the lock-safety gate's ``drop``, ``rename`` and ``not-null-no-default`` rules.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from schemakit.gates.findings import Finding, GateResult
from schemakit.gates.revision_source import call_name, declared_phase, keyword, operations, string, upgrade_function
from schemakit.gates.roundtrip import linear_history, selected
from schemakit.migrations.commands import models_metadata_of
from schemakit.migrations.phases import CONTRACT

__all__ = ["check_phases", "mapped_names"]

GATE = "phases"

_DROPS_COLUMN = frozenset({"drop_column", "drop_column_online", "contract_column"})


def mapped_names(config: Config) -> set[tuple[str, str | None]]:
    """The ``(table, None)`` and ``(table, column)`` pairs of the models ``env.py`` hands to Alembic."""
    names: set[tuple[str, str | None]] = set()
    for metadata in models_metadata_of(config):
        for table in metadata.tables.values():
            names.add((table.name, None))
            names.update((table.name, column.name) for column in table.columns)
    return names


def check_phases(config: Config, *, only: Collection[str] | None = None) -> GateResult:
    """Check that each contract revision drops or renames nothing the models still map.

    Args:
        config: The project's Alembic configuration.
        only: If given, check only these revision files (resolved paths; a baseline).

    Returns:
        Findings with rule ``contract-still-mapped``.
    """
    result = GateResult(GATE)
    revisions = selected(linear_history(ScriptDirectory.from_config(config)), only)
    contracts = []
    for revision in revisions:
        tree = ast.parse(Path(revision.path).read_text(), revision.path)
        if declared_phase(tree) == CONTRACT:
            contracts.append((revision, tree))
    if not contracts:
        return result
    mapped = mapped_names(config)
    for revision, tree in contracts:
        upgrade = upgrade_function(tree)
        for line, table, column in _removed(upgrade) if upgrade else ():
            if (table, column) in mapped:
                what = f"column {table}.{column}" if column else f"table {table}"
                result.findings.append(
                    Finding(
                        GATE,
                        "contract-still-mapped",
                        f"contract revision {revision.revision} drops or renames the {what}, which the models still "
                        "map: remove it from the models and deploy that code first",
                        str(Path(revision.path).resolve()),
                        line,
                    )
                )
    return result


def _removed(upgrade: ast.FunctionDef) -> Iterator[tuple[int, str, str | None]]:
    """Each table or column the function drops or renames: its line, its table, its column (None for a table)."""
    for call, table, operation in operations(upgrade):
        if table is None:
            continue
        # op.<x>(table, column, ...); batch_op.<x>(column, ...)
        position = 1 if call_name(call)[0] == "op" else 0
        column = string(call.args[position]) if len(call.args) > position else string(keyword(call, "column_name"))
        if operation in ("drop_table", "rename_table"):
            yield call.lineno, table, None
        elif column and (operation in _DROPS_COLUMN or _renames_column(call, operation)):
            yield call.lineno, table, column


def _renames_column(call: ast.Call, operation: str) -> bool:
    return operation == "alter_column" and keyword(call, "new_column_name") is not None
