"""``schemakit docs``: the schema document from the models, the same from a migrated database, and its checks."""

from __future__ import annotations

import enum
from pathlib import Path

import pytest
from sqlalchemy import Column, Enum, ForeignKey, Integer, MetaData, String, Table, create_engine, text

from schemakit import DatabaseSettings, make_engine, make_metadata
from schemakit.cli import main
from schemakit.gates.schema_docs import check_schema_docs
from schemakit.migrations import upgrade
from schemakit.migrations.commands import make_config, models_metadata_of
from schemakit.schema_docs.build import database_document, models_document

ROOT = Path(__file__).parent.parent


def test_the_document_names_every_table_column_constraint_index_and_mark() -> None:
    document = models_document(models_metadata_of(make_config(ROOT / "alembic.ini")))
    orders = document[document.index("### `orders`") : document.index("### `products`")]
    assert "*Versioned, audited.*" in orders
    assert "| status | VARCHAR(32) | no |  | pending, paid, shipped, cancelled |  |" in orders
    assert "| **id** | UUID | no | schemakit_uuid7() |  |  |" in orders
    assert "| fk_orders_user_id_users | foreign key | user_id | users (id); ON DELETE RESTRICT |" in orders
    assert "| uq_orders_number | unique | number |  |" in orders
    assert "| chk_orders_status | check | status |  |" in orders
    assert "| idx_orders_status | status | no |  |" in orders
    assert "| idx_users_email | email | yes | deleted_at IS NULL |" in document
    assert "*Soft delete, audited.*" in document
    assert "```mermaid\nerDiagram\n" in document
    assert "users ||--o{ orders : user_id" in document
    assert "NUMERIC(12-2) total" in document  # Mermaid takes no comma or space in a type


def test_the_migrated_database_gives_the_same_document(empty_database_url: str, dialect: str) -> None:
    settings = DatabaseSettings(database_url=empty_database_url, _env_file=None)
    config = make_config(ROOT / "alembic.ini", settings=settings)
    upgrade(config)
    engine = make_engine(settings)
    try:
        with engine.connect() as connection:
            from_database = database_document(connection)
            assert check_schema_docs(config, connection).findings == []
            connection.execute(text("ALTER TABLE products ADD COLUMN colour VARCHAR(20)"))
            findings = check_schema_docs(config, connection).findings
    finally:
        engine.dispose()
    assert from_database == models_document(models_metadata_of(config), dialect)
    assert [finding.rule for finding in findings] == ["database-differs"]
    assert findings[0].detail is not None
    assert '-    VARCHAR(20) colour "nullable"' in findings[0].detail  # in the database, not the models


class Size(enum.Enum):
    SMALL = "small"
    LARGE = "large"


def _core_tables() -> MetaData:
    # Core tables, no ORM model: native enums, comments and a composite foreign key.
    metadata = make_metadata()
    Table(
        "boxes",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("size", Enum(Size, name="box_size", values_callable=lambda e: [m.value for m in e])),
        Column("label", String(20), comment="printed on the lid"),
        comment="what parcels ship in",
    )
    Table(
        "parcels",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("box_id", ForeignKey("boxes.id", ondelete="CASCADE"), index=True, nullable=False),
    )
    return metadata


@pytest.mark.parametrize("dialect", [pytest.param("postgresql", marks=pytest.mark.requires_postgres)])
def test_core_tables_and_native_enums_read_the_same_from_both_sides(empty_database_url: str) -> None:
    metadata = _core_tables()
    engine = create_engine(empty_database_url)
    try:
        metadata.create_all(engine)
        with engine.connect() as connection:
            from_database = database_document(connection)
    finally:
        engine.dispose()
    assert from_database == models_document([metadata])
    assert "| size | box_size | yes |  | small, large |  |" in from_database
    assert "| label | VARCHAR(20) | yes |  |  | printed on the lid |" in from_database
    assert "what parcels ship in" in from_database
    assert "| fk_parcels_box_id_boxes | foreign key | box_id | boxes (id); ON DELETE CASCADE |" in from_database


def test_the_command_writes_checks_and_reports_a_stale_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "schema.md"
    arguments = ["docs", "--config", str(ROOT / "alembic.ini"), "--output", str(output)]
    assert main([*arguments, "--check"]) == 1
    assert main(arguments) == 0
    assert output.read_text() == (ROOT / "docs" / "schema.md").read_text()
    capsys.readouterr()
    assert main([*arguments, "--check"]) == 0
    output.write_text(output.read_text().replace("| version | INTEGER |", "| version | BIGINT |", 1))
    assert main([*arguments, "--check"]) == 1
    out = capsys.readouterr().out
    assert "is stale: it differs from the models" in out
    assert "-| version | BIGINT |" in out
    assert "+| version | INTEGER |" in out


def test_the_committed_document_is_current() -> None:
    # CI keeps it so (schemakit check runs the schema-docs gate); this says which command fixes it.
    current = models_document(models_metadata_of(make_config(ROOT / "alembic.ini")))
    assert (ROOT / "docs" / "schema.md").read_text() == current, "run: schemakit docs"
