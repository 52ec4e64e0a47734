"""The integrity gate: migrations that were applied (or merged) are never edited.

* Against a database (``schemakit check --applied-to URL``): the checksums recorded when each revision was
  applied (:mod:`schemakit.migrations.checksums`) must still match the files.
* Against git (``schemakit check --since REF``): every revision file that existed at ``REF`` must be unchanged
  since, so a released migration is not edited in a later change.
"""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from schemakit.gates.baseline import git
from schemakit.gates.findings import Finding, GateResult
from schemakit.migrations.checksums import ChecksumLedger

__all__ = ["check_integrity_against_database", "check_integrity_against_git"]

GATE = "integrity"


def check_integrity_against_database(script: ScriptDirectory, connection: Connection) -> GateResult:
    """Compare the files with the checksums recorded in the database behind ``connection`` (read only)."""
    result = GateResult(GATE)
    for item in ChecksumLedger(script).edited(connection):
        change = "its file is gone" if item.current is None else "its file changed"
        result.findings.append(
            Finding(
                GATE,
                "edited-after-apply",
                f"{item.filename} (revision {item.revision}) was applied to this database, then {change}",
                item.path,
                1 if item.path else None,
            )
        )
    return result


def check_integrity_against_git(script: ScriptDirectory, ref: str) -> GateResult:
    """Report revision files that existed at ``ref`` and differ now.

    Raises:
        GitError: If git cannot compare with ``ref``.
    """
    result = GateResult(GATE)
    folder = Path(script.versions).resolve()
    top = Path(git(folder, "rev-parse", "--show-toplevel").strip())
    changed = git(folder, "diff", "--name-only", "--diff-filter=MD", ref, "--", str(folder)).splitlines()
    for name in changed:
        path = (top / name).resolve()
        if path.suffix == ".py":
            result.findings.append(
                Finding(
                    GATE,
                    "edited-after-merge",
                    f"{path.name} existed at {ref} and was changed (or removed) since; "
                    "put the change in a new revision",
                    str(path),
                    1,
                )
            )
    return result
