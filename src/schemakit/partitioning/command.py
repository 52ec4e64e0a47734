"""``schemakit partitions``: make the next partitions and detach old ones on the configured database.

Run it from a scheduler (daily is plenty for monthly partitions). It connects with ``MIGRATION_DATABASE_URL``
when set (the owner role; partitions are DDL), else ``DATABASE_URL``, waits at most
``DB_MIGRATION_LOCK_TIMEOUT_MS`` for each lock, and does everything in one transaction. Exit code 0 when done,
2 when it cannot run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sqlalchemy import Connection, text

from schemakit.engine import on_configured_database
from schemakit.errors import SchemakitError
from schemakit.migrations.commands import make_config, models_metadata_of
from schemakit.partitioning.maintenance import PartitionReport, maintain_partitions
from schemakit.settings import configured_settings

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``partitions`` options."""
    parser.add_argument("--config", type=Path, default=Path("alembic.ini"), help="the project's alembic.ini")
    parser.add_argument("--drop", action="store_true", help="drop the partitions detached instead of keeping them")
    parser.add_argument("--format", choices=["text", "json"], default="text", help="report format")


def run(arguments: argparse.Namespace) -> int:
    """Run ``schemakit partitions``; the exit code."""
    if not arguments.config.is_file():
        print(f"schemakit partitions: no Alembic configuration at {arguments.config}", file=sys.stderr)
        return 2
    try:
        metadata = models_metadata_of(make_config(arguments.config))
        lock_timeout_ms = configured_settings().migration_lock_timeout_ms

        def maintain(connection: Connection) -> PartitionReport:
            _limit_lock_waits(connection, lock_timeout_ms)
            return maintain_partitions(connection, metadata, drop=arguments.drop)

        report = on_configured_database(maintain, begin=True, for_migrations=True)
    except SchemakitError as exc:
        print(f"schemakit partitions: {exc}", file=sys.stderr)
        return 2
    print(_json(report) if arguments.format == "json" else report.text())
    return 0


def _limit_lock_waits(connection: Connection, timeout_ms: int) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"SET LOCAL lock_timeout = {int(timeout_ms)}"))


def _json(report: PartitionReport) -> str:
    return json.dumps({"created": report.created, "detached": report.detached}, indent=2, sort_keys=True)
