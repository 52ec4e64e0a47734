"""``schemakit inspect``: the schema health checks on the configured database (``DATABASE_URL``).

Prints a report, or JSON with ``--format json``; exits 0 when no static check found anything (usage checks only
warn), 1 when one did, and 2 when it cannot run.
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.exc import DBAPIError

from schemakit.engine import make_utility_engine
from schemakit.errors import SchemakitError, database_error_reason
from schemakit.inspection.report import inspect_database
from schemakit.settings import configured_settings

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``inspect`` options."""
    parser.add_argument("--format", choices=["text", "json"], default="text", help="report format")


def run(arguments: argparse.Namespace) -> int:
    """Run ``schemakit inspect``; the exit code."""
    try:
        settings = configured_settings()
    except SchemakitError as exc:
        print(f"schemakit inspect: {exc}", file=sys.stderr)
        return 2
    engine = make_utility_engine(settings)
    try:
        with engine.connect() as connection:
            report = inspect_database(connection, name=settings.masked_url())
    except DBAPIError as exc:
        print(f"schemakit inspect: {database_error_reason(exc)}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(report.json() if arguments.format == "json" else report.text())
    return 0 if report.passed else 1
