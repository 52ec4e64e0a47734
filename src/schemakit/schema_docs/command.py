"""``schemakit docs``: write ``docs/schema.md`` from the models, or check that it is current.

``--check`` exits 1 when the file differs from what the models give (printing the start of the difference);
``--from-database`` builds the document from the configured database (``DATABASE_URL``) instead, so
``schemakit docs --check --from-database`` proves a migrated database matches the committed document. Exit code
2 when it cannot run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from schemakit.engine import on_configured_database
from schemakit.errors import SchemakitError
from schemakit.migrations.commands import make_config, models_metadata_of
from schemakit.schema_docs.build import DEFAULT_PATH, database_document, difference, models_document

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``docs`` options."""
    parser.add_argument("--config", type=Path, default=Path("alembic.ini"), help="the project's alembic.ini")
    parser.add_argument("--output", type=Path, help=f"the document (default: {DEFAULT_PATH} beside alembic.ini)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the document is stale instead of writing it")
    parser.add_argument(
        "--from-database", action="store_true", help="build it from the configured database, not the models"
    )


def run(arguments: argparse.Namespace) -> int:
    """Run ``schemakit docs``; the exit code."""
    if not arguments.config.is_file():
        print(f"schemakit docs: no Alembic configuration at {arguments.config}", file=sys.stderr)
        return 2
    path: Path = arguments.output or arguments.config.resolve().parent / DEFAULT_PATH
    source = "the configured database" if arguments.from_database else "the models"
    try:
        document = (
            on_configured_database(database_document)
            if arguments.from_database
            else models_document(models_metadata_of(make_config(arguments.config)))
        )
    except SchemakitError as exc:
        print(f"schemakit docs: {exc}", file=sys.stderr)
        return 2
    if not arguments.check:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(document)
        print(f"Wrote {path} from {source}")
        return 0
    current = path.read_text() if path.is_file() else ""
    if current == document:
        print(f"{path} is current with {source}")
        return 0
    print(f"{path} is stale: it differs from {source}; run schemakit docs to write it again")
    print(difference(document, current, expected_name=source, actual_name=str(path)))
    return 1
