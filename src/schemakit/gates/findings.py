"""What a gate reports: findings with a file and line, and the report that collects them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["Finding", "GateResult", "Report"]


@dataclass(frozen=True)
class Finding:
    """One problem a gate found.

    Attributes:
        gate: The gate's name.
        rule: What was broken, as a short identifier (``two-heads``, ``unindexed-foreign-key``, ...).
        message: What is wrong and what to do, for humans.
        file: The file to look at, if there is one.
        line: The line in ``file``, if known.
        detail: More text, such as the migration code autogenerate would write.
    """

    gate: str
    rule: str
    message: str
    file: str | None = None
    line: int | None = None
    detail: str | None = None

    def location(self) -> str:
        """``file:line``, ``file`` or nothing."""
        if self.file is None:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class GateResult:
    """A gate's findings, or why it did not run."""

    gate: str
    findings: list[Finding] = field(default_factory=list)
    skipped: str | None = None

    @property
    def passed(self) -> bool:
        """Whether the gate ran and found nothing, or was skipped."""
        return not self.findings


@dataclass
class Report:
    """Every gate's result."""

    results: list[GateResult]
    root: Path = field(default_factory=Path.cwd)

    @property
    def passed(self) -> bool:
        """Whether every gate passed."""
        return all(result.passed for result in self.results)

    def _relative(self, file: str | None) -> str | None:
        if file is None:
            return None
        try:
            return str(Path(file).resolve().relative_to(self.root.resolve()))
        except ValueError:
            return file

    def text(self) -> str:
        """A readable report: each gate, then its findings with file and line."""
        lines: list[str] = []
        for result in self.results:
            if result.skipped:
                lines.append(f"SKIP  {result.gate}: {result.skipped}")
                continue
            lines.append(f"{'PASS' if result.passed else 'FAIL'}  {result.gate}")
            for finding in result.findings:
                where = self._relative(finding.file)
                location = f"{where}:{finding.line}" if where and finding.line else where or ""
                lines.append(f"      {location + ': ' if location else ''}[{finding.rule}] {finding.message}")
                if finding.detail:
                    lines.extend(f"          {line}" for line in finding.detail.rstrip().splitlines())
        failed = sum(len(result.findings) for result in self.results)
        lines.append(f"{'passed' if self.passed else 'failed'}: {failed} finding(s)")
        return "\n".join(lines)

    def json(self) -> str:
        """The report as JSON."""
        data = {
            "passed": self.passed,
            "gates": [
                {
                    "gate": result.gate,
                    "passed": result.passed,
                    "skipped": result.skipped,
                    "findings": [{**asdict(f), "file": self._relative(f.file)} for f in result.findings],
                }
                for result in self.results
            ],
        }
        return json.dumps(data, indent=2)
