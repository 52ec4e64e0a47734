"""``schemakit inspect``: checks of a live schema's health, static and from PostgreSQL's statistics.

:func:`inspect_database` runs every check that applies to a connection's database and returns an
:class:`InspectionReport`; :data:`CHECKS` lists the checks with why each matters and how to fix what it finds.
"""

from schemakit.inspection.checks import CHECKS, Check
from schemakit.inspection.report import MIN_TABLE_READS, CheckResult, InspectionReport, inspect_database

__all__ = ["CHECKS", "MIN_TABLE_READS", "Check", "CheckResult", "InspectionReport", "inspect_database"]
