"""Load the development fixtures (src/example_app/fixtures) into the configured database.

    APP_ENV=development python scripts/seed_data.py [--mode converge] [--dry-run] [--fixtures DIR]

Safe to run again: rows are matched by their natural keys, so a second run changes nothing. It refuses,
writing nothing, unless APP_ENV is development or test and the database is not marked as production.
Exit codes: 0 seeded, 1 refused by the guard, 2 bad settings or fixtures.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError

import example_app.models  # noqa: F401 - registers the models the fixtures name
from schemakit import Base, DatabaseSettings, make_engine
from schemakit.seeding import (
    OVERRIDE_FLAG,
    FixtureError,
    SeedMode,
    SeedRefusedError,
    check_seed_target,
    load_fixtures,
    seed,
)

FIXTURES = Path(__file__).resolve().parent.parent / "src" / "example_app" / "fixtures"


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixtures", type=Path, default=FIXTURES, help="folder of fixture files")
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
    return parser.parse_args(argv)


def report_progress(model: str, done: int, total: int) -> None:
    if total >= 10_000:
        print(f"  {model}: {done}/{total} rows", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    try:
        settings = DatabaseSettings()
        fixtures = load_fixtures(arguments.fixtures)
    except (ValidationError, FixtureError) as exc:
        print(f"Cannot seed: {exc}", file=sys.stderr)
        return 2
    engine = make_engine(settings)
    try:
        check_seed_target(settings, engine, override=arguments.override)
        with engine.connect() as connection:
            report = seed(
                connection,
                fixtures,
                mappers=Base.registry,
                mode=SeedMode(arguments.mode),
                dry_run=arguments.dry_run,
                progress=report_progress,
            )
    except SeedRefusedError as exc:
        print(exc, file=sys.stderr)
        return 1
    except FixtureError as exc:
        print(f"Cannot seed: {exc}\nNothing was written.", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(f"Seeded {settings.masked_url()} ({arguments.mode}) from {arguments.fixtures}:")
    print(report.format())
    return 0


if __name__ == "__main__":
    sys.exit(main())
