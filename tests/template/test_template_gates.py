"""The template passes every quality gate, through the function and through the command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from schemakit.cli import run_check

ROOT = Path(__file__).parent.parent.parent


def schemakit_check(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "schemakit.cli", "check", *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_the_template_passes_every_gate(dialect: str) -> None:
    report = run_check(ROOT / "alembic.ini", backend=dialect)
    assert report.passed, report.text()
    ran = {result.gate for result in report.results if not result.skipped}
    expected = {"history", "round-trip", "drift", "phases", "naming", "schema-docs"} | (
        {"lock-safety"} if dialect == "postgresql" else set()
    )
    assert ran == expected


def test_the_command_passes_on_the_template(dialect: str) -> None:
    passing = schemakit_check("--backend", dialect, "--format", "json", cwd=ROOT)
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert json.loads(passing.stdout)["passed"] is True
