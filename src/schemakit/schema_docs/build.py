"""The schema document built from the models or from a migrated database, and compared with the committed file."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import Connection, MetaData, inspect
from sqlalchemy.engine import Dialect, make_url

from schemakit.audit_log.ddl import audit_trigger_names
from schemakit.gates.catalog import application_tables
from schemakit.migrations.autogenerate import existing_triggers
from schemakit.schema_docs.model import TableDoc, describe
from schemakit.schema_docs.render import render

__all__ = ["DEFAULT_PATH", "database_document", "difference", "models_document"]

#: Where the document lives, relative to the project's root.
DEFAULT_PATH = Path("docs") / "schema.md"

_DIALECTS: dict[str, Dialect] = {name: make_url(f"{name}://").get_dialect()() for name in ("postgresql", "sqlite")}


def models_document(metadatas: Iterable[MetaData], dialect: str = "postgresql") -> str:
    """The document of the models' tables, with the types ``dialect`` gives them."""
    tables: list[TableDoc] = []
    for metadata in metadatas:
        tables += describe(metadata, _DIALECTS[dialect])
    return render(sorted(tables, key=lambda table: table.name))


def database_document(connection: Connection) -> str:
    """The document of a migrated database's tables (schemakit's bookkeeping and Alembic's left out)."""
    names = application_tables(inspect(connection))
    metadata = MetaData()
    metadata.reflect(connection, only=names)
    triggers = existing_triggers(connection)
    audited = {name for name in names if audit_trigger_names(name)[0] in triggers}
    return render(describe(metadata, _DIALECTS[connection.dialect.name], audited=audited))


def difference(expected: str, actual: str, *, expected_name: str, actual_name: str, lines: int = 20) -> str:
    """The first ``lines`` lines of a unified diff between two documents."""
    diff = difflib.unified_diff(
        actual.splitlines(), expected.splitlines(), fromfile=actual_name, tofile=expected_name, lineterm=""
    )
    shown = list(diff)
    more = f"\n... {len(shown) - lines} more lines" if len(shown) > lines else ""
    return "\n".join(shown[:lines]) + more
