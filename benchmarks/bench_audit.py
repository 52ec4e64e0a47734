"""The audit log's cost: the same writes to an audited and an unaudited table, interleaved (PostgreSQL).

Two tables with the same columns (UUIDv7 keys, timestamps, a unique SKU), one with ``AuditTrailMixin``.
Workloads: single-row ORM inserts and single-row ORM updates (each its own transaction, inside ``acting_as``);
one bulk ``UPDATE`` of 200,000 rows; an upsert (``INSERT ... ON CONFLICT DO UPDATE``) of 50,000 rows. Each case
runs on both tables in turn, several rounds, medians compared. Goals: at most 1.15x for single-row writes, at
most 2x for the bulk update and the upsert. Also: the audit log's bytes per recorded change.

    python -m benchmarks.bench_audit [--quick]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from sqlalchemy import Engine, String, func, select, text, update
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from benchmarks.common import Measurement, header, postgres, save, table
from schemakit import (
    TYPE_ANNOTATION_MAP,
    AuditTrailMixin,
    DatabaseSettings,
    TimestampMixin,
    UUIDv7PrimaryKeyMixin,
    acting_as,
    make_engine,
    make_metadata,
)
from schemakit.provisioning import PostgresDatabases


class BenchBase(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class PlainItem(UUIDv7PrimaryKeyMixin, TimestampMixin, BenchBase):
    __tablename__ = "plain_items"
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    quantity: Mapped[int]
    note: Mapped[str | None] = mapped_column(String(100))


class AuditedItem(UUIDv7PrimaryKeyMixin, TimestampMixin, AuditTrailMixin, BenchBase):
    __tablename__ = "audited_items"
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    quantity: Mapped[int]
    note: Mapped[str | None] = mapped_column(String(100))


MODELS: dict[str, type[PlainItem] | type[AuditedItem]] = {"plain": PlainItem, "audited": AuditedItem}


def fill(engine: Engine, rows: int) -> None:
    with engine.begin() as connection:
        for model in MODELS.values():
            connection.execute(text(f"TRUNCATE {model.__tablename__}"))
            connection.execute(
                text(
                    f"INSERT INTO {model.__tablename__} (id, sku, quantity, note, created_at, updated_at) "
                    f"SELECT schemakit_uuid7(), 'sku-' || i, i, 'note', now(), now() FROM generate_series(1, {rows}) i"
                )
            )
        connection.execute(text("TRUNCATE audit_logs, audit_batches"))
        connection.execute(text("UPDATE audit_chain SET link = '', last_entry = 0, pruned_link = ''"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))


def single_inserts(engine: Engine, model: type[PlainItem] | type[AuditedItem], count: int, round_: int) -> None:
    with acting_as("bench"), Session(engine) as session:
        for number in range(count):
            session.add(model(sku=f"new-{round_}-{number}", quantity=number))
            session.commit()


def single_updates(engine: Engine, model: type[PlainItem] | type[AuditedItem], count: int, _round: int) -> None:
    with acting_as("bench"), Session(engine) as session:
        items = session.scalars(select(model).order_by(model.sku).limit(count)).all()
        for item in items:
            item.quantity += 1
            session.commit()


def bulk_update(engine: Engine, model: type[PlainItem] | type[AuditedItem], _count: int, _round: int) -> None:
    with acting_as("bench"), engine.begin() as connection:
        connection.execute(update(model).values(quantity=model.quantity + 1))


def upsert(engine: Engine, model: type[PlainItem] | type[AuditedItem], count: int, round_: int) -> None:
    # One statement, as a bulk upsert is: every SKU exists, so each row takes the DO UPDATE path.
    statement = text(
        f"INSERT INTO {model.__tablename__} (id, sku, quantity, note, created_at, updated_at) "
        "SELECT schemakit_uuid7(), 'sku-' || i, :round, 'upserted', now(), now() FROM generate_series(1, :count) AS i "
        "ON CONFLICT (sku) DO UPDATE SET quantity = excluded.quantity, note = excluded.note"
    )
    with acting_as("bench"), engine.begin() as connection:
        connection.execute(statement, {"round": round_, "count": count})


Case = Callable[[Engine, type[PlainItem] | type[AuditedItem], int, int], None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller tables and fewer rounds")
    arguments = parser.parse_args()
    rows, bulk_rounds, single, upserted = (20_000, 3, 200, 5_000) if arguments.quick else (200_000, 5, 1_000, 50_000)
    cases: list[tuple[str, Case, int, int]] = [
        ("single-row ORM insert", single_inserts, single, 5),
        ("single-row ORM update", single_updates, single, 5),
        (f"bulk UPDATE of {rows:,} rows", bulk_update, rows, bulk_rounds),
        (f"upsert of {upserted:,} rows", upsert, upserted, bulk_rounds),
    ]
    samples: dict[tuple[str, str], list[float]] = {}
    with postgres() as server:
        print(header("The audit log's cost: audited against unaudited writes", server), flush=True)
        databases = PostgresDatabases(server.url, "bench_audit_test")
        database = databases.create_empty("audit")
        engine = make_engine(DatabaseSettings.for_url(database.url), pool_size=2)
        try:
            BenchBase.metadata.create_all(engine)
            fill(engine, rows)
            for name, case, count, rounds in cases:
                for round_ in range(rounds):
                    for kind in ("plain", "audited") if round_ % 2 == 0 else ("audited", "plain"):
                        started = time.perf_counter()
                        case(engine, MODELS[kind], count, round_)
                        elapsed = time.perf_counter() - started
                        per_row = elapsed / count if "single" in name else elapsed
                        samples.setdefault((name, kind), []).append(per_row)
            with engine.connect() as connection:
                entries = connection.scalar(select(func.count()).select_from(text("audit_logs")))
                size = connection.scalar(
                    text("SELECT pg_total_relation_size('audit_logs') + pg_total_relation_size('audit_batches')")
                )
        finally:
            engine.dispose()
            databases.drop(database)
    measurements = []
    for name, *_ in cases:
        plain = Measurement(f"{name}: plain", samples[(name, "plain")])
        audited = Measurement(f"{name}: audited", samples[(name, "audited")], plain.name)
        measurements += [plain, audited]
    print(table(measurements, unit="ms", scale=1000.0))
    bytes_per_change = int(size or 0) / max(int(entries or 0), 1)
    print(f"\naudit log: {entries:,} entries, {bytes_per_change:.0f} bytes a change (entries, batches and indexes)")
    print("goals: at most 1.15x for single-row writes, at most 2x for the bulk update and the upsert")
    path = save(
        "audit",
        "The audit log's cost: audited against unaudited writes",
        measurements,
        quick=arguments.quick,
        rows=rows,
        bytes_per_change=round(bytes_per_change),
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
