"""``schemakit audit verify | prune``: the audit log's chain checked, and old entries removed.

On the configured database (``DATABASE_URL``): ``verify`` exits 0 when the log is intact and 1 naming the first
bad entry; ``prune --before DATE`` removes the batches written before that date (UTC) and keeps what remains
verifiable. A failure to run is exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from schemakit.audit_log.verify import prune, verify_chain
from schemakit.engine import on_configured_database
from schemakit.errors import SchemakitError

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
        if arguments.audit_command == "prune":
            removed = on_configured_database(lambda connection: prune(connection, arguments.before), begin=True)
            print(f"Removed {removed} audit log entries written before {arguments.before.isoformat()}")
            return 0
        report = on_configured_database(verify_chain, begin=True)
    except SchemakitError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    if report.intact:
        print(f"The audit log is intact: {report.entries} entries in {report.batches} batches")
        return 0
    print(f"The audit log was tampered with: {report.problem}")
    return 1
