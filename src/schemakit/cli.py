"""The ``schemakit`` command and its subcommands.

``schemakit init`` sets a project up for schemakit, Alembic and pytest (:mod:`schemakit.scaffold`);
``schemakit seed`` loads the development fixtures behind the guard (:mod:`schemakit.seeding.command`);
``schemakit db backup | restore | drill`` makes backups and proves them (:mod:`schemakit.backups.command`);
``schemakit roles`` prints or applies least-privilege roles (:mod:`schemakit.roles`); ``schemakit audit verify``
checks the audit log's hash chain (:mod:`schemakit.audit_log.command`); ``schemakit inspect`` checks the
configured database's schema health (:mod:`schemakit.inspection.command`); ``schemakit docs`` writes
``docs/schema.md`` from the models (:mod:`schemakit.schema_docs.command`); ``schemakit redis check`` checks
Redis and audits its keys (:mod:`schemakit.cache.command`); ``schemakit partitions`` makes the next time
partitions and detaches old ones (:mod:`schemakit.partitioning.command`).

``schemakit check`` runs every quality gate (:mod:`schemakit.gates`) on the project's models and migrations,
against a throwaway database (PostgreSQL from ``TEST_DATABASE_URL`` or a throwaway cluster; SQLite with
``--backend sqlite``), and prints a report, or JSON with ``--format json``. It exits 0 when every gate
passes, 1 when one fails, and 2 when it cannot run (no database, an unknown git ref, a bad option).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from alembic.script import ScriptDirectory
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from schemakit.audit_log import command as audit_command
from schemakit.backups import command as backup_command
from schemakit.cache import command as redis_command
from schemakit.engine import make_utility_engine, on_configured_database
from schemakit.errors import SchemakitError, database_error_reason
from schemakit.gates import (
    GateResult,
    Report,
    added_since,
    check_drift,
    check_history,
    check_integrity_against_database,
    check_integrity_against_git,
    check_lock_safety,
    check_naming,
    check_phases,
    check_round_trip,
)
from schemakit.gates.locksafety import DEFAULT_POSTGRES_VERSION
from schemakit.gates.schema_docs import check_schema_docs
from schemakit.inspection import command as inspect_command
from schemakit.migrations.commands import make_config
from schemakit.partitioning import command as partitions_command
from schemakit.project import ProjectConfig
from schemakit.provisioning import throwaway_database
from schemakit.roles import RoleNames, apply_roles, roles_sql
from schemakit.scaffold import init_project
from schemakit.schema_docs import command as docs_command
from schemakit.seeding import command as seed_command
from schemakit.settings import DatabaseSettings, configured_settings, describe_settings_error

__all__ = ["main", "run_check"]


def run_check(
    config_path: Path, *, backend: str = "postgresql", since: str | None = None, applied_to: str | None = None
) -> Report:
    """Run every gate and return the report.

    Args:
        config_path: The project's ``alembic.ini``.
        backend: The throwaway database's kind: ``postgresql`` or ``sqlite``.
        since: A git ref: only revisions added after it are checked, and files that existed at it must be
            unchanged.
        applied_to: A database URL whose recorded checksums are checked against the files.

    Raises:
        SchemakitError: If a database or git cannot be used.
    """
    config = make_config(config_path)
    script = ScriptDirectory.from_config(config)
    only = added_since(script, since) if since else None
    files = [Path(revision.path) for revision in script.walk_revisions()]
    results = [check_history(script, only=only)]
    with throwaway_database(backend, "schemakit_check") as database:
        settings = database.settings
        results.append(check_round_trip(config, settings, only=only))
        results.append(check_drift(config, settings))
        results.append(check_phases(config, only=only))
        engine = make_utility_engine(settings)
        with engine.connect() as connection:
            results.append(check_naming(connection, files, only=only))
            results.append(check_schema_docs(config, connection))
            server_version = connection.dialect.server_version_info
        engine.dispose()
    if backend == "postgresql":
        major = int(server_version[0]) if server_version else DEFAULT_POSTGRES_VERSION
        results.append(check_lock_safety(config, only=only, postgres_version=major))
    else:
        results.append(GateResult("lock-safety", skipped="PostgreSQL only (run with --backend postgresql)"))
    if since:
        results.append(check_integrity_against_git(script, since))
    if applied_to:
        results.append(_integrity_against(script, applied_to))
    if not since and not applied_to:
        results.append(GateResult("integrity", skipped="give --since REF or --applied-to URL to compare with"))
    return Report(results, root=config_path.resolve().parent)


def _integrity_against(script: ScriptDirectory, url: str) -> GateResult:
    try:
        settings = DatabaseSettings.for_url(url)
    except ValidationError as exc:
        raise SchemakitError(f"--applied-to is not a usable database URL: {describe_settings_error(exc)}") from None
    engine = make_utility_engine(settings)
    try:
        with engine.connect() as connection:
            return check_integrity_against_database(script, connection)
    except DBAPIError as exc:
        reason = database_error_reason(exc)
        raise SchemakitError(f"cannot connect to {settings.masked_url()} (--applied-to): {reason}") from None
    finally:
        engine.dispose()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="schemakit", description="schemakit's tools for models and migrations")
    commands = parser.add_subparsers(dest="command", required=True)
    init = commands.add_parser("init", help="set the project up for schemakit, Alembic and pytest")
    init.add_argument("--models", help="import path of the models module (default: [tool.schemakit] models)")
    init.add_argument("--alembic-dir", default="alembic", help="the migrations' folder")
    init.add_argument("--fixtures", default="fixtures", help="the seed fixtures' folder")
    init.add_argument("--tests", default="tests", help="the tests' folder")
    database = commands.add_parser("db", help="back up, restore, and prove backups by restoring them")
    backup_command.add_arguments(database)
    roles = commands.add_parser("roles", help="print (or apply) SQL for an owner, an application and a read-only role")
    roles.add_argument("--apply", action="store_true", help="run it on the configured database")
    for kind in ("owner", "app", "readonly"):
        roles.add_argument(f"--{kind}", metavar="NAME", help=f"the {kind} role's name (default: <database>_{kind})")
    inspect = commands.add_parser("inspect", help="check the configured database's schema health; exit 1 on a finding")
    inspect_command.add_arguments(inspect)
    redis = commands.add_parser("redis", help="check Redis's health and audit its keys")
    redis_command.add_arguments(redis)
    docs = commands.add_parser("docs", help="write docs/schema.md (tables and an ER diagram) from the models")
    docs_command.add_arguments(docs)
    partitions = commands.add_parser("partitions", help="make the next time partitions and detach old ones")
    partitions_command.add_arguments(partitions)
    audit = commands.add_parser("audit", help="verify the audit log's hash chain, or prune old entries")
    audit_command.add_arguments(audit)
    seed = commands.add_parser("seed", help="load the development fixtures, behind the production guard")
    seed_command.add_arguments(seed)
    check = commands.add_parser("check", help="run the quality gates on the models and migrations")
    check.add_argument("--config", type=Path, default=Path("alembic.ini"), help="the project's alembic.ini")
    check.add_argument("--format", choices=["text", "json"], default="text", help="report format")
    check.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql", help="throwaway database")
    check.add_argument("--since", metavar="REF", help="check only revisions added after this git ref")
    check.add_argument("--applied-to", metavar="URL", help="also verify the checksums recorded in this database")
    return parser


def _init(arguments: argparse.Namespace) -> int:
    try:
        project = ProjectConfig.load()
        report = init_project(
            project.root,
            models=project.models_module(arguments.models),
            alembic_dir=arguments.alembic_dir,
            fixtures=arguments.fixtures,
            tests=arguments.tests,
        )
    except SchemakitError as exc:
        print(f"schemakit init: {exc}", file=sys.stderr)
        return 2
    print(report.format())
    return 0


def _roles(arguments: argparse.Namespace) -> int:
    try:
        settings = configured_settings()
    except SchemakitError as exc:
        print(f"schemakit roles: {exc}", file=sys.stderr)
        return 2
    if settings.dialect != "postgresql":
        print("schemakit roles: roles are PostgreSQL's; DATABASE_URL names SQLite", file=sys.stderr)
        return 2
    defaults = RoleNames.for_database(str(settings.sync_url.database))
    names = RoleNames(
        arguments.owner or defaults.owner, arguments.app or defaults.app, arguments.readonly or defaults.readonly
    )
    if not arguments.apply:
        print(";\n\n".join(roles_sql(str(settings.sync_url.database), names)) + ";")
        return 0
    try:
        on_configured_database(lambda connection: apply_roles(connection, names), begin=True)
    except SchemakitError as exc:
        print(f"schemakit roles: {exc}", file=sys.stderr)
        return 2
    print(f"Roles ready on {settings.masked_url()}: owner {names.owner}, app {names.app}, read-only {names.readonly}")
    print("Set their passwords with ALTER ROLE ... PASSWORD, and MIGRATION_DATABASE_URL to the owner's URL.")
    return 0


def _check(arguments: argparse.Namespace) -> int:
    if not arguments.config.is_file():
        print(f"schemakit check: no Alembic configuration at {arguments.config}", file=sys.stderr)
        return 2
    try:
        report = run_check(
            arguments.config, backend=arguments.backend, since=arguments.since, applied_to=arguments.applied_to
        )
    except SchemakitError as exc:
        print(f"schemakit check: {exc}", file=sys.stderr)
        return 2
    print(report.json() if arguments.format == "json" else report.text())
    return 0 if report.passed else 1


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "init": _init,
    "seed": seed_command.run,
    "check": _check,
    "db": backup_command.run,
    "roles": _roles,
    "audit": audit_command.run,
    "inspect": inspect_command.run,
    "docs": docs_command.run,
    "redis": redis_command.run,
    "partitions": partitions_command.run,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    arguments = _parser().parse_args(argv)
    return _COMMANDS[arguments.command](arguments)


if __name__ == "__main__":
    sys.exit(main())
