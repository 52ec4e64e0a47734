"""``schemakit inspect``: the schema health checks on the configured database (``DATABASE_URL``).

Prints a report, or JSON with ``--format json``; exits 0 when no static check found anything (usage checks only
warn), 1 when one did, and 2 when it cannot run.
"""

from __future__ import annotations

import argparse
import sys

from schemakit.engine import on_configured_database
from schemakit.errors import SchemakitError
from schemakit.inspection.report import inspect_database

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``inspect`` options."""
    parser.add_argument("--format", choices=["text", "json"], default="text", help="report format")


def run(arguments: argparse.Namespace) -> int:
    """Run ``schemakit inspect``; the exit code."""
    try:
        report = on_configured_database(inspect_database)
    except SchemakitError as exc:
        print(f"schemakit inspect: {exc}", file=sys.stderr)
        return 2
    print(report.json() if arguments.format == "json" else report.text())
    return 0 if report.passed else 1
