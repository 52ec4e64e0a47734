"""``schemakit db backup | restore | drill``: the command line of :mod:`schemakit.backups`.

The configured database is ``DATABASE_URL`` (and ``.env``). Each command prints what it did; a refusal or a
failure is one line on standard error with exit code 2; ``drill`` exits 1 when the restored database differs
from the backup, naming each difference.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from schemakit.backups.jobs import backup, drill, restore
from schemakit.backups.manifest import manifest_path
from schemakit.errors import SchemakitError
from schemakit.settings import DatabaseSettings, describe_settings_error

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``db`` subcommands and their options."""
    commands = parser.add_subparsers(dest="db_command", required=True)
    made = commands.add_parser("backup", help="back the configured database up, with a manifest beside it")
    made.add_argument("--output", type=Path, help="the archive (default: backups/<database>-<UTC time>.dump)")
    restoring = commands.add_parser("restore", help="restore an archive into another, empty database")
    restoring.add_argument("archive", type=Path, help="an archive `schemakit db backup` wrote")
    restoring.add_argument("--to", required=True, metavar="URL", help="the database to restore into")
    restoring.add_argument(
        "--force", action="store_true", help="restore over the configured or a production-marked database"
    )
    drilled = commands.add_parser("drill", help="back up, restore into a throwaway database, and compare")
    drilled.add_argument("--keep", type=Path, metavar="FILE", help="keep the drill's archive here")


def run(arguments: argparse.Namespace) -> int:
    """Run one ``db`` command; the exit code."""
    name = f"schemakit db {arguments.db_command}"
    try:
        settings = DatabaseSettings()
        if arguments.db_command == "backup":
            manifest = backup(settings, arguments.output)
            archive = (arguments.output or Path("backups") / manifest.archive).resolve()
            tables = manifest.state.tables
            print(f"Backed up {settings.masked_url()} into {archive}")
            rows = sum(table.rows for table in tables.values())
            print(f"  {len(tables)} tables, {rows:,} rows; manifest: {manifest_path(archive)}")
            return 0
        if arguments.db_command == "restore":
            target = DatabaseSettings.for_url(make_url(arguments.to)).sync_url
            seconds = restore(arguments.archive, target, configured=settings, force=arguments.force)
            print(f"Restored {arguments.archive} into {target.render_as_string()} in {seconds:.2f} s")
            return 0
        report = drill(settings, archive=arguments.keep)
    except ValidationError as exc:
        print(f"{name}: the database settings are invalid: {describe_settings_error(exc)}", file=sys.stderr)
        return 2
    except ArgumentError:
        print(f"{name}: --to is not a database URL", file=sys.stderr)
        return 2
    except SchemakitError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    print(report.text())
    return 0 if report.passed else 1
