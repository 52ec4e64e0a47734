"""What schemakit's conveniences cost on PostgreSQL, against plain SQLAlchemy in a process without schemakit.

A model with every mixin (UUIDv7 key, timestamps, soft delete, version counter, audit actors) against a plain
SQLAlchemy model with the same columns, filled by hand, run by ``plain_worker.py`` in a separate process that
never imports schemakit (so no listener of schemakit's can touch it); the soft-delete filter against a
hand-written ``WHERE deleted_at IS NULL``; and the plain model's lookups again in a second worker that imports
schemakit and maps a soft-deletable model, as an application using schemakit does, with and without the
filter's listener, so that the listener's own cost is measured within one process. The inserts come first;
then lookups and updates alternate, round by round, each run on a new server connection, so both sides see
the same machine.

Goals: inserts at most 1.10x the plain model; that model's lookups as fast with the filter's listener as
without (1.0x); the filter at most 1.05x the hand-written one; an update of loaded rows with every mixin (a
version check included) at most 1.3x a plain model without one, through psycopg, asyncpg and on SQLite.

    python -m benchmarks.bench_mixins [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import MetaData, String, delete, make_url, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from benchmarks.common import Measurement, header, pair_rounds, postgres, save, table, timed
from benchmarks.plain_worker import Plain, settle, sync_url
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
    make_async_engine,
    make_engine,
    make_metadata,
)

ROOT = Path(__file__).parent.parent
WORKER = Path(__file__).parent / "plain_worker.py"


class MixinBase(DeclarativeBase):
    metadata: ClassVar[MetaData] = make_metadata()
    type_annotation_map: ClassVar[dict[Any, Any]] = TYPE_ANNOTATION_MAP


class WithMixins(UUIDv7PrimaryKeyMixin, TimestampMixin, SoftDeleteMixin, VersionedMixin, AuditMixin, MixinBase):
    __tablename__ = "bench_with_mixins"
    name: Mapped[str] = mapped_column(String(50))


class PlainWorker:
    """The plain model's side, in its own process (see ``plain_worker.py``)."""

    def __init__(self, url: str, *, beside_schemakit: bool = False) -> None:
        arguments = [sys.executable, str(WORKER), *(["--beside-schemakit"] if beside_schemakit else [])]
        self.process = subprocess.Popen(arguments, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.ask(op="setup", url=url)["schemakit_imported"] is not beside_schemakit:
            raise SystemExit("the plain model's process imported schemakit, or did not import it, against the plan")

    def ask(self, **command: Any) -> dict[str, Any]:
        """Send one command; return the answer."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        answer: dict[str, Any] = json.loads(self.process.stdout.readline())
        return answer

    def seconds(self, **command: Any) -> float:
        """Send one command; return the seconds it took."""
        return float(self.ask(**command)["seconds"])

    def close(self) -> None:
        """End the process."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


class MixinSide:
    """The every-mixin model's side, in this process, on schemakit's engine and session."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(DatabaseSettings.for_url(sync_url(url)))
        MixinBase.metadata.drop_all(self.engine)
        MixinBase.metadata.create_all(self.engine)

    def vacuum(self) -> None:
        """``VACUUM (ANALYZE)`` both models' tables on PostgreSQL.

        What the inserts left behind (dead rows, statistics to gather) is then not cleaned up by autovacuum in the
        middle of the timed work.
        """
        if self.engine.dialect.name != "postgresql":
            return
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f"VACUUM (ANALYZE) {Plain.__tablename__}, {WithMixins.__tablename__}"))

    def insert(self, rows: int) -> float:
        """Empty the table, then time an ORM insert of ``rows`` rows in one commit."""
        with self.engine.begin() as connection:
            connection.execute(delete(WithMixins.__table__))

        def insert() -> None:
            with acting_as("bench"), Session(self.engine) as session:
                session.add_all([WithMixins(name=f"row {n}") for n in range(rows)])
                session.commit()

        settle()
        return timed(insert)

    def lookup(self, count: int, *, hand_written: bool) -> float:
        """Time ``count`` lookups by id, with the soft-delete filter or a hand-written one."""
        self.engine.dispose()  # a new server connection for each run, as on the plain side
        with Session(self.engine) as session:
            keys = list(session.scalars(select(WithMixins.id).order_by(WithMixins.id).limit(count)))

        def statement(key: uuid.UUID) -> Any:
            if not hand_written:
                return select(WithMixins).where(WithMixins.id == key)
            return (
                select(WithMixins)
                .where(WithMixins.id == key, WithMixins.deleted_at.is_(None))
                .execution_options(include_deleted=True)
            )

        def lookup() -> None:
            with Session(self.engine) as session:
                for key in keys:
                    session.execute(statement(key)).scalar_one()
                    session.expunge_all()

        settle()
        return timed(lookup)

    def update(self, count: int) -> float:
        """Time changing ``count`` loaded rows and committing them."""
        if make_url(self.url).get_dialect().is_async:
            return asyncio.run(self._update_async(count))
        self.engine.dispose()
        with acting_as("bench"), Session(self.engine) as session:
            rows = list(session.scalars(select(WithMixins).order_by(WithMixins.id).limit(count)))

            def rename_all() -> None:
                for row in rows:
                    row.name = f"{row.name[:40]}!"
                session.commit()

            settle()
            return timed(rename_all)

    async def _update_async(self, count: int) -> float:
        engine = make_async_engine(DatabaseSettings.for_url(self.url))
        try:
            async with AsyncSession(engine) as session:
                rows = list(await session.scalars(select(WithMixins).order_by(WithMixins.id).limit(count)))
                settle()
                started = time.perf_counter()
                with acting_as("bench"):
                    for row in rows:
                        row.name = f"{row.name[:40]}!"
                    await session.commit()
                return time.perf_counter() - started
        finally:
            await engine.dispose()

    def close(self) -> None:
        """Drop the tables."""
        MixinBase.metadata.drop_all(self.engine)
        self.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 rows instead of 100,000")
    arguments = parser.parse_args()
    rows, repeats = (10_000, 3) if arguments.quick else (100_000, 5)
    rounds, lookups, updates = (5, 2_000, 2_000) if arguments.quick else (15, 5_000, 5_000)
    title = "Mixin overhead on PostgreSQL (updates also through asyncpg and on SQLite)"
    plain_insert, plain_lookup = f"insert {rows:,}: plain model", f"{lookups:,} lookups by id: plain model"
    hand_lookup = f"{lookups:,} lookups by id: every mixin, hand-written deleted_at IS NULL"
    unfiltered = f"{lookups:,} lookups by id: plain model, schemakit's models mapped, the filter's listener removed"
    sections: dict[str, list[Measurement]] = {
        "ORM inserts": [Measurement(plain_insert, []), Measurement(f"insert {rows:,}: every mixin", [], plain_insert)],
        "Lookups": [
            Measurement(plain_lookup, []),
            Measurement(unfiltered, [], plain_lookup),
            Measurement(f"{lookups:,} lookups by id: plain model, schemakit's models mapped", [], unfiltered),
            Measurement(hand_lookup, [], plain_lookup),
            Measurement(f"{lookups:,} lookups by id: every mixin, soft-delete filter", [], hand_lookup),
        ],
        "Updates of loaded rows, one commit": [],
    }
    with postgres() as server, tempfile.TemporaryDirectory() as folder:
        print(header(title, server))
        url = server.url.render_as_string(hide_password=False)
        drivers = {
            "psycopg": url,
            "asyncpg": server.url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False),
            "sqlite": f"sqlite+pysqlite:///{folder}/bench.db",
        }
        sides = {driver: (PlainWorker(target), MixinSide(target)) for driver, target in drivers.items()}
        updating = {}
        for driver in drivers:
            baseline = f"update {updates:,} loaded rows, {driver}: plain model, no version counter"
            updating[driver] = [
                Measurement(baseline, [], extra={"driver": driver}),
                Measurement(f"update {updates:,} loaded rows, {driver}: every mixin", [], baseline, {"driver": driver}),
            ]
            sections["Updates of loaded rows, one commit"] += updating[driver]
        plain, mixins = sides["psycopg"]
        beside = PlainWorker(drivers["psycopg"], beside_schemakit=True)
        for _ in range(repeats):
            inserts = sections["ORM inserts"]
            inserts[0].samples.append(plain.seconds(op="insert", rows=rows))
            inserts[1].samples.append(mixins.insert(rows))
        sides["sqlite"][0].seconds(op="insert", rows=updates)
        sides["sqlite"][1].insert(updates)
        mixins.vacuum()
        reads = sections["Lookups"]
        for round_ in range(rounds):
            # Each pair in the order of the round, so that neither side always goes first.
            reads[0].samples.append(plain.seconds(op="lookup", count=lookups))
            for case in (1, 2) if round_ % 2 else (2, 1):
                reads[case].samples.append(beside.seconds(op="lookup", count=lookups, filter_listener=case == 2))
            for case in (3, 4) if round_ % 2 else (4, 3):
                reads[case].samples.append(mixins.lookup(lookups, hand_written=case == 3))
            for driver, (plain_side, mixin_side) in sides.items():
                updating[driver][0].samples.append(plain_side.seconds(op="update", count=updates))
                updating[driver][1].samples.append(mixin_side.update(updates))
        beside.close()
        for plain_side, mixin_side in sides.values():
            plain_side.close()
            mixin_side.close()
    for name in ("Lookups", "Updates of loaded rows, one commit"):
        pair_rounds(sections[name])
    for name, measurements in sections.items():
        print(f"\n## {name}, median of {len(measurements[0].samples)} runs\n{table(measurements)}")
        paired = [f"{m.name}: {m.extra['paired_ratio']:.2f}x" for m in measurements if "paired_ratio" in m.extra]
        if paired:
            print("median of the rounds' own ratios:\n  " + "\n  ".join(paired))
    everything = [measurement for measurements in sections.values() for measurement in measurements]
    path = save("mixins", title, everything, quick=arguments.quick, rows=rows)
    print(f"\nresults: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
