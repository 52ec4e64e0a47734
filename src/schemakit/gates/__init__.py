"""Quality gates for models and migrations; ``schemakit check`` runs them all.

Each gate is a function returning a :class:`GateResult` of :class:`Finding` objects (with file and line), so
a project can also call one from its own tests:

* :func:`check_history`: one head, ``yyyymmddhhmmss_description.py`` names, a real downgrade everywhere;
* :func:`check_round_trip`: each downgrade restores exactly the schema before its upgrade;
* :func:`check_drift`: the models match the migrated schema;
* :func:`check_naming`: names, mandatory columns, ``ondelete`` and indexed foreign keys;
* :func:`check_phases`: a contract revision drops nothing the models still map;
* :func:`check_lock_safety`: squawk and an Alembic-level lint of each revision (PostgreSQL);
* :func:`check_integrity_against_database` / :func:`check_integrity_against_git`: applied migrations unedited.

:func:`added_since` gives the revisions added after a git ref, for the ``only`` argument of the gates.
"""

from schemakit.gates.baseline import GitError, added_since
from schemakit.gates.drift import check_drift
from schemakit.gates.findings import Finding, GateResult, Report
from schemakit.gates.history import check_history
from schemakit.gates.integrity import check_integrity_against_database, check_integrity_against_git
from schemakit.gates.locksafety import check_lock_safety, lint_operations
from schemakit.gates.naming import check_naming
from schemakit.gates.phases import check_phases
from schemakit.gates.roundtrip import check_round_trip

__all__ = [
    "Finding",
    "GateResult",
    "GitError",
    "Report",
    "added_since",
    "check_drift",
    "check_history",
    "check_integrity_against_database",
    "check_integrity_against_git",
    "check_lock_safety",
    "check_naming",
    "check_phases",
    "check_round_trip",
    "lint_operations",
]
