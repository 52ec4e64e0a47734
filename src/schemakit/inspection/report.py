"""Running the checks of ``schemakit inspect`` on a connection, and reporting what they found."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from schemakit.inspection.checks import CHECKS, Check
from schemakit.inspection.postgres import STATIC, TABLE_READS, USAGE
from schemakit.inspection.sqlite import sqlite_findings

__all__ = ["MIN_TABLE_READS", "CheckResult", "InspectionReport", "inspect_database"]

#: The table reads the statistics must hold before the usage checks mean something.
MIN_TABLE_READS = 1000


@dataclass(frozen=True)
class CheckResult:
    """One check's findings (``(object, detail)`` pairs), or why it did not run."""

    check: Check
    findings: list[tuple[str, str]] = field(default_factory=list)
    skipped: str | None = None

    @property
    def status(self) -> str:
        """``passed``, ``failed`` (a static finding), ``warning`` (a usage finding) or ``skipped``."""
        if self.skipped:
            return "skipped"
        if not self.findings:
            return "passed"
        return "failed" if self.check.kind == "static" else "warning"


@dataclass(frozen=True)
class InspectionReport:
    """Every check's result on one database."""

    database: str
    results: list[CheckResult]

    @property
    def passed(self) -> bool:
        """Whether no static check found anything."""
        return all(result.status != "failed" for result in self.results)

    def findings(self) -> dict[str, list[str]]:
        """The objects each check found, by check name (checks that found nothing left out)."""
        return {
            result.check.name: [found for found, _ in result.findings] for result in self.results if result.findings
        }

    def text(self) -> str:
        """A readable report: each check's status, then its findings and the fix."""
        label = {"passed": "PASS", "failed": "FAIL", "warning": "WARN", "skipped": "SKIP"}
        lines = [f"Inspected {self.database}"]
        for result in self.results:
            line = f"{label[result.status]}  {result.check.name}"
            lines.append(f"{line}: {result.skipped}" if result.skipped else line)
            lines += [f"      {found}: {detail}" for found, detail in result.findings]
            if result.findings:
                lines.append(f"      fix: {result.check.fix}")
        failed = sum(result.status == "failed" for result in self.results)
        warned = sum(result.status == "warning" for result in self.results)
        lines.append(f"{failed} static check(s) failed, {warned} usage check(s) warned")
        return "\n".join(lines)

    def json(self) -> str:
        """The report as JSON.

        Keys: ``database``, ``passed`` and ``checks``, each with ``name``, ``kind``, ``status``, ``findings``
        (``object`` and ``detail``), ``skipped``, ``why`` and ``fix``.
        """
        checks = [
            {
                "name": result.check.name,
                "kind": result.check.kind,
                "status": result.status,
                "findings": [{"object": found, "detail": detail} for found, detail in result.findings],
                "skipped": result.skipped,
                "why": result.check.why,
                "fix": result.check.fix,
            }
            for result in self.results
        ]
        return json.dumps({"database": self.database, "passed": self.passed, "checks": checks}, indent=2)


def inspect_database(connection: Connection, *, name: str | None = None) -> InspectionReport:
    """Run every check that applies to the connection's database.

    Args:
        connection: A connection to the database (PostgreSQL, or SQLite for the checks that apply to it).
        name: How the report names the database (the connection's URL, its password hidden, by default).
    """
    database = name or connection.engine.url.render_as_string(hide_password=True)
    if connection.dialect.name != "postgresql":
        found = sqlite_findings(connection)
        return InspectionReport(
            database,
            [
                CheckResult(check, sorted(found[check.name]))
                if check.sqlite
                else CheckResult(check, skipped="PostgreSQL only")
                for check in CHECKS
            ],
        )
    reads = int(connection.scalar(text(TABLE_READS)) or 0)
    results = []
    for check in CHECKS:
        if check.kind == "usage" and reads < MIN_TABLE_READS:
            reason = f"the statistics hold {reads} table reads; usage checks need {MIN_TABLE_READS} (real traffic)"
            results.append(CheckResult(check, skipped=reason))
            continue
        query = STATIC.get(check.name) or USAGE[check.name]
        rows = connection.execute(text(query)).all()
        results.append(CheckResult(check, sorted((str(found), str(detail)) for found, detail in rows)))
    return InspectionReport(database, results)
