"""``schemakit seed``: the guarded, idempotent seed of any project, from the command line.

::

    APP_ENV=development schemakit seed [--mode converge] [--dry-run] [--fixtures DIR] [--models MODULE]

The models module and the fixtures folder come from ``[tool.schemakit]`` in ``pyproject.toml``
(:mod:`schemakit.project`), the database from ``DATABASE_URL``. The guard decides first, before any fixture is
read (a Python fixture file runs code); then every fixture is checked, then the rows are loaded in one
transaction, which commits at the end (or, with ``--dry-run``, rolls back). Exit codes: 0 seeded, 1 refused by
the guard, 2 bad settings, configuration or fixtures; nothing is written unless the exit code is 0.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from schemakit.engine import make_engine
from schemakit.errors import database_error_reason
from schemakit.project import ProjectConfig, ProjectConfigError, models_registry
from schemakit.seeding.fixtures import FixtureError, load_fixtures
from schemakit.seeding.guard import OVERRIDE_FLAG, SeedRefusedError, check_seed_target
from schemakit.seeding.loader import seed
from schemakit.seeding.report import SeedMode
from schemakit.settings import DatabaseSettings, describe_settings_error

__all__ = ["EXIT_BAD_INPUT", "EXIT_REFUSED", "add_arguments", "main", "run"]

#: The exit code when the guard refuses the database.
EXIT_REFUSED = 1
#: The exit code for bad settings, configuration or fixtures.
EXIT_BAD_INPUT = 2
_PROGRESS_FROM_ROWS = 10_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the seed command's options to ``parser``."""
    parser.add_argument("--fixtures", type=Path, help="folder of fixture files (default: [tool.schemakit] fixtures)")
    parser.add_argument("--models", help="import path of the models module (default: [tool.schemakit] models)")
    parser.add_argument(
        "--mode",
        choices=[mode.value for mode in SeedMode],
        default=SeedMode.CREATE_ONLY.value,
        help="create-only never changes existing rows; converge updates them to match the files",
    )
    parser.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")
    parser.add_argument(
        OVERRIDE_FLAG, dest="override", action="store_true", help="seed even a database the guard refuses"
    )


def _progress(model: str, done: int, total: int) -> None:
    if total >= _PROGRESS_FROM_ROWS:
        print(f"  {model}: {done}/{total} rows", file=sys.stderr)


def run(arguments: argparse.Namespace) -> int:
    """Seed as ``arguments`` say; print the report or the reason; return the exit code."""
    try:
        settings = DatabaseSettings()
    except ValidationError as exc:
        return _fail(f"the database settings are invalid: {describe_settings_error(exc)}")
    try:
        project = ProjectConfig.load()
        folder = arguments.fixtures or project.fixtures
        mappers = models_registry(project.models_module(arguments.models), project.root)
    except ProjectConfigError as exc:
        return _fail(str(exc))
    engine = make_engine(settings)
    try:
        check_seed_target(settings, engine, override=arguments.override)
        fixtures = load_fixtures(folder)
        with engine.connect() as connection:
            report = seed(
                connection,
                fixtures,
                mappers=mappers,
                mode=SeedMode(arguments.mode),
                dry_run=arguments.dry_run,
                progress=_progress,
            )
    except SeedRefusedError as exc:
        print(exc, file=sys.stderr)
        return EXIT_REFUSED
    except FixtureError as exc:
        return _fail(f"{exc}\nNothing was written.")
    except DBAPIError as exc:
        return _fail(f"the database {settings.masked_url()} failed: {database_error_reason(exc)}\nNothing was written.")
    finally:
        engine.dispose()
    print(f"Seeded {settings.masked_url()} ({arguments.mode}) from {folder}:")
    print(report.format())
    return 0


def _fail(message: str) -> int:
    print(f"Cannot seed: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` as ``schemakit seed`` does and run it."""
    parser = argparse.ArgumentParser(prog="schemakit seed", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))
