"""The history gate: one head, well-named revision files, and a real downgrade in every revision."""

from __future__ import annotations

import ast
import re
from collections.abc import Collection
from pathlib import Path

from alembic.script import Script, ScriptDirectory

from schemakit.gates.findings import Finding, GateResult

__all__ = ["FILE_NAME", "check_history", "function_line", "revision_files"]

GATE = "history"
#: How revision files are named: ``yyyymmddhhmmss_short_description.py``.
FILE_NAME = re.compile(r"^\d{14}_[a-z0-9]+(?:_[a-z0-9]+)*\.py$")


def revision_files(script: ScriptDirectory) -> dict[str, Script]:
    """Every revision, by the path of its file."""
    return {str(Path(revision.path).resolve()): revision for revision in script.walk_revisions()}


def check_history(script: ScriptDirectory, *, only: Collection[str] | None = None) -> GateResult:
    """Check the revision graph and files.

    Args:
        script: The project's Alembic script directory.
        only: If given, the revision file paths to check (a baseline leaves older ones alone); the
            single-head check always covers the whole history.

    Returns:
        The findings: ``several-heads``, ``file-name``, ``empty-downgrade``.
    """
    result = GateResult(GATE)
    heads = script.get_heads()
    if len(heads) > 1:
        files = ", ".join(Path(str(getattr(script.get_revision(head), "path", head))).name for head in heads)
        result.findings.append(
            Finding(
                GATE,
                "several-heads",
                f"{len(heads)} heads ({', '.join(heads)}): merge them with `alembic merge heads` ({files})",
            )
        )
    for path, revision in sorted(revision_files(script).items()):
        if only is not None and path not in only:
            continue
        name = Path(path).name
        if not FILE_NAME.match(name):
            result.findings.append(
                Finding(GATE, "file-name", f"{name} is not named yyyymmddhhmmss_short_description.py", path, 1)
            )
        line = _empty_downgrade(Path(path))
        if line is not None:
            result.findings.append(
                Finding(
                    GATE,
                    "empty-downgrade",
                    f"revision {revision.revision} has no real downgrade; write the reverse of its upgrade",
                    path,
                    line,
                )
            )
    return result


def function_line(path: str | Path, name: str) -> int | None:
    """The line of the top-level ``def <name>`` in a revision file, or ``None``."""
    tree = ast.parse(Path(path).read_text(), str(path))
    return next((n.lineno for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name), None)


def _empty_downgrade(path: Path) -> int | None:
    """The line of ``def downgrade`` if it does nothing (missing, ``pass``, ``...`` or only a docstring)."""
    tree = ast.parse(path.read_text(), str(path))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "downgrade":
            statements = [
                statement
                for statement in node.body
                if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant))
                and not isinstance(statement, ast.Pass)
            ]
            return node.lineno if not statements else None
    return 1
