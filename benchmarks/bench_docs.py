"""``schemakit docs`` on a 200-table schema, against reflecting the same schema with SQLAlchemy's inspector.

A generated schema of 200 tables (quick: 50), each with six or seven columns of several types, an enum held by a CHECK
constraint, a unique constraint, two indexes and a foreign key to the table before it, created on PostgreSQL.
Cases, interleaved, medians: reflecting the database into a ``MetaData`` (the baseline: what any tool that reads
a schema pays), the document from the models, and the document from the database (reflection included).

    python -m benchmarks.bench_docs [--quick]
"""

from __future__ import annotations

import argparse

from sqlalchemy import (
    Column,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from benchmarks.common import Measurement, header, postgres, save, table, timed
from schemakit import DatabaseSettings, make_engine, make_metadata
from schemakit.provisioning import PostgresDatabases
from schemakit.schema_docs.build import database_document, models_document
from schemakit.types import UTCDateTime


def generated(tables: int) -> MetaData:
    metadata = make_metadata()
    for number in range(tables):
        parent = [Column("parent_id", ForeignKey(f"t{number - 1:03}.id"), nullable=True)] if number else []
        Table(
            f"t{number:03}",
            metadata,
            Column("id", Integer, primary_key=True),
            Column("code", String(40), nullable=False),
            Column("status", Enum("new", "active", "closed", name="status", native_enum=False, create_constraint=True)),
            Column("amount", Numeric(12, 2), server_default=text("0")),
            Column("note", Text, comment="free text"),
            Column("created_at", UTCDateTime(), server_default=text("CURRENT_TIMESTAMP"), nullable=False),
            *parent,
            UniqueConstraint("code"),
            Index(None, "status", "created_at"),
            *([Index(None, "parent_id")] if number else []),
        )
    return metadata


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer tables and rounds")
    arguments = parser.parse_args()
    tables, rounds = (50, 3) if arguments.quick else (200, 5)
    metadata = generated(tables)
    samples: dict[str, list[float]] = {"reflect": [], "models": [], "database": []}
    with postgres() as server:
        print(header(f"schemakit docs on {tables} tables, against reflecting them", server), flush=True)
        databases = PostgresDatabases(server.url, "bench_docs_test")
        database = databases.create_empty("docs")
        engine = make_engine(DatabaseSettings.for_url(database.url))
        try:
            metadata.create_all(engine)
            for _ in range(rounds):
                with engine.connect() as connection:
                    samples["reflect"].append(timed(lambda: MetaData().reflect(connection)))
                    samples["database"].append(timed(lambda: database_document(connection)))
                samples["models"].append(timed(lambda: models_document([metadata])))
            with engine.connect() as connection:
                same = database_document(connection) == models_document([metadata])
        finally:
            engine.dispose()
            databases.drop(database)
    baseline = Measurement(f"reflect {tables} tables (MetaData.reflect)", samples["reflect"])
    measurements = [
        baseline,
        Measurement(f"schemakit docs from the models ({tables} tables)", samples["models"], baseline.name),
        Measurement(f"schemakit docs from the database ({tables} tables)", samples["database"], baseline.name),
    ]
    print(table(measurements, unit="ms", scale=1000.0))
    print(f"\nthe two documents are the same: {same}")
    path = save(
        "docs", "schemakit docs against reflection", measurements, quick=arguments.quick, tables=tables, same=same
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
