"""The schema-docs gate: ``docs/schema.md`` is current with the models, and the migrated database gives the same.

Skipped when the project has no ``docs/schema.md`` (``schemakit docs`` writes it). On PostgreSQL the committed
file itself is compared with the document built from the migrated database; on SQLite, whose types are spelled
differently, the models' document is built with SQLite's types for that comparison.
"""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from sqlalchemy import Connection

from schemakit.errors import SchemakitError
from schemakit.gates.findings import Finding, GateResult
from schemakit.migrations.commands import models_metadata_of
from schemakit.schema_docs.build import DEFAULT_PATH, database_document, difference, models_document

__all__ = ["check_schema_docs"]

GATE = "schema-docs"


def check_schema_docs(config: Config, connection: Connection, path: Path | None = None) -> GateResult:
    """Compare the committed document with the models' and the migrated database's.

    Args:
        config: The project's Alembic configuration (its ``env.py`` names the models).
        connection: A connection to a database migrated to head.
        path: The document (default: ``docs/schema.md`` beside ``alembic.ini``).
    """
    root = Path(config.config_file_name or "alembic.ini").resolve().parent
    path = path or root / DEFAULT_PATH
    if not path.is_file():
        return GateResult(GATE, skipped=f"no {DEFAULT_PATH}: write it with schemakit docs")
    try:
        metadatas = models_metadata_of(config)
        from_models = models_document(metadatas)
        dialect = connection.dialect.name
        from_database = database_document(connection)
    except SchemakitError as exc:
        return GateResult(GATE, skipped=str(exc))
    result = GateResult(GATE)
    committed = path.read_text()
    if committed != from_models:
        result.findings.append(
            Finding(
                GATE,
                "stale",
                "the schema document differs from the models; run schemakit docs and commit it",
                file=str(path),
                detail=difference(from_models, committed, expected_name="the models", actual_name=path.name),
            )
        )
    expected = from_models if dialect == "postgresql" else models_document(metadatas, dialect)
    if from_database != expected:
        result.findings.append(
            Finding(
                GATE,
                "database-differs",
                "the migrated database's schema document differs from the models'",
                file=str(path),
                detail=difference(expected, from_database, expected_name="the models", actual_name="the database"),
            )
        )
    return result
