"""What schemakit's conveniences cost on PostgreSQL. Goal: at most 1.10x.

A model with every mixin against a plain SQLAlchemy model with the same columns; and the soft-delete filter
against a hand-written ``WHERE deleted_at IS NULL``.

Both models live on their own metadata in one database; the plain one fills the same columns by hand
(ids from uuid7(), timestamps, version, actors). Runs on PostgreSQL (asyncpg's sync sibling, psycopg).

    python -m benchmarks.bench_mixins [--quick]
"""

from __future__ import annotations

import argparse
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import MetaData, String, Uuid, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from benchmarks.common import Measurement, header, postgres, repeat, save, table
from schemakit import (
    TYPE_ANNOTATION_MAP,
    AuditMixin,
    DatabaseSettings,
    Session,
    SoftDeleteMixin,
    TimestampMixin,
    UUIDv7PrimaryKeyMixin,
    VersionedMixin,
    acting_as,
    make_engine,
    make_metadata,
    uuid7,
)
from schemakit.types import UTCDateTime

ROOT = Path(__file__).parent.parent


class MixinBase(DeclarativeBase):
    metadata: ClassVar[MetaData] = make_metadata()
    type_annotation_map: ClassVar[dict[Any, Any]] = TYPE_ANNOTATION_MAP


class PlainBase(DeclarativeBase):
    pass


class WithMixins(UUIDv7PrimaryKeyMixin, TimestampMixin, SoftDeleteMixin, VersionedMixin, AuditMixin, MixinBase):
    __tablename__ = "bench_with_mixins"
    name: Mapped[str] = mapped_column(String(50))


class Plain(PlainBase):
    __tablename__ = "bench_plain"
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    version: Mapped[int]
    created_by: Mapped[str | None] = mapped_column(String(255))
    updated_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def plain_row(n: int) -> Plain:
    now = datetime.now(UTC)
    return Plain(
        id=uuid7(), name=f"row {n}", version=1, created_by="bench", updated_by="bench", created_at=now, updated_at=now
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 rows instead of 100,000")
    arguments = parser.parse_args()
    rows, repeats, lookups = (10_000, 3, 2_000) if arguments.quick else (100_000, 5, 10_000)
    title = "Mixin overhead on PostgreSQL"
    with postgres() as server:
        print(header(title, server))
        engine = make_engine(DatabaseSettings(database_url=server.url.render_as_string(hide_password=False)))
        MixinBase.metadata.drop_all(engine)
        PlainBase.metadata.drop_all(engine)
        MixinBase.metadata.create_all(engine)
        PlainBase.metadata.create_all(engine)

        def insert(make: Any) -> None:
            with acting_as("bench"), Session(engine) as session:
                session.add_all([make(n) for n in range(rows)])
                session.commit()

        def truncate() -> None:
            with engine.begin() as connection:
                connection.exec_driver_sql("TRUNCATE bench_with_mixins, bench_plain")

        inserts = [
            Measurement(f"insert {rows:,}: plain model", repeat(lambda: insert(plain_row), repeats, setup=truncate)),
            Measurement(
                f"insert {rows:,}: every mixin",
                repeat(lambda: insert(lambda n: WithMixins(name=f"row {n}")), repeats, setup=truncate),
                baseline=f"insert {rows:,}: plain model",
            ),
        ]
        insert(plain_row)
        insert(lambda n: WithMixins(name=f"row {n}"))
        with Session(engine) as session:
            plain_ids = list(session.scalars(select(Plain.id).limit(lookups)))
            mixin_ids = list(session.scalars(select(WithMixins.id).limit(lookups)))

        def lookup(model: Any, keys: list[uuid.UUID], statement: Any) -> None:
            with Session(engine) as session:
                for key in keys:
                    session.execute(statement(key)).scalar_one()
                    session.expunge_all()

        lookups_ = [
            Measurement(
                f"{lookups:,} lookups by id: plain model",
                repeat(lambda: lookup(Plain, plain_ids, lambda k: select(Plain).where(Plain.id == k)), repeats),
            ),
            Measurement(
                f"{lookups:,} lookups by id: hand-written deleted_at IS NULL",
                repeat(
                    lambda: lookup(
                        WithMixins,
                        mixin_ids,
                        lambda k: (
                            select(WithMixins)
                            .where(WithMixins.id == k, WithMixins.deleted_at.is_(None))
                            .execution_options(include_deleted=True)
                        ),
                    ),
                    repeats,
                ),
                baseline=f"{lookups:,} lookups by id: plain model",
            ),
            Measurement(
                f"{lookups:,} lookups by id: every mixin, soft-delete filter",
                repeat(
                    lambda: lookup(WithMixins, mixin_ids, lambda k: select(WithMixins).where(WithMixins.id == k)),
                    repeats,
                ),
                baseline=f"{lookups:,} lookups by id: hand-written deleted_at IS NULL",
            ),
        ]
        engine.dispose()
    print(f"\n## ORM inserts, median of {repeats} runs\n{table(inserts)}")
    print(f"\n## Lookups, median of {repeats} runs\n{table(lookups_)}")
    path = save("mixins_quick" if arguments.quick else "mixins", title, inserts + lookups_, rows=rows)
    print(f"\nresults: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
