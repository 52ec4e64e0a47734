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
from sqlalchemy.exc import DBAPIError

from schemakit.engine import make_utility_engine
from schemakit.errors import SchemakitError, database_error_reason
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
        settings = configured_settings().for_migrations()
        engine = make_utility_engine(settings)
        try:
            with engine.begin() as connection:
                _limit_lock_waits(connection, settings.migration_lock_timeout_ms)
                report = maintain_partitions(connection, metadata, drop=arguments.drop)
        except DBAPIError as exc:
            raise SchemakitError(database_error_reason(exc)) from None
        finally:
            engine.dispose()
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
