"""``schemakit audit verify | prune``: the audit log's chain checked, and old entries removed.

On the configured database (``DATABASE_URL``): ``verify`` exits 0 when the log is intact and 1 naming the first
bad entry; ``prune --before DATE`` removes the batches written before that date (UTC) and keeps what remains
verifiable. A failure to run is exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from sqlalchemy.exc import DBAPIError

from schemakit.audit_log.verify import prune, verify_chain
from schemakit.engine import make_utility_engine
from schemakit.errors import SchemakitError, database_error_reason
from schemakit.settings import configured_settings

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``audit`` subcommands."""
    commands = parser.add_subparsers(dest="audit_command", required=True)
    commands.add_parser("verify", help="check the audit log's hash chain; exit 1 naming the first bad entry")
    pruning = commands.add_parser(
        "prune", help="remove the entries written before a date, keeping the chain verifiable"
    )
    pruning.add_argument("--before", required=True, type=_date, metavar="DATE", help="an ISO date or time (UTC)")


def _date(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def run(arguments: argparse.Namespace) -> int:
    """Run one ``audit`` command; the exit code."""
    name = f"schemakit audit {arguments.audit_command}"
    try:
        settings = configured_settings()
    except SchemakitError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    engine = make_utility_engine(settings)
    try:
        with engine.begin() as connection:
            if arguments.audit_command == "prune":
                removed = prune(connection, arguments.before)
                print(f"Removed {removed} audit log entries written before {arguments.before.isoformat()}")
                return 0
            report = verify_chain(connection)
    except DBAPIError as exc:
        print(f"{name}: {database_error_reason(exc)}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    if report.intact:
        print(f"The audit log is intact: {report.entries} entries in {report.batches} batches")
        return 0
    print(f"The audit log was tampered with: {report.problem}")
    return 1
